package aigw.core.routing;

import aigw.core.errors.GatewayException;
import aigw.core.errors.ServiceUnavailable;
import aigw.core.errors.UpstreamFailed;
import aigw.core.errors.UpstreamTimeout;
import aigw.core.errors.UpstreamUnreachable;
import java.util.List;
import java.util.Locale;

/**
 * What a failed call to one deployment allows next. The rule behind it: a request is sent again
 * (retry, other deployment, fallback group) only when it cannot have run, so it is never run or
 * billed twice: nothing left (no connection, no credential) or the provider answered an error.
 */
enum Failure {
  /** Nothing was sent (no connection, no TLS session, no credential configured): any deployment may be tried. */
  NOT_SENT(true),
  /** The provider answered 408, 429 or 5xx (a status, or an error event before a stream's first chunk). */
  ANSWERED_ERROR(true),
  /** The provider refused the gateway's credential (401/403): another deployment may be tried, this one not again. */
  CREDENTIAL_REFUSED(true),
  /** The provider refused the request as longer than the model's context window: {@code context_window_fallbacks}. */
  CONTEXT_WINDOW(false),
  /**
   * The request may have run (a timeout, a connection lost after sending, a stream cut before its
   * first chunk): answered as it is, never sent again; counts against the deployment.
   */
  MAY_HAVE_RUN(true),
  /** The client's own mistake or the gateway's (a 4xx other than the above): answered as it is. */
  FINAL(false);

  /**
   * The words providers use for a prompt beyond the context window, where no code says it: OpenAI's
   * {@code context_length_exceeded} code and message, Anthropic's "prompt is too long", Gemini's
   * "exceeds the maximum number of tokens", Bedrock's "Input is too long" (the strings LiteLLM's
   * {@code exception_mapping_utils.py} maps to {@code ContextWindowExceededError}).
   */
  private static final List<String> CONTEXT_WINDOW_WORDS =
      List.of("context_length_exceeded", "maximum context length", "context length", "context window", "prompt is too long",
          "input is too long", "exceeds the maximum number of tokens", "too many tokens");

  /** Whether the deployment's failure counts toward its cooldown. */
  final boolean countsAgainstDeployment;

  Failure(boolean countsAgainstDeployment) {
    this.countsAgainstDeployment = countsAgainstDeployment;
  }

  static Failure of(GatewayException e) {
    return switch (e) {
      case ServiceUnavailable s -> s.gatewayBusy() ? FINAL : NOT_SENT; // busy: the call ran, the gateway could not hold its answer
      case UpstreamUnreachable u -> u.beforeSending() ? NOT_SENT : MAY_HAVE_RUN;
      case UpstreamTimeout t -> MAY_HAVE_RUN;
      case UpstreamFailed u -> answered(u);
      default -> FINAL;
    };
  }

  private static Failure answered(UpstreamFailed u) {
    if (u.credentialRefused()) {
      return CREDENTIAL_REFUSED;
    }
    int status = u.upstreamStatus();
    if ((status == 400 || status == 413) && isContextWindow(u)) {
      return CONTEXT_WINDOW;
    }
    return status == 408 || status == 429 || status >= 500 ? ANSWERED_ERROR : FINAL;
  }

  static boolean isContextWindow(UpstreamFailed u) {
    String said = (u.upstreamCode() + " " + u.getMessage()).toLowerCase(Locale.ROOT);
    return CONTEXT_WINDOW_WORDS.stream().anyMatch(said::contains);
  }
}

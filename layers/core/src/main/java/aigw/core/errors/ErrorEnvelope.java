package aigw.core.errors;

import aigw.core.http.GatewayResponse;
import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The only place a failure becomes HTTP: OpenAI's error envelope {@code {"error":{"message","type",
 * "param","code"}}} with LiteLLM's types, and {@code code} as the status string, as LiteLLM's
 * ProxyException does (except where OpenAI's own code is kept: a provider's 4xx, an unknown model
 * on {@code GET /v1/models/{id}}).
 *
 * <p>On Anthropic's Messages routes ({@link Dialect#ANTHROPIC}) the same failure, with the same
 * status, is written in Anthropic's shape instead ({@link #anthropic}), so that Anthropic's SDKs and
 * Claude Code read it: {@code {"type":"error","error":{"type","message"},"request_id"}}.
 */
public record ErrorEnvelope(Body error) {
  @JsonInclude(JsonInclude.Include.ALWAYS)
  public record Body(String message, String type, String param, String code) {}

  /** Which error shape a route speaks; chosen by the request's path, in {@code GatewayApplication}. */
  public enum Dialect {
    /** OpenAI's envelope: every route but Anthropic's. */
    OPENAI,
    /** Anthropic's error shape: {@code /v1/messages} and {@code /v1/messages/count_tokens}. */
    ANTHROPIC;

    /**
     * {@link #ANTHROPIC} for {@code /v1/messages} and the paths under it, with or without {@code
     * /v1} and trailing slashes (as {@code ProxyService} routes them); {@link #OPENAI} otherwise.
     */
    public static Dialect of(String path) {
      String route = path == null ? "" : path;
      while (route.length() > 1 && route.endsWith("/")) {
        route = route.substring(0, route.length() - 1);
      }
      if (route.startsWith("/v1/")) {
        route = route.substring(3);
      }
      return route.equals("/messages") || route.startsWith("/messages/") ? ANTHROPIC : OPENAI;
    }
  }

  /** Anthropic's error types (https://docs.anthropic.com/en/api/errors; the SDKs' {@code ErrorType}). */
  private static final Set<String> ANTHROPIC_TYPES =
      Set.of(
          "invalid_request_error", "authentication_error", "billing_error", "permission_error", "not_found_error",
          "request_too_large", "rate_limit_error", "timeout_error", "api_error", "overloaded_error");

  // Exhaustive switch: a new exception type will not compile until it is mapped.
  /** The header the OpenAI SDKs read before the status to decide whether to retry (Stainless SDKs). */
  public static final String DO_NOT_RETRY_HEADER = "x-should-retry";

  public static int status(GatewayException e) {
    return switch (e) {
      case AuthenticationFailed a -> 401;
      case ModelNotAllowed m -> 401; // LiteLLM answers 401 key_/team_model_access_denied
      case PermissionDenied p -> 403;
      case BadRequest b -> 400;
      case NotFound n -> 404;
      case ModelNotFound m -> 404;
      case Conflict c -> 409;
      case MethodNotAllowed m -> 405;
      case PayloadTooLarge p -> 413;
      case UnsupportedContentEncoding u -> 415;
      case UpstreamFailed u -> u.upstreamStatus() >= 500 ? 502 : u.upstreamStatus();
      case UpstreamUnreachable u -> 502;
      case ServiceUnavailable s -> 503;
      case UpstreamTimeout t -> 504;
      case NoDeploymentAvailable n -> 429; // LiteLLM's status for its RouterRateLimitError
      case RateLimited r -> 429;
      case BudgetExceeded b -> 429; // newer LiteLLM (older: 400)
    };
  }

  public static String type(GatewayException e) {
    return switch (e) {
      case AuthenticationFailed a -> a.reason().type;
      case ModelNotAllowed m -> m.type(); // key_ or team_model_access_denied
      case PermissionDenied p -> "auth_error";
      case BadRequest b -> "invalid_request_error";
      case NotFound n -> "not_found_error";
      case ModelNotFound m -> "invalid_request_error"; // OpenAI's type for it
      case Conflict c -> "conflict_error";
      case MethodNotAllowed m -> "invalid_request_error";
      case PayloadTooLarge p -> "invalid_request_error";
      case UnsupportedContentEncoding u -> "invalid_request_error";
      case UpstreamFailed u -> u.upstreamType() != null ? u.upstreamType() : "upstream_error";
      case UpstreamUnreachable u -> "api_connection_error";
      case ServiceUnavailable s -> "service_unavailable";
      case UpstreamTimeout t -> "timeout";
      case NoDeploymentAvailable n -> "rate_limit_error";
      case RateLimited r -> "rate_limit_error";
      case BudgetExceeded b -> "budget_exceeded";
    };
  }

  public static ErrorEnvelope of(GatewayException e) {
    int status = status(e);
    String code;
    if (e instanceof UpstreamFailed u && u.upstreamCode() != null && status < 500) {
      code = u.upstreamCode();
    } else if (e instanceof ModelNotFound) {
      code = ModelNotFound.CODE; // as OpenAI answers GET /v1/models/{id}, so SDKs see their usual code
    } else {
      code = Integer.toString(status);
    }
    return new ErrorEnvelope(new Body(e.getMessage(), type(e), e.param(), code));
  }

  public static GatewayResponse response(GatewayException e) {
    var response = GatewayResponse.json(status(e), of(e));
    if (e instanceof MethodNotAllowed m) {
      response = response.withHeader("Allow", m.allowed());
    }
    if (e instanceof UnsupportedContentEncoding) {
      response = response.withHeader("Accept-Encoding", "identity"); // RFC 9110 section 12.5.3: the codings a request may use
    }
    if (e instanceof ServiceUnavailable) {
      response = response.withHeader("Retry-After", Integer.toString(ServiceUnavailable.RETRY_AFTER_SECONDS));
    }
    if (e instanceof UpstreamFailed u && u.retryAfter() != null) {
      response = response.withHeader("Retry-After", u.retryAfter());
    }
    if (e instanceof UpstreamFailed u && u.retryAfterMs() != null) {
      response = response.withHeader("retry-after-ms", u.retryAfterMs());
    }
    if (e instanceof NoDeploymentAvailable n) {
      response = response.withHeader("Retry-After", Long.toString(n.retryAfterSeconds()));
    }
    if (e instanceof RateLimited r) {
      response = response.withHeader("Retry-After", Long.toString(r.retryAfterSeconds()));
      for (var header : r.headers().entrySet()) {
        response = response.withHeader(header.getKey(), header.getValue());
      }
    }
    if (e instanceof BudgetExceeded b && b.retryAfterSeconds() > 0) {
      response = response.withHeader("Retry-After", Long.toString(b.retryAfterSeconds()));
    }
    if (e instanceof UpstreamFailed u && u.credentialRefused()) {
      // A 502 the client cannot fix by sending again: the provider refused the gateway's own
      // credential. The OpenAI SDKs (openai-python _should_retry, openai-node shouldRetry,
      // openai-java RetryingHttpClient) retry every status >= 500 twice unless the answer says
      // x-should-retry: false, which they obey before looking at the status.
      response = response.withHeader(DO_NOT_RETRY_HEADER, "false");
    }
    return response;
  }

  /**
   * Anthropic's error type for a failure: a provider's own Anthropic type when it has one (an
   * Anthropic deployment's {@code overloaded_error}, {@code rate_limit_error}...), else the type
   * Anthropic gives the status: 400 (and 405, 409) {@code invalid_request_error}, 401 {@code
   * authentication_error}, 403 {@code permission_error}, 404 {@code not_found_error}, 413 {@code
   * request_too_large}, 429 {@code rate_limit_error}, 504 {@code timeout_error}, other 5xx {@code
   * api_error}, except a provider's own "cannot serve now" (503, {@link
   * ServiceUnavailable#providerOverloaded}) {@code overloaded_error}. A provider refusing the
   * gateway's credential is the gateway's failure ({@code api_error}).
   */
  public static String anthropicType(GatewayException e) {
    // upstreamType() is null when the provider's error named no type (an HTML page, Ollama's string
    // error, vLLM's top-level error); Set.of(...).contains(null) throws, so it is checked first.
    if (e instanceof UpstreamFailed u && !u.credentialRefused() && u.upstreamType() != null && ANTHROPIC_TYPES.contains(u.upstreamType())) {
      return u.upstreamType();
    }
    if (e instanceof ServiceUnavailable s && s.providerOverloaded()) {
      return "overloaded_error"; // the provider cannot serve now: what Anthropic's 529 says, retried by its SDKs (they retry every 5xx)
    }
    int status = status(e);
    return switch (status) {
      case 401 -> "authentication_error";
      case 403 -> "permission_error";
      case 404 -> "not_found_error";
      case 413 -> "request_too_large";
      case 429 -> "rate_limit_error";
      case 504 -> "timeout_error";
      default -> status >= 500 ? "api_error" : "invalid_request_error";
    };
  }

  /**
   * Anthropic's error body for a failure: {@code {"type":"error","error":{"type","message"},
   * "request_id"}} ({@code request_id} only when the transport gave the request one). Also the
   * data of an {@code error} event in a Messages stream.
   */
  public static Map<String, Object> anthropic(GatewayException e, String requestId) {
    return anthropic(anthropicType(e), e.getMessage(), requestId);
  }

  private static Map<String, Object> anthropic(String type, String message, String requestId) {
    var error = new LinkedHashMap<String, Object>();
    error.put("type", type);
    error.put("message", message);
    var body = new LinkedHashMap<String, Object>();
    body.put("type", "error");
    body.put("error", error);
    if (requestId != null) {
      body.put("request_id", requestId);
    }
    return body;
  }

  /**
   * The answer for a failure on a route of {@code dialect}: the same status and headers in either
   * shape; an Anthropic one also carries the request id in {@code request-id}, as Anthropic's API
   * does (its SDKs show it as {@code requestID}).
   */
  public static GatewayResponse response(GatewayException e, Dialect dialect, String requestId) {
    if (dialect == Dialect.OPENAI) {
      return response(e);
    }
    var openAi = response(e);
    var response = GatewayResponse.json(openAi.status(), anthropic(e, requestId));
    for (var header : openAi.headers().entrySet()) {
      response = response.withHeader(header.getKey(), header.getValue());
    }
    return requestId == null ? response : response.withHeader("request-id", requestId);
  }

  /** {@link #internalError(String)} in the route's shape. */
  public static GatewayResponse internalError(String requestId, Dialect dialect) {
    if (dialect == Dialect.OPENAI) {
      return internalError(requestId);
    }
    var response = GatewayResponse.json(500, anthropic("api_error", internalErrorMessage(requestId), requestId));
    return requestId == null ? response : response.withHeader("request-id", requestId);
  }

  private static String internalErrorMessage(String requestId) {
    return "Internal error in the gateway"
        + (requestId == null ? "" : " (request id " + requestId + ")")
        + ". The details are in the gateway's log.";
  }

  /** For failures that are the gateway's own bug: a fixed message, never the exception's text. */
  public static GatewayResponse internalError(String requestId) {
    return GatewayResponse.json(
        500,
        new ErrorEnvelope(
            new Body(
                internalErrorMessage(requestId),
                "internal_server_error",
                null,
                "500")));
  }

  /**
   * When the function itself failed, outside the handler's own error handling (an invoke that
   * crashed): 502, as API Gateway answers then, with a fixed message.
   */
  public static GatewayResponse integrationFailure(String requestId) {
    return GatewayResponse.json(
        502,
        new ErrorEnvelope(
            new Body(
                "The gateway's function failed"
                    + (requestId == null ? "" : " (request id " + requestId + ")")
                    + ". The details are in the gateway's log.",
                "internal_server_error",
                null,
                "502")));
  }

  /**
   * A request whose {@code Host} names a server other than this one (421 Misdirected Request, RFC
   * 9110 section 15.5.20): the local server answers it for a name it was not told it serves, the
   * defence against DNS rebinding. Not a {@link GatewayException}: only a transport gives it.
   *
   * @param host the {@code Host} value refused, as the client sent it
   */
  public static GatewayResponse misdirected(String host) {
    return GatewayResponse.json(
        421,
        new ErrorEnvelope(
            new Body(
                "This gateway does not answer for the host '" + host + "'. Call it by its address (127.0.0.1, localhost or [::1])"
                    + " or add the name to AIGW_ALLOWED_HOSTS (--allowed-hosts).",
                "invalid_request_error",
                "Host",
                "421")));
  }

  /**
   * A request the HTTP server refuses before any route sees it, because it is not valid HTTP/1.1 (a
   * request line or target that does not parse, headers over the server's size, a bad {@code
   * Content-Length}, an unsupported {@code Transfer-Encoding}), in the shape of the route its path
   * names (OpenAI's when it has none). Not a {@link GatewayException}: only a transport gives it. On
   * AWS, API Gateway's front end answers such requests itself.
   *
   * @param status a 4xx status (400, 408, 413, 414, 431)
   * @param message what was wrong, in words a client can act on; no Java names
   */
  public static GatewayResponse malformedRequest(int status, String message, Dialect dialect) {
    if (status < 400 || status > 499) {
      throw new IllegalArgumentException("a client's mistake is a 4xx, not " + status);
    }
    if (dialect == Dialect.ANTHROPIC) {
      return GatewayResponse.json(status, anthropic(status == 413 ? "request_too_large" : "invalid_request_error", message, null));
    }
    return GatewayResponse.json(status, new ErrorEnvelope(new Body(message, "invalid_request_error", null, Integer.toString(status))));
  }
}

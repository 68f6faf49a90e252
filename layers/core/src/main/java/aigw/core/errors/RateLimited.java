package aigw.core.errors;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Map;

/**
 * A key (or its team) is over its {@code rpm_limit}, {@code tpm_limit} or {@code
 * max_parallel_requests}: HTTP 429 with {@code Retry-After}, LiteLLM's message from its rate limiter
 * ({@code litellm/proxy/hooks/parallel_request_limiter_v3.py}: "Rate limit exceeded for api_key: …
 * Limit type: requests. Current limit: 20, Remaining: 0. Limit resets at: …") and OpenAI's type for
 * a 429, {@code rate_limit_error}.
 */
public final class RateLimited extends GatewayException {
  private static final DateTimeFormatter RESET_FORMAT = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss 'UTC'").withZone(ZoneOffset.UTC);

  private final long retryAfterSeconds;
  private final Map<String, String> headers;

  /**
   * @param scope how the limited scope is named, e.g. {@code api_key: sk-...abcd}
   * @param limitType {@code requests}, {@code tokens} or {@code max_parallel_requests}
   * @param resetsAt when the window ends or the earliest slot expires
   * @param headers OpenAI's {@code x-ratelimit-*} headers to send with the 429
   */
  public RateLimited(String scope, String limitType, long limit, Instant now, Instant resetsAt, Map<String, String> headers) {
    this("Rate limit exceeded for " + scope + ". Limit type: " + limitType + ". Current limit: " + limit
        + ", Remaining: 0. Limit resets at: " + RESET_FORMAT.format(resetsAt), now, resetsAt, headers);
  }

  /** A 429 {@code rate_limit_error} with its own {@code message}, to be retried at {@code resetsAt}. */
  public RateLimited(String message, Instant now, Instant resetsAt, Map<String, String> headers) {
    super(message, null);
    long millis = Math.max(0, resetsAt.toEpochMilli() - now.toEpochMilli());
    this.retryAfterSeconds = Math.max(1, (millis + 999) / 1000);
    this.headers = Map.copyOf(headers);
  }

  /** Whole seconds until the limit lets a request through again, for {@code Retry-After}. */
  public long retryAfterSeconds() {
    return retryAfterSeconds;
  }

  /** The {@code x-ratelimit-*} headers of the refused request's scope. */
  public Map<String, String> headers() {
    return headers;
  }
}

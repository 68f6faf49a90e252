package aigw.core.routing;

import aigw.core.errors.GatewayException;
import aigw.core.errors.UpstreamFailed;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.function.DoubleSupplier;

/**
 * How long to wait before calling a deployment again: the provider's own word when it gave one,
 * else exponential backoff with full jitter. The same rule as the OpenAI SDKs and LiteLLM
 * ({@code _calculate_retry_after}): {@code retry-after-ms}, then {@code Retry-After} (seconds or an
 * HTTP date) when it asks for more than 0 and at most {@link #MAX_RETRY_AFTER}; otherwise a random
 * wait between 0 and {@code min(0.5 s × 2^retry, 8 s)} ("full jitter", so that the callers a
 * failure hit together do not come back together). {@code router_settings.retry_after} is the least wait.
 */
public final class Backoff {
  static final Duration INITIAL = Duration.ofMillis(500);
  static final Duration MAX = Duration.ofSeconds(8);
  /** A longer Retry-After is not waited for: the error goes to the client, with the provider's Retry-After. */
  public static final Duration MAX_RETRY_AFTER = Duration.ofSeconds(60);

  private Backoff() {}

  /**
   * @param retry 0 for the first wait, then 1, 2...
   * @param failure the failure that calls for it (its Retry-After is read)
   * @param minimum {@code router_settings.retry_after}
   * @param jitter a uniform random number in [0, 1)
   * @return the wait; longer than {@link #MAX_RETRY_AFTER} when the provider asked for that (callers then give up)
   */
  public static Duration wait(int retry, GatewayException failure, Duration minimum, DoubleSupplier jitter, Instant now) {
    Duration asked = failure instanceof UpstreamFailed u ? retryAfter(u, now) : null;
    Duration wait;
    if (asked != null && !asked.isZero() && !asked.isNegative()) {
      wait = asked;
    } else {
      long ceiling = Math.min(MAX.toMillis(), INITIAL.toMillis() << Math.min(retry, 10));
      wait = Duration.ofMillis((long) (jitter.getAsDouble() * ceiling));
    }
    return wait.compareTo(minimum) < 0 ? minimum : wait;
  }

  /** The provider's retry-after-ms or Retry-After, or null when it sent neither (or nothing readable). */
  static Duration retryAfter(UpstreamFailed failure, Instant now) {
    try {
      if (failure.retryAfterMs() != null) {
        return Duration.ofMillis(Math.round(Double.parseDouble(failure.retryAfterMs().strip())));
      }
    } catch (NumberFormatException unreadable) {
      // fall through to Retry-After
    }
    String value = failure.retryAfter();
    if (value == null || value.isBlank()) {
      return null;
    }
    try {
      return Duration.ofMillis(Math.round(Double.parseDouble(value.strip()) * 1000));
    } catch (NumberFormatException notSeconds) {
      try {
        return Duration.between(now, ZonedDateTime.parse(value.strip(), DateTimeFormatter.RFC_1123_DATE_TIME).toInstant());
      } catch (DateTimeParseException unreadable) {
        return null;
      }
    }
  }
}

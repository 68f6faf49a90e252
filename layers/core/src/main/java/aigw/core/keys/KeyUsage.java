package aigw.core.keys;

import java.math.BigDecimal;
import java.time.Instant;

/**
 * Usage counters kept on the key's row; each proxied request adds to them atomically.
 *
 * @param estimatedRequests how many of {@code requests} were counted with estimated tokens (a
 *     stream cut off before the provider reported usage; see docs/api.md)
 * @param spend what the requests cost, in USD (exact decimal; LiteLLM's {@code spend})
 */
public record KeyUsage(
    long requests, long promptTokens, long completionTokens, long totalTokens, Instant lastUsedAt, long estimatedRequests, BigDecimal spend) {
  public static final KeyUsage NONE = new KeyUsage(0, 0, 0, 0, null, 0, BigDecimal.ZERO);

  public KeyUsage {
    spend = spend == null ? BigDecimal.ZERO : spend;
  }

  public KeyUsage(long requests, long promptTokens, long completionTokens, long totalTokens, Instant lastUsedAt, long estimatedRequests) {
    this(requests, promptTokens, completionTokens, totalTokens, lastUsedAt, estimatedRequests, BigDecimal.ZERO);
  }

  public KeyUsage(long requests, long promptTokens, long completionTokens, long totalTokens, Instant lastUsedAt) {
    this(requests, promptTokens, completionTokens, totalTokens, lastUsedAt, 0);
  }
}

package aigw.core.keys;

import java.time.Instant;

/** Usage counters kept on the key's row; each proxied request adds to them atomically. */
public record KeyUsage(
    long requests, long promptTokens, long completionTokens, long totalTokens, Instant lastUsedAt) {
  public static final KeyUsage NONE = new KeyUsage(0, 0, 0, 0, null);
}

package aigw.core.usage;

import java.time.Instant;

/** What to add to one key's counters in one atomic write: one or more requests and their tokens. */
public record UsageDelta(long requests, TokenUsage tokens, Instant lastUsedAt) {
  public static UsageDelta oneRequest(TokenUsage tokens, Instant now) {
    return new UsageDelta(1, tokens, now);
  }

  public UsageDelta plus(UsageDelta other) {
    return new UsageDelta(
        requests + other.requests,
        tokens.plus(other.tokens),
        lastUsedAt.isAfter(other.lastUsedAt) ? lastUsedAt : other.lastUsedAt);
  }
}

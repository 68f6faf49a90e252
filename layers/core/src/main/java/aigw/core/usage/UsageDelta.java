package aigw.core.usage;

import java.time.Instant;

/**
 * What to add to one key's counters in one atomic write: one or more requests and their tokens.
 *
 * @param estimatedRequests how many of {@code requests} have estimated tokens: a stream that ended
 *     (the client went away, the provider failed) before the provider reported its usage
 */
public record UsageDelta(long requests, TokenUsage tokens, Instant lastUsedAt, long estimatedRequests) {
  public UsageDelta(long requests, TokenUsage tokens, Instant lastUsedAt) {
    this(requests, tokens, lastUsedAt, 0);
  }

  public static UsageDelta oneRequest(TokenUsage tokens, Instant now) {
    return new UsageDelta(1, tokens, now, 0);
  }

  /** One request whose tokens the gateway estimated because the provider never reported them. */
  public static UsageDelta oneEstimatedRequest(TokenUsage estimate, Instant now) {
    return new UsageDelta(1, estimate, now, 1);
  }

  public UsageDelta plus(UsageDelta other) {
    return new UsageDelta(
        requests + other.requests,
        tokens.plus(other.tokens),
        lastUsedAt.isAfter(other.lastUsedAt) ? lastUsedAt : other.lastUsedAt,
        estimatedRequests + other.estimatedRequests);
  }
}

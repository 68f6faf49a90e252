package aigw.core.usage;

import java.math.BigDecimal;
import java.time.Instant;

/**
 * What to add to one key's counters in one atomic write: one or more requests, their tokens and
 * what they cost.
 *
 * @param estimatedRequests how many of {@code requests} have estimated tokens: a stream that ended
 *     (the client went away, the provider failed) before the provider reported its usage
 * @param spend their cost in USD (exact; {@code CostCalculator}), never negative
 */
public record UsageDelta(long requests, TokenUsage tokens, Instant lastUsedAt, long estimatedRequests, BigDecimal spend) {
  public UsageDelta {
    spend = spend == null ? BigDecimal.ZERO : spend;
  }

  public UsageDelta(long requests, TokenUsage tokens, Instant lastUsedAt, long estimatedRequests) {
    this(requests, tokens, lastUsedAt, estimatedRequests, BigDecimal.ZERO);
  }

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

  /** One request that cost {@code cost} USD; {@code estimated}: its tokens (and so its cost) are the gateway's estimate. */
  public static UsageDelta oneRequest(TokenUsage tokens, BigDecimal cost, boolean estimated, Instant now) {
    return new UsageDelta(1, tokens, now, estimated ? 1 : 0, cost);
  }

  public UsageDelta plus(UsageDelta other) {
    return new UsageDelta(
        requests + other.requests,
        tokens.plus(other.tokens),
        lastUsedAt.isAfter(other.lastUsedAt) ? lastUsedAt : other.lastUsedAt,
        estimatedRequests + other.estimatedRequests,
        spend.add(other.spend));
  }
}

package aigw.core.teams;

import aigw.core.limits.Limits;
import java.math.BigDecimal;

/**
 * A team's limits and budget, with LiteLLM's field names ({@code NewTeamRequest}, {@code
 * LiteLLM_TeamTable}). Stored and shown here; enforced by {@code aigw.core.limits} for the sum of
 * the team's keys, beside each key's own limits ({@link #asLimits}). Every field is
 * null when not set.
 *
 * @param maxBudget USD the team's keys may spend together per {@code budgetDuration} ({@code max_budget})
 * @param softBudget USD past which the team is reported, not refused ({@code soft_budget})
 * @param budgetDuration LiteLLM's duration text ({@code 30s}, {@code 1h}, {@code 1d}, {@code 30d}, {@code 1mo}): how often the budget resets
 * @param tpmLimit tokens per minute across the team's keys ({@code tpm_limit})
 * @param rpmLimit requests per minute across the team's keys ({@code rpm_limit})
 * @param maxParallelRequests requests in flight at once across the team's keys ({@code max_parallel_requests}, on LiteLLM's team table)
 */
public record TeamLimits(
    BigDecimal maxBudget, BigDecimal softBudget, String budgetDuration, Long tpmLimit, Long rpmLimit, Long maxParallelRequests) {
  public static final TeamLimits NONE = new TeamLimits(null, null, null, null, null, null);

  public TeamLimits {
    maxBudget = normalized(maxBudget);
    softBudget = normalized(softBudget);
  }

  /**
   * The same limits in the limit engine's terms ({@code aigw.core.limits.Limits}): the one place a
   * team's fields become limits, for the proxy's admission and {@code /team/info}'s budget alike.
   * A {@code max_parallel_requests} beyond what a slot counter takes is no limit in practice: it is
   * held at the largest a key may have ({@code LimitFields}).
   */
  public Limits asLimits() {
    Integer parallel = maxParallelRequests == null ? null : (int) Math.min(maxParallelRequests, Integer.MAX_VALUE / 2);
    return new Limits(rpmLimit, tpmLimit, parallel, maxBudget, softBudget, budgetDuration);
  }

  /** One form per amount ({@code 12.50} is {@code 12.5}), as DynamoDB stores numbers: equal amounts are equal. */
  private static BigDecimal normalized(BigDecimal amount) {
    if (amount == null) {
      return null;
    }
    BigDecimal stripped = amount.stripTrailingZeros();
    return stripped.scale() < 0 ? stripped.setScale(0) : stripped;
  }
}

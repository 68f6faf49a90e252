package aigw.core.teams;

import java.math.BigDecimal;

/**
 * A team's limits and budget, with LiteLLM's field names ({@code NewTeamRequest}, {@code
 * LiteLLM_TeamTable}). Stored and shown here; enforced by {@code aigw.core.limits}. Every field is
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

  /** One form per amount ({@code 12.50} is {@code 12.5}), as DynamoDB stores numbers: equal amounts are equal. */
  private static BigDecimal normalized(BigDecimal amount) {
    if (amount == null) {
      return null;
    }
    BigDecimal stripped = amount.stripTrailingZeros();
    return stripped.scale() < 0 ? stripped.setScale(0) : stripped;
  }
}

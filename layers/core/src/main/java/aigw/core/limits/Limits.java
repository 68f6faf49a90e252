package aigw.core.limits;

import java.math.BigDecimal;

/**
 * The limits of one scope (a virtual key, or a team for the sum of its keys), with LiteLLM's field names (its
 * {@code /key/generate} and {@code /team/new}). Null means "no such limit". How they are held
 * across containers: docs/limits.md.
 *
 * @param rpmLimit requests per fixed 60-second window ({@code rpm_limit}); 0 refuses every request
 * @param tpmLimit tokens (prompt + completion) per fixed 60-second window ({@code tpm_limit})
 * @param maxParallelRequests requests in flight at once, across every container ({@code max_parallel_requests})
 * @param maxBudget USD per budget period ({@code max_budget}): admitted while the period's spend plus
 *     what requests in flight have reserved is below it (LiteLLM's rule: the request that crosses completes)
 * @param softBudget USD at which a warning is logged, once per period ({@code soft_budget}); never refuses
 * @param budgetDuration when the spend resets ({@code budget_duration}, {@link BudgetDuration}); null: never
 */
public record Limits(
    Long rpmLimit, Long tpmLimit, Integer maxParallelRequests, BigDecimal maxBudget, BigDecimal softBudget, String budgetDuration) {
  public static final Limits NONE = new Limits(null, null, null, null, null, null);

  /** True when nothing is limited: such a scope costs the request path nothing. */
  public boolean isEmpty() {
    return rpmLimit == null && tpmLimit == null && maxParallelRequests == null && maxBudget == null && softBudget == null;
  }

  /** True when spend must be tracked for this scope (a budget to hold or a soft budget to warn at). */
  public boolean tracksSpend() {
    return maxBudget != null || softBudget != null;
  }
}

package aigw.core.errors;

import java.math.BigDecimal;
import java.time.Instant;

/**
 * A key (or its team) has spent its {@code max_budget} for the period: LiteLLM's {@code
 * BudgetExceededError} ("Budget has been exceeded! Current cost: X, Max budget: Y", {@code
 * litellm/exceptions.py}; for a team "Budget has been exceeded! Team=<team_id> Current cost: X, Max
 * budget: Y", {@code _team_max_budget_check} in {@code litellm/proxy/auth/auth_checks.py}), type
 * {@code budget_exceeded}, status 429 as newer LiteLLM answers it (older versions: 400). {@code
 * Retry-After} says when the period resets, if it does.
 */
public final class BudgetExceeded extends GatewayException {
  private final Instant resetsAt;
  private final long retryAfterSeconds;

  /** @param resetsAt when the budget period ends (null: never) */
  public BudgetExceeded(BigDecimal currentCost, BigDecimal maxBudget, Instant now, Instant resetsAt) {
    this(null, currentCost, maxBudget, now, resetsAt);
  }

  /**
   * @param subject the budget's owner as LiteLLM names it, e.g. {@code Team=<team_id>}; null for a key
   * @param resetsAt when the budget period ends (null: never)
   */
  public BudgetExceeded(String subject, BigDecimal currentCost, BigDecimal maxBudget, Instant now, Instant resetsAt) {
    super("Budget has been exceeded! " + (subject == null ? "" : subject + " ") + "Current cost: " + plain(currentCost)
        + ", Max budget: " + plain(maxBudget), null);
    this.resetsAt = resetsAt;
    this.retryAfterSeconds =
        resetsAt == null ? 0 : Math.max(1, (Math.max(0, resetsAt.toEpochMilli() - now.toEpochMilli()) + 999) / 1000);
  }

  /** When the budget resets (its {@code budget_reset_at}); null when it never does. */
  public Instant resetsAt() {
    return resetsAt;
  }

  /** Whole seconds until the reset; 0 when it never resets (no {@code Retry-After} then). */
  public long retryAfterSeconds() {
    return retryAfterSeconds;
  }

  private static String plain(BigDecimal value) {
    return value.stripTrailingZeros().toPlainString();
  }
}

package aigw.admin;

import aigw.core.keys.VirtualKey;
import aigw.core.limits.LimitEngine;
import aigw.core.limits.LimitScope;
import java.util.Map;

/**
 * {@code spend} as LiteLLM means it on a key and on a team, the same on every admin route that
 * shows it ({@code /key/info}, {@code /key/list}, {@code /team/info}, {@code /team/list}): LiteLLM
 * keeps one {@code spend} column per key and per team, adds each request's cost to it (the team's
 * for its keys' requests) and sets it to 0 at {@code budget_reset_at} (its {@code ResetBudgetJob});
 * both its info and list routes answer that column.
 *
 * <p>aigw tracks the spend of the current budget period, reset at {@code budget_reset_at}, for a
 * key or team with {@code max_budget} or {@code soft_budget} (on its limit-state item, as the proxy
 * holds it to its budget: docs/limits.md): that is its {@code spend}. Without either, nothing resets
 * and its {@code spend} is the running total: a key's usage item, a team's the sum of its keys'.
 */
final class SpendViews {
  private SpendViews() {}

  /**
   * For a scope whose period spend is tracked, replaces {@code view}'s {@code spend} (the running
   * total) with the current period's and adds {@code budget_reset_at} (null: never resets); one
   * read of its limit-state item. Otherwise leaves {@code view} as it is.
   */
  static void showPeriod(Map<String, Object> view, LimitScope scope, LimitEngine limits) {
    if (!scope.limits().tracksSpend()) {
      return;
    }
    var budget = limits.budget(scope);
    view.put("spend", budget.spend());
    view.put("budget_reset_at", budget.resetAt() == null ? null : budget.resetAt().toString());
  }

  /** A key as {@code /key/list} (full objects) and the team routes show it, with its spend as {@code /key/info} shows it. */
  static Map<String, Object> key(VirtualKey key, LimitEngine limits) {
    var view = KeyViews.full(key);
    showPeriod(view, LimitScope.ofKey(key.keyId(), key.keyName(), key.limits()), limits);
    return view;
  }
}

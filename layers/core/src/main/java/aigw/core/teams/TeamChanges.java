package aigw.core.teams;

import aigw.core.limits.LimitFields;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * What {@code /team/update} changes: each field present is set, each absent one is kept, and each
 * limit in {@code removed} is removed (LiteLLM's {@code update_team} stores every field the request
 * set, {@code data.json(exclude_unset=True)}, so a limit sent as null clears it; its PR #7912).
 *
 * @param removed names of limits ({@link LimitFields#NAMES}) the request sent as null: the team no longer has them
 */
public record TeamChanges(
    Optional<String> teamAlias,
    Optional<List<String>> models,
    Optional<Map<String, Object>> metadata,
    Optional<Boolean> blocked,
    Optional<java.math.BigDecimal> maxBudget,
    Optional<java.math.BigDecimal> softBudget,
    Optional<String> budgetDuration,
    Optional<Long> tpmLimit,
    Optional<Long> rpmLimit,
    Optional<Long> maxParallelRequests,
    Set<String> removed) {

  public TeamChanges {
    removed = Set.copyOf(removed);
    for (String name : removed) {
      if (!LimitFields.NAMES.contains(name)) {
        throw new IllegalArgumentException("only a limit can be removed: " + name);
      }
    }
  }

  /** Changes that remove nothing. */
  public TeamChanges(
      Optional<String> teamAlias,
      Optional<List<String>> models,
      Optional<Map<String, Object>> metadata,
      Optional<Boolean> blocked,
      Optional<java.math.BigDecimal> maxBudget,
      Optional<java.math.BigDecimal> softBudget,
      Optional<String> budgetDuration,
      Optional<Long> tpmLimit,
      Optional<Long> rpmLimit,
      Optional<Long> maxParallelRequests) {
    this(teamAlias, models, metadata, blocked, maxBudget, softBudget, budgetDuration, tpmLimit, rpmLimit, maxParallelRequests, Set.of());
  }

  public static TeamChanges blocked(boolean value) {
    return new TeamChanges(
        Optional.empty(), Optional.empty(), Optional.empty(), Optional.of(value), Optional.empty(), Optional.empty(),
        Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty());
  }

  /** The team with these changes, {@code updatedAt} set to {@code now}. */
  public Team applyTo(Team team, Instant now) {
    TeamLimits limits = team.limits();
    return new Team(
        team.teamId(),
        teamAlias.orElse(team.teamAlias()),
        models.orElse(team.models()),
        metadata.orElse(team.metadata()),
        blocked.orElse(team.blocked()),
        new TeamLimits(
            changed(LimitFields.MAX_BUDGET, maxBudget, limits.maxBudget()),
            changed(LimitFields.SOFT_BUDGET, softBudget, limits.softBudget()),
            changed(LimitFields.BUDGET_DURATION, budgetDuration, limits.budgetDuration()),
            changed(LimitFields.TPM_LIMIT, tpmLimit, limits.tpmLimit()),
            changed(LimitFields.RPM_LIMIT, rpmLimit, limits.rpmLimit()),
            changed(LimitFields.MAX_PARALLEL_REQUESTS, maxParallelRequests, limits.maxParallelRequests())),
        team.createdAt(),
        now);
  }

  /** A limit's new value: null when removed, the new one when set, else the current one. */
  private <T> T changed(String name, Optional<T> value, T current) {
    return removed.contains(name) ? null : value.orElse(current);
  }
}

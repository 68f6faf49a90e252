package aigw.core.teams;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What {@code /team/update} changes: each field present is set, each absent one is kept (LiteLLM's
 * {@code UpdateTeamRequest}, where a field left out or null is not changed).
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
    Optional<Long> maxParallelRequests) {

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
            maxBudget.orElse(limits.maxBudget()),
            softBudget.orElse(limits.softBudget()),
            budgetDuration.orElse(limits.budgetDuration()),
            tpmLimit.orElse(limits.tpmLimit()),
            rpmLimit.orElse(limits.rpmLimit()),
            maxParallelRequests.orElse(limits.maxParallelRequests())),
        team.createdAt(),
        now);
  }
}

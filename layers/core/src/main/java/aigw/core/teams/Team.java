package aigw.core.teams;

import aigw.core.limits.LimitScope;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * A team as stored: LiteLLM's {@code LiteLLM_TeamTable} fields that aigw implements. A key with a
 * {@code team_id} belongs to it: it may use only the models both allow ({@link TeamAccess}), and it
 * stops working while the team is blocked.
 *
 * @param teamId the team's id, chosen by the admin or a random UUID; immutable
 * @param teamAlias a display name; null when none (not unique, as in LiteLLM)
 * @param models the models the team's keys may use, by name or pattern ({@link aigw.core.config.ModelAccess}); empty means all
 * @param metadata any JSON object the admin sent
 * @param limits budget and rate limits, enforced by {@code aigw.core.limits}
 */
public record Team(
    String teamId,
    String teamAlias,
    List<String> models,
    Map<String, Object> metadata,
    boolean blocked,
    TeamLimits limits,
    Instant createdAt,
    Instant updatedAt) {

  public Team {
    models = models == null ? List.of() : List.copyOf(models);
    metadata = metadata == null ? Map.of() : metadata;
    limits = limits == null ? TeamLimits.NONE : limits;
  }

  /**
   * The team's scope in the limit engine, {@code team:<team_id>} (its state: the item {@code
   * limits#team:<team_id>}); a key of the team is admitted against it and its own.
   */
  public LimitScope limitScope() {
    return LimitScope.ofTeam(teamId, limits.asLimits());
  }

  public Team withBlocked(boolean value, Instant now) {
    return new Team(teamId, teamAlias, models, metadata, value, limits, createdAt, now);
  }
}

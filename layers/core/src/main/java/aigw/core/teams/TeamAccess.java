package aigw.core.teams;

import aigw.core.config.ModelAccess;
import aigw.core.config.Router;
import aigw.core.errors.BadRequest;
import aigw.core.errors.ModelNotAllowed;
import aigw.core.keys.KeyChanges;
import aigw.core.keys.VirtualKey;
import java.time.Instant;
import java.util.List;

/**
 * LiteLLM's model rules for a key in a team ({@code can_key_call_model}, {@code
 * _resolve_key_models_for_auth_check} and {@code can_team_access_model} in LiteLLM's {@code
 * proxy/auth/auth_checks.py}): a key may use a model only if its own {@code models} allow it and its
 * team's {@code models} allow it too. Applied alike to model calls, {@code GET /v1/models} and
 * {@code GET /v1/models/{id}}.
 *
 * <ul>
 *   <li>{@code all-team-models} in the key's list stands for the team's list, and replaces the whole
 *       list (LiteLLM returns the team's models as soon as it sees it). In a key without a team it
 *       stays as it is and matches no model, so the key is refused rather than let through.
 *   <li>A team with an empty list (or {@code *}, {@code all-proxy-models}) allows every model, as a
 *       key's does.
 * </ul>
 */
public final class TeamAccess {
  private TeamAccess() {}

  /** The key's own model list with {@code all-team-models} resolved against {@code team} (null: no team). */
  public static List<String> keyModels(VirtualKey key, Team team) {
    if (team != null && key.models().contains(ModelAccess.ALL_TEAM_MODELS)) {
      return team.models();
    }
    return key.models();
  }

  /** Whether the key (in {@code team}, or null) may use {@code model}. */
  public static boolean allows(Router router, VirtualKey key, Team team, String model) {
    return router.allows(keyModels(key, team), model) && (team == null || router.allows(team.models(), model));
  }

  /**
   * Refuses a model the key or its team does not allow, the key's list checked first as LiteLLM does.
   *
   * @throws ModelNotAllowed 401 {@code key_model_access_denied} when the key's list (resolved) does
   *     not allow it; 401 {@code team_model_access_denied} when the team's does not
   */
  public static void requireModel(Router router, VirtualKey key, Team team, String model) {
    List<String> keyModels = keyModels(key, team);
    if (!router.allows(keyModels, model)) {
      throw new ModelNotAllowed(model, keyModels);
    }
    if (team != null && !router.allows(team.models(), model)) {
      throw ModelNotAllowed.byTeam(model, team.models());
    }
  }

  /**
   * Refuses a key (as it would be stored) whose team setting cannot work: a {@code team_id} that
   * names no team (LiteLLM's {@code /key/generate} refuses it with "Team doesn't exist in db"), or
   * {@code all-team-models} without a team, which would allow no model.
   *
   * @throws BadRequest 400 with param {@code team_id} or {@code models}
   */
  public static void requireValidTeam(VirtualKey key, TeamStore teams) {
    requireValidTeam(key, true, teams);
  }

  /**
   * {@link #requireValidTeam(VirtualKey, TeamStore)} for {@code current} after {@code changes};
   * returns the changes. The team is looked up only when the changes set {@code team_id}: a key whose
   * team is gone can still have its other fields changed.
   */
  public static KeyChanges requireValidTeam(VirtualKey current, KeyChanges changes, TeamStore teams, Instant now) {
    requireValidTeam(changes.applyTo(current, now), changes.teamId().isPresent(), teams);
    return changes;
  }

  private static void requireValidTeam(VirtualKey key, boolean lookUpTeam, TeamStore teams) {
    if (lookUpTeam && key.teamId() != null && teams.find(key.teamId()).isEmpty()) {
      throw new BadRequest(
          "Team doesn't exist in db. Team=" + key.teamId() + ". Create team via `/team/new` call.", "team_id");
    }
    if (key.teamId() == null && key.models().contains(ModelAccess.ALL_TEAM_MODELS)) {
      throw new BadRequest(
          "The 'models' entry '" + ModelAccess.ALL_TEAM_MODELS + "' allows no model: it means the models of the key's team,"
              + " and this key has no 'team_id'. Set 'team_id', use '" + ModelAccess.ALL_PROXY_MODELS
              + "' (every model) or name the models.",
          "models");
    }
  }
}

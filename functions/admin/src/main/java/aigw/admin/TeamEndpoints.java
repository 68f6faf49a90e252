package aigw.admin;

import aigw.core.Gateway;
import aigw.core.audit.AuditLog;
import aigw.core.auth.Caller;
import aigw.core.config.ModelAccess;
import aigw.core.errors.BadRequest;
import aigw.core.errors.MethodNotAllowed;
import aigw.core.errors.NotFound;
import aigw.core.errors.PayloadTooLarge;
import aigw.core.errors.PermissionDenied;
import aigw.admin.AdminRoutes.Route;
import aigw.core.http.GatewayRequest;
import aigw.core.http.GatewayResponse;
import aigw.core.json.Json;
import aigw.core.keys.KeyStore;
import aigw.core.limits.LimitFields;
import aigw.core.limits.BudgetDuration;
import aigw.core.keys.VirtualKey;
import aigw.core.keys.dynamodb.DynamoDbKeyStore;
import aigw.core.rotation.VirtualKeyRotator;
import aigw.core.teams.Team;
import aigw.core.teams.TeamChanges;
import aigw.core.teams.TeamLimits;
import aigw.core.teams.TeamStore;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.function.Function;
import java.util.logging.Logger;

/**
 * LiteLLM's team management API ({@code proxy/management_endpoints/team_endpoints.py}), master key only:
 *
 * <ul>
 *   <li>{@code POST /team/new}: a team ({@code NewTeamRequest}); answers the team row
 *   <li>{@code POST /team/update}: {@code team_id} and the fields to change; answers {@code {"team_id", "data"}}
 *   <li>{@code GET /team/info?team_id=}: {@code {"team_id", "team_info", "keys", "team_memberships"}}
 *   <li>{@code GET /team/list}: every team with its keys
 *   <li>{@code POST /team/delete} {@code {"team_ids":[...]}}: the teams and their keys (as LiteLLM does)
 *   <li>{@code POST /team/block}, {@code POST /team/unblock} {@code {"team_id"}}: a blocked team's keys get 401
 * </ul>
 *
 * Every change is recorded in the audit log ({@code team.new}, {@code team.update}, {@code
 * team.delete} with a {@code key.delete} for each key it removed, {@code team.block}, {@code
 * team.unblock}) once stored and before it is answered, with the team's id and the names of the
 * fields set, never their values. A team's {@code spend} is LiteLLM's, the same on every route
 * ({@link SpendViews}): for a team with a budget ({@code max_budget} or {@code soft_budget}) its
 * current budget period's, with {@code budget_reset_at}, as the proxy enforces them (docs/limits.md);
 * otherwise the sum of its keys' ({@link TeamStore#spendByKey}). Its keys are shown
 * as {@code /key/list} shows them, never a key value. Every change is stored before it is answered
 * and evicts the team from this container's cache, so it holds here at the next request, and in
 * other containers within the cache TTL (AIGW_KEY_CACHE_TTL_SECONDS).
 */
public final class TeamEndpoints {
  private static final Logger LOG = Logger.getLogger(TeamEndpoints.class.getName());
  /** Longest team id: it is part of a DynamoDB partition key ({@code team#<id>}, at most 2,048 bytes). */
  static final int MAX_TEAM_ID_LENGTH = 256;
  static final int MAX_ALIAS_LENGTH = 256;

  private static final Set<String> NEW_FIELDS =
      Set.of("team_id", "team_alias", "models", "metadata", "blocked", "max_budget", "soft_budget", "budget_duration",
          "tpm_limit", "rpm_limit", "max_parallel_requests");
  private static final Set<String> UPDATE_FIELDS = NEW_FIELDS;
  private static final Set<String> TEAM_ID_ONLY = Set.of("team_id");
  private static final Set<String> DELETE_FIELDS = Set.of("team_ids");
  /** LiteLLM team fields aigw does not implement: a 400 naming them, never silently ignored. */
  static final Set<String> LITELLM_NOT_YET =
      Set.of(
          "organization_id", "admins", "members", "members_with_roles", "team_member_permissions", "budget_limits",
          "router_settings", "access_group_ids", "default_team_member_models", "model_aliases", "tags", "guardrails",
          "policies", "prompts", "object_permission", "allowed_passthrough_routes", "secret_manager_settings",
          "model_rpm_limit", "model_tpm_limit", "rpm_limit_type", "tpm_limit_type", "team_member_budget",
          "team_member_budget_duration", "team_member_rpm_limit", "team_member_tpm_limit", "team_member_key_duration",
          "model_max_budget", "allowed_vector_store_indexes", "disable_global_guardrails", "tpd_limit",
          "default_estimated_output_tokens", "default_estimated_output_tokens_per_model", "enforced_batch_output_expires_after",
          "enforced_file_expires_after", "project_id", "spend");

  /** The routes this class answers (AdminRoutes: master key checked, a POST's body read, before these run). */
  static final List<Route<TeamEndpoints>> ROUTES =
      List.of(
          Route.post("/team/new", TeamEndpoints::create),
          Route.post("/team/update", TeamEndpoints::update),
          Route.get("/team/info", TeamEndpoints::info),
          Route.get("/team/list", TeamEndpoints::list),
          Route.post("/team/delete", TeamEndpoints::delete),
          Route.post("/team/block", (teams, request) -> teams.setBlocked(request, true)),
          Route.post("/team/unblock", (teams, request) -> teams.setBlocked(request, false)));

  private static final String TEAM = "team"; // the audit log's object types
  private static final String KEY = "key";

  private final Gateway gateway;
  /** To discard a value a scheduled rotation held for a key the team's deletion deletes. */
  private final VirtualKeyRotator rotator;
  private final AuditLog auditLog;

  TeamEndpoints(AdminRoutes.Wiring wiring) {
    this.gateway = wiring.gateway();
    this.rotator = wiring.rotator();
    this.auditLog = wiring.auditLog();
  }

  // POST /team/new
  private GatewayResponse create(AdminRequest request) {
    ObjectNode body = request.body();
    var fields = fields(body, NEW_FIELDS);
    Instant now = request.now();
    String teamId = fields.text("team_id").map(TeamEndpoints::checkedTeamId).orElseGet(() -> UUID.randomUUID().toString());
    var team =
        new Team(
            teamId,
            teamAlias(fields).orElse(null),
            fields.strings("models").map(this::checkedModels).orElse(List.of()),
            fields.object("metadata").orElse(Map.of()),
            fields.bool("blocked").orElse(false),
            new TeamLimits(
                money(body, "max_budget").orElse(null),
                money(body, "soft_budget").orElse(null),
                budgetDuration(fields).orElse(null),
                count(body, "tpm_limit").orElse(null),
                count(body, "rpm_limit").orElse(null),
                count(body, "max_parallel_requests").orElse(null)),
            now,
            now);
    try {
      gateway.teamStore().create(team);
    } catch (TeamStore.TeamAlreadyExists e) {
      throw new BadRequest(e.getMessage(), "team_id"); // LiteLLM's 400 and words
    }
    gateway.teamCache().evict(teamId);
    LOG.info("Created team " + teamId);
    audit(request, "team.new", teamId, fieldsSet(body));
    var response = view(team, BigDecimal.ZERO);
    SpendViews.showPeriod(response, team.limitScope(), gateway.limits()); // a budget's budget_reset_at, as /team/info shows it
    return GatewayResponse.json(200, response);
  }

  // POST /team/update
  private GatewayResponse update(AdminRequest request) {
    ObjectNode body = request.body();
    var fields = fields(body, UPDATE_FIELDS);
    String teamId = fields.requiredText("team_id");
    var changes =
        new TeamChanges(
            teamAlias(fields),
            fields.strings("models").map(this::checkedModels),
            fields.object("metadata"),
            fields.bool("blocked"),
            money(body, "max_budget"),
            money(body, "soft_budget"),
            budgetDuration(fields),
            count(body, "tpm_limit"),
            count(body, "rpm_limit"),
            count(body, "max_parallel_requests"),
            removedLimits(body));
    Team updated = change(teamId, changes, request.now());
    audit(request, "team.update", teamId, fieldsSet(body));
    var response = new LinkedHashMap<String, Object>();
    response.put("team_id", updated.teamId());
    response.put("data", view(updated, null));
    return GatewayResponse.json(200, response);
  }

  // POST /team/block and /team/unblock
  private GatewayResponse setBlocked(AdminRequest request, boolean blocked) {
    var fields = fields(request.body(), TEAM_ID_ONLY);
    Team updated = change(fields.requiredText("team_id"), TeamChanges.blocked(blocked), request.now());
    audit(request, blocked ? "team.block" : "team.unblock", updated.teamId(), List.of("blocked"));
    return GatewayResponse.json(200, view(updated, null));
  }

  private Team change(String teamId, TeamChanges changes, Instant now) {
    try {
      Team updated = gateway.teamStore().update(teamId, changes, now);
      gateway.teamCache().evict(teamId); // holds in this container at the next request
      LOG.info("Changed team " + teamId);
      return updated;
    } catch (TeamStore.TeamNotFound e) {
      throw teamNotFound(teamId);
    }
  }

  // GET /team/info?team_id=
  private GatewayResponse info(AdminRequest admin) {
    GatewayRequest request = admin.http();
    rejectUnknownParams(request, Set.of("team_id"));
    String teamId = request.queryParam("team_id");
    if (teamId == null || teamId.isBlank()) {
      throw new BadRequest("Query parameter 'team_id' is required.", "team_id");
    }
    Team team = gateway.teamStore().find(teamId).orElseThrow(() -> teamNotFound(teamId));
    List<VirtualKey> keys = keysOf(teamId);
    var response = new LinkedHashMap<String, Object>();
    response.put("team_id", teamId);
    var teamInfo = view(team, spendOf(keys, gateway.teamStore().spendByKey()));
    SpendViews.showPeriod(teamInfo, team.limitScope(), gateway.limits()); // a team with a budget: its period's
    response.put("team_info", teamInfo);
    response.put("keys", keys.stream().map(k -> SpendViews.key(k, gateway.limits())).toList());
    response.put("team_memberships", List.of());
    return GatewayResponse.json(200, response);
  }

  // GET /team/list
  private GatewayResponse list(AdminRequest admin) {
    GatewayRequest request = admin.http();
    rejectUnknownParams(request, Set.of());
    Map<String, List<VirtualKey>> keysByTeam = new LinkedHashMap<>();
    for (VirtualKey key : gateway.keyStore().listAll()) {
      if (key.teamId() != null) {
        keysByTeam.computeIfAbsent(key.teamId(), id -> new ArrayList<>()).add(key);
      }
    }
    Map<String, BigDecimal> spendByKey = gateway.teamStore().spendByKey();
    var teams = new ArrayList<Map<String, Object>>();
    for (Team team : gateway.teamStore().listAll().stream().sorted((a, b) -> a.createdAt().compareTo(b.createdAt())).toList()) {
      List<VirtualKey> keys = keysByTeam.getOrDefault(team.teamId(), List.of());
      var entry = view(team, spendOf(keys, spendByKey));
      // As /team/info shows it (SpendViews): one read per team with a budget.
      SpendViews.showPeriod(entry, team.limitScope(), gateway.limits());
      entry.put("keys", keys.stream().map(k -> SpendViews.key(k, gateway.limits())).toList());
      entry.put("team_memberships", List.of());
      teams.add(entry);
    }
    return GatewayResponse.json(200, teams);
  }

  // POST /team/delete
  private GatewayResponse delete(AdminRequest request) {
    var fields = fields(request.body(), DELETE_FIELDS);
    List<String> teamIds =
        fields.strings("team_ids").filter(ids -> !ids.isEmpty()).orElseThrow(() -> new BadRequest("'team_ids' is required: a non-empty array of team ids.", "team_ids"));
    var unique = List.copyOf(new LinkedHashSet<>(teamIds));
    if (unique.size() > aigw.core.teams.dynamodb.DynamoDbTeamStore.MAX_DELETE_BATCH) {
      throw new BadRequest("At most " + aigw.core.teams.dynamodb.DynamoDbTeamStore.MAX_DELETE_BATCH + " teams can be deleted per call.", "team_ids");
    }
    var missing = unique.stream().filter(id -> gateway.teamStore().find(id).isEmpty()).toList();
    if (!missing.isEmpty()) {
      throw new NotFound("Team not found, passed team_id=" + String.join(", ", missing) + "; nothing was deleted.", "team_ids");
    }
    // LiteLLM deletes a team's keys with it: a key cannot outlive its team. Keys first, so that a
    // failure part-way leaves the team in place, to be deleted again.
    var keys = gateway.keyStore().listAll().stream().filter(k -> k.teamId() != null && unique.contains(k.teamId())).toList();
    for (int from = 0; from < keys.size(); from += DynamoDbKeyStore.MAX_DELETE_BATCH) {
      var batch = keys.subList(from, Math.min(from + DynamoDbKeyStore.MAX_DELETE_BATCH, keys.size()));
      try {
        gateway.keyStore().deleteAll(batch.stream().map(VirtualKey::tokenHash).toList());
      } catch (KeyStore.KeyNotFound | KeyStore.KeyChangedConcurrently e) {
        // A key of the team was deleted or rotated meanwhile: the caller may send the delete again.
        throw new aigw.core.errors.Conflict(
            "A key of the team changed while the team was being deleted; the team is still there. Send the delete again.", "team_ids");
      }
      for (VirtualKey key : batch) {
        gateway.keyCache().evictKey(key.keyId());
        rotator.discardHeldValue(key.keyId(), key.rotation().count()); // must not outlive the key
      }
    }
    try {
      gateway.teamStore().deleteAll(unique);
    } catch (TeamStore.TeamNotFound e) {
      throw new NotFound("Team not found, passed team_id=" + String.join(", ", e.missing()) + "; nothing was deleted.", "team_ids");
    }
    unique.forEach(gateway.teamCache()::evict);
    LOG.info("Deleted " + unique.size() + " team(s) and their " + keys.size() + " key(s)");
    // Once both are stored: each team, and each key the deletion removed, as /key/delete records it.
    unique.forEach(teamId -> audit(request, "team.delete", teamId, List.of()));
    keys.forEach(key -> auditLog.record(request.auditEvent("key.delete", KEY, key.keyId(), List.of())));
    return GatewayResponse.json(200, Map.of("deleted_teams", teamIds));
  }

  /** The team's keys, with their usage; a scan, as {@code /key/list} does (admin calls only). */
  private List<VirtualKey> keysOf(String teamId) {
    return gateway.keyStore().listAll().stream().filter(k -> teamId.equals(k.teamId())).toList();
  }

  /** The spend of a team without a budget: the sum of its keys' running totals (aigw keeps no per-team counter for it). */
  private static BigDecimal spendOf(List<VirtualKey> keys, Map<String, BigDecimal> spendByKey) {
    return keys.stream().map(k -> spendByKey.getOrDefault(k.keyId(), BigDecimal.ZERO)).reduce(BigDecimal.ZERO, BigDecimal::add);
  }

  /**
   * LiteLLM's team row ({@code LiteLLM_TeamTable}) with the fields aigw implements.
   *
   * @param spend the team's spend, or null to leave it out: a change (update, block) is answered
   *     without scanning the table for it, so that blocking a team never waits on a scan
   */
  static LinkedHashMap<String, Object> view(Team team, BigDecimal spend) {
    var view = new LinkedHashMap<String, Object>();
    view.put("team_id", team.teamId());
    view.put("team_alias", team.teamAlias());
    view.put("models", team.models());
    view.put("metadata", team.metadata());
    view.put("blocked", team.blocked());
    TeamLimits limits = team.limits();
    view.put("max_budget", limits.maxBudget());
    view.put("soft_budget", limits.softBudget());
    view.put("budget_duration", limits.budgetDuration());
    view.put("tpm_limit", limits.tpmLimit());
    view.put("rpm_limit", limits.rpmLimit());
    view.put("max_parallel_requests", limits.maxParallelRequests());
    if (spend != null) {
      view.put("spend", spend);
    }
    // LiteLLM's membership fields: aigw has no users, so no team has members.
    view.put("admins", List.of());
    view.put("members", List.of());
    view.put("members_with_roles", List.of());
    view.put("created_at", team.createdAt().toString());
    view.put("updated_at", team.updatedAt().toString());
    return view;
  }

  /** A team's {@code models}: each entry must allow a model this gateway serves, as a key's must. */
  private List<String> checkedModels(List<String> entries) {
    for (String entry : entries) {
      if (entry.equals(ModelAccess.ALL_TEAM_MODELS)) {
        throw new BadRequest(
            "The 'models' entry '" + entry + "' means a team's models, and this is the team's own list: name the models, or use '"
                + ModelAccess.ALL_PROXY_MODELS + "' (every model).",
            "models");
      }
      String refusal = ModelAccess.refusal(entry, gateway.router());
      if (refusal != null) {
        throw new BadRequest("The 'models' entry '" + entry + "' allows no model: " + refusal + ".", "models");
      }
    }
    return entries;
  }

  private static String checkedTeamId(String teamId) {
    if (teamId.isBlank()) {
      throw new BadRequest("'team_id' must not be empty; leave it out for a generated id.", "team_id");
    }
    if (teamId.length() > MAX_TEAM_ID_LENGTH) {
      throw new BadRequest("'team_id' must be at most " + MAX_TEAM_ID_LENGTH + " characters; got " + teamId.length() + ".", "team_id");
    }
    return teamId;
  }

  private static Optional<String> teamAlias(Fields fields) {
    Optional<String> alias = fields.text("team_alias").map(name -> aigw.core.keys.KeyRules.alias(name, "team_alias")); // NFC, no control characters
    if (alias.isPresent() && alias.get().isBlank()) {
      throw new BadRequest("'team_alias' must not be empty; leave it out for a team without an alias.", "team_alias");
    }
    if (alias.isPresent() && alias.get().length() > MAX_ALIAS_LENGTH) {
      throw new BadRequest("'team_alias' must be at most " + MAX_ALIAS_LENGTH + " characters.", "team_alias");
    }
    return alias;
  }

  /**
   * LiteLLM's budget_duration text, checked as a key's is ({@link BudgetDuration}: the periods the
   * limit engine can reset on, so a stored team never holds one its keys' requests would fail on); kept as sent.
   */
  private static Optional<String> budgetDuration(Fields fields) {
    Optional<String> text = fields.text("budget_duration").map(String::trim);
    text.ifPresent(t -> BudgetDuration.parse(t, "budget_duration"));
    return text;
  }

  /**
   * The limits the request sends as null: removed, as LiteLLM's {@code update_team} clears a field
   * sent as null (a key's are removed the same way, {@link LimitFields}).
   */
  private static Set<String> removedLimits(ObjectNode body) {
    var removed = new LinkedHashSet<String>();
    for (String name : LimitFields.NAMES) {
      if (body.has(name) && body.get(name).isNull()) {
        removed.add(name);
      }
    }
    return removed;
  }

  /** A USD amount, by the rule keys follow (0 to $1,000,000,000; LimitFields). */
  private static Optional<BigDecimal> money(ObjectNode body, String name) {
    return LimitFields.usd(body, name);
  }

  /** A limit, by the rule keys follow (a whole number within LimitFields' bound). */
  private static Optional<Long> count(ObjectNode body, String name) {
    return LimitFields.count(body, name);
  }

  /** A LiteLLM team field aigw does not implement is named as such, before the unknown-field rule. */
  private static Fields fields(ObjectNode body, Set<String> accepted) {
    body.fieldNames().forEachRemaining(name -> {
      if (!accepted.contains(name) && LITELLM_NOT_YET.contains(name)) {
        throw new BadRequest("'" + name + "' is not supported by aigw yet; remove it from the request.", name);
      }
    });
    return new Fields(body, accepted);
  }

  private static void rejectUnknownParams(GatewayRequest request, Set<String> accepted) {
    for (String name : request.query().keySet()) {
      if (!accepted.contains(name)) {
        throw new BadRequest(
            "Unknown query parameter '" + name + "'." + (accepted.isEmpty() ? " This route takes none." : " Accepted: "
                + String.join(", ", accepted.stream().sorted().toList()) + "."),
            name);
      }
    }
  }

  /** Records a team action once it is stored: the team's id and the names of the fields set, never their values. */
  private void audit(AdminRequest request, String action, String teamId, List<String> fieldsSet) {
    auditLog.record(request.auditEvent(action, TEAM, teamId, fieldsSet));
  }

  /** The names of the fields a request sets, the team's id aside (it is the event's object id). */
  private static List<String> fieldsSet(ObjectNode body) {
    var names = new ArrayList<String>();
    body.fieldNames().forEachRemaining(name -> {
      if (!name.equals("team_id")) {
        names.add(name);
      }
    });
    return names;
  }

  private static NotFound teamNotFound(String teamId) {
    return new NotFound("Team not found, passed team_id=" + teamId + ".", "team_id");
  }
}

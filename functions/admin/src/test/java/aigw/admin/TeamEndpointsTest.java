package aigw.admin;

import static aigw.admin.AdminApi.query;
import static org.assertj.core.api.Assertions.assertThat;

import aigw.admin.AdminApi.Outcome;
import aigw.admin.AdminApi.Reply;
import aigw.core.testing.Events;
import aigw.core.testing.TestGateways;
import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigDecimal;
import java.util.List;
import java.util.Map;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/** LiteLLM's /team/* routes on the admin function, driven by API Gateway events over DynamoDB Local. */
class TeamEndpointsTest {
  private AdminApi api;

  @BeforeEach
  void start() {
    api = new AdminApi();
  }

  @AfterEach
  void stop() {
    api.close();
  }

  private static JsonNode assertError(Reply reply, int status, String type, String param) {
    assertThat(reply.status()).as("%s", reply).isEqualTo(status);
    JsonNode error = reply.error();
    assertThat(error.path("type").asText()).as("type in %s", reply).isEqualTo(type);
    if (param == null) {
      assertThat(error.path("param").isNull()).as("param in %s", reply).isTrue();
    } else {
      assertThat(error.path("param").asText()).as("param in %s", reply).isEqualTo(param);
    }
    assertThat(error.path("code").asText()).isEqualTo(Integer.toString(status));
    return error;
  }

  private JsonNode newTeam(Map<String, ?> body) {
    Reply reply = api.post("/team/new", body);
    assertThat(reply.status()).as("%s", reply).isEqualTo(200);
    return reply.body();
  }

  private JsonNode info(String teamId) {
    Reply reply = api.get("/team/info", query("team_id", teamId));
    assertThat(reply.status()).as("%s", reply).isEqualTo(200);
    return reply.body();
  }

  private static List<String> texts(JsonNode array) {
    return StreamSupport.stream(array.spliterator(), false).map(JsonNode::asText).toList();
  }

  @Test
  void newTeamStoresLiteLlmsFieldsAndInfoShowsThem() {
    JsonNode created =
        newTeam(Map.of("team_id", "ml", "team_alias", "Machine learning", "models", List.of("gpt-4o-mini"), "metadata",
            Map.of("owner", "platform"), "max_budget", 12.5, "budget_duration", "30d", "tpm_limit", 100000, "rpm_limit", 60,
            "max_parallel_requests", 4));

    assertThat(created.path("team_id").asText()).isEqualTo("ml");
    assertThat(created.path("team_alias").asText()).isEqualTo("Machine learning");
    assertThat(texts(created.path("models"))).containsExactly("gpt-4o-mini");
    assertThat(created.path("max_budget").decimalValue()).isEqualByComparingTo("12.5");
    assertThat(created.path("budget_duration").asText()).isEqualTo("30d");
    assertThat(created.path("tpm_limit").asLong()).isEqualTo(100000);
    assertThat(created.path("rpm_limit").asLong()).isEqualTo(60);
    assertThat(created.path("max_parallel_requests").asLong()).isEqualTo(4);
    assertThat(created.path("blocked").asBoolean(true)).isFalse();
    assertThat(created.path("spend").decimalValue()).isEqualByComparingTo("0");
    assertThat(created.path("created_at").asText()).isEqualTo(AdminApi.START);

    assertThat(created.path("budget_reset_at").asText()).isEqualTo("2026-12-01T00:00:00Z"); // 30d: the 1st of next month

    JsonNode info = info("ml");
    assertThat(info.path("team_id").asText()).isEqualTo("ml");
    assertThat(info.path("team_info")).as("/team/info right after shows what /team/new answered").isEqualTo(created);
    assertThat(info.path("keys").isArray()).isTrue();
    assertThat(info.path("keys")).isEmpty();
    assertThat(info.path("team_memberships").isArray()).isTrue();
  }

  @Test
  void aTeamWithoutAnIdGetsAGeneratedOneAndATakenIdGets400() {
    String generated = newTeam(Map.of()).path("team_id").asText();
    assertThat(generated).hasSize(36);

    newTeam(Map.of("team_id", "taken", "team_alias", "first"));
    JsonNode error = assertError(api.post("/team/new", Map.of("team_id", "taken")), 400, "invalid_request_error", "team_id");
    assertThat(error.path("message").asText()).isEqualTo("Team id = taken already exists. Please use a different team id.");
    assertThat(info("taken").path("team_info").path("team_alias").asText()).isEqualTo("first");
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "{\"team_idd\":\"x\"}|team_idd|Unknown field 'team_idd'",
        "{\"members_with_roles\":[]}|members_with_roles|not supported by aigw yet",
        "{\"organization_id\":\"o\"}|organization_id|not supported by aigw yet",
        "{\"max_budget\":\"ten\"}|max_budget|number of US dollars",
        "{\"max_budget\":-1}|max_budget|from 0 to",
        "{\"max_budget\":1e-131}|max_budget|at most 18 decimal places",
        "{\"soft_budget\":1e-320}|soft_budget|at most 18 decimal places",
        "{\"max_budget\":1.0000000000000000000000000000000000000001}|max_budget|at most 18 decimal places",
        "{\"tpm_limit\":1.5}|tpm_limit|whole number",
        "{\"rpm_limit\":-2}|rpm_limit|whole number",
        "{\"max_parallel_requests\":\"2\"}|max_parallel_requests|whole number",
        "{\"budget_duration\":\"soon\"}|budget_duration|budget_duration",
        "{\"models\":[\"gpt-9\"]}|models|'gpt-9'",
        "{\"models\":[\"all-team-models\"]}|models|the team's own list",
        "{\"models\":\"gpt-4o\"}|models|array of strings",
        "{\"team_id\":\"\"}|team_id|must not be empty",
        "{\"team_alias\":\" \"}|team_alias|must not be empty",
        "{\"team_alias\":\"a\\u0000b\"}|team_alias|must not contain a control character",
        "{\"team_alias\":\"a\\u200bb\"}|team_alias|must not contain an invisible format character",
        "{\"team_alias\":\"a\\udc00b\"}|team_alias|must not contain an unpaired surrogate",
        "{\"blocked\":\"yes\"}|blocked|true or false",
        "{\"metadata\":[1]}|metadata|JSON object",
      })
  void badTeamFieldsGet400NamingTheFieldAndStoreNothing(String body, String param, String message) {
    JsonNode error = assertError(api.post("/team/new", body), 400, "invalid_request_error", param);
    assertThat(error.path("message").asText()).contains(message);
    assertThat(api.get("/team/list", null).body()).isEmpty();
  }

  @Test
  void updateChangesOnlyTheFieldsSentAndAnswersTeamIdAndData() {
    newTeam(Map.of("team_id", "t", "team_alias", "before", "models", List.of("gpt-4o-mini"), "rpm_limit", 10));
    api.clock.advance(java.time.Duration.ofMinutes(1));

    Reply reply = api.post("/team/update", Map.of("team_id", "t", "models", List.of("gpt-4o"), "max_budget", 3));

    assertThat(reply.status()).as("%s", reply).isEqualTo(200);
    assertThat(reply.body().path("team_id").asText()).isEqualTo("t");
    JsonNode data = reply.body().path("data");
    assertThat(texts(data.path("models"))).containsExactly("gpt-4o");
    assertThat(data.path("team_alias").asText()).isEqualTo("before");
    assertThat(data.path("rpm_limit").asLong()).isEqualTo(10);
    assertThat(data.path("max_budget").decimalValue()).isEqualByComparingTo("3");
    assertThat(data.path("updated_at").asText()).isEqualTo("2026-11-23T05:31:00Z");
    assertThat(data.has("spend")).as("a change is answered without a scan for the spend").isFalse();
    var stored = (com.fasterxml.jackson.databind.node.ObjectNode) info("t").path("team_info").deepCopy();
    stored.remove("spend");
    stored.remove("budget_reset_at"); // of the budget's period: shown by /team/info, read from the limits item
    assertThat(stored).isEqualTo(data);
  }

  @Test
  void aMissingTeamGets404OnEveryRouteThatNamesOne() {
    assertError(api.post("/team/update", Map.of("team_id", "ghost", "team_alias", "x")), 404, "not_found_error", "team_id");
    assertError(api.post("/team/block", Map.of("team_id", "ghost")), 404, "not_found_error", "team_id");
    assertError(api.post("/team/unblock", Map.of("team_id", "ghost")), 404, "not_found_error", "team_id");
    JsonNode error = assertError(api.get("/team/info", query("team_id", "ghost")), 404, "not_found_error", "team_id");
    assertThat(error.path("message").asText()).isEqualTo("Team not found, passed team_id=ghost.");
    assertError(api.get("/team/info", null), 400, "invalid_request_error", "team_id");
    assertError(api.get("/team/info", query("team", "x")), 400, "invalid_request_error", "team");
    assertError(api.post("/team/update", Map.of("team_alias", "x")), 400, "invalid_request_error", "team_id");
  }

  @Test
  void blockingATeamStopsItsKeysAtOnceAndUnblockingRestoresThem() {
    newTeam(Map.of("team_id", "blockable"));
    String key = api.generate(Map.of("team_id", "blockable")).path("key").asText();
    assertThat(api.onModelRoute(key)).isEqualTo(new Outcome(200, null)); // the team is now cached

    Reply blocked = api.post("/team/block", Map.of("team_id", "blockable"));
    assertThat(blocked.status()).isEqualTo(200);
    assertThat(blocked.body().path("blocked").asBoolean()).isTrue();
    assertThat(api.onModelRoute(key)).as("at once, in this container").isEqualTo(new Outcome(401, "auth_error"));

    Reply unblocked = api.post("/team/unblock", Map.of("team_id", "blockable"));
    assertThat(unblocked.body().path("blocked").asBoolean(true)).isFalse();
    assertThat(api.onModelRoute(key)).isEqualTo(new Outcome(200, null));
    assertError(api.post("/team/block", Map.of("team_id", "blockable", "reason", "x")), 400, "invalid_request_error", "reason");
  }

  @Test
  void infoAndListShowTheTeamsKeysMaskedAndSpendAsTheSumOfTheirs() {
    newTeam(Map.of("team_id", "spenders"));
    newTeam(Map.of("team_id", "other"));
    JsonNode first = api.generate(Map.of("team_id", "spenders", "key_alias", "one"));
    JsonNode second = api.generate(Map.of("team_id", "spenders", "key_alias", "two"));
    JsonNode outsider = api.generate(Map.of("team_id", "other"));
    addSpend(first.path("key_id").asText(), "0.25");
    addSpend(second.path("key_id").asText(), "1.5");
    addSpend(outsider.path("key_id").asText(), "100");

    Reply reply = api.get("/team/info", query("team_id", "spenders"));
    JsonNode info = reply.body();
    assertThat(info.path("team_info").path("spend").decimalValue()).isEqualByComparingTo("1.75");
    assertThat(info.path("keys")).hasSize(2);
    assertThat(StreamSupport.stream(info.path("keys").spliterator(), false).map(k -> k.path("key_alias").asText()))
        .containsExactlyInAnyOrder("one", "two");
    assertThat(info.path("keys").get(0).path("key_name").asText()).startsWith("sk-...");
    assertThat(reply.text()).doesNotContain(first.path("key").asText()).doesNotContain(second.path("key").asText());

    JsonNode list = api.get("/team/list", null).body();
    assertThat(list).hasSize(2);
    assertThat(list.get(0).path("team_id").asText()).isEqualTo("spenders");
    assertThat(list.get(0).path("spend").decimalValue()).isEqualByComparingTo("1.75");
    assertThat(list.get(0).path("keys")).hasSize(2);
    assertThat(list.get(1).path("spend").decimalValue()).isEqualByComparingTo("100");
    assertError(api.get("/team/list", query("user_id", "u")), 400, "invalid_request_error", "user_id");
  }

  @Test
  void infoOfATeamWithABudgetShowsTheSpendOfItsCurrentPeriodAndWhenItResets() {
    var clock = aigw.core.testing.MutableClock.at("2026-12-05T10:00:00Z");
    api.close();
    api = new AdminApi(clock);
    newTeam(Map.of("team_id", "budgeted", "max_budget", 5, "budget_duration", "1d"));
    JsonNode key = api.generate(Map.of("team_id", "budgeted"));
    addSpend(key.path("key_id").asText(), "3"); // spent before the team had a budget: not the period's
    JsonNode before = info("budgeted").path("team_info");
    assertThat(before.path("spend").decimalValue()).isZero();
    assertThat(before.path("budget_reset_at").asText()).isEqualTo("2026-12-06T00:00:00Z");

    // Spend of the period, as the proxy settles it on the team's scope.
    var team = api.gateway.teamStore().find("budgeted").orElseThrow();
    BigDecimal cost = new BigDecimal("0.75");
    api.gateway.limits().admit(team.limitScope(), new aigw.core.limits.Demand(10, cost)).settle(new aigw.core.usage.TokenUsage(5, 5, 10), cost);
    assertThat(info("budgeted").path("team_info").path("spend").decimalValue()).isEqualByComparingTo("0.75");
    assertSameSpendOnInfoAndList("budgeted", "0.75"); // LiteLLM's team spend column, the same on both routes

    clock.advance(java.time.Duration.ofDays(1)); // past budget_reset_at: the period's spend starts again
    JsonNode after = info("budgeted").path("team_info");
    assertThat(after.path("spend").decimalValue()).isZero();
    assertThat(after.path("budget_reset_at").asText()).isEqualTo("2026-12-07T00:00:00Z");
    assertSameSpendOnInfoAndList("budgeted", "0");
  }

  /** /team/info and /team/list show one spend for a team (and its keys), with the same budget_reset_at. */
  private void assertSameSpendOnInfoAndList(String teamId, String spend) {
    JsonNode info = info(teamId);
    JsonNode listed = StreamSupport.stream(api.get("/team/list", null).body().spliterator(), false)
        .filter(team -> team.path("team_id").asText().equals(teamId)).findFirst().orElseThrow();
    assertThat(info.path("team_info").path("spend").decimalValue()).isEqualByComparingTo(spend);
    assertThat(listed.path("spend").decimalValue()).as("/team/list").isEqualByComparingTo(spend);
    assertThat(listed.path("budget_reset_at")).isEqualTo(info.path("team_info").path("budget_reset_at"));
    assertThat(listed.path("keys")).isEqualTo(info.path("keys"));
  }

  /**
   * LiteLLM's update_team stores every field the request sets (data.json(exclude_unset=True); its
   * PR #7912 "allow setting null for max_budget, rpm_limit, tpm_limit"): a limit sent as null is
   * removed, one left out is kept, and the team's keys are no longer held to what was removed.
   */
  @Test
  void aTeamLimitSentAsNullIsRemovedAndNoLongerHeldWhileOneLeftOutIsKept() {
    newTeam(Map.of("team_id", "capped", "rpm_limit", 1, "tpm_limit", 1000, "max_parallel_requests", 1, "max_budget", 0.1,
        "soft_budget", 0.05, "budget_duration", "1d"));
    BigDecimal cost = new BigDecimal("0.1");
    var engine = api.gateway.limits();
    engine.admit(teamScope("capped"), new aigw.core.limits.Demand(10, cost)).settle(new aigw.core.usage.TokenUsage(5, 5, 10), cost);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> engine.admit(teamScope("capped"), new aigw.core.limits.Demand(10, cost)))
        .as("held to its limits before the update").isInstanceOf(RuntimeException.class);

    Reply reply = api.post("/team/update", "{\"team_id\": \"capped\", \"rpm_limit\": null, \"max_parallel_requests\": null,"
        + " \"max_budget\": null, \"soft_budget\": null, \"budget_duration\": null}");

    assertThat(reply.status()).as("%s", reply).isEqualTo(200);
    JsonNode teamInfo = info("capped").path("team_info");
    for (String removed : List.of("rpm_limit", "max_parallel_requests", "max_budget", "soft_budget", "budget_duration")) {
      assertThat(reply.body().path("data").path(removed).isNull()).as("%s in the answer", removed).isTrue();
      assertThat(teamInfo.path(removed).isNull()).as("%s in /team/info", removed).isTrue();
    }
    assertThat(teamInfo.path("tpm_limit").asLong()).as("left out: kept").isEqualTo(1000);
    var first = engine.admit(teamScope("capped"), new aigw.core.limits.Demand(10, cost));
    var second = engine.admit(teamScope("capped"), new aigw.core.limits.Demand(10, cost)); // while the first is in flight
    List.of(first, second).forEach(a -> a.settle(new aigw.core.usage.TokenUsage(5, 5, 10), cost));

    api.post("/team/update", "{\"team_id\": \"capped\", \"tpm_limit\": null}");
    assertThat(teamScope("capped").limits().isEmpty()).as("no limit left: the team costs the request path nothing").isTrue();
  }

  private aigw.core.limits.LimitScope teamScope(String teamId) {
    return api.gateway.teamStore().find(teamId).orElseThrow().limitScope();
  }

  @ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(strings = {"1y", "0d", "007d", "10000000d"})
  void aBudgetDurationTheLimitEngineCannotResetOnIsRefusedAsAKeysIs(String duration) {
    JsonNode error = assertError(api.post("/team/new", Map.of("budget_duration", duration)), 400, "invalid_request_error", "budget_duration");
    assertThat(error.path("message").asText()).contains("such as 30s, 30m, 1h, 1d, 7d, 30d or 1mo");
    assertThat(api.get("/team/list", null).body()).isEmpty();
  }

  /** A team's money and counts follow the rule keys do: a 400 naming the field, never the store's overflow as a 503. */
  @ParameterizedTest
  @org.junit.jupiter.params.provider.CsvSource({"max_budget,1e300", "soft_budget,1e300", "max_budget,-1", "rpm_limit,1e300",
      "tpm_limit,99999999999999999999"})
  void outOfRangeBudgetsAndLimitsAre400sAsForKeys(String field, String value) {
    assertError(api.post("/team/new", "{\"team_id\":\"ranged\",\"" + field + "\":" + value + "}"), 400, "invalid_request_error", field);
    newTeam(Map.of("team_id", "ranged-existing"));
    assertError(api.post("/team/update", "{\"team_id\":\"ranged-existing\",\"" + field + "\":" + value + "}"), 400,
        "invalid_request_error", field);
  }

  @Test
  void deleteRemovesTheTeamsAndTheirKeysAsLiteLlmDoes() {
    newTeam(Map.of("team_id", "doomed"));
    newTeam(Map.of("team_id", "kept"));
    String member = api.generate(Map.of("team_id", "doomed")).path("key").asText();
    String survivor = api.generate(Map.of("team_id", "kept")).path("key").asText();
    assertThat(api.onModelRoute(member)).isEqualTo(new Outcome(200, null));

    JsonNode missing = assertError(api.post("/team/delete", Map.of("team_ids", List.of("doomed", "ghost"))), 404, "not_found_error",
        "team_ids");
    assertThat(missing.path("message").asText()).contains("ghost").contains("nothing was deleted");
    assertThat(api.onModelRoute(member)).as("nothing deleted").isEqualTo(new Outcome(200, null));

    Reply deleted = api.post("/team/delete", Map.of("team_ids", List.of("doomed")));

    assertThat(deleted.status()).as("%s", deleted).isEqualTo(200);
    assertThat(texts(deleted.body().path("deleted_teams"))).containsExactly("doomed");
    assertError(api.get("/team/info", query("team_id", "doomed")), 404, "not_found_error", "team_id");
    assertThat(api.onModelRoute(member)).as("its key is gone, at once").isEqualTo(new Outcome(401, "token_not_found_in_db"));
    assertThat(api.onModelRoute(survivor)).isEqualTo(new Outcome(200, null));
    assertError(api.post("/team/delete", Map.of("team_ids", List.of())), 400, "invalid_request_error", "team_ids");
    assertError(api.post("/team/delete", Map.of()), 400, "invalid_request_error", "team_ids");
  }

  @Test
  void aKeyNeedsAnExistingTeamAsLiteLlmsKeyGenerateDoes() {
    JsonNode error = assertError(api.post("/key/generate", Map.of("team_id", "nope")), 400, "invalid_request_error", "team_id");
    assertThat(error.path("message").asText()).isEqualTo("Team doesn't exist in db. Team=nope. Create team via `/team/new` call.");
    assertThat(api.storedItems()).isZero();

    String key = api.generate(Map.of()).path("key").asText();
    assertError(api.post("/key/update", Map.of("key", key, "team_id", "nope")), 400, "invalid_request_error", "team_id");
    assertThat(api.info(key).path("team_id").isNull()).isTrue();

    newTeam(Map.of("team_id", "real", "models", List.of("gpt-4o")));
    JsonNode inTeam = api.generate(Map.of("team_id", "real", "models", List.of("all-team-models")));
    assertThat(texts(inTeam.path("models"))).containsExactly("all-team-models");
    assertThat(usableModels(inTeam.path("key").asText())).containsExactly("gpt-4o");
  }

  @Test
  void aKeyWhoseTeamIsGoneGets401NotTheTeamsModels() {
    var orphan = TestGateways.storeKey(api.gateway, "sk-orphan-key-of-a-deleted-team-0001", List.of(), null, false);
    api.dynamo.client().updateItem(r -> r.tableName(api.dynamo.keysTable())
        .key(Map.of("token_hash", AttributeValue.fromS(orphan.tokenHash())))
        .updateExpression("SET team_id = :t")
        .expressionAttributeValues(Map.of(":t", AttributeValue.fromS("vanished"))));

    assertThat(api.onModelRoute("sk-orphan-key-of-a-deleted-team-0001")).isEqualTo(new Outcome(401, "auth_error"));
    Reply changed = api.post("/key/update", Map.of("key", "sk-orphan-key-of-a-deleted-team-0001", "metadata", Map.of("n", 1)));
    assertThat(changed.status()).as("its other fields can still change: %s", changed).isEqualTo(200);
  }

  @Test
  void teamRoutesAreForTheMasterKeyOnly() {
    TestGateways.storeKey(api.gateway, Events.EVENTS_VIRTUAL_KEY, List.of(), null, false);
    var asVirtual = AdminApi.request("admin-key-generate-refused-for-virtual-key.json", "POST", "/team/new", "{}", null);
    assertError(api.send(asVirtual), 403, "auth_error", null);
    assertError(api.send(AdminApi.request("admin-key-list.json", "POST", "/team/list", "{}", null)), 405, "invalid_request_error", null);
    assertError(api.send(AdminApi.request("admin-key-generate.json", "GET", "/team/new", null, null)), 405, "invalid_request_error", null);
    assertError(api.post("/team/nope", "{}"), 404, "not_found_error", null);
    assertThat(api.get("/team/list", null).body()).isEmpty();
  }

  /** What the usage writer adds to a key's usage item per priced call: {@code spend}, in USD. */
  private void addSpend(String keyId, String usd) {
    api.dynamo.client().updateItem(r -> r.tableName(api.dynamo.keysTable())
        .key(Map.of("token_hash", AttributeValue.fromS("usage#" + keyId)))
        .updateExpression("ADD #spend :usd")
        .expressionAttributeNames(Map.of("#spend", "spend"))
        .expressionAttributeValues(Map.of(":usd", AttributeValue.fromN(usd))));
  }

  /** The models a key may use, as the proxy function resolves them (its list with all-team-models, then its team's). */
  private List<String> usableModels(String key) {
    var request = new aigw.core.http.GatewayRequest(
        "GET", "/v1/models", Map.of("Authorization", "Bearer " + key), Map.of(), new byte[0], null);
    var caller = (aigw.core.auth.Caller.Virtual) api.gateway.authenticator().forModelRoute(request, api.clock.instant());
    return AdminApi.MODELS.stream()
        .map(aigw.core.config.Deployment::modelName)
        .filter(m -> aigw.core.teams.TeamAccess.allows(api.gateway.router(), caller.key(), caller.team(), m))
        .toList();
  }
}

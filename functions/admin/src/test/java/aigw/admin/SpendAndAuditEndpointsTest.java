package aigw.admin;

import static aigw.admin.AdminApi.query;
import static org.assertj.core.api.Assertions.assertThat;

import aigw.admin.AdminApi.Reply;
import aigw.core.audit.AuditEvent;
import aigw.core.keys.ApiKeys;
import aigw.core.spend.SpendLogEntry;
import aigw.core.testing.Events;
import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/** {@code /spend/logs}, {@code /global/spend/*} and {@code /audit} as an admin client sees them, over DynamoDB Local. */
class SpendAndAuditEndpointsTest {
  private final AdminApi api = new AdminApi();
  private final Instant now = api.clock.instant();

  @AfterEach
  void close() {
    api.close();
  }

  /** A key made through /key/generate: its value and its stable id. */
  private record MadeKey(String value, String keyId) {}

  private MadeKey key(String alias, String team) {
    var body = new java.util.LinkedHashMap<String, Object>();
    body.put("key_alias", alias);
    if (team != null) {
      body.put("team_id", team);
      // A key's team must exist (LiteLLM's /key/generate rule): made once, on first use.
      api.post("/team/new", java.util.Map.of("team_id", team)); // 400 when it exists already: fine
    }
    String value = api.generate(body).path("key").asText();
    return new MadeKey(value, api.gateway.keyStore().findByHash(ApiKeys.hash(value)).orElseThrow().keyId());
  }

  /** A call as the proxy records it (the cost slice builds these from the key it authenticated). */
  private void call(String requestId, MadeKey key, String alias, String team, Instant start, String cost) {
    api.gateway.spendLogs().record(new SpendLogEntry(requestId, key.keyId(), alias, team, "gpt-4o-mini", "openai/gpt-4o-mini",
        12, 3, 15, new BigDecimal(cost), 200, 250, false, start));
  }

  private static List<String> requestIds(Reply reply) {
    var ids = new ArrayList<String>();
    reply.body().forEach(row -> ids.add(row.path("request_id").asText()));
    return ids;
  }

  private static void assertBadRequest(Reply reply, String param) {
    assertThat(reply.status()).as(reply.toString()).isEqualTo(400);
    assertThat(reply.error().path("type").asText()).isEqualTo("invalid_request_error");
    assertThat(reply.error().path("param").asText()).isEqualTo(param);
    assertThat(reply.text()).doesNotContain("Exception").doesNotContain("\tat ");
  }

  @Nested
  class SpendLogs {
    @Test
    void eachCallIsALiteLlmRowNamingTheKeyByIdNeverByValue() {
      var a = key("app-a", "team-x");
      var b = key("app-b", null);
      call("req-1", a, "app-a", "team-x", now.minus(Duration.ofDays(2)), "0.0025");
      call("req-2", b, "app-b", null, now.minus(Duration.ofHours(5)), "0.5");
      call("req-3", a, "app-a", "team-x", now.minus(Duration.ofHours(1)), "0.0001");
      api.gateway.flushLogs();

      Reply all = api.get("/spend/logs", Map.of());
      assertThat(all.status()).as(all.toString()).isEqualTo(200);
      assertThat(requestIds(all)).containsExactly("req-3", "req-2", "req-1");
      JsonNode row = all.body().get(0);
      assertThat(row.path("api_key").asText()).isEqualTo(a.keyId());
      assertThat(row.path("key_alias").asText()).isEqualTo("app-a");
      assertThat(row.path("team_id").asText()).isEqualTo("team-x");
      assertThat(row.path("model").asText()).isEqualTo("openai/gpt-4o-mini");
      assertThat(row.path("model_group").asText()).isEqualTo("gpt-4o-mini");
      assertThat(row.path("spend").decimalValue()).isEqualByComparingTo("0.0001");
      assertThat(row.path("prompt_tokens").asLong()).isEqualTo(12);
      assertThat(row.path("total_tokens").asLong()).isEqualTo(15);
      assertThat(Instant.parse(row.path("endTime").asText())).isEqualTo(Instant.parse(row.path("startTime").asText()).plusMillis(250));
      assertThat(row.path("status").asText()).isEqualTo("success");
      assertThat(all.text()).doesNotContain(a.value()).doesNotContain(ApiKeys.hash(a.value()));

      assertThat(requestIds(api.get("/spend/logs", query("api_key", a.keyId())))).containsExactly("req-3", "req-1");
      assertThat(requestIds(api.get("/spend/logs", query("api_key", a.value())))).as("LiteLLM's form: the key itself").containsExactly("req-3", "req-1");
      assertThat(requestIds(api.get("/spend/logs", query("api_key", ApiKeys.hash(a.value()))))).containsExactly("req-3", "req-1");
      assertThat(requestIds(api.get("/spend/logs", query("api_key", "sk-no-such-key-in-the-store-0000")))).isEmpty();
      assertThat(requestIds(api.get("/spend/logs", query("team_id", "team-x")))).containsExactly("req-3", "req-1");
      String yesterday = now.minus(Duration.ofDays(1)).toString().substring(0, 10);
      assertThat(requestIds(api.get("/spend/logs", query("start_date", yesterday)))).containsExactly("req-3", "req-2");
      String twoDaysAgo = now.minus(Duration.ofDays(2)).toString().substring(0, 10);
      assertThat(requestIds(api.get("/spend/logs", query("start_date", twoDaysAgo, "end_date", twoDaysAgo, "summarize", "false"))))
          .as("an end date includes its whole day").containsExactly("req-1");
    }

    @Test
    void pagesFollowThroughTheCursorHeaderWithNeitherGapNorRepeat() {
      var a = key("app-a", null);
      var expected = new ArrayList<String>();
      for (int i = 0; i < 5; i++) {
        call("req-" + i, a, "app-a", null, now.minus(Duration.ofHours(30 - 6L * i)), "0.01");
        expected.add(0, "req-" + i);
      }
      api.gateway.flushLogs();
      for (Map<String, String> filter : List.of(Map.<String, String>of(), Map.of("api_key", a.keyId()))) {
        var seen = new ArrayList<String>();
        String cursor = null;
        int pages = 0;
        do {
          var params = new java.util.HashMap<>(filter);
          params.put("page_size", "2");
          if (cursor != null) {
            params.put("cursor", cursor);
          }
          Reply page = api.get("/spend/logs", params);
          assertThat(page.status()).as(page.toString()).isEqualTo(200);
          assertThat(page.body().size()).isLessThanOrEqualTo(2);
          seen.addAll(requestIds(page));
          cursor = page.headers().get(LogQueries.NEXT_CURSOR_HEADER);
          pages++;
        } while (cursor != null);
        assertThat(seen).as("filter %s", filter).isEqualTo(expected);
        assertThat(pages).isEqualTo(3);
      }
    }

    @Test
    void malformedDatesPagesAndCursorsAre400sInTheEnvelope() {
      assertBadRequest(api.get("/spend/logs", query("start_date", "yesterday")), "start_date");
      assertBadRequest(api.get("/spend/logs", query("end_date", "2026-13-45")), "end_date");
      assertBadRequest(api.get("/spend/logs", query("start_date", "2026-11-20", "end_date", "2026-11-10")), "start_date");
      assertBadRequest(api.get("/spend/logs", query("page_size", "0")), "page_size");
      assertBadRequest(api.get("/spend/logs", query("page_size", "many")), "page_size");
      assertBadRequest(api.get("/spend/logs", query("cursor", "not-a-cursor")), "cursor");
      assertBadRequest(api.get("/spend/logs", query("request_id", "req-1")), "request_id");
      assertBadRequest(api.get("/spend/logs", query("summarize", "true")), "summarize");
      assertBadRequest(api.get("/global/spend/keys", query("limit", "-3")), "limit");
      assertBadRequest(api.get("/audit", query("start_date", "2026/11/01")), "start_date");
      assertBadRequest(api.get("/audit", query("table_name", "LiteLLM_UserTable")), "table_name");
      assertBadRequest(api.get("/spend/logs", query("end_date", "+10000-01-01T00:00:00Z")), "end_date");
    }

    @Test
    void rangesOutsideTheRetentionAreCutToItNotRefusedNorReadDayByDay() {
      var a = key("app-a", null);
      call("req-1", a, "app-a", null, now.minusSeconds(60), "0.01");
      api.gateway.flushLogs();
      Reply ancient = api.get("/spend/logs", query("start_date", "2001-01-01", "end_date", "2001-01-02"));
      assertThat(ancient.status()).as(ancient.toString()).isEqualTo(200);
      assertThat(ancient.body().size()).isZero();
      // Centuries ahead: cut at now (a day's margin), so a handful of day partitions are read, not millions.
      Reply wide = api.get("/spend/logs", query("start_date", "1970-01-01", "end_date", "9999-12-31"));
      assertThat(requestIds(wide)).containsExactly("req-1");
      assertThat(api.get("/audit", query("start_date", "1970-01-01 00:00:00", "end_date", "9999-12-31 23:59:59")).status()).isEqualTo(200);
    }

    /** An end date far ahead without a start date: everything kept up to now, not an empty page (review of issue 13). */
    @Test
    void anEndDateFarAheadWithoutAStartDateStillReadsEverythingKept() {
      var a = key("app-a", null);
      call("req-1", a, "app-a", null, now.minus(Duration.ofDays(3)), "0.01");
      api.gateway.flushLogs();
      for (String end : List.of("9999-12-31", now.plus(Duration.ofDays(90)).toString().substring(0, 10))) {
        assertThat(requestIds(api.get("/spend/logs", query("end_date", end)))).as(end).containsExactly("req-1");
      }
      assertThat(api.get("/audit", query("end_date", "9999-12-31")).body().path("audit_logs")).isNotEmpty();
    }

    @Test
    void onlyTheMasterKeyReadsThem() {
      var a = key("app-a", null);
      for (String path : List.of("/spend/logs", "/global/spend/keys", "/global/spend/teams", "/audit")) {
        Reply withVirtualKey = api.send(Events.withKey(AdminApi.request("admin-key-list.json", "GET", path, null, null), a.value()));
        assertThat(withVirtualKey.status()).as(path + " " + withVirtualKey).isEqualTo(403);
        assertThat(withVirtualKey.text()).doesNotContain(a.value());
        Reply withoutKey = api.send(Events.withKey(AdminApi.request("admin-key-list.json", "GET", path, null, null), null));
        assertThat(withoutKey.status()).as(path).isEqualTo(401);
        Reply post = api.send(AdminApi.request("admin-key-list.json", "POST", path, "{}", null));
        assertThat(post.status()).as(path).isEqualTo(405);
      }
    }
  }

  @Test
  void summariesAddUpSpendPerKeyAndPerTeamAndDay() {
    var a = key("app-a", "team-x");
    var b = key("app-b", "team-y");
    var c = key("app-c", null);
    Instant today = now.minus(Duration.ofMinutes(10));
    Instant earlier = now.minus(Duration.ofDays(3));
    call("r1", a, "app-a", "team-x", earlier, "1.25");
    call("r2", a, "app-a", "team-x", today, "0.75");
    call("r3", b, "app-b", "team-y", today, "0.5");
    call("r4", c, "app-c", null, today, "3");
    api.gateway.flushLogs();

    Reply keys = api.get("/global/spend/keys", query("limit", "2"));
    assertThat(keys.status()).as(keys.toString()).isEqualTo(200);
    assertThat(keys.body().size()).isEqualTo(2);
    assertThat(keys.body().get(0).path("api_key").asText()).isEqualTo(c.keyId());
    assertThat(keys.body().get(0).path("total_spend").decimalValue()).isEqualByComparingTo("3");
    assertThat(keys.body().get(1).path("api_key").asText()).isEqualTo(a.keyId());
    assertThat(keys.body().get(1).path("key_alias").asText()).isEqualTo("app-a");
    assertThat(keys.body().get(1).path("total_spend").decimalValue()).isEqualByComparingTo("2.00");

    Reply teams = api.get("/global/spend/teams", Map.of());
    assertThat(teams.status()).as(teams.toString()).isEqualTo(200);
    JsonNode totals = teams.body().path("total_spend_per_team");
    assertThat(totals.get(0).path("team_id").asText()).isEqualTo("Unassigned");
    assertThat(totals.get(1).path("team_id").asText()).isEqualTo("team-x");
    assertThat(totals.get(1).path("total_spend").decimalValue()).isEqualByComparingTo("2.00");
    assertThat(teams.body().path("teams").toString()).isEqualTo("[\"Unassigned\",\"team-x\",\"team-y\"]");
    JsonNode days = teams.body().path("daily_spend");
    assertThat(days.size()).isEqualTo(2);
    assertThat(days.get(0).path("date").asText()).isEqualTo(earlier.toString().substring(0, 10));
    assertThat(days.get(0).path("team-x").decimalValue()).isEqualByComparingTo("1.25");
    assertThat(days.get(1).path("team-y").decimalValue()).isEqualByComparingTo("0.5");
  }

  @Test
  void theAuditLogListsActionsByObjectActionTableAndPage() {
    var log = api.gateway.auditLog();
    log.record(new AuditEvent("key.generate", "key", "key-1", "master_key", "198.51.100.7", now.minusSeconds(30), List.of("key_alias"), Map.of()));
    log.record(new AuditEvent("key.block", "key", "key-1", "master_key", "198.51.100.7", now.minusSeconds(20), List.of("blocked"), Map.of()));
    log.record(new AuditEvent("team.new", "team", "team-x", "master_key", null, now.minusSeconds(10), List.of("team_alias"), Map.of()));

    Reply all = api.get("/audit", Map.of());
    assertThat(all.status()).as(all.toString()).isEqualTo(200);
    assertThat(all.body().path("audit_logs")).extracting(r -> r.path("action").asText()).containsExactly("team.new", "key.block", "key.generate");
    JsonNode first = all.body().path("audit_logs").get(2);
    assertThat(first.path("object_id").asText()).isEqualTo("key-1");
    assertThat(first.path("table_name").asText()).isEqualTo("key");
    assertThat(first.path("changed_by").asText()).isEqualTo("master_key");
    assertThat(first.path("source_ip").asText()).isEqualTo("198.51.100.7");
    assertThat(first.path("changed_fields").toString()).isEqualTo("[\"key_alias\"]");
    assertThat(Instant.parse(first.path("updated_at").asText())).isEqualTo(now.minusSeconds(30));
    assertThat(all.body().path("next_cursor").isNull()).isTrue();

    assertThat(api.get("/audit", query("object_id", "key-1")).body().path("audit_logs")).hasSize(2);
    assertThat(api.get("/audit", query("action", "key.block")).body().path("audit_logs")).extracting(r -> r.path("object_id").asText())
        .containsExactly("key-1");
    assertThat(api.get("/audit", query("table_name", "LiteLLM_TeamTable")).body().path("audit_logs")).extracting(r -> r.path("action").asText())
        .containsExactly("team.new");
    Reply page1 = api.get("/audit", query("page_size", "2"));
    assertThat(page1.body().path("audit_logs")).hasSize(2);
    Reply page2 = api.get("/audit", query("page_size", "2", "cursor", page1.body().path("next_cursor").asText()));
    assertThat(page2.body().path("audit_logs")).extracting(r -> r.path("action").asText()).containsExactly("key.generate");
  }

  /** Issue 13: the spend and audit logs contain what happened and no key. */
  @Test
  void noStoredSpendOrAuditRecordHoldsAKeyItsHashOrAPrompt() {
    var a = key("app-a", "team-x");
    String prompt = "Tell me the launch codes, prompt-marker-4417";
    call("req-1", a, "app-a", "team-x", now.minusSeconds(5), "0.02");
    api.gateway.flushLogs();
    api.gateway.auditLog().record(new AuditEvent("key.generate", "key", a.keyId(), "master_key", "203.0.113.1", now,
        List.of("key_alias", "team_id"), Map.of("key_name", ApiKeys.mask(a.value()))));

    var items = api.dynamo.client().scan(b -> b.tableName(api.dynamo.logsTable())).items();
    // The spend record, /team/new's and /key/generate's own audit events (the admin API records them) and the one above.
    assertThat(items).hasSize(4);
    String everything = items.toString();
    assertThat(everything).contains(a.keyId()).contains("req-1").contains("key.generate"); // what happened is there
    assertThat(everything).doesNotContain(a.value()).doesNotContain(ApiKeys.hash(a.value())).doesNotContain(prompt)
        .doesNotContain(a.value().substring(3, 20));
  }
}

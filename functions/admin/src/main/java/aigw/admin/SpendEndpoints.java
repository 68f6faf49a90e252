package aigw.admin;

import aigw.admin.AdminRoutes.Route;
import aigw.core.Gateway;
import aigw.core.errors.BadRequest;
import aigw.core.http.GatewayRequest;
import aigw.core.http.GatewayResponse;
import aigw.core.keys.ApiKeys;
import aigw.core.keys.VirtualKey;
import aigw.core.spend.SpendLogEntry;
import aigw.core.spend.SpendLogReader;
import java.math.BigDecimal;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * LiteLLM's spend routes, read from the spend logs (one record per model call), master key only
 * (GET, master key: checked by {@link AdminService} for every route of the table):
 *
 * <ul>
 *   <li>{@code GET /spend/logs}: the calls, newest first, as LiteLLM's {@code LiteLLM_SpendLogs}
 *       rows; by key ({@code api_key}: the key's id, or the key or its hash, looked up and never
 *       kept), by team ({@code team_id}), by date ({@code start_date}, {@code end_date}); {@code
 *       page_size} rows a page, the next page from {@code cursor} (response header {@value
 *       LogQueries#NEXT_CURSOR_HEADER}).
 *   <li>{@code GET /global/spend/keys}: the keys with the highest spend in the range (default: the
 *       retention), {@code limit} of them.
 *   <li>{@code GET /global/spend/teams}: spend per team and day in the range (LiteLLM's shape:
 *       {@code daily_spend}, {@code teams}, {@code total_spend_per_team}).
 * </ul>
 *
 * Each is one or more DynamoDB Queries, never a Scan (docs/architecture.md, "Spend and audit logs").
 */
public final class SpendEndpoints {
  /** The routes this class answers, under two resources of {@link AdminRoutes}: {@code /spend} and {@code /global}. */
  static final List<Route<SpendEndpoints>> ROUTES =
      List.of(
          Route.get("/spend/logs", SpendEndpoints::logs),
          Route.get("/global/spend/keys", SpendEndpoints::topKeys),
          Route.get("/global/spend/teams", SpendEndpoints::teams));

  private static final Set<String> LOGS_PARAMS = Set.of("api_key", "team_id", "start_date", "end_date", "page_size", "cursor", "summarize");
  private static final Set<String> KEYS_PARAMS = Set.of("limit", "start_date", "end_date");
  private static final Set<String> TEAMS_PARAMS = Set.of("start_date", "end_date");
  private static final Pattern SHA_256_HEX = Pattern.compile("[0-9a-f]{64}");
  /** Records read per Query while summing (the summaries read the whole range). */
  private static final int SUMMARY_PAGE = 1000;

  private final Gateway gateway;

  SpendEndpoints(AdminRoutes.Wiring wiring) {
    this.gateway = wiring.gateway();
  }

  /**
   * Writes the spend records this process accepted and has not written yet, so a read right after a
   * call shows it (the local gateway, where the proxy and the admin API share one process, as
   * /key/info does with usage). On AWS the admin function holds none: the proxy function writes its
   * records within each invocation.
   */
  private void flushThisProcessesRecords() {
    gateway.flushLogs();
  }

  // GET /spend/logs
  private GatewayResponse logs(AdminRequest admin) {
    flushThisProcessesRecords();
    GatewayRequest request = admin.http();
    LogQueries.onlyParams(request, LOGS_PARAMS);
    String summarize = request.queryParam("summarize");
    if (summarize != null && !summarize.equalsIgnoreCase("false")) {
      // LiteLLM's legacy summary by date: aigw answers the rows; the summaries are /global/spend/*.
      throw new BadRequest("summarize=" + summarize + " is not supported: /spend/logs answers one row per request"
          + " (summarize=false); spend per key and per team: GET /global/spend/keys, GET /global/spend/teams.", "summarize");
    }
    var range = LogQueries.range(request, gateway);
    String keyId = keyId(request.queryParam("api_key"));
    String teamId = blankToNull(request.queryParam("team_id"));
    var page = gateway.spendLogReader().page(new SpendLogReader.Query(keyId, teamId, range.from(), range.to(),
        LogQueries.pageSize(request, "page_size"), LogQueries.cursor(request)));
    var rows = new ArrayList<Map<String, Object>>();
    page.entries().forEach(entry -> rows.add(row(entry)));
    var response = GatewayResponse.json(200, rows);
    return page.next() == null ? response : response.withHeader(LogQueries.NEXT_CURSOR_HEADER, LogQueries.encodeCursor(page.next()));
  }

  /**
   * The key id {@code api_key} names: LiteLLM takes the key or its hash there; aigw also its stable
   * id (what its rows show). A key or hash not stored names no key: no rows.
   */
  private String keyId(String apiKey) {
    String value = blankToNull(apiKey);
    if (value == null) {
      return null;
    }
    String hash = value.startsWith("sk-") ? ApiKeys.hash(value) : SHA_256_HEX.matcher(value).matches() ? value : null;
    if (hash == null) {
      return value;
    }
    return gateway.keyStore().findByHash(hash).map(VirtualKey::keyId).orElse("-unknown-");
  }

  /** One call as a LiteLLM spend log row; {@code api_key} is the key's id, never the key or its hash. */
  static Map<String, Object> row(SpendLogEntry entry) {
    var row = new LinkedHashMap<String, Object>();
    row.put("request_id", entry.requestId());
    row.put("api_key", entry.keyId());
    row.put("key_alias", entry.keyAlias());
    row.put("team_id", entry.teamId());
    row.put("model", entry.deployment());
    row.put("model_group", entry.model());
    row.put("spend", entry.cost());
    row.put("prompt_tokens", entry.promptTokens());
    row.put("completion_tokens", entry.completionTokens());
    row.put("total_tokens", entry.totalTokens());
    row.put("startTime", entry.startTime().toString());
    row.put("endTime", entry.startTime().plusMillis(entry.latencyMillis()).toString());
    row.put("request_duration_ms", entry.latencyMillis());
    row.put("status", entry.status() < 400 ? "success" : "failure");
    var metadata = new LinkedHashMap<String, Object>();
    metadata.put("status_code", entry.status());
    metadata.put("usage_estimated", entry.estimated());
    metadata.put("user_api_key_alias", entry.keyAlias());
    metadata.put("user_api_key_team_id", entry.teamId());
    row.put("metadata", metadata);
    return row;
  }

  // GET /global/spend/keys
  private GatewayResponse topKeys(AdminRequest admin) {
    flushThisProcessesRecords();
    GatewayRequest request = admin.http();
    LogQueries.onlyParams(request, KEYS_PARAMS);
    int limit = request.queryParam("limit") == null ? Integer.MAX_VALUE : LogQueries.pageSize(request, "limit");
    record KeySpend(String keyId, String alias, BigDecimal spend) {}
    var byKey = new LinkedHashMap<String, KeySpend>();
    everyCall(request, entry -> byKey.merge(String.valueOf(entry.keyId()), new KeySpend(entry.keyId(), entry.keyAlias(), cost(entry)),
        (a, b) -> new KeySpend(a.keyId(), a.alias() != null ? a.alias() : b.alias(), a.spend().add(b.spend()))));
    var rows = new ArrayList<Map<String, Object>>();
    byKey.values().stream().sorted(Comparator.comparing(KeySpend::spend).reversed()).limit(limit).forEach(k -> {
      var row = new LinkedHashMap<String, Object>();
      row.put("api_key", k.keyId());
      row.put("key_alias", k.alias()); // the newest alias seen: calls are read newest first
      row.put("total_spend", k.spend());
      rows.add(row);
    });
    return GatewayResponse.json(200, rows);
  }

  // GET /global/spend/teams
  private GatewayResponse teams(AdminRequest admin) {
    flushThisProcessesRecords();
    GatewayRequest request = admin.http();
    LogQueries.onlyParams(request, TEAMS_PARAMS);
    var daily = new TreeMap<LocalDate, Map<String, BigDecimal>>();
    var totals = new LinkedHashMap<String, BigDecimal>();
    everyCall(request, entry -> {
      String team = entry.teamId() == null ? "Unassigned" : entry.teamId(); // LiteLLM's name for no team
      daily.computeIfAbsent(LocalDate.ofInstant(entry.startTime(), ZoneOffset.UTC), d -> new TreeMap<>()).merge(team, cost(entry), BigDecimal::add);
      totals.merge(team, cost(entry), BigDecimal::add);
    });
    var dailySpend = new ArrayList<Map<String, Object>>();
    daily.forEach((day, spend) -> {
      var row = new LinkedHashMap<String, Object>();
      row.put("date", day.toString());
      row.putAll(spend);
      dailySpend.add(row);
    });
    var perTeam = new ArrayList<Map<String, Object>>();
    totals.entrySet().stream().sorted(Map.Entry.<String, BigDecimal>comparingByValue().reversed()).forEach(e -> {
      var row = new LinkedHashMap<String, Object>();
      row.put("team_id", e.getKey());
      row.put("total_spend", e.getValue());
      perTeam.add(row);
    });
    var body = new LinkedHashMap<String, Object>();
    body.put("daily_spend", dailySpend);
    body.put("teams", List.copyOf(new java.util.TreeSet<>(totals.keySet())));
    body.put("total_spend_per_team", perTeam);
    return GatewayResponse.json(200, body);
  }

  /** Every call in the request's range, all keys (the ByDay index, a day at a time). */
  private void everyCall(GatewayRequest request, Consumer<SpendLogEntry> each) {
    var range = LogQueries.range(request, gateway);
    String after = null;
    do {
      var page = gateway.spendLogReader().page(new SpendLogReader.Query(null, null, range.from(), range.to(), SUMMARY_PAGE, after));
      page.entries().forEach(each);
      after = page.next();
    } while (after != null);
  }

  private static BigDecimal cost(SpendLogEntry entry) {
    return entry.cost() == null ? BigDecimal.ZERO : entry.cost();
  }

  private static String blankToNull(String value) {
    return value == null || value.isBlank() ? null : value.strip();
  }
}

package aigw.admin;

import aigw.admin.AdminRoutes.Route;
import aigw.core.Gateway;
import aigw.core.audit.AuditLogReader;
import aigw.core.errors.BadRequest;
import aigw.core.http.GatewayRequest;
import aigw.core.http.GatewayResponse;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The audit log of admin actions, master key only (checked, with the method, by {@link AdminService}):
 *
 * <ul>
 *   <li>{@code GET /audit}: the actions, newest first, filtered by {@code object_id} (a key id or a
 *       team id), {@code table_name} ({@code key} or {@code team}; LiteLLM's table names
 *       {@code LiteLLM_VerificationToken} and {@code LiteLLM_TeamTable} too), {@code action} (e.g.
 *       {@code key.generate}) and date ({@code start_date}, {@code end_date}); {@code page_size}
 *       events a page, the next from {@code cursor} ({@code next_cursor} in the answer).
 * </ul>
 *
 * LiteLLM's route is {@code /audit}; its rows' names are kept where they mean the same
 * ({@code id}, {@code updated_at}, {@code changed_by}, {@code action}, {@code table_name},
 * {@code object_id}). Never a key's value: events name keys by their stable id.
 */
public final class AuditEndpoints {
  /** LiteLLM's route is {@code /audit} itself, not a path under it: the resource serves its own prefix. */
  static final List<Route<AuditEndpoints>> ROUTES = List.of(Route.get("/audit", AuditEndpoints::list));

  private static final Set<String> PARAMS =
      Set.of("object_id", "table_name", "action", "start_date", "end_date", "page_size", "cursor");
  private static final Map<String, String> TABLE_NAMES =
      Map.of("key", "key", "team", "team", "LiteLLM_VerificationToken", "key", "LiteLLM_TeamTable", "team");

  private final Gateway gateway;

  AuditEndpoints(AdminRoutes.Wiring wiring) {
    this.gateway = wiring.gateway();
  }

  // GET /audit
  private GatewayResponse list(AdminRequest admin) {
    GatewayRequest request = admin.http();
    LogQueries.onlyParams(request, PARAMS);
    var range = LogQueries.range(request, gateway);
    String tableName = blankToNull(request.queryParam("table_name"));
    String objectType = null;
    if (tableName != null) {
      objectType = TABLE_NAMES.get(tableName);
      if (objectType == null) {
        throw new BadRequest("Unknown table_name '" + tableName + "': use key or team.", "table_name");
      }
    }
    var page = gateway.auditLogReader().page(new AuditLogReader.Query(blankToNull(request.queryParam("object_id")), objectType,
        blankToNull(request.queryParam("action")), range.from(), range.to(), LogQueries.pageSize(request, "page_size"),
        LogQueries.cursor(request)));
    var rows = new ArrayList<Map<String, Object>>();
    for (AuditLogReader.Entry entry : page.entries()) {
      var event = entry.event();
      var row = new LinkedHashMap<String, Object>();
      row.put("id", entry.id());
      row.put("updated_at", event.time().toString());
      row.put("changed_by", event.actor());
      row.put("action", event.action());
      row.put("table_name", event.objectType());
      row.put("object_id", event.objectId());
      row.put("changed_fields", event.changedFields());
      row.put("source_ip", event.sourceIp());
      row.put("details", event.details());
      rows.add(row);
    }
    var body = new LinkedHashMap<String, Object>();
    body.put("audit_logs", rows);
    body.put("page_size", LogQueries.pageSize(request, "page_size"));
    body.put("next_cursor", LogQueries.encodeCursor(page.next()));
    return GatewayResponse.json(200, body);
  }

  private static String blankToNull(String value) {
    return value == null || value.isBlank() ? null : value.strip();
  }
}

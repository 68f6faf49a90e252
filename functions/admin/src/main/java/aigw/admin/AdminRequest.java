package aigw.admin;

import aigw.core.audit.AuditEvent;
import aigw.core.http.GatewayRequest;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * An admin request as an endpoints method receives it from {@link AdminService}: route matched,
 * caller authenticated, body read.
 *
 * @param http the request as the transport gave it (query parameters, headers, source address)
 * @param body the JSON object of a POST; null for a GET
 * @param pathParameters the values of the route's {@code {name}} segments, in order, still %-encoded
 * @param actor who is calling, for the audit log: {@link #MASTER_KEY}, or null on a public route
 * @param now the time the request is handled at
 */
public record AdminRequest(GatewayRequest http, ObjectNode body, List<String> pathParameters, String actor, Instant now) {
  /** The actor of a request made with the master key (the only admin credential today). */
  public static final String MASTER_KEY = "master_key";

  public String queryParam(String name) {
    return http.queryParam(name);
  }

  /**
   * The audit log's record of an action this request took, by this actor, from this request's
   * source address, now.
   *
   * @param action e.g. {@code key.generate}: the resource and the route's last word
   * @param objectId the object's stable id (a key's {@code key_id}, a team's {@code team_id}),
   *     never a key value or hash
   * @param changedFields names of the fields the action set; never their values
   */
  public AuditEvent auditEvent(String action, String objectType, String objectId, List<String> changedFields) {
    return new AuditEvent(action, objectType, objectId, actor, http.sourceIp(), now, List.copyOf(changedFields), Map.of());
  }
}

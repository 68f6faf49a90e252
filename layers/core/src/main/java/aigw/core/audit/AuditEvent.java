package aigw.core.audit;

import java.time.Instant;
import java.util.Map;

/**
 * One admin action.
 *
 * @param action what was done, named by its route: {@code key.generate}, {@code key.update},
 *     {@code key.delete}, {@code key.block}, {@code key.unblock}, {@code key.regenerate},
 *     {@code team.new}, {@code team.update}, {@code team.delete}, {@code team.block}, {@code team.unblock}, …
 * @param objectType {@code key} or {@code team}
 * @param objectId the key's stable id (never its value or hash) or the team's id
 * @param actor who acted: {@code master_key} (the only admin credential today)
 * @param sourceIp the client's address as API Gateway or the local server saw it; null if unknown
 * @param changedFields names of the fields the action set (values left out: they may hold secrets)
 */
public record AuditEvent(
    String action,
    String objectType,
    String objectId,
    String actor,
    String sourceIp,
    Instant time,
    java.util.List<String> changedFields,
    Map<String, Object> details) {}

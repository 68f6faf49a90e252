package aigw.core.audit;

/**
 * The record of admin actions (LiteLLM's audit logs): which action, on which key or team, when, from
 * where; never a key value. Written before the admin is told the action succeeded.
 */
public interface AuditLog {
  /** Keeps nothing: wiring without an audit log (unit tests). */
  AuditLog NONE = event -> {};

  void record(AuditEvent event);
}

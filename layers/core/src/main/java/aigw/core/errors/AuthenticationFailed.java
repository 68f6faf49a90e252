package aigw.core.errors;

/** Thrown when no key, an unknown key, a blocked key, an expired key, or a key whose team is blocked or gone is presented (HTTP 401). */
public final class AuthenticationFailed extends GatewayException {
  /** LiteLLM's error types for the same cases, so clients that branch on them keep working. */
  public enum Reason {
    MISSING("auth_error"),
    UNKNOWN("token_not_found_in_db"),
    BLOCKED("auth_error"),
    /** The key names a team that does not exist (deleted after the key was read, or never created). */
    TEAM_NOT_FOUND("auth_error"),
    EXPIRED("expired_key");

    final String type;

    Reason(String type) {
      this.type = type;
    }
  }

  private final Reason reason;

  public AuthenticationFailed(Reason reason, String message) {
    super(message, reason == Reason.MISSING || reason == Reason.BLOCKED || reason == Reason.TEAM_NOT_FOUND ? null : "key");
    this.reason = reason;
  }

  public Reason reason() {
    return reason;
  }
}

package aigw.core.errors;

/**
 * Thrown when an admin change lost a race with another change of the same key, such as two
 * rotations at once (HTTP 409). Nothing was changed by the losing call; reading the key again and
 * retrying is safe.
 */
public final class Conflict extends GatewayException {
  public Conflict(String message, String param) {
    super(message, param);
  }
}

package aigw.core.errors;

/** Thrown when the request itself is wrong: malformed JSON, a missing or mistyped field, an unknown admin field (HTTP 400). */
public final class BadRequest extends GatewayException {
  public BadRequest(String message, String param) {
    super(message, param);
  }

  public BadRequest(String message) {
    super(message, null);
  }
}

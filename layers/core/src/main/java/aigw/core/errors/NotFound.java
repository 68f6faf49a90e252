package aigw.core.errors;

/** Thrown for an unknown model, an unknown key on the admin API or an unknown route (HTTP 404). */
public final class NotFound extends GatewayException {
  public NotFound(String message, String param) {
    super(message, param);
  }
}

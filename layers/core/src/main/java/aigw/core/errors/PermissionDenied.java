package aigw.core.errors;

/** Thrown when a valid key calls what it may not: a virtual key on the admin API, the master key on a model route (HTTP 403). */
public final class PermissionDenied extends GatewayException {
  public PermissionDenied(String message) {
    super(message, null);
  }
}

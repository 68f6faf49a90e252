package aigw.core.errors;

/** Thrown when a known route is called with the wrong HTTP method (HTTP 405). */
public final class MethodNotAllowed extends GatewayException {
  private final String allowed;

  public MethodNotAllowed(String method, String path, String allowed) {
    super("Method " + method + " is not allowed on " + path + "; use " + allowed + ".", null);
    this.allowed = allowed;
  }

  public String allowed() {
    return allowed;
  }
}

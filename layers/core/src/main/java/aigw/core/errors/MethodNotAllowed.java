package aigw.core.errors;

/**
 * Thrown when a known route is called with the wrong HTTP method (HTTP 405). Its {@code Allow} header
 * ({@link #allowed()}) lists every method the route answers, as RFC 9110 §15.5.6 requires: a {@code GET}
 * route also answers {@code HEAD} (ApiGatewayEvents answers it as {@code GET} without the body, RFC 9110
 * §9.3.2). {@code OPTIONS} is not listed: a CORS preflight is answered only when CORS is configured, and
 * only as a preflight.
 */
public final class MethodNotAllowed extends GatewayException {
  private final String allowed;

  /**
   * @param method the method the request used
   * @param routeMethod the one method the route is for, {@code GET} or {@code POST}
   */
  public MethodNotAllowed(String method, String path, String routeMethod) {
    super("Method " + method + " is not allowed on " + path + "; use " + routeMethod + ".", null);
    this.allowed = routeMethod.equals("GET") ? "GET, HEAD" : routeMethod;
  }

  /** The {@code Allow} header's value, e.g. {@code GET, HEAD} or {@code POST}. */
  public String allowed() {
    return allowed;
  }
}

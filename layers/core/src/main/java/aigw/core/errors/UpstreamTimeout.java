package aigw.core.errors;

/** Thrown when the provider does not answer within the deployment's timeout (HTTP 504). */
public final class UpstreamTimeout extends GatewayException {
  public UpstreamTimeout(String message) {
    super(message, null);
  }
}

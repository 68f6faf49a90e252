package aigw.core.errors;

/**
 * Thrown when the provider does not answer within the deployment's timeout (HTTP 504), or, mid-stream
 * (as an error event), when a stream is ended because the function reached its time limit.
 */
public final class UpstreamTimeout extends GatewayException {
  public UpstreamTimeout(String message) {
    super(message, null);
  }
}

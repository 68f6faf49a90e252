package aigw.core.errors;

/** Thrown when the provider cannot be reached or its answer cannot be read (HTTP 502). */
public final class UpstreamUnreachable extends GatewayException {
  public UpstreamUnreachable(String message, Throwable cause) {
    super(message, null, cause);
  }
}

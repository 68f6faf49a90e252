package aigw.core.errors;

/** Thrown when the provider cannot be reached or its answer cannot be read (HTTP 502). */
public final class UpstreamUnreachable extends GatewayException {
  private final boolean beforeSending;

  public UpstreamUnreachable(String message, Throwable cause, boolean beforeSending) {
    super(message, null, cause);
    this.beforeSending = beforeSending;
  }

  /**
   * True when the request never reached the provider (no connection), so trying another deployment
   * cannot run, or bill, the request twice.
   */
  public boolean beforeSending() {
    return beforeSending;
  }
}

package aigw.core.errors;

/** Thrown when the provider cannot be reached or its answer cannot be read (HTTP 502). */
public final class UpstreamUnreachable extends GatewayException {
  private final boolean beforeSending;
  private final boolean afterSuccessStatus;

  public UpstreamUnreachable(String message, Throwable cause, boolean beforeSending) {
    this(message, cause, beforeSending, false);
  }

  /**
   * @param afterSuccessStatus whether the provider's success (2xx) status had come before its
   *     connection broke off (a whole answer's body, or a stream before its first chunk): it was
   *     generating the answer and probably bills it
   */
  public UpstreamUnreachable(String message, Throwable cause, boolean beforeSending, boolean afterSuccessStatus) {
    super(message, null, cause);
    this.beforeSending = beforeSending;
    this.afterSuccessStatus = afterSuccessStatus && !beforeSending;
  }

  /**
   * True when the request never reached the provider (no connection), so trying another deployment
   * cannot run, or bill, the request twice.
   */
  public boolean beforeSending() {
    return beforeSending;
  }

  /**
   * Whether the provider's success (2xx) status had come before the connection broke off (its
   * body, or a stream's first chunk, did not follow whole): the call is then counted with
   * estimated tokens, as one whose body stalled past the timeout in the same state ({@link
   * UpstreamTimeout#afterSuccessStatus}) or whose client left, not as a call that used nothing.
   */
  public boolean afterSuccessStatus() {
    return afterSuccessStatus;
  }
}

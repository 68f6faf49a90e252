package aigw.core.errors;

/**
 * Thrown when the provider does not answer within the deployment's timeout (HTTP 504), or, mid-stream
 * (as an error event), when a stream is ended because the function reached its time limit.
 */
public final class UpstreamTimeout extends GatewayException {
  private final boolean afterSuccessStatus;

  /** A timeout before the provider's answer began (no status and headers within the timeout). */
  public UpstreamTimeout(String message) {
    this(message, false);
  }

  /**
   * @param afterSuccessStatus whether the provider's success (2xx) status had come: it was
   *     generating the answer, whose body then stalled, and probably bills it
   */
  public UpstreamTimeout(String message, boolean afterSuccessStatus) {
    super(message, null);
    this.afterSuccessStatus = afterSuccessStatus;
  }

  /**
   * Whether the provider's success (2xx) status had come before the timeout (its body, or a
   * stream's first chunk, did not follow in time): the call is then counted with estimated tokens,
   * as one whose client left in the same state, not as a call that used nothing.
   */
  public boolean afterSuccessStatus() {
    return afterSuccessStatus;
  }
}

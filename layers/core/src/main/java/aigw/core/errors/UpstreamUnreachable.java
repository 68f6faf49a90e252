package aigw.core.errors;

/** Thrown when the provider cannot be reached or its answer cannot be read (HTTP 502). */
public final class UpstreamUnreachable extends GatewayException {
  private final boolean beforeSending;
  private final boolean afterSuccessStatus;
  private final long answerBytes;

  public UpstreamUnreachable(String message, Throwable cause, boolean beforeSending) {
    this(message, cause, beforeSending, false);
  }

  /**
   * @param afterSuccessStatus whether the provider's success (2xx) status had come before its
   *     connection broke off (a whole answer's body, or a stream before its first chunk): it was
   *     generating the answer and probably bills it
   */
  public UpstreamUnreachable(String message, Throwable cause, boolean beforeSending, boolean afterSuccessStatus) {
    this(message, cause, beforeSending, afterSuccessStatus, 0);
  }

  /**
   * @param answerBytes the bytes of the provider's answer body read before it broke off or was
   *     refused for its size (0: none, or not known); counted only {@code afterSuccessStatus}
   */
  public UpstreamUnreachable(String message, Throwable cause, boolean beforeSending, boolean afterSuccessStatus, long answerBytes) {
    super(message, null, cause);
    this.beforeSending = beforeSending;
    this.afterSuccessStatus = afterSuccessStatus && !beforeSending;
    this.answerBytes = this.afterSuccessStatus ? answerBytes : 0;
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

  /**
   * The bytes of the provider's answer body read after its success status, before the connection
   * broke off or the answer was refused for being over the gateway's bound (a whole answer over
   * {@code AIGW_MAX_PROVIDER_ANSWER_BYTES}, a stream event over 8 MiB): what the provider generated
   * at least, from which the call's completion is estimated. 0 when none came, when not known, and
   * when not {@link #afterSuccessStatus}.
   */
  public long answerBytes() {
    return answerBytes;
  }
}

package aigw.core.errors;

/**
 * Every failure a client can see. {@link ErrorEnvelope} is the only place one becomes HTTP: a new
 * subtype does not compile until it is mapped there.
 */
public abstract sealed class GatewayException extends RuntimeException
    permits AuthenticationFailed,
        PermissionDenied,
        ModelNotAllowed,
        BadRequest,
        NotFound,
        ModelNotFound,
        Conflict,
        PayloadTooLarge,
        UnsupportedContentEncoding,
        MethodNotAllowed,
        UpstreamFailed,
        UpstreamUnreachable,
        UpstreamTimeout,
        ServiceUnavailable,
        NoDeploymentAvailable,
        RateLimited,
        BudgetExceeded {

  private final String param;

  GatewayException(String message, String param) {
    super(message, null, false, false); // no stack trace: these are answers, not bugs
    this.param = param;
  }

  GatewayException(String message, String param, Throwable cause) {
    super(message, cause, false, false);
    this.param = param;
  }

  /** The request field the error is about, or null. */
  public String param() {
    return param;
  }
}

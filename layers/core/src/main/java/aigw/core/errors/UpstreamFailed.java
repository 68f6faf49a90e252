package aigw.core.errors;

/**
 * Thrown when the provider answered with an error status. Its 4xx pass through with the provider's
 * own message, type and code; its 5xx become 502 (the gateway worked, the upstream did not).
 */
public final class UpstreamFailed extends GatewayException {
  /** The type of a provider's 401/403: it refused the gateway's own credential, not the client's key. */
  public static final String CREDENTIAL_REFUSED = "upstream_auth_error";

  private final int upstreamStatus;
  private final String upstreamType;
  private final String upstreamCode;
  private final String retryAfter;
  private final String retryAfterMs;

  public UpstreamFailed(
      int upstreamStatus, String message, String type, String param, String code, String retryAfter) {
    this(upstreamStatus, message, type, param, code, retryAfter, null);
  }

  /** @param retryAfterMs the provider's {@code retry-after-ms} (Azure OpenAI), milliseconds; may be null */
  public UpstreamFailed(
      int upstreamStatus, String message, String type, String param, String code, String retryAfter, String retryAfterMs) {
    super(message, param);
    this.upstreamStatus = upstreamStatus;
    this.upstreamType = type;
    this.upstreamCode = code;
    this.retryAfter = retryAfter;
    this.retryAfterMs = retryAfterMs;
  }

  public int upstreamStatus() {
    return upstreamStatus;
  }

  public String upstreamType() {
    return upstreamType;
  }

  public String upstreamCode() {
    return upstreamCode;
  }

  /** True when the provider refused the gateway's provider credential (its HTTP 401 or 403). */
  public boolean credentialRefused() {
    return CREDENTIAL_REFUSED.equals(upstreamType);
  }

  /** The provider's Retry-After header on a 429 or 503, passed on to the client; may be null. */
  public String retryAfter() {
    return retryAfter;
  }

  /**
   * The provider's {@code retry-after-ms} (Azure OpenAI sends it beside {@code retry-after}), passed
   * on to the client: the OpenAI SDKs read it before {@code Retry-After}. May be null.
   */
  public String retryAfterMs() {
    return retryAfterMs;
  }
}

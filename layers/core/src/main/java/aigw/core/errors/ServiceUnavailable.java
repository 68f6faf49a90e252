package aigw.core.errors;

/**
 * Thrown when a backing service of the gateway (DynamoDB, Secrets Manager) fails, or a deployment
 * lacks its configuration (HTTP 503). The answer carries {@code Retry-After} ({@link
 * #RETRY_AFTER_SECONDS}): the SDK has already retried with backoff inside the call, so a client
 * that waits a moment and tries again is the next useful step, and SDKs that honour the header
 * (OpenAI's do) wait that long rather than hammer a store that is throttling.
 */
public final class ServiceUnavailable extends GatewayException {
  /** The {@code Retry-After} of every 503, in seconds. */
  public static final int RETRY_AFTER_SECONDS = 1;

  private final boolean providerOverloaded;
  private final boolean gatewayBusy;

  public ServiceUnavailable(String message, Throwable cause) {
    this(message, cause, false);
  }

  /**
   * @param providerOverloaded true when the model's provider said it cannot serve now (Amazon
   *     Bedrock's {@code ServiceUnavailableException}, {@code ModelNotReadyException}): on {@code
   *     /v1/messages} that is Anthropic's {@code overloaded_error}, not the gateway's {@code api_error}
   */
  public ServiceUnavailable(String message, Throwable cause, boolean providerOverloaded) {
    this(message, cause, providerOverloaded, false);
  }

  private ServiceUnavailable(String message, Throwable cause, boolean providerOverloaded, boolean gatewayBusy) {
    super(message, null, cause);
    this.providerOverloaded = providerOverloaded;
    this.gatewayBusy = gatewayBusy;
  }

  /**
   * The gateway itself holds too much at once to take this answer (its memory bounds): the call may
   * have run at the provider, so it is never sent again to another deployment, and no deployment is
   * blamed for it.
   */
  public static ServiceUnavailable gatewayBusy(String message) {
    return new ServiceUnavailable(message, null, false, true);
  }

  /** Whether the gateway's own bound refused the answer ({@link #gatewayBusy}), not a store or a provider. */
  public boolean gatewayBusy() {
    return gatewayBusy;
  }

  /** Whether the model's provider, not the gateway's own store or configuration, is what cannot serve. */
  public boolean providerOverloaded() {
    return providerOverloaded;
  }
}

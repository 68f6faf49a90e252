package aigw.core.errors;

/** Thrown when a backing service of the gateway (DynamoDB, Secrets Manager) fails (HTTP 503); the client may retry. */
public final class ServiceUnavailable extends GatewayException {
  public ServiceUnavailable(String message, Throwable cause) {
    super(message, null, cause);
  }
}

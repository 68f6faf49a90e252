package aigw.core.errors;

/** Thrown when a request body is over the configured limit (HTTP 413). */
public final class PayloadTooLarge extends GatewayException {
  public PayloadTooLarge(long size, long limit) {
    super("Request body is " + size + " bytes; the limit is " + limit + " bytes.", null);
  }
}

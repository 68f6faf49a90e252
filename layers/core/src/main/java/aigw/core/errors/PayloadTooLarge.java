package aigw.core.errors;

/** Thrown when a request body is over the configured limit (HTTP 413). */
public final class PayloadTooLarge extends GatewayException {
  public PayloadTooLarge(long size, long limit) {
    super("Request body is " + size + " bytes; the limit is " + limit + " bytes.", null);
  }

  /** When the size is not known (a chunked body is refused once it passes the limit). */
  public PayloadTooLarge(long limit) {
    super("Request body is over the limit of " + limit + " bytes.", null);
  }
}

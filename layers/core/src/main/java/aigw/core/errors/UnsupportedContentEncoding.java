package aigw.core.errors;

/**
 * Thrown when a request body declares a {@code Content-Encoding} the gateway does not decode (HTTP
 * 415, RFC 9110 section 15.5.16): it reads every body as it arrived, so a compressed one would be
 * parsed as if plain. The answer names {@code identity} in {@code Accept-Encoding}, as that
 * section asks.
 */
public final class UnsupportedContentEncoding extends GatewayException {
  /** @param encoding the request's {@code Content-Encoding}, as sent */
  public UnsupportedContentEncoding(String encoding) {
    super("The request body is sent with Content-Encoding '" + encoding + "'; the gateway reads only uncompressed bodies."
        + " Send it without Content-Encoding (or with identity).", "Content-Encoding");
  }
}

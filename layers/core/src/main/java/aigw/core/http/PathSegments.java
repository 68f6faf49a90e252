package aigw.core.http;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;

/**
 * Path parameters as the client meant them. API Gateway REST passes the request path still
 * %-encoded (as the client sent it), and so does the local server; a model id such as {@code
 * openai/gpt-4o} arrives as {@code openai%2Fgpt-4o} from SDKs that encode path parameters and as
 * {@code openai/gpt-4o} from those that do not. Both decode to the same id.
 */
public final class PathSegments {
  private PathSegments() {}

  /**
   * Decodes {@code %XX} escapes (UTF-8). Unlike form decoding, {@code +} stays a plus (RFC 3986:
   * only the query string's form encoding gives it the meaning of a space).
   *
   * @throws IllegalArgumentException on a malformed escape
   */
  public static String decode(String raw) {
    if (raw.indexOf('%') < 0) {
      return raw;
    }
    return URLDecoder.decode(raw.replace("+", "%2B"), StandardCharsets.UTF_8);
  }
}

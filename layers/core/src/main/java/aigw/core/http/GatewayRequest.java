package aigw.core.http;

import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * An HTTP request as the core sees it, whatever carried it (API Gateway event, local server,
 * Lambda streaming runtime).
 *
 * @param method upper-case HTTP method
 * @param path the resource path, e.g. {@code /v1/chat/completions}, without the stage
 * @param headers header names lower-cased; the first value of each
 * @param query query string parameters; the first value of each
 * @param body the raw body, empty when there is none
 * @param requestId the transport's id of the request (API Gateway's, or one the local server
 *     makes), for log lines and error messages
 * @param sourceIp the client's address as the transport saw it (API Gateway's {@code
 *     requestContext.identity.sourceIp}, the local server's remote address); null when unknown.
 *     For the audit log: never used to decide anything
 */
public record GatewayRequest(
    String method,
    String path,
    Map<String, String> headers,
    Map<String, String> query,
    byte[] body,
    String requestId,
    String sourceIp) {

  /** A request whose client address is unknown (tests, priming). */
  public GatewayRequest(
      String method, String path, Map<String, String> headers, Map<String, String> query, byte[] body, String requestId) {
    this(method, path, headers, query, body, requestId, null);
  }

  public GatewayRequest {
    method = method == null ? "GET" : method.toUpperCase(Locale.ROOT);
    path = path == null || path.isEmpty() ? "/" : path;
    headers = lowerCaseKeys(headers);
    query = query == null ? Map.of() : Map.copyOf(query);
    body = body == null ? new byte[0] : body;
  }

  public String header(String name) {
    return headers.get(name.toLowerCase(Locale.ROOT));
  }

  public String queryParam(String name) {
    return query.get(name);
  }

  private static Map<String, String> lowerCaseKeys(Map<String, String> headers) {
    if (headers == null || headers.isEmpty()) {
      return Map.of();
    }
    var lower = new TreeMap<String, String>();
    headers.forEach(
        (name, value) -> {
          if (name != null && value != null) {
            lower.putIfAbsent(name.toLowerCase(Locale.ROOT), value);
          }
        });
    return lower;
  }
}

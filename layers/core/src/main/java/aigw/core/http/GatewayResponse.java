package aigw.core.http;

import aigw.core.json.Json;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/** An HTTP response as the core produces it; handlers turn it into their transport's shape. */
public record GatewayResponse(int status, Map<String, String> headers, byte[] body) {
  private static final String JSON = "application/json";

  public static GatewayResponse json(int status, Object value) {
    return json(status, Json.bytes(value));
  }

  public static GatewayResponse json(int status, byte[] jsonBody) {
    return new GatewayResponse(status, Map.of("Content-Type", JSON), jsonBody);
  }

  public GatewayResponse withHeader(String name, String value) {
    var copy = new LinkedHashMap<>(headers);
    copy.put(name, value);
    return new GatewayResponse(status, Map.copyOf(copy), body);
  }

  public String bodyText() {
    return new String(body, StandardCharsets.UTF_8);
  }
}

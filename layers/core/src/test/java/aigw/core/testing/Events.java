package aigw.core.testing;

import aigw.core.apigateway.ApiGatewayEvents;
import aigw.core.apigateway.ProxyRequestEvent;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.HashMap;
import java.util.Map;

/** The API Gateway events of events/, the same files `sam local invoke -e` and `aigw-local invoke` take. */
public final class Events {
  /** The virtual key that events/proxy-*.json present; tests store it before replaying them. */
  public static final String EVENTS_VIRTUAL_KEY = "sk-aigw-example-virtual-key-not-a-secret";
  /** The master key that events/admin-*.json present: the local development default. */
  public static final String EVENTS_MASTER_KEY = "sk-development-only";

  private Events() {}

  public static ProxyRequestEvent load(String name) {
    try {
      return ApiGatewayEvents.parseEvent(Files.readAllBytes(RepoFiles.resolve("events/" + name)));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The same event with another Authorization header (null removes it). */
  public static ProxyRequestEvent withKey(ProxyRequestEvent event, String key) {
    var headers = new HashMap<String, String>(event.getHeaders() == null ? Map.of() : event.getHeaders());
    headers.keySet().removeIf(name -> name.equalsIgnoreCase("authorization"));
    if (key != null) {
      headers.put("Authorization", "Bearer " + key);
    }
    event.setHeaders(headers);
    if (event.getMultiValueHeaders() != null) {
      var multi = new HashMap<>(event.getMultiValueHeaders());
      multi.keySet().removeIf(name -> name.equalsIgnoreCase("authorization"));
      if (key != null) {
        multi.put("Authorization", java.util.List.of("Bearer " + key));
      }
      event.setMultiValueHeaders(multi);
    }
    return event;
  }

  public static ProxyRequestEvent withBody(ProxyRequestEvent event, String body) {
    event.setBody(body);
    return event;
  }
}

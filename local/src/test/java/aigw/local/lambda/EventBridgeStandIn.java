package aigw.local.lambda;

import aigw.core.json.Json;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * EventBridge's PutEvents (JSON 1.1: {@code POST /}, {@code X-Amz-Target: AWSEvents.PutEvents}) on
 * a loopback port, for AWS_ENDPOINT_URL_EVENTBRIDGE: records each request as sent and accepts every
 * entry, as the real service answers. Any other call is answered 400 UnknownOperationException.
 * https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html
 */
final class EventBridgeStandIn implements AutoCloseable {
  /** One request as it arrived: method, path, headers (lower-case names) and body. */
  record Request(String method, String path, Map<String, List<String>> headers, String body) {
    String header(String name) {
      List<String> values = headers.get(name.toLowerCase(java.util.Locale.ROOT));
      return values == null || values.isEmpty() ? null : values.get(0);
    }
  }

  private final HttpServer server;
  final List<Request> requests = new CopyOnWriteArrayList<>();

  EventBridgeStandIn() throws IOException {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext("/", this::answer);
    server.start();
  }

  String endpoint() {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  private void answer(HttpExchange exchange) throws IOException {
    try (exchange) {
      String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
      var headers = new java.util.TreeMap<String, List<String>>();
      exchange.getRequestHeaders().forEach((name, values) -> headers.put(name.toLowerCase(java.util.Locale.ROOT), List.copyOf(values)));
      var request = new Request(exchange.getRequestMethod(), exchange.getRequestURI().getPath(), headers, body);
      requests.add(request);
      int status = 200;
      Object out;
      if ("POST".equals(request.method()) && "/".equals(request.path()) && "AWSEvents.PutEvents".equals(request.header("X-Amz-Target"))) {
        var entries = new ArrayList<Map<String, String>>();
        Json.MAPPER.readTree(body).path("Entries").forEach(e -> entries.add(Map.of("EventId", UUID.randomUUID().toString())));
        out = Map.of("FailedEntryCount", 0, "Entries", entries);
      } else {
        status = 400;
        out = Map.of("__type", "UnknownOperationException", "message", "not modelled: " + request.header("X-Amz-Target"));
      }
      byte[] bytes = Json.MAPPER.writeValueAsBytes(out);
      exchange.getResponseHeaders().set("Content-Type", "application/x-amz-json-1.1");
      exchange.sendResponseHeaders(status, bytes.length);
      exchange.getResponseBody().write(bytes);
    }
  }

  @Override
  public void close() {
    server.stop(0);
  }
}

package aigw.bench;

import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

/**
 * The floor of the start-up measurement: a JVM that does the least a gateway does before its first
 * proxied answer (the JDK's HTTP server takes the call, the JDK's HTTP client forwards it to the
 * stub, the answer goes back), with no key check, database or config. Timed like the jar in the
 * same run, so the ratio to it stays readable on a busy machine.
 *
 * <p>{@code java -cp aigw-bench.jar aigw.bench.StartFloor PORT STUB_BASE_URL}
 */
public final class StartFloor {
  private StartFloor() {}

  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(args[0]);
    URI upstream = URI.create(args[1] + "/v1/chat/completions");
    var client = HttpClient.newHttpClient();
    var server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
    server.createContext("/", exchange -> {
      byte[] body = exchange.getRequestBody().readAllBytes();
      try {
        var answer = client.send(
            HttpRequest.newBuilder(upstream).header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(),
            HttpResponse.BodyHandlers.ofByteArray());
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(answer.statusCode(), answer.body().length);
        exchange.getResponseBody().write(answer.body());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        exchange.sendResponseHeaders(502, -1);
      } finally {
        exchange.close();
      }
    });
    server.start();
  }
}

package aigw.bench;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/** A loopback OpenAI-compatible provider that answers every chat completion at once with a fixed body. */
final class StubProvider implements AutoCloseable {
  static final byte[] COMPLETION =
      """
      {"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench-model",\
      "choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?"},"finish_reason":"stop"}],\
      "usage":{"prompt_tokens":12,"completion_tokens":9,"total_tokens":21}}"""
          .getBytes(StandardCharsets.UTF_8);

  private final HttpServer server;
  private final ExecutorService workers;

  StubProvider() throws IOException {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 512);
    workers = Executors.newFixedThreadPool(32, Thread.ofPlatform().daemon(true).name("stub-", 0).factory());
    server.setExecutor(workers);
    server.createContext(
        "/",
        exchange -> {
          try (exchange) {
            exchange.getRequestBody().readAllBytes();
            exchange.getResponseHeaders().set("Content-Type", "application/json");
            exchange.sendResponseHeaders(200, COMPLETION.length);
            exchange.getResponseBody().write(COMPLETION);
          }
        });
    server.start();
  }

  String baseUrl() {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  @Override
  public void close() {
    server.stop(0);
    workers.shutdownNow();
  }
}

package aigw.local.lambda;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A loopback stand-in of the Lambda Runtime API (2018-06-01) for one function process: hands out
 * the invocations it is given and collects what the runtime interface client posts back.
 * https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
 */
final class RuntimeApiStandIn implements AutoCloseable {
  /** What the runtime posted for one invocation: a response, an error, or an init error. */
  record Outcome(String kind, String body) {}

  private final HttpServer server;
  private final BlockingQueue<Map.Entry<String, byte[]>> pending = new LinkedBlockingQueue<>();
  private final Map<String, CompletableFuture<Outcome>> outcomes = new ConcurrentHashMap<>();
  final CompletableFuture<Long> firstPollNanos = new CompletableFuture<>();
  final CompletableFuture<Outcome> initError = new CompletableFuture<>();

  RuntimeApiStandIn() throws IOException {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
    server.setExecutor(Executors.newCachedThreadPool(Thread.ofPlatform().daemon(true).factory()));
    server.createContext("/2018-06-01/runtime/", this::handle);
    server.start();
  }

  String address() {
    return "127.0.0.1:" + server.getAddress().getPort();
  }

  /** Queues one invocation; the future completes when the function answers it. */
  CompletableFuture<Outcome> invoke(byte[] event) {
    String id = UUID.randomUUID().toString();
    var outcome = new CompletableFuture<Outcome>();
    outcomes.put(id, outcome);
    pending.add(Map.entry(id, event));
    return outcome;
  }

  private void handle(HttpExchange exchange) throws IOException {
    try (exchange) {
      String path = exchange.getRequestURI().getPath();
      byte[] body = exchange.getRequestBody().readAllBytes();
      if (path.endsWith("/invocation/next")) {
        firstPollNanos.complete(System.nanoTime());
        Map.Entry<String, byte[]> next;
        try {
          next = pending.poll(120, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
        if (next == null) {
          exchange.sendResponseHeaders(500, -1);
          return;
        }
        var headers = exchange.getResponseHeaders();
        headers.set("Lambda-Runtime-Aws-Request-Id", next.getKey());
        // The longest Timeout in template.yaml (KeyRotationScheduleFunction, 300 s): its handler plans by it.
        headers.set("Lambda-Runtime-Deadline-Ms", Long.toString(System.currentTimeMillis() + 300_000));
        headers.set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:test");
        headers.set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0");
        headers.set("Content-Type", "application/json");
        exchange.sendResponseHeaders(200, next.getValue().length);
        exchange.getResponseBody().write(next.getValue());
        return;
      }
      String text = new String(body, StandardCharsets.UTF_8);
      if (path.endsWith("/init/error")) {
        initError.complete(new Outcome("init-error", text));
      } else {
        // /runtime/invocation/{id}/response or /error
        String[] parts = path.split("/");
        String id = parts[parts.length - 2];
        var outcome = outcomes.get(id);
        if (outcome != null) {
          outcome.complete(new Outcome(parts[parts.length - 1], text));
        }
      }
      exchange.sendResponseHeaders(202, -1);
    }
  }

  @Override
  public void close() {
    server.stop(0);
  }
}

package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.http.CorsPolicy;
import aigw.core.http.GatewayApplication;
import aigw.core.http.GatewayResponse;
import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The health routes do not wait behind the workers: with every one of them held by a model that
 * hangs, /health/liveliness and /health/readiness are still answered at once.
 */
class LocalServerHealthTest {
  private static final ServerLimits LIMITS = new ServerLimits(Duration.ofSeconds(30), Duration.ofSeconds(30), Duration.ofSeconds(30), 256, 256);

  private final CountDownLatch modelAnswers = new CountDownLatch(1);
  private final AtomicInteger hanging = new AtomicInteger();
  private LocalServer server;
  private final List<Socket> held = new ArrayList<>();

  @BeforeEach
  void start() throws IOException {
    GatewayApplication app = GatewayApplication.of(CorsPolicy.allowing(List.of()), request -> {
      if (request.path().startsWith("/v1/")) {
        hanging.incrementAndGet();
        try {
          modelAnswers.await(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      return GatewayResponse.json(200, Map.of("status", "healthy"));
    });
    server = LocalServer.start("127.0.0.1", 0, app, LIMITS, AllowedHosts.of(null));
  }

  @AfterEach
  void stop() throws IOException {
    modelAnswers.countDown();
    for (Socket socket : held) {
      socket.close();
    }
    server.stop();
  }

  private Socket send(String request) throws IOException {
    var socket = new Socket("127.0.0.1", server.port());
    socket.setSoTimeout(10_000);
    socket.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
    socket.getOutputStream().flush();
    return socket;
  }

  @Test
  void healthRoutesAreAnsweredWhileEveryWorkerWaitsForAModel() throws Exception {
    String chat = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
    for (int i = 0; i < LocalServer.WORKER_THREADS + 8; i++) {
      held.add(send(chat));
    }
    long until = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (hanging.get() < LocalServer.WORKER_THREADS && System.nanoTime() < until) {
      Thread.sleep(20);
    }
    assertThat(hanging.get()).as("every worker waits for the model").isEqualTo(LocalServer.WORKER_THREADS);

    for (String path : List.of("/health/liveliness", "/health/readiness")) {
      long started = System.nanoTime();
      try (Socket health = send("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")) {
        String answer = new String(health.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        assertThat(answer).as(path).startsWith("HTTP/1.1 200").contains("healthy");
      }
      assertThat(Duration.ofNanos(System.nanoTime() - started)).as(path + " answered after").isLessThan(Duration.ofSeconds(3));
    }
  }
}

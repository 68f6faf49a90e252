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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The process-wide budget of buffered request-body bytes (AIGW_HTTP_MAX_BUFFERED_BODY_BYTES): bodies
 * are read whole before any key is checked, so clients with no key holding half-sent large bodies
 * must not take the heap. Over the budget a request gets 503 in the envelope at once; within it,
 * others are served; the bytes come back when a request ends.
 */
class LocalServerBodyBudgetTest {
  private static final long BUDGET = 1_000_000;
  private static final int LARGE = 300_000;
  private static final ServerLimits LIMITS = new ServerLimits(Duration.ofSeconds(30), Duration.ofSeconds(30), Duration.ofSeconds(30), 64, 64, BUDGET);

  private LocalServer server;
  private final List<Socket> held = new ArrayList<>();

  @BeforeEach
  void start() throws IOException {
    GatewayApplication app = GatewayApplication.of(CorsPolicy.allowing(List.of()),
        request -> GatewayResponse.json(200, Map.of("bytes", request.body() == null ? 0 : request.body().length)));
    server = LocalServer.start("127.0.0.1", 0, app, LIMITS, AllowedHosts.of(null));
  }

  @AfterEach
  void stop() throws IOException {
    for (Socket socket : held) {
      socket.close();
    }
    server.stop();
  }

  private Socket post(int declared, int sent) throws IOException {
    var socket = new Socket("127.0.0.1", server.port());
    socket.setSoTimeout(10_000);
    String head = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " + declared
        + "\r\nConnection: close\r\n\r\n";
    socket.getOutputStream().write(head.getBytes(StandardCharsets.ISO_8859_1));
    socket.getOutputStream().write(new byte[sent]);
    socket.getOutputStream().flush();
    return socket;
  }

  private static String answer(Socket socket) throws IOException {
    return new String(socket.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
  }

  @Test
  void halfSentBodiesCannotTakeMoreThanTheBudgetAndTheRequestOverItGets503() throws Exception {
    for (int i = 0; i < 3; i++) {
      held.add(post(LARGE, LARGE / 2)); // 900,000 of the 1,000,000 bytes reserved, none of them sent in full
    }
    Thread.sleep(300); // the server has read their headers and reserved their bodies

    long started = System.nanoTime();
    try (Socket over = post(LARGE, 0)) {
      String refused = answer(over);
      assertThat(refused).startsWith("HTTP/1.1 503");
      assertThat(refused).containsIgnoringCase("Retry-After: 1");
      assertThat(refused).contains("\"error\":{").contains("\"type\":").contains("request bodies at once");
    }
    assertThat(Duration.ofNanos(System.nanoTime() - started)).as("answered at once, without waiting for a body").isLessThan(Duration.ofSeconds(5));

    try (Socket small = post(1000, 1000)) {
      String served = answer(small);
      assertThat(served).startsWith("HTTP/1.1 200").contains("\"bytes\":1000");
    }

    for (Socket socket : held) {
      socket.close(); // their requests end: their bytes go back
    }
    held.clear();
    Thread.sleep(300);
    try (Socket large = post(LARGE, LARGE)) {
      assertThat(answer(large)).startsWith("HTTP/1.1 200").contains("\"bytes\":" + LARGE);
    }
  }

  @Test
  void theBudgetIsReadFromTheEnvironment() {
    assertThat(ServerLimits.fromEnv(Map.of()).maxBufferedBodyBytes()).isEqualTo(256L * 1024 * 1024);
    assertThat(ServerLimits.fromEnv(Map.of("AIGW_HTTP_MAX_BUFFERED_BODY_BYTES", "5000000000")).maxBufferedBodyBytes()).isEqualTo(5_000_000_000L);
  }
}

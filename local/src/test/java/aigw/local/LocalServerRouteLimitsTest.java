package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.http.CorsPolicy;
import aigw.core.http.GatewayApplication;
import aigw.core.http.GatewayResponse;
import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What one client with no key can hold of the local server before any key is checked (issue 15,
 * sec-attack's re-attack): a declared body over its route's own limit is refused at once without
 * taking any of the body budget, one client address holds only its share of that budget (another
 * client's request is still served), and admin routes run on threads of their own, so that hanging
 * model calls filling every worker do not hold up {@code /key/block}.
 */
class LocalServerRouteLimitsTest {
  private static final Duration S30 = Duration.ofSeconds(30);
  /** 1,000,000 bytes of budget; 16 of 64 connections per client: a share of 250,000 bytes. */
  private static final ServerLimits LIMITS = new ServerLimits(S30, S30, S30, 64, 16, 1_000_000);
  private static final int MODEL_LIMIT = 300_000;
  private static final int ADMIN_LIMIT = 1_000;
  private static final LocalServer.Routes ROUTES =
      new LocalServer.Routes(path -> path.startsWith("/key/") ? ADMIN_LIMIT : MODEL_LIMIT, path -> path.startsWith("/key/"));

  private LocalServer server;
  private final List<Socket> held = new ArrayList<>();

  @AfterEach
  void stop() throws IOException {
    for (Socket socket : held) {
      socket.close();
    }
    if (server != null) {
      server.stop();
    }
  }

  private void start(GatewayApplication app) throws IOException {
    start(app, LIMITS);
  }

  private void start(GatewayApplication app, ServerLimits limits) throws IOException {
    server = LocalServer.start("127.0.0.1", 0, app, limits, AllowedHosts.of(null), ROUTES);
  }

  private static GatewayApplication counting() {
    return GatewayApplication.of(CorsPolicy.allowing(List.of()),
        request -> GatewayResponse.json(200, Map.of("bytes", request.body() == null ? 0 : request.body().length)));
  }

  /** A POST from {@code from} declaring {@code declared} bytes and sending {@code sent} of them. */
  private Socket post(InetAddress from, String path, long declared, int sent) throws IOException {
    var socket = new Socket(InetAddress.getLoopbackAddress(), server.port(), from, 0);
    socket.setSoTimeout(5_000);
    String head = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " + declared
        + "\r\nConnection: close\r\n\r\n";
    socket.getOutputStream().write(head.getBytes(StandardCharsets.ISO_8859_1));
    socket.getOutputStream().write(new byte[sent]);
    socket.getOutputStream().flush();
    return socket;
  }

  private static LocalServerTest.Answer answer(Socket socket) throws IOException {
    return LocalServerTest.read(socket.getInputStream());
  }

  @Test
  void aDeclaredLengthOverTheRoutesOwnLimitIs413AtOnceInTheRoutesEnvelope() throws Exception {
    start(counting());
    var local = InetAddress.getByName("127.0.0.1");
    long started = System.nanoTime();
    try (Socket admin = post(local, "/key/generate", ADMIN_LIMIT + 1, 0)) {
      var refused = answer(admin);
      assertThat(refused.status()).isEqualTo(413);
      assertThat(refused.error().get("message").asText()).isEqualTo("Request body is 1001 bytes; the limit is 1000 bytes.");
    }
    try (Socket anthropic = post(local, "/v1/messages", MODEL_LIMIT + 1, 0)) {
      var refused = answer(anthropic);
      assertThat(refused.status()).isEqualTo(413);
      assertThat(new String(refused.body(), StandardCharsets.UTF_8)).contains("\"type\":\"error\"").contains("the limit is 300000 bytes");
    }
    assertThat(Duration.ofNanos(System.nanoTime() - started)).as("refused before any of the body arrives").isLessThan(Duration.ofSeconds(4));

    // Declared lengths within each route's limit are not refused, whatever they hold of the budget.
    try (Socket small = post(local, "/key/generate", ADMIN_LIMIT, ADMIN_LIMIT)) {
      assertThat(answer(small).status()).isEqualTo(200);
    }
  }

  @Test
  void oneClientDeclaringLargeBodiesHoldsOnlyItsShareAndAnotherClientIsServed() throws Exception {
    start(counting());
    var attacker = InetAddress.getByName("127.0.0.2"); // another loopback address: another client
    var other = InetAddress.getByName("127.0.0.1");
    held.add(post(attacker, "/v1/chat/completions", 200_000, 1)); // within its 250,000-byte share
    Thread.sleep(1000); // the server has read its headers and reserved its body (two busy cores can take a while)
    for (int i = 0; i < 4; i++) {
      try (Socket over = post(attacker, "/v1/chat/completions", 200_000, 1)) {
        var refused = answer(over);
        assertThat(refused.status()).as("the attacker's share is taken").isEqualTo(429);
        assertThat(refused.header("retry-after")).isEqualTo("1");
        assertThat(refused.error().get("message").asText()).contains("client address").contains("AIGW_HTTP_MAX_BUFFERED_BODY_BYTES");
      }
    }

    try (Socket served = post(other, "/v1/chat/completions", 200_000, 200_000)) {
      var answer = answer(served);
      assertThat(answer.status()).as("another client's body is read").isEqualTo(200);
      assertThat(new String(answer.body(), StandardCharsets.UTF_8)).contains("\"bytes\":200000");
    }

    held.remove(0).close(); // the attacker's request ends: its share comes back
    Thread.sleep(300);
    try (Socket again = post(attacker, "/v1/chat/completions", 200_000, 200_000)) {
      assertThat(answer(again).status()).isEqualTo(200);
    }
  }

  /** The gateway gives the server its routes' own limits: 64 KiB on admin routes, AIGW_MAX_REQUEST_BYTES on model routes. */
  @Test
  void theLocalGatewaysRoutesAreRefusedOverTheirOwnLimitsBeforeTheBodyArrives() throws Exception {
    try (var gateway = LocalGateway.start(LocalOptions.inMemory(null,
        Map.of("AIGW_MASTER_KEY", "sk-route-limits-master-key-for-tests", "AIGW_MAX_REQUEST_BYTES", "100000")))) {
      for (var route : List.of(Map.entry("/key/generate", 65_536), Map.entry("/v1/chat/completions", 100_000))) {
        try (var socket = new Socket(InetAddress.getLoopbackAddress(), gateway.port())) {
          socket.setSoTimeout(5_000);
          socket.getOutputStream().write(("POST " + route.getKey() + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
              + "Content-Length: " + (route.getValue() + 1) + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
          var refused = answer(socket);
          assertThat(refused.status()).as(route.getKey()).isEqualTo(413);
          assertThat(refused.error().get("message").asText()).contains("the limit is " + route.getValue() + " bytes");
        }
      }
    }
  }

  @Test
  void theShareIsInProportionToTheConnectionsAClientMayHold() {
    assertThat(LIMITS.maxBufferedBodyBytesPerClient()).isEqualTo(250_000);
    assertThat(ServerLimits.fromEnv(Map.of()).maxBufferedBodyBytesPerClient()).isEqualTo(64L * 1024 * 1024);
    assertThat(ServerLimits.fromEnv(Map.of("AIGW_HTTP_MAX_CONNECTIONS_PER_CLIENT", "512")).maxBufferedBodyBytesPerClient())
        .as("behind a reverse proxy, one client is everyone").isEqualTo(256L * 1024 * 1024);
    assertThat(ServerLimits.fromEnv(Map.of("AIGW_HTTP_MAX_BUFFERED_BODY_BYTES", String.valueOf(Long.MAX_VALUE))).maxBufferedBodyBytesPerClient())
        .isEqualTo(Long.MAX_VALUE / 512 * 128);
  }

  @Test
  void adminRoutesAreAnsweredWhileHangingModelCallsHoldEveryWorker() throws Exception {
    var hung = new CountDownLatch(1);
    var running = new CountDownLatch(LocalServer.WORKER_THREADS);
    start(GatewayApplication.of(CorsPolicy.allowing(List.of()), request -> {
      if (request.path().startsWith("/v1/")) {
        running.countDown();
        try {
          hung.await(30, TimeUnit.SECONDS); // a model that does not answer
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      return GatewayResponse.json(200, Map.of("path", request.path()));
    }), ServerLimits.DEFAULTS);
    var local = InetAddress.getByName("127.0.0.1");
    try {
      for (int i = 0; i < LocalServer.WORKER_THREADS + 6; i++) { // every worker, and some waiting for one
        held.add(post(local, "/v1/chat/completions", 2, 2));
      }
      assertThat(running.await(20, TimeUnit.SECONDS)).as("every worker holds a hanging model call").isTrue();

      long started = System.nanoTime();
      try (Socket block = post(local, "/key/block", 2, 2)) {
        var answer = answer(block);
        assertThat(answer.status()).isEqualTo(200);
        assertThat(new String(answer.body(), StandardCharsets.UTF_8)).contains("/key/block");
      }
      assertThat(Duration.ofNanos(System.nanoTime() - started)).as("not queued behind the model calls").isLessThan(Duration.ofSeconds(3));
    } finally {
      hung.countDown();
    }
  }
}

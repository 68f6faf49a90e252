package aigw.local;

import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.http.CorsPolicy;
import aigw.core.http.GatewayApplication;
import aigw.core.http.GatewayRequest;
import aigw.core.http.GatewayResponse;
import aigw.core.json.Json;
import com.github.tomakehurst.wiremock.WireMockServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Clients that hold connections (issue 15, finding 2) cannot lock out others: more stalled
 * requests, half-sent bodies and non-reading clients than the server has workers, while
 * /health/liveliness and a model call from another client are answered; and each such connection
 * is closed after its configured timeout. Runs in a JVM of its own (local/pom.xml): its timeouts are
 * short (2 s) and its hundreds of sockets should not share two cores with other tests.
 */
class LocalServerSlowClientsTest {
  private static final String MASTER = "sk-slow-clients-test-master-key";
  /**
   * The request timeout. Longer than the others: it runs from a request's first byte, and on a
   * shared two-core machine with 80 answers being written, the JDK server's virtual thread may take
   * a while to read even a whole request.
   */
  private static final int REQUEST_TIMEOUT_SECONDS = 4;
  /** The write and idle timeouts. */
  private static final int TIMEOUT_SECONDS = 2;
  private static final ServerLimits LIMITS = new ServerLimits(
      Duration.ofSeconds(REQUEST_TIMEOUT_SECONDS), Duration.ofSeconds(TIMEOUT_SECONDS), Duration.ofSeconds(TIMEOUT_SECONDS), 512);
  /**
   * A prompt answer: before any stalled connection could have been closed for its request timeout
   * (so the answer did not wait for them), with room for a shared, busy machine.
   */
  private static final Duration PROMPTLY = Duration.ofSeconds(REQUEST_TIMEOUT_SECONDS - 1);
  /** More than the workers: the server must not give each of these one. */
  private static final int MANY = LocalServer.WORKER_THREADS + 16;

  @TempDir static Path dir;
  private static WireMockServer upstream;
  private static LocalGateway gateway;
  private static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @BeforeAll
  static void start() throws Exception {
    upstream = aigw.core.testing.Upstream.start();
    upstream.stubFor(post("/v1/chat/completions").willReturn(okJson(aigw.core.testing.Upstream.CHAT_COMPLETION)));
    Path config = dir.resolve("config.yaml");
    Files.writeString(config, """
        model_list:
          - model_name: m
            litellm_params: {model: openai/m, api_base: "%s/v1", api_key: sk-upstream-not-a-secret}
        """.formatted(upstream.baseUrl()));
    String seconds = Integer.toString(TIMEOUT_SECONDS);
    gateway = LocalGateway.start(LocalOptions.inMemory(config, Map.of(
        "AIGW_MASTER_KEY", MASTER,
        "AIGW_HTTP_REQUEST_TIMEOUT_SECONDS", Integer.toString(REQUEST_TIMEOUT_SECONDS),
        "AIGW_HTTP_WRITE_TIMEOUT_SECONDS", seconds,
        "AIGW_HTTP_IDLE_TIMEOUT_SECONDS", seconds,
        // Every stalled socket here comes from 127.0.0.1, as does the client that must still be
        // answered: this test is about threads, not about one client's share of the connections
        // (LocalServerConnectionsTest is).
        "AIGW_HTTP_MAX_CONNECTIONS_PER_CLIENT", "512")));
    // The model route once before any test: its first call in a JVM loads and compiles what it
    // uses, which took 8 s at load 15 on two cores (session 15), and "promptly" below is about
    // stalled connections locking others out, not about that.
    var warm = http.send(HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/v1/chat/completions")).timeout(Duration.ofSeconds(60))
        .header("Authorization", "Bearer " + virtualKey()).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(warm.statusCode()).as(warm.body()).isEqualTo(200);
  }

  @AfterAll
  static void stop() {
    if (gateway != null) {
      gateway.close();
    }
    if (upstream != null) {
      upstream.stop();
    }
  }

  private static String virtualKey() throws Exception {
    var response = http.send(HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/key/generate"))
        .header("Authorization", "Bearer " + MASTER).POST(HttpRequest.BodyPublishers.ofString("{}")).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    return Json.MAPPER.readTree(response.body()).get("key").asText();
  }

  /** /health/liveliness and a model call, each answered 200 within {@link #PROMPTLY}. */
  private static void othersAreAnsweredPromptly(String key) throws Exception {
    long started = System.nanoTime();
    var health = http.send(HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/health/liveliness")).timeout(Duration.ofSeconds(20)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(health.statusCode()).isEqualTo(200);
    assertThat(Duration.ofNanos(System.nanoTime() - started)).as("/health/liveliness answered after").isLessThan(PROMPTLY);
    started = System.nanoTime();
    var model = http.send(HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/v1/chat/completions")).timeout(Duration.ofSeconds(20))
        .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(model.statusCode()).as(model.body()).isEqualTo(200);
    assertThat(model.body()).contains("\"content\":\"ok\"");
    assertThat(Duration.ofNanos(System.nanoTime() - started)).as("the model call answered after").isLessThan(PROMPTLY);
  }

  private static Socket open(int port, String sent) throws IOException {
    var socket = new Socket("127.0.0.1", port);
    socket.getOutputStream().write(sent.getBytes(StandardCharsets.ISO_8859_1));
    socket.getOutputStream().flush();
    return socket;
  }

  /**
   * Waits for the server to close {@code socket}: true when it did within {@code within} (the end of
   * the stream or a reset; whatever the server said before is skipped).
   */
  private static boolean closedByServer(Socket socket, Duration within) throws IOException {
    long deadline = System.nanoTime() + within.toNanos();
    InputStream in = socket.getInputStream();
    byte[] buffer = new byte[64 * 1024];
    while (true) {
      long left = (deadline - System.nanoTime()) / 1_000_000;
      if (left <= 0) {
        return false;
      }
      socket.setSoTimeout((int) left);
      try {
        if (in.read(buffer) < 0) {
          return true;
        }
      } catch (SocketTimeoutException stillOpen) {
        return false;
      } catch (SocketException reset) {
        return true;
      }
    }
  }

  @Test
  void stalledRequestsAndHalfSentBodiesLockOutNobodyAndAreClosedAfterTheRequestTimeout() throws Exception {
    String key = virtualKey();
    int port = gateway.port();
    var held = new ArrayList<Socket>();
    try {
      for (int i = 0; i < MANY; i++) {
        // A request line and one header, then nothing (the audit's slowloris).
        held.add(open(port, "GET /health/liveliness HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
        // Whole headers, then 10 of the 1000 bytes the body announced.
        held.add(open(port, "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + key
            + "\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"model\":"));
        // Connected, and not one byte.
        held.add(new Socket("127.0.0.1", port));
      }
      Thread.sleep(300); // the server has them all
      othersAreAnsweredPromptly(key);
      long started = System.nanoTime();
      for (Socket socket : held) {
        assertThat(closedByServer(socket, Duration.ofSeconds(REQUEST_TIMEOUT_SECONDS + 4))).as("a stalled connection is closed").isTrue();
      }
      assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(REQUEST_TIMEOUT_SECONDS + 4));
      othersAreAnsweredPromptly(key);
    } finally {
      for (Socket socket : held) {
        socket.close();
      }
    }
  }

  @Test
  void anIdleKeptAliveConnectionIsClosedAfterTheIdleTimeout() throws Exception {
    // From the request sent: the server's last activity on the connection (its answer) comes after
    // it, so it may close the connection TIMEOUT_SECONDS after that at the earliest. Not from the
    // answer read: on a loaded machine this thread reads it well after it was written (0.7 s at
    // load 14), and the connection then looked closed early (1.3 s) when it was not.
    long sent = System.nanoTime();
    try (Socket socket = open(gateway.port(), "GET /health/liveliness HTTP/1.1\r\nHost: localhost\r\n\r\n")) {
      socket.setSoTimeout(5000);
      InputStream in = socket.getInputStream();
      String head = "";
      while (!head.endsWith("\r\n\r\n")) {
        int b = in.read();
        assertThat(b).as("the answer came whole on a kept-alive connection").isNotNegative();
        head += (char) b;
      }
      assertThat(head).startsWith("HTTP/1.1 200");
      var length = java.util.regex.Pattern.compile("(?i)content-length: *(\\d+)").matcher(head);
      assertThat(length.find()).as(head).isTrue();
      assertThat(in.readNBytes(Integer.parseInt(length.group(1)))).hasSize(Integer.parseInt(length.group(1)));
      assertThat(closedByServer(socket, Duration.ofSeconds(TIMEOUT_SECONDS + 3))).isTrue();
      assertThat(Duration.ofNanos(System.nanoTime() - sent)).as("closed after, from the request sent")
          .isGreaterThanOrEqualTo(Duration.ofSeconds(TIMEOUT_SECONDS));
    }
  }

  // ---------------------------------------------------------------- answers: a server of its own

  /** Counts the endless answers that ended because their client was cut off. */
  private static final AtomicInteger endlessEnded = new AtomicInteger();

  private static GatewayResponse route(GatewayRequest request) {
    return switch (request.path()) {
      case "/health/liveliness" -> GatewayResponse.json(200, Map.of("status", "healthy"));
      // A model that never stops: a 16 KiB event every 2 ms, as long as the client takes them.
      case "/endless" -> GatewayResponse.streaming(200, Map.of("Content-Type", "text/event-stream"), out -> {
        byte[] event = ("data: " + "x".repeat(16 * 1024) + "\n\n").getBytes(StandardCharsets.UTF_8);
        try {
          while (true) {
            out.write(event);
            out.flush();
            Thread.sleep(2);
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException(e);
        } catch (IOException cut) {
          endlessEnded.incrementAndGet();
          throw cut;
        }
      });
      // A slow model: an event every 700 ms, longer in all than every timeout.
      case "/slow-model" -> GatewayResponse.streaming(200, Map.of("Content-Type", "text/event-stream"), out -> {
        for (int i = 1; i <= 6; i++) {
          out.write(("data: " + i + "\n\n").getBytes(StandardCharsets.UTF_8));
          out.flush();
          try {
            Thread.sleep(700);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
          }
        }
        out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
      });
      default -> GatewayResponse.json(404, Map.of());
    };
  }

  @Test
  void clientsThatReadNothingAreCutAfterTheWriteTimeoutAndFreeTheirWorkers() throws Exception {
    LocalServer server = LocalServer.start("127.0.0.1", 0, GatewayApplication.of(CorsPolicy.allowing(List.of()), LocalServerSlowClientsTest::route),
        LIMITS, AllowedHosts.of(null));
    var readers = new ArrayList<Socket>();
    try {
      endlessEnded.set(0);
      for (int i = 0; i < MANY; i++) {
        var socket = new Socket();
        socket.setReceiveBufferSize(4096); // before connecting: the window the server sees stays small
        socket.connect(new java.net.InetSocketAddress("127.0.0.1", server.port()));
        OutputStream out = socket.getOutputStream();
        out.write("GET /endless HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
        readers.add(socket); // and never read
      }
      // Every worker is now writing to a client that reads nothing; the write timeout frees them.
      long started = System.nanoTime();
      try (Socket health = open(server.port(), "GET /health/liveliness HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")) {
        health.setSoTimeout((TIMEOUT_SECONDS + 10) * 1000);
        String answer = new String(health.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        assertThat(answer).startsWith("HTTP/1.1 200").contains("healthy");
      }
      assertThat(Duration.ofNanos(System.nanoTime() - started)).as("/health/liveliness answered after")
          .isLessThan(Duration.ofSeconds(TIMEOUT_SECONDS + 3));
      // Each ends once its writes have filled the kernel's buffers (the server's send buffer grows
      // to about 2.7 MB a connection on loopback before a write blocks: measured, session 15) and
      // then made no progress for the write timeout; the 16 beyond the workers start only when the
      // first 64 are cut: two rounds, every one cut 2.0-2.1 s after its last write went through. At
      // load 14 on two cores the last of the 80 ended 6.4 s after they were sent in one run, while
      // another had 29 of 80 ended when this waited 7 s, and session 14's CI 78 of 80. The bound is
      // a hang's, not a timing's: without the write timeout no endless answer ever ends.
      long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      while (endlessEnded.get() < MANY && System.nanoTime() < deadline) {
        Thread.sleep(100);
      }
      assertThat(endlessEnded.get()).as("endless answers ended by the write timeout").isEqualTo(MANY);
    } finally {
      for (Socket socket : readers) {
        socket.close();
      }
      server.stop();
    }
  }

  @Test
  void aLongStreamFromASlowModelToAReadingClientIsNeverCut() throws Exception {
    LocalServer server = LocalServer.start("127.0.0.1", 0, GatewayApplication.of(CorsPolicy.allowing(List.of()), LocalServerSlowClientsTest::route),
        LIMITS, AllowedHosts.of(null));
    try {
      var response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/slow-model")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(response.statusCode()).isEqualTo(200);
      assertThat(response.body()).contains("data: 6").endsWith("data: [DONE]\n\n");
    } finally {
      server.stop();
    }
  }
}

package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.http.CorsPolicy;
import aigw.core.http.GatewayApplication;
import aigw.core.http.GatewayResponse;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * One client's share of the local server's connections (issue 15): a client that holds all it may
 * hold cannot keep another client out. Clients are told apart by their address; on Linux every
 * 127.x.y.z address is loopback, so a second local client is one that connects from 127.0.0.2.
 */
class LocalServerConnectionsTest {
  private static final int PER_CLIENT = 4;
  private static final ServerLimits LIMITS = new ServerLimits(Duration.ofSeconds(30), Duration.ofSeconds(30), Duration.ofSeconds(30), 16, PER_CLIENT);
  private static final String HEALTH = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";

  private LocalServer server;
  private final List<Socket> held = new ArrayList<>();

  @BeforeEach
  void start() throws IOException {
    GatewayApplication app = GatewayApplication.of(CorsPolicy.allowing(List.of()), request -> GatewayResponse.json(200, Map.of("status", "healthy")));
    server = LocalServer.start("127.0.0.1", 0, app, LIMITS, AllowedHosts.of(null));
  }

  @AfterEach
  void stop() throws IOException {
    for (Socket socket : held) {
      socket.close();
    }
    server.stop();
  }

  /** A connection from {@code from}; skipped where that address is not loopback (macOS has 127.0.0.1 only). */
  private Socket connect(String from) throws IOException {
    var socket = new Socket();
    try {
      socket.bind(new InetSocketAddress(from, 0));
    } catch (IOException notHere) {
      socket.close();
      Assumptions.abort(from + " is not an address of this machine: " + notHere.getMessage());
    }
    socket.connect(new InetSocketAddress("127.0.0.1", server.port()), 5000);
    socket.setSoTimeout(5000);
    return socket;
  }

  /** The whole answer to {@link #HEALTH} on {@code socket}; empty when the server closed the connection instead. */
  private static String ask(Socket socket) throws IOException {
    try {
      socket.getOutputStream().write(HEALTH.getBytes(StandardCharsets.ISO_8859_1));
      socket.getOutputStream().flush();
      return new String(socket.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
    } catch (SocketException reset) {
      return "";
    }
  }

  /** The head of the answer to a request that keeps its connection open (the body is read too). */
  private static String askKeepingAlive(Socket socket) throws IOException {
    socket.getOutputStream().write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
    socket.getOutputStream().flush();
    InputStream in = socket.getInputStream();
    var head = new StringBuilder();
    while (head.indexOf("\r\n\r\n") < 0) {
      int b = in.read();
      if (b < 0) {
        return head.toString();
      }
      head.append((char) b);
    }
    var length = java.util.regex.Pattern.compile("(?i)content-length: *(\\d+)").matcher(head);
    if (length.find()) {
      in.readNBytes(Integer.parseInt(length.group(1)));
    }
    return head.toString();
  }

  /** Whether the server closed {@code socket} (end of stream or reset) within {@code seconds}, sending nothing. */
  private static boolean closedWithoutAnswer(Socket socket, int seconds) throws IOException {
    socket.setSoTimeout(seconds * 1000);
    InputStream in = socket.getInputStream();
    try {
      return in.read() < 0;
    } catch (SocketTimeoutException open) {
      return false;
    } catch (SocketException reset) {
      return true;
    }
  }

  @Test
  void aClientHoldingItsWholeShareCannotKeepAnotherClientOut() throws IOException {
    for (int i = 0; i < PER_CLIENT; i++) {
      // One answer on each, then silence: each holds a kept-alive connection until the idle timeout,
      // and the server has surely counted it.
      Socket socket = connect("127.0.0.1");
      held.add(socket);
      assertThat(askKeepingAlive(socket)).startsWith("HTTP/1.1 200");
    }
    Socket oneMore = connect("127.0.0.1");
    held.add(oneMore);
    assertThat(closedWithoutAnswer(oneMore, 5)).as("a connection beyond the client's share is closed at once").isTrue();

    try (Socket other = connect("127.0.0.2")) {
      assertThat(ask(other)).as("another client is answered").startsWith("HTTP/1.1 200").contains("healthy");
    }

    held.remove(0).close(); // the first client gives one back: it may open one again
    long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    String answer = "";
    while (answer.isEmpty() && System.nanoTime() < deadline) {
      try (Socket again = connect("127.0.0.1")) {
        answer = ask(again); // the server may not have seen the close yet: then this one is refused too
      }
    }
    assertThat(answer).startsWith("HTTP/1.1 200");
  }

  @Test
  void theShareIsReadFromTheEnvironmentAndCannotExceedTheTotal() {
    assertThat(ServerLimits.fromEnv(Map.of()).maxConnectionsPerClient()).isEqualTo(ServerLimits.DEFAULT_MAX_CONNECTIONS_PER_CLIENT);
    assertThat(ServerLimits.fromEnv(Map.of("AIGW_HTTP_MAX_CONNECTIONS_PER_CLIENT", "7")).maxConnectionsPerClient()).isEqualTo(7);
    assertThat(ServerLimits.fromEnv(Map.of("AIGW_HTTP_MAX_CONNECTIONS", "20")).maxConnectionsPerClient()).isEqualTo(20);
    assertThatThrownBy(() -> ServerLimits.fromEnv(Map.of("AIGW_HTTP_MAX_CONNECTIONS", "20", "AIGW_HTTP_MAX_CONNECTIONS_PER_CLIENT", "21")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("AIGW_HTTP_MAX_CONNECTIONS_PER_CLIENT");
    assertThatThrownBy(() -> ServerLimits.fromEnv(Map.of("AIGW_HTTP_MAX_CONNECTIONS_PER_CLIENT", "0")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("AIGW_HTTP_MAX_CONNECTIONS_PER_CLIENT");
  }
}

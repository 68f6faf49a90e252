package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.http.CorsPolicy;
import aigw.core.http.GatewayApplication;
import aigw.core.http.GatewayResponse;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The deadline for a request's line and headers (AIGW_HTTP_REQUEST_TIMEOUT_SECONDS): a client that
 * dribbles a header byte at a time, each well within the idle timeout, is closed once the request
 * timeout has passed; a kept-alive client that waits between requests is not.
 */
class LocalServerHeaderDeadlineTest {
  private static final int REQUEST_TIMEOUT_SECONDS = 2;
  /** The idle timeout: far longer, so that only the header deadline can close the dribbling connection. */
  private static final ServerLimits LIMITS = new ServerLimits(Duration.ofSeconds(REQUEST_TIMEOUT_SECONDS), Duration.ofSeconds(30),
      Duration.ofSeconds(30), 16, 16);
  private static final String HEALTH = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

  private LocalServer server;

  @BeforeEach
  void start() throws IOException {
    GatewayApplication app = GatewayApplication.of(CorsPolicy.allowing(List.of()), request -> GatewayResponse.json(200, Map.of("status", "healthy")));
    server = LocalServer.start("127.0.0.1", 0, app, LIMITS, AllowedHosts.of(null));
  }

  @AfterEach
  void stop() {
    server.stop();
  }

  /** True when the server closed the connection (end of stream or reset) before anything else arrived. */
  private static boolean closed(Socket socket) throws IOException {
    try {
      return socket.getInputStream().read() < 0;
    } catch (SocketException reset) {
      return true;
    } catch (SocketTimeoutException open) {
      return false;
    }
  }

  @Test
  void aConnectionDribblingItsHeadersIsClosedAfterTheRequestTimeout() throws Exception {
    try (var socket = new Socket("127.0.0.1", server.port())) {
      socket.setSoTimeout(100);
      long opened = System.nanoTime();
      socket.getOutputStream().write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n".getBytes(StandardCharsets.ISO_8859_1));
      boolean closed = false;
      // One header byte every 300 ms, for up to four times the timeout.
      while (!closed && System.nanoTime() - opened < Duration.ofSeconds(4L * REQUEST_TIMEOUT_SECONDS).toNanos()) {
        try {
          socket.getOutputStream().write('X');
          socket.getOutputStream().flush();
        } catch (SocketException reset) {
          closed = true;
          break;
        }
        Thread.sleep(200);
        closed = closed(socket);
      }
      Duration after = Duration.ofNanos(System.nanoTime() - opened);
      assertThat(closed).as("closed within " + 4 * REQUEST_TIMEOUT_SECONDS + " s").isTrue();
      assertThat(after).isGreaterThanOrEqualTo(Duration.ofSeconds(REQUEST_TIMEOUT_SECONDS)).isLessThan(Duration.ofSeconds(REQUEST_TIMEOUT_SECONDS + 3));
    }
  }

  /**
   * The interleaving that once failed under load, forced: after a wait longer than the request
   * timeout, the client's next request is read by the server (here its request line, its headers
   * still to come) and a sweep of the header deadlines runs before the request reaches the
   * application. The deadline counts from the request's first byte, not from the previous answer.
   */
  @Test
  void aKeptAliveClientThatWaitsBetweenRequestsIsUnaffected() throws Exception {
    try (var socket = new Socket("127.0.0.1", server.port())) {
      socket.setSoTimeout(5000);
      socket.getOutputStream().write(HEALTH.getBytes(StandardCharsets.ISO_8859_1));
      socket.getOutputStream().flush();
      assertThat(readAnswer(socket.getInputStream())).startsWith("HTTP/1.1 200").contains("healthy");
      long readBefore = server.bytesReadOnOpenConnections();
      Thread.sleep(REQUEST_TIMEOUT_SECONDS * 1000L + 1000); // longer than the request timeout, sending nothing
      String requestLine = "GET /health HTTP/1.1\r\n";
      socket.getOutputStream().write(requestLine.getBytes(StandardCharsets.ISO_8859_1));
      socket.getOutputStream().flush();
      long waitedSince = System.nanoTime();
      while (server.bytesReadOnOpenConnections() < readBefore + requestLine.length()) {
        assertThat(System.nanoTime() - waitedSince).as("the server reads the request line").isLessThan(Duration.ofSeconds(10).toNanos());
        Thread.sleep(5);
      }
      server.sweepHeaderDeadlines();
      socket.getOutputStream().write("Host: 127.0.0.1\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
      socket.getOutputStream().flush();
      assertThat(readAnswer(socket.getInputStream())).startsWith("HTTP/1.1 200").contains("healthy");
    }
  }

  @Test
  void aBodyThatStopsMidWayGets408InTheRoutesEnvelopeAndNoWarning() throws Exception {
    var logged = new java.util.concurrent.CopyOnWriteArrayList<java.util.logging.LogRecord>();
    var handler = new java.util.logging.Handler() {
      @Override
      public void publish(java.util.logging.LogRecord record) {
        if (record.getLevel().intValue() >= java.util.logging.Level.WARNING.intValue()) {
          logged.add(record);
        }
      }

      @Override
      public void flush() {}

      @Override
      public void close() {}
    };
    var log = java.util.logging.Logger.getLogger(LocalServer.class.getName());
    log.addHandler(handler);
    try (var socket = new Socket("127.0.0.1", server.port())) {
      socket.setSoTimeout(4 * REQUEST_TIMEOUT_SECONDS * 1000);
      long sent = System.nanoTime();
      socket.getOutputStream().write(("POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
          + "{\"model\":").getBytes(StandardCharsets.ISO_8859_1));
      socket.getOutputStream().flush();
      String answer = readAnswer(socket.getInputStream());
      assertThat(answer).startsWith("HTTP/1.1 408");
      assertThat(answer).contains("\"type\":\"error\"").contains("not received within the server's timeout");
      assertThat(Duration.ofNanos(System.nanoTime() - sent)).isGreaterThanOrEqualTo(Duration.ofSeconds(REQUEST_TIMEOUT_SECONDS));
      assertThat(closed(socket)).as("the connection closes after the 408").isTrue();
    } finally {
      log.removeHandler(handler);
    }
    assertThat(logged).as("a client's slow body is not the server's failure").isEmpty();
  }

  /** One answer with a Content-Length body. */
  private static String readAnswer(InputStream in) throws IOException {
    var head = new StringBuilder();
    while (!head.toString().endsWith("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) {
        return head.toString();
      }
      head.append((char) b);
    }
    var length = java.util.regex.Pattern.compile("(?i)content-length: *(\\d+)").matcher(head);
    int bodyLength = length.find() ? Integer.parseInt(length.group(1)) : 0;
    return head + new String(in.readNBytes(bodyLength), StandardCharsets.ISO_8859_1);
  }
}

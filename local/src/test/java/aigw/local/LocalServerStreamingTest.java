package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.http.CorsPolicy;
import aigw.core.http.GatewayApplication;
import aigw.core.http.GatewayRequest;
import aigw.core.http.GatewayResponse;
import aigw.core.json.Json;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The local server serving a {@link GatewayApplication} directly, seen on the wire by a raw
 * HTTP/1.1 client: what the application receives, and a streamed answer sent chunked, one chunk
 * per flushed event, as it is written.
 */
class LocalServerStreamingTest {
  private static final String PAGE = "http://localhost:5173";
  private static final Map<String, String> EVENT_STREAM = Map.of("Content-Type", "text/event-stream");

  /** Released by the test once it has read the first event of /latched. */
  private final CountDownLatch firstEventSeen = new CountDownLatch(1);
  /** Set by /latched just before it writes its last event. */
  private final AtomicBoolean lastEventWritten = new AtomicBoolean();
  /** How /endless ended: the exception its write or flush threw. */
  private final CompletableFuture<Throwable> endlessFailure = new CompletableFuture<>();
  /** Released by /reset-before-headers when the application has the request. */
  private final CountDownLatch resetRouteEntered = new CountDownLatch(1);
  /** Released by the test once its client has reset the connection to /reset-before-headers. */
  private final CountDownLatch clientReset = new CountDownLatch(1);
  /** What the body of /reset-before-headers met at its first write. */
  private final CompletableFuture<Throwable> afterResetFailure = new CompletableFuture<>();
  /** Set by /slow-first when it writes its first event. */
  private final AtomicBoolean slowFirstWritten = new AtomicBoolean();
  /** Released by the test once it has checked that nothing of /in-hand arrived before the body's first flush. */
  private final CountDownLatch inHandChecked = new CountDownLatch(1);
  /** Whether the body of /head-only ran. */
  private final AtomicBoolean headOnlyBodyRan = new AtomicBoolean();

  private LocalServer server;

  @BeforeEach
  void start() throws IOException {
    server = LocalServer.start("127.0.0.1", 0, GatewayApplication.of(CorsPolicy.allowing(List.of(PAGE)), this::route));
  }

  @AfterEach
  void stop() {
    firstEventSeen.countDown();
    clientReset.countDown();
    inHandChecked.countDown();
    server.stop();
  }

  private GatewayResponse route(GatewayRequest request) {
    return switch (request.path()) {
      case "/latched" -> GatewayResponse.streaming(200, EVENT_STREAM, out -> {
        event(out, "1");
        try {
          if (!firstEventSeen.await(20, TimeUnit.SECONDS)) {
            throw new IllegalStateException("the client never saw the first event");
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException(e);
        }
        lastEventWritten.set(true);
        event(out, "2");
      });
      case "/slow-first" -> GatewayResponse.streaming(200, EVENT_STREAM, out -> {
        try {
          firstEventSeen.await(20, TimeUnit.SECONDS); // the provider has not sent its first token yet
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        slowFirstWritten.set(true);
        event(out, "1");
      });
      case "/endless" -> GatewayResponse.streaming(200, EVENT_STREAM, out -> {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        try {
          for (int n = 0; System.nanoTime() < until; n++) {
            event(out, Integer.toString(n));
            Thread.sleep(10);
          }
          endlessFailure.complete(null); // never saw the client go
        } catch (IOException e) {
          endlessFailure.complete(e);
          throw e;
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      });
      case "/breaks" -> GatewayResponse.streaming(200, EVENT_STREAM, out -> {
        event(out, "1");
        throw new IllegalStateException("a bug after the first event");
      });
      case "/reset-before-headers" -> {
        resetRouteEntered.countDown();
        try {
          clientReset.await(20, TimeUnit.SECONDS); // the provider is still being called
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        yield GatewayResponse.streaming(200, EVENT_STREAM, out -> {
          try {
            event(out, "1");
            afterResetFailure.complete(null);
          } catch (IOException e) {
            afterResetFailure.complete(e); // here a provider body would cancel its upstream call and count it
            throw e;
          }
        });
      }
      case "/in-hand" -> GatewayResponse.streaming(200, EVENT_STREAM, new aigw.core.http.StreamingBody() {
        @Override
        public void writeTo(OutputStream out) throws IOException {
          out.write("data: 1\n\n".getBytes(StandardCharsets.UTF_8)); // written, not yet flushed
          try {
            inHandChecked.await(20, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          out.flush();
          event(out, "2");
        }

        @Override
        public boolean firstEventInHand() {
          return true;
        }
      });
      case "/head-only" -> GatewayResponse.streaming(200, EVENT_STREAM, out -> {
        headOnlyBodyRan.set(true);
        event(out, "1");
      });
      case "/buffered" -> GatewayResponse.json(200, Map.of("answer", "whole"));
      default -> GatewayResponse.json(200, echo(request));
    };
  }

  private static void event(OutputStream out, String data) throws IOException {
    out.write(("data: " + data + "\n\n").getBytes(StandardCharsets.UTF_8));
    out.flush();
  }

  private static Map<String, Object> echo(GatewayRequest request) {
    var echo = new LinkedHashMap<String, Object>();
    echo.put("method", request.method());
    echo.put("path", request.path());
    echo.put("headers", request.headers());
    echo.put("query", request.query());
    echo.put("body", new String(request.body(), StandardCharsets.UTF_8));
    echo.put("requestId", request.requestId());
    return echo;
  }

  /** A raw HTTP/1.1 connection: the status line and headers, then the body as it arrives. */
  private static final class Connection implements AutoCloseable {
    final Socket socket;
    final InputStream in;
    int status;
    final Map<String, String> headers = new LinkedHashMap<>();

    Connection(int port, String request) throws IOException {
      socket = new Socket("127.0.0.1", port);
      socket.setSoTimeout(10_000); // a buffered answer to /latched would never come: fail, not hang
      socket.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
      socket.getOutputStream().flush();
      in = socket.getInputStream();
      String statusLine = line();
      status = Integer.parseInt(statusLine.split(" ")[1]);
      for (String header = line(); !header.isEmpty(); header = line()) {
        int colon = header.indexOf(':');
        headers.put(header.substring(0, colon).trim().toLowerCase(Locale.ROOT), header.substring(colon + 1).trim());
      }
    }

    String header(String name) {
      return headers.get(name);
    }

    String line() throws IOException {
      var line = new ByteArrayOutputStream();
      for (int b = in.read(); b != '\n'; b = in.read()) {
        if (b < 0) {
          throw new java.io.EOFException("connection closed in a line: " + line);
        }
        if (b != '\r') {
          line.write(b);
        }
      }
      return line.toString(StandardCharsets.ISO_8859_1);
    }

    /**
     * The next chunk's data (RFC 9112 7.1); empty for the last chunk. The CRLF that ends a chunk's
     * data may come with the next chunk (Jetty sends it there): it is read as an empty line before
     * the next size, so that a chunk is whole as soon as its data arrived.
     */
    String chunk() throws IOException {
      String sizeLine = line();
      if (sizeLine.isEmpty() && !firstChunk) {
        sizeLine = line(); // the previous chunk's CRLF
      }
      firstChunk = false;
      int size = Integer.parseInt(sizeLine.strip(), 16);
      byte[] data = in.readNBytes(size);
      assertThat(data).as("a chunk's whole data").hasSize(size);
      return new String(data, StandardCharsets.UTF_8);
    }

    private boolean firstChunk = true;

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

  @Test
  void eachEventReachesTheClientBeforeTheApplicationWritesTheNext() throws IOException {
    try (var connection = new Connection(server.port(), "GET /latched HTTP/1.1\r\nHost: localhost\r\n\r\n")) {
      assertThat(connection.status).isEqualTo(200);
      assertThat(connection.header("content-type")).isEqualTo("text/event-stream");
      assertThat(connection.header("transfer-encoding")).isEqualTo("chunked");
      assertThat(connection.header("content-length")).isNull();

      assertThat(connection.chunk()).isEqualTo("data: 1\n\n");
      assertThat(lastEventWritten).as("the application is still before its last event").isFalse();
      firstEventSeen.countDown();
      assertThat(connection.chunk()).isEqualTo("data: 2\n\n");
      assertThat(connection.chunk()).as("the last chunk: the stream is complete").isEmpty();
    }
  }

  @Test
  void theStatusAndHeadersArriveBeforeTheFirstEvent() throws IOException {
    try (var connection = new Connection(server.port(), "GET /slow-first HTTP/1.1\r\nHost: localhost\r\n\r\n")) {
      assertThat(connection.status).isEqualTo(200);
      assertThat(connection.header("content-type")).isEqualTo("text/event-stream");
      assertThat(slowFirstWritten).as("the body has not written yet").isFalse();
      firstEventSeen.countDown();
      assertThat(connection.chunk()).isEqualTo("data: 1\n\n");
    }
  }

  /**
   * A body that holds its first event (a relay that awaited the provider's first chunk) has the
   * status and headers sent with its first flush, in one write: before it, nothing is on the wire.
   */
  @Test
  void theStatusAndHeadersOfABodyHoldingItsFirstEventLeaveWithThatEvent() throws Exception {
    try (var socket = new Socket("127.0.0.1", server.port())) {
      socket.getOutputStream().write("GET /in-hand HTTP/1.1\r\nHost: localhost\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
      socket.getOutputStream().flush();
      socket.setSoTimeout(500);
      assertThatThrownBy(() -> socket.getInputStream().read()).as("no byte before the body's first flush")
          .isInstanceOf(java.net.SocketTimeoutException.class);
      inHandChecked.countDown();
      socket.setSoTimeout(10_000);
      var received = new ByteArrayOutputStream();
      byte[] buffer = new byte[4096];
      while (!received.toString(StandardCharsets.ISO_8859_1).endsWith("0\r\n\r\n")) {
        int read = socket.getInputStream().read(buffer);
        assertThat(read).as("the whole stream").isPositive();
        received.write(buffer, 0, read);
      }
      String wire = received.toString(StandardCharsets.ISO_8859_1);
      assertThat(wire).startsWith("HTTP/1.1 200 ").contains("Content-Type: text/event-stream\r\n").contains("Transfer-Encoding: chunked\r\n");
      assertThat(wire.substring(wire.indexOf("\r\n\r\n") + 4)).isEqualTo("9\r\ndata: 1\n\n\r\n9\r\ndata: 2\n\n\r\n0\r\n\r\n");
    }
  }

  @Test
  void aClientThatGoesAwayMidStreamFailsTheApplicationsNextWrites() throws Exception {
    try (var connection = new Connection(server.port(), "GET /endless HTTP/1.1\r\nHost: localhost\r\n\r\n")) {
      assertThat(connection.chunk()).isEqualTo("data: 0\n\n");
    }
    // The body writes every 10 ms: the second write after the close at the latest meets the reset.
    Throwable failure = endlessFailure.get(5, TimeUnit.SECONDS);
    assertThat(failure).as("the application saw the client go").isInstanceOf(IOException.class);
  }

  @Test
  void aClientGoneBeforeTheHeadersStillLetsTheBodyRunAndSeeItGone() throws Exception {
    var socket = new Socket("127.0.0.1", server.port());
    socket.getOutputStream().write("GET /reset-before-headers HTTP/1.1\r\nHost: localhost\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
    socket.getOutputStream().flush();
    assertThat(resetRouteEntered.await(10, TimeUnit.SECONDS)).as("the application has the request").isTrue();
    socket.setSoLinger(true, 0);
    socket.close(); // a reset, at once: the server's first write (the headers) fails
    Thread.sleep(200); // loopback delivers the reset at once; some room for a loaded machine
    clientReset.countDown();
    assertThat(afterResetFailure.get(5, TimeUnit.SECONDS)).as("the body ran and its first write failed").isInstanceOf(IOException.class);
  }

  @Test
  void aBodyThatFailsAfterItsFirstEventEndsTheConnectionWithoutTheLastChunk() throws Exception {
    try (var connection = new Connection(server.port(), "GET /breaks HTTP/1.1\r\nHost: localhost\r\n\r\n")) {
      assertThat(connection.status).isEqualTo(200);
      assertThat(connection.chunk()).isEqualTo("data: 1\n\n");
      // Closed, not a last chunk nor a second status line: what follows is the end of the connection.
      assertThat(connection.in.readAllBytes()).isEmpty();
    }
    // A standard client reports the cut stream as an error instead of a complete answer.
    try (var client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()) {
      var request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/breaks")).timeout(Duration.ofSeconds(10)).build();
      assertThatThrownBy(() -> client.send(request, HttpResponse.BodyHandlers.ofString())).isInstanceOf(IOException.class);
    }
  }

  @Test
  void headOnAStreamingRouteAnswersTheHeadersWithoutRunningTheStream() throws IOException {
    try (var connection = new Connection(server.port(), "HEAD /head-only HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")) {
      assertThat(connection.status).isEqualTo(200);
      assertThat(connection.header("content-type")).isEqualTo("text/event-stream");
      assertThat(connection.in.readAllBytes()).isEmpty();
    }
    assertThat(headOnlyBodyRan).isFalse();
  }

  @Test
  void aStreamedAnswerCarriesTheCorsHeadersForAnAllowedPage() throws IOException {
    firstEventSeen.countDown();
    try (var connection = new Connection(server.port(), "GET /latched HTTP/1.1\r\nHost: localhost\r\nOrigin: " + PAGE + "\r\n\r\n")) {
      assertThat(connection.header("access-control-allow-origin")).isEqualTo(PAGE);
      assertThat(connection.header("vary")).contains("Origin");
      assertThat(connection.header("transfer-encoding")).isEqualTo("chunked");
      assertThat(connection.chunk()).isEqualTo("data: 1\n\n");
    }
  }

  @Test
  void aBufferedAnswerIsSentWithItsLengthAndNotChunked() throws IOException {
    try (var connection = new Connection(server.port(), "GET /buffered HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")) {
      byte[] body = connection.in.readAllBytes();
      assertThat(connection.status).isEqualTo(200);
      assertThat(connection.header("transfer-encoding")).isNull();
      assertThat(connection.header("content-length")).isEqualTo(Integer.toString(body.length));
      assertThat(Json.readObject(body).get("answer").asText()).isEqualTo("whole");
    }
  }

  @Test
  void theApplicationGetsTheRawPathLowerCasedHeadersAndFirstValues() throws IOException {
    String body = "{\"a\":\"\u00e9\"}";
    String request = "POST /v1/models/openai%2Fgpt-4o?limit=1&limit=2&name=a+b%21 HTTP/1.1\r\nHost: localhost\r\n"
        + "X-Repeated: first\r\nx-repeated: second\r\nContent-Type: application/json\r\nContent-Length: "
        + body.getBytes(StandardCharsets.UTF_8).length + "\r\nConnection: close\r\n\r\n" + body;
    try (var connection = new Connection(server.port(), new String(request.getBytes(StandardCharsets.UTF_8), StandardCharsets.ISO_8859_1))) {
      JsonNode echo = Json.readObject(connection.in.readAllBytes());
      assertThat(echo.get("method").asText()).isEqualTo("POST");
      assertThat(echo.get("path").asText()).isEqualTo("/v1/models/openai%2Fgpt-4o"); // decoded once, by the route
      assertThat(echo.get("headers").get("x-repeated").asText()).isEqualTo("first");
      assertThat(echo.get("headers").get("content-type").asText()).isEqualTo("application/json");
      assertThat(echo.get("query").get("limit").asText()).isEqualTo("1");
      assertThat(echo.get("query").get("name").asText()).isEqualTo("a b!");
      assertThat(echo.get("body").asText()).isEqualTo("{\"a\":\"\u00e9\"}");
      assertThat(echo.get("requestId").asText()).isNotBlank();
    }
  }
}

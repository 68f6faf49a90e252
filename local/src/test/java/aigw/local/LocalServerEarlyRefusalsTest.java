package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.http.CorsPolicy;
import aigw.core.http.GatewayApplication;
import aigw.core.http.GatewayResponse;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Answers the local server gives before it reads a request's body (413 for a declared length over
 * the route's limit, 415 for a Content-Encoding, 421 for a Host it does not serve, 429 for a client
 * over its share of the body budget) reach a client that writes its whole body before it reads,
 * as most SDKs and curl do (issue 15: 1 in 11 curl tries of a 7 MB body got "Empty reply"). Closing
 * a connection with unread input makes the kernel send a reset, which discards the answer on the
 * client's side before it is read; the server must half-close and drain first (RFC 9112 section
 * 9.6), within bounds.
 */
class LocalServerEarlyRefusalsTest {
  private static final Duration S30 = Duration.ofSeconds(30);
  /** 4,000,000 bytes of budget; 16 of 64 connections per client: a share of 1,000,000 bytes. */
  private static final ServerLimits LIMITS = new ServerLimits(S30, S30, S30, 64, 16, 4_000_000);
  /** 3,000,000 bytes on chat (a 7 MB body is over it: 413), 9,000,000 on embeddings (7 MB is over the client's share: 429). */
  private static final LocalServer.Routes ROUTES =
      new LocalServer.Routes(path -> path.equals("/v1/embeddings") ? 9_000_000 : 3_000_000, path -> path.startsWith("/key/"));
  private static final int TRIES = 30;

  private LocalServer server;

  @AfterEach
  void stop() {
    if (server != null) {
      server.stop();
    }
  }

  private static GatewayApplication echo() {
    return GatewayApplication.of(CorsPolicy.allowing(List.of()),
        request -> GatewayResponse.json(200, Map.of("bytes", request.body() == null ? 0 : request.body().length)));
  }

  /**
   * Sends the head and the whole body before reading, as an SDK does, then reads the answer. A
   * write that fails is the server's reset: most clients then report the reset, not the answer
   * (curl's "Empty reply", an SDK's "connection reset"), even when the answer reached the socket.
   */
  private LocalServerTest.Answer sendWholeThenRead(String head, long bodyBytes) throws IOException {
    try (var socket = new Socket("127.0.0.1", server.port())) {
      socket.setSoTimeout(20_000);
      OutputStream out = socket.getOutputStream();
      byte[] piece = new byte[64 * 1024];
      java.util.Arrays.fill(piece, (byte) ' ');
      long sent = 0;
      try {
        out.write(head.getBytes(StandardCharsets.ISO_8859_1));
        for (; sent < bodyBytes; sent += piece.length) {
          out.write(piece, 0, (int) Math.min(piece.length, bodyBytes - sent));
        }
        out.flush();
      } catch (IOException reset) {
        throw new IOException("the server reset the connection after " + sent + " of " + bodyBytes + " body bytes", reset);
      }
      return readOne(socket.getInputStream());
    }
  }

  /** One answer, by its Content-Length (the connection may stay open after a drained body). */
  static LocalServerTest.Answer readOne(java.io.InputStream in) throws IOException {
    var head = new java.io.ByteArrayOutputStream();
    while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) {
        throw new java.io.EOFException("the connection ended after " + head.size() + " bytes of the answer's head");
      }
      head.write(b);
    }
    String text = head.toString(StandardCharsets.ISO_8859_1);
    var matcher = java.util.regex.Pattern.compile("(?i)\r\ncontent-length: *(\\d+)").matcher(text);
    int length = matcher.find() ? Integer.parseInt(matcher.group(1)) : 0;
    byte[] body = in.readNBytes(length);
    var both = new java.io.ByteArrayOutputStream();
    both.writeBytes(head.toByteArray());
    both.writeBytes(body);
    return LocalServerTest.read(new java.io.ByteArrayInputStream(both.toByteArray()));
  }

  @ParameterizedTest(name = "{0} for {3}")
  @CsvSource(delimiter = '|', value = {
      "413 | /v1/chat/completions | 'Host: 127.0.0.1' | a declared length over the route's limit, 7 MB sent | 7000000",
      "413 | /v1/chat/completions | 'Host: 127.0.0.1\r\nConnection: close' | the same with Connection: close | 7000000",
      "415 | /v1/chat/completions | 'Host: 127.0.0.1\r\nContent-Encoding: gzip' | a Content-Encoding, 7 MB sent | 7000000",
      "421 | /v1/chat/completions | 'Host: rebound.example' | a Host this server does not serve, 7 MB sent | 7000000",
      "400 | /v1/chat/completions | 'X-No-Host: 1' | an HTTP/1.0 request without Host, 7 MB sent | 7000000",
      "429 | /v1/embeddings | 'Host: 127.0.0.1' | a body over the client's share of the body budget, 7 MB sent | 7000000",
  })
  void anEarlyRefusalReachesAClientThatWritesItsWholeBodyFirst(int status, String path, String headers, String what, long bodyBytes)
      throws Exception {
    server = LocalServer.start("127.0.0.1", 0, echo(), LIMITS, AllowedHosts.of(null), ROUTES);
    String version = headers.startsWith("X-No-Host") ? "HTTP/1.0" : "HTTP/1.1"; // Jetty itself refuses HTTP/1.1 without Host
    String head = "POST " + path + " " + version + "\r\n" + headers + "\r\nContent-Type: application/json\r\n"
        + "Content-Length: " + bodyBytes + "\r\n\r\n";
    for (int i = 0; i < TRIES; i++) {
      LocalServerTest.Answer answer;
      try {
        answer = sendWholeThenRead(head, bodyBytes);
      } catch (IOException | RuntimeException lost) {
        throw new AssertionError("try " + (i + 1) + " of " + TRIES + ": the " + status + " was lost (" + lost + ")", lost);
      }
      assertThat(answer.status()).as("try %d", i + 1).isEqualTo(status);
      assertThat(answer.error().path("message").asText()).as("try %d", i + 1).isNotBlank();
      assertThat(answer.error().path("code").asText()).as("try %d", i + 1).isEqualTo(Integer.toString(status));
    }
    // The server still serves, and drained bodies gave their budget back.
    String small = "{\"model\":\"m\"}";
    var ok = LocalServerTest.raw(server.port(), "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + "Content-Length: " + small.length() + "\r\nConnection: close\r\n\r\n" + small);
    assertThat(ok.status()).isEqualTo(200);
  }

  /**
   * The drain is bounded in time: a client that keeps sending, slowly, after its refusal is cut off
   * at the request timeout (counted from its headers), and holds no worker meanwhile.
   */
  @Test
  void aClientTricklingItsBodyAfterARefusalIsCutOffAtTheRequestTimeout() throws Exception {
    Duration requestTimeout = Duration.ofSeconds(2);
    server = LocalServer.start("127.0.0.1", 0, echo(), new ServerLimits(requestTimeout, S30, S30, 64, 16, 4_000_000),
        AllowedHosts.of(null), ROUTES);
    try (var socket = new Socket("127.0.0.1", server.port())) {
      socket.setSoTimeout(10_000);
      OutputStream out = socket.getOutputStream();
      long start = System.nanoTime();
      out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Encoding: gzip\r\nContent-Type: application/json\r\n"
          + "Content-Length: 7000000\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
      out.write(new byte[64 * 1024]);
      out.flush();
      assertThat(readOne(socket.getInputStream()).status()).isEqualTo(415);
      // Meanwhile the server answers others.
      String small = "{\"model\":\"m\"}";
      var ok = LocalServerTest.raw(server.port(), "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
          + "Content-Length: " + small.length() + "\r\nConnection: close\r\n\r\n" + small);
      assertThat(ok.status()).isEqualTo(200);
      Duration cutOff = null;
      byte[] trickle = new byte[1024];
      while (cutOff == null && System.nanoTime() - start < Duration.ofSeconds(15).toNanos()) {
        try {
          out.write(trickle);
          out.flush();
          Thread.sleep(100);
        } catch (IOException closed) {
          cutOff = Duration.ofNanos(System.nanoTime() - start);
        }
      }
      assertThat(cutOff).as("the server closed the connection").isNotNull();
      assertThat(cutOff).isBetween(requestTimeout.minusMillis(200), requestTimeout.plusSeconds(3));
    }
  }
}

package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.http.CorsPolicy;
import aigw.core.http.GatewayApplication;
import aigw.core.http.GatewayResponse;
import aigw.core.json.Json;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Requests the HTTP server itself refuses, before any route sees them (issue 15: the JDK server
 * answered these with its own HTML page naming the Java exception): each gets the right 4xx in the
 * OpenAI error envelope, with no Java name in it. Raw bytes over a socket, since no HTTP client
 * sends these.
 */
class LocalServerProtocolErrorsTest {
  private static LocalServer server;

  @BeforeAll
  static void start() throws IOException {
    // An application that answers everything: any 4xx below is the server's own.
    GatewayApplication app = GatewayApplication.of(CorsPolicy.allowing(List.of()), request -> GatewayResponse.json(200, Map.of("ok", true)));
    server = LocalServer.start("127.0.0.1", 0, app);
  }

  @AfterAll
  static void stop() {
    server.stop();
  }

  private static final String HOST = "Host: 127.0.0.1\r\nConnection: close\r\n";

  static List<Arguments> refused() {
    return List.of(
        Arguments.of("a request line that is not one", "HELLO\r\n\r\n", 400),
        Arguments.of("a request-target with a bad %-escape", "GET /v1/%zz HTTP/1.1\r\n" + HOST + "\r\n", 400),
        Arguments.of("a request-target with a bare %", "GET /v1/mod%ls HTTP/1.1\r\n" + HOST + "\r\n", 400),
        Arguments.of("a request-target that is not a path", "GET v1/models HTTP/1.1\r\n" + HOST + "\r\n", 400),
        Arguments.of("a control character in the request-target", "GET /v1/\u0001 HTTP/1.1\r\n" + HOST + "\r\n", 400),
        Arguments.of("a method with a character a token cannot hold", "GE(T / HTTP/1.1\r\n" + HOST + "\r\n", 400),
        Arguments.of("an HTTP version that is not served", "GET / HTTP/3.0\r\n" + HOST + "\r\n", 400),
        Arguments.of("headers over the server's size", "GET / HTTP/1.1\r\n" + HOST + "X-Long: " + "b".repeat(LocalServer.MAX_HEADER_BYTES) + "\r\n\r\n", 431),
        Arguments.of("a header line without a colon", "GET / HTTP/1.1\r\n" + HOST + "Not a header\r\n\r\n", 400),
        Arguments.of("a header name with a space", "GET / HTTP/1.1\r\n" + HOST + "Bad Name: x\r\n\r\n", 400),
        Arguments.of("a Content-Length that is not a number", "POST / HTTP/1.1\r\n" + HOST + "Content-Length: abc\r\n\r\n", 400),
        Arguments.of("a Content-Length over a long", "POST / HTTP/1.1\r\n" + HOST + "Content-Length: 99999999999999999999\r\n\r\n", 400),
        Arguments.of("a negative Content-Length", "POST / HTTP/1.1\r\n" + HOST + "Content-Length: -1\r\n\r\n", 400),
        Arguments.of("two different Content-Lengths", "POST / HTTP/1.1\r\n" + HOST + "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400),
        Arguments.of("a Content-Length over the body limit", "POST / HTTP/1.1\r\n" + HOST + "Content-Length: " + (LocalServer.MAX_BODY_BYTES + 1)
            + "\r\n\r\n{}", 413),
        // RFC 9110 section 10.1.1: 100-continue is the only expectation; a server MAY answer others 417.
        Arguments.of("an expectation other than 100-continue", "POST / HTTP/1.1\r\n" + HOST + "Expect: banana\r\nContent-Length: 2\r\n\r\n{}", 417),
        Arguments.of("100-continue listed with another expectation", "POST / HTTP/1.1\r\n" + HOST
            + "Expect: 100-continue, banana\r\nContent-Length: 2\r\n\r\n{}", 417),
        Arguments.of("an unsupported Transfer-Encoding", "POST / HTTP/1.1\r\n" + HOST + "Transfer-Encoding: gzip\r\n\r\n{}", 400),
        Arguments.of("a transfer coding Jetty would pass on before chunked", "POST / HTTP/1.1\r\n" + HOST
            + "Transfer-Encoding: gzip, chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 400),
        Arguments.of("an unknown transfer coding on its own line before chunked", "POST / HTTP/1.1\r\n" + HOST
            + "Transfer-Encoding: foo\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 400),
        Arguments.of("Transfer-Encoding and Content-Length together", "POST / HTTP/1.1\r\n" + HOST
            + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 400),
        Arguments.of("a chunk size that is not hex", "POST / HTTP/1.1\r\n" + HOST + "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 400),
        Arguments.of("a chunked body that ends early", "POST / HTTP/1.1\r\n" + HOST + "Transfer-Encoding: chunked\r\n\r\nFF\r\n{}", 400),
        Arguments.of("a chunked body over the body limit", "POST / HTTP/1.1\r\n" + HOST + "Transfer-Encoding: chunked\r\n\r\n"
            + Integer.toHexString(LocalServer.MAX_BODY_BYTES + 1) + "\r\n" + "x".repeat(LocalServer.MAX_BODY_BYTES + 1) + "\r\n0\r\n\r\n", 413),
        // A bare LF ending a framing line (RFC 9112 section 2.2 lets a server accept it; this one
        // refuses it, so that no proxy in front can frame the same bytes differently).
        Arguments.of("a request line ending in a bare LF", "GET / HTTP/1.1\n" + HOST + "\r\n", 400),
        Arguments.of("a header line ending in a bare LF", "GET / HTTP/1.1\r\nHost: 127.0.0.1\nConnection: close\r\n\r\n", 400),
        Arguments.of("headers ending in a bare LF", "GET / HTTP/1.1\r\n" + HOST + "\n", 400),
        Arguments.of("only bare LFs", "GET / HTTP/1.1\nHost: 127.0.0.1\nConnection: close\n\n", 400),
        Arguments.of("a CR without its LF", "GET / HTTP/1.1\r\nHost: 127.0.0.1\rX: y\r\nConnection: close\r\n\r\n", 400),
        Arguments.of("a chunk size ending in a bare LF", "POST / HTTP/1.1\r\n" + HOST + "Transfer-Encoding: chunked\r\n\r\n2\n{}\r\n0\r\n\r\n", 400),
        Arguments.of("a chunk's data ending in a bare LF", "POST / HTTP/1.1\r\n" + HOST + "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\n0\r\n\r\n", 400),
        Arguments.of("the last chunk ending in a bare LF", "POST / HTTP/1.1\r\n" + HOST + "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\n\r\n", 400),
        Arguments.of("a trailer section ending in a bare LF", "POST / HTTP/1.1\r\n" + HOST + "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\n", 400));
  }

  /**
   * RFC 9110 section 10.1.1: {@code 100-continue} is the only expectation; a server MAY answer any
   * other 417. On a kept-alive connection whose client waits for the answer (as SDKs do), Jetty
   * 12.0.14's own refusal closed the connection with no answer at all (jetty/jetty.project issue
   * 13583); only a client that also half-closed got a 417.
   */
  @ParameterizedTest(name = "Expect: {0}")
  @org.junit.jupiter.params.provider.ValueSource(strings = {"banana", "100-continue, banana"})
  void anExpectationOtherThan100ContinueIs417InTheEnvelope(String expectation) throws IOException {
    try (var socket = new java.net.Socket("127.0.0.1", server.port())) {
      socket.setSoTimeout(20_000);
      socket.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: " + expectation
          + "\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}").getBytes(StandardCharsets.ISO_8859_1));
      socket.getOutputStream().flush();
      byte[] all = socket.getInputStream().readAllBytes(); // the server closes the connection after the refusal
      String answer = new String(all, StandardCharsets.ISO_8859_1);
      assertThat(answer).as("an answer, not a closed connection").startsWith("HTTP/1.1 417 ");
      JsonNode error = Json.readObject(java.util.Arrays.copyOfRange(all, answer.indexOf("\r\n\r\n") + 4, all.length)).get("error");
      assertThat(error.get("type").asText()).isEqualTo("invalid_request_error");
      assertThat(error.get("code").asText()).isEqualTo("417");
      assertThat(error.get("message").asText()).contains("Expect").contains("100-continue");
    }
  }

  /** {@code 100-continue}, in any case, is the expectation met: the request is served (after a 100 Continue, if the server sends one). */
  @Test
  void aHundredContinueExpectationIsServed() throws IOException {
    try (var socket = new java.net.Socket("127.0.0.1", server.port())) {
      socket.setSoTimeout(20_000);
      socket.getOutputStream().write(("POST / HTTP/1.1\r\n" + HOST + "Expect: 100-Continue\r\nContent-Length: 2\r\n\r\n{}")
          .getBytes(StandardCharsets.ISO_8859_1));
      socket.getOutputStream().flush();
      String answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
      assertThat(answer).as(answer).contains("HTTP/1.1 200 ").contains("\"ok\":true");
    }
  }

  /** LFs inside a body are the body's; a CRLF split across two TCP segments still ends its line. */
  @Test
  void lineFeedsInABodyAndACrlfSplitAcrossWritesAreAccepted() throws IOException, InterruptedException {
    String json = "{\n\"a\":\n1}\n";
    assertThat(LocalServerTest.raw(server.port(), "POST / HTTP/1.1\r\n" + HOST + "Content-Length: " + json.length() + "\r\n\r\n" + json).status())
        .isEqualTo(200);
    assertThat(LocalServerTest.raw(server.port(), "POST / HTTP/1.1\r\n" + HOST + "Transfer-Encoding: chunked\r\n\r\n"
        + Integer.toHexString(json.length()) + "\r\n" + json + "\r\n0\r\n\r\n").status()).isEqualTo(200);
    try (var socket = new java.net.Socket("127.0.0.1", server.port())) {
      socket.setSoTimeout(20_000);
      socket.setTcpNoDelay(true);
      var out = socket.getOutputStream();
      out.write("GET / HTTP/1.1\r".getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      Thread.sleep(100);
      out.write(("\n" + HOST + "\r").getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      Thread.sleep(100);
      out.write("\n".getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      assertThat(LocalServerTest.read(socket.getInputStream()).status()).isEqualTo(200);
    }
  }

  /**
   * Headers over the size are 431 wherever a read ends: the bare-LF guard once handed the refused
   * bytes back to Jetty when the overflow came mid-buffer, and the answer became another request's
   * 400 ("Unsupported Version"), depending on the reads' timing.
   */
  @org.junit.jupiter.params.provider.ValueSource(ints = {40, 700, 4_000, 8_100, 8_192, 9_000, 12_000, 16_300})
  @ParameterizedTest(name = "split after {0} bytes")
  void headersOverTheSizeAre431WhereverTheReadsSplitThem(int split) throws IOException, InterruptedException {
    byte[] request = ("GET / HTTP/1.1\r\n" + HOST + "X-Long: " + "b".repeat(LocalServer.MAX_HEADER_BYTES) + "\r\n\r\n")
        .getBytes(StandardCharsets.ISO_8859_1);
    try (var socket = new java.net.Socket("127.0.0.1", server.port())) {
      var out = socket.getOutputStream();
      out.write(request, 0, split);
      out.flush();
      Thread.sleep(50);
      try {
        out.write(request, split, request.length - split);
        out.flush();
      } catch (java.net.SocketException refusedAlready) {
        // The server may answer and close after the first part, once it holds more than the size.
      }
      LocalServerTest.Answer answer = LocalServerTest.read(socket.getInputStream());
      assertThat(answer.status()).as(new String(answer.body(), StandardCharsets.UTF_8)).isEqualTo(431);
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("refused")
  void isAnsweredInTheEnvelopeWithItsStatusAndNoJavaName(String what, String request, int status) throws IOException {
    LocalServerTest.Answer answer = sendAndEnd(request);
    String body = new String(answer.body(), StandardCharsets.UTF_8);
    assertThat(answer.status()).as(what + ": " + body).isEqualTo(status);
    assertThat(answer.header("content-type")).as(what).isEqualTo("application/json");
    assertThat(HostileInputTest.JAVA_INTERNALS.matcher(body).find()).as(what + ": no Java name in " + body).isFalse();
    JsonNode error = Json.readObject(answer.body()).get("error");
    assertThat(error.get("type").asText()).isEqualTo("invalid_request_error");
    assertThat(error.get("code").asText()).isEqualTo(Integer.toString(status));
    assertThat(error.get("message").asText()).isNotBlank();
    assertThat(error.has("param")).isTrue();
  }

  /**
   * The request, then the end of the client's output: a request that announced more body than it
   * sent is answered when the server sees that nothing more comes (or at once, when the announced
   * length is already refused).
   */
  private static LocalServerTest.Answer sendAndEnd(String request) throws IOException {
    try (var socket = new java.net.Socket("127.0.0.1", server.port())) {
      socket.setSoTimeout(20_000);
      socket.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
      socket.getOutputStream().flush();
      socket.shutdownOutput();
      return LocalServerTest.read(socket.getInputStream());
    }
  }

  @Test
  void onAnthropicsRouteTheRefusalIsInAnthropicsShape() throws IOException {
    LocalServerTest.Answer answer = sendAndEnd("POST /v1/messages HTTP/1.1\r\n" + HOST + "Content-Length: abc\r\n\r\n");
    assertThat(answer.status()).isEqualTo(400);
    JsonNode body = Json.readObject(answer.body());
    assertThat(body.get("type").asText()).isEqualTo("error");
    assertThat(body.get("error").get("type").asText()).isEqualTo("invalid_request_error");
    assertThat(body.get("error").get("message").asText()).contains("Content-Length");
  }

  @Test
  void aBrokenBodyAfterItsHeadersStillGetsTheEnvelope() throws IOException {
    // The headers are fine (the handler runs); the chunked body then breaks.
    LocalServerTest.Answer answer = LocalServerTest.raw(server.port(),
        "POST /v1/chat/completions HTTP/1.1\r\n" + HOST + "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\nnot-hex\r\n");
    assertThat(answer.status()).isEqualTo(400);
    assertThat(answer.error().get("code").asText()).isEqualTo("400");
    assertThat(HostileInputTest.JAVA_INTERNALS.matcher(new String(answer.body(), StandardCharsets.UTF_8)).find()).isFalse();
  }
}

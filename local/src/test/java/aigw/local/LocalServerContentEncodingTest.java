package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.http.CorsPolicy;
import aigw.core.http.GatewayApplication;
import aigw.core.http.GatewayResponse;
import aigw.core.json.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code Content-Encoding} on a request body over the wire (issue 15): a gzipped body was parsed as
 * plain JSON. The local server answers 415 before reading the body, checking every header line
 * (the application sees only the first).
 */
class LocalServerContentEncodingTest {
  private static final AtomicInteger ROUTED = new AtomicInteger();
  private static LocalServer server;

  @BeforeAll
  static void start() throws IOException {
    GatewayApplication app = GatewayApplication.of(CorsPolicy.allowing(List.of()), request -> {
      ROUTED.incrementAndGet();
      return GatewayResponse.json(200, Map.of("ok", true));
    });
    server = LocalServer.start("127.0.0.1", 0, app);
  }

  @AfterAll
  static void stop() {
    server.stop();
  }

  private static byte[] gzip(String text) throws IOException {
    var bytes = new ByteArrayOutputStream();
    try (var out = new GZIPOutputStream(bytes)) {
      out.write(text.getBytes(StandardCharsets.UTF_8));
    }
    return bytes.toByteArray();
  }

  private static LocalServerTest.Answer post(String path, String encodingLines, byte[] body) throws IOException {
    var request = new ByteArrayOutputStream();
    request.writeBytes(("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n" + encodingLines
        + "Content-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
    request.writeBytes(body);
    return LocalServerTest.raw(server.port(), request.toByteArray());
  }

  @Test
  void aGzippedChatBodyGets415InOpenAisEnvelope() throws IOException {
    int before = ROUTED.get();
    var answer = post("/v1/chat/completions", "Content-Encoding: gzip\r\n", gzip("{\"model\":\"m\",\"messages\":[]}"));
    assertThat(answer.status()).isEqualTo(415);
    assertThat(answer.header("accept-encoding")).isEqualTo("identity");
    assertThat(answer.error().get("code").asText()).isEqualTo("415");
    assertThat(answer.error().get("param").asText()).isEqualTo("Content-Encoding");
    assertThat(ROUTED.get()).isEqualTo(before);
  }

  @Test
  void aGzippedMessagesBodyGets415InAnthropicsShape() throws IOException {
    var answer = post("/v1/messages", "Content-Encoding: gzip\r\n", gzip("{}"));
    assertThat(answer.status()).isEqualTo(415);
    var body = Json.readObject(answer.body());
    assertThat(body.get("type").asText()).isEqualTo("error");
    assertThat(body.get("error").get("type").asText()).isEqualTo("invalid_request_error");
  }

  @Test
  void aCodingOnASecondHeaderLineIsSeenToo() throws IOException {
    var answer = post("/v1/chat/completions", "Content-Encoding: identity\r\nContent-Encoding: deflate\r\n", "{}".getBytes(StandardCharsets.UTF_8));
    assertThat(answer.status()).isEqualTo(415);
  }

  @Test
  void identityIsAnswered() throws IOException {
    assertThat(post("/v1/chat/completions", "Content-Encoding: identity\r\n", "{}".getBytes(StandardCharsets.UTF_8)).status()).isEqualTo(200);
  }
}

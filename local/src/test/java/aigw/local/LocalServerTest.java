package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.http.CorsPolicy;
import aigw.core.http.GatewayApplication;
import aigw.core.json.Json;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The local server's own answers, seen on the wire by a raw HTTP/1.1 client: every error it gives
 * by itself is in the OpenAI envelope, HEAD has no body, and CORS works as the
 * handlers do on Lambda.
 */
class LocalServerTest {
  private static final String PAGE = "http://localhost:5173";
  private static final String MASTER = "sk-local-server-test-master-key";
  private static LocalGateway gateway;

  @BeforeAll
  static void start() {
    var options = LocalOptions.parse(
        new String[] {"--in-memory", "--port", "0", "--cors-allowed-origins", PAGE + ",https://chat.example.com"},
        Map.of("AIGW_MASTER_KEY", MASTER));
    gateway = LocalGateway.start(options);
  }

  @AfterAll
  static void stop() {
    gateway.close();
  }

  /** One request on its own connection; the answer as the bytes arrived. */
  record Answer(int status, Map<String, String> headers, byte[] body) {
    JsonNode error() {
      return Json.readObject(body).get("error");
    }

    String header(String name) {
      return headers.get(name.toLowerCase(Locale.ROOT));
    }
  }

  static Answer raw(int port, byte[] request) throws IOException {
    try (var socket = new Socket("127.0.0.1", port)) {
      socket.setSoTimeout(20_000);
      OutputStream out = socket.getOutputStream();
      out.write(request);
      out.flush();
      return read(socket.getInputStream());
    }
  }

  static Answer raw(int port, String request) throws IOException {
    return raw(port, request.getBytes(StandardCharsets.ISO_8859_1));
  }

  static Answer read(InputStream in) throws IOException {
    byte[] all = in.readAllBytes(); // every request here says Connection: close
    String text = new String(all, StandardCharsets.ISO_8859_1);
    int end = text.indexOf("\r\n\r\n");
    String[] lines = text.substring(0, end).split("\r\n");
    var headers = new LinkedHashMap<String, String>();
    for (int i = 1; i < lines.length; i++) {
      int colon = lines[i].indexOf(':');
      headers.put(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).trim());
    }
    return new Answer(Integer.parseInt(lines[0].split(" ")[1]), headers, Arrays.copyOfRange(all, end + 4, all.length));
  }

  private static void assertEnvelope(Answer answer, int status, String type) {
    assertThat(answer.status()).isEqualTo(status);
    assertThat(answer.header("content-type")).isEqualTo("application/json");
    JsonNode error = answer.error();
    assertThat(error.get("type").asText()).isEqualTo(type);
    assertThat(error.get("code").asText()).isEqualTo(Integer.toString(status));
    assertThat(error.get("message").asText()).isNotBlank();
    assertThat(error.has("param")).isTrue();
  }

  /** The client's address reaches the application, as API Gateway's requestContext.identity.sourceIp does (the audit log's source IP). */
  @Test
  void theApplicationSeesTheClientsAddress() throws IOException {
    GatewayApplication echo = GatewayApplication.of(CorsPolicy.allowing(List.of()),
        request -> aigw.core.http.GatewayResponse.json(200, Map.of("source_ip", String.valueOf(request.sourceIp()))));
    LocalServer server = LocalServer.start("127.0.0.1", 0, echo);
    try {
      Answer answer = raw(server.port(), "POST /key/update HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      assertThat(answer.status()).isEqualTo(200);
      assertThat(Json.readObject(answer.body()).get("source_ip").asText()).isEqualTo("127.0.0.1");
    } finally {
      server.stop();
    }
  }

  /**
   * /team/*, /spend/*, /global/spend/* and /audit go to the admin function: without a key its routes
   * answer 401 in the envelope (the proxy function would not know them: 404).
   */
  @Test
  void theTeamSpendAndAuditRoutesReachTheAdminFunction() throws IOException {
    for (String route : List.of("POST /team/new", "GET /team/list", "GET /spend/logs", "GET /global/spend/keys", "GET /audit")) {
      Answer answer = raw(gateway.port(), route + " HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      assertThat(answer.status()).as(route).isEqualTo(401);
      assertThat(answer.error().get("type").asText()).as(route).isNotBlank();
    }
  }

  /**
   * A path under an admin resource that no route of the table names goes to the admin function,
   * which answers 404 in the envelope (LiteLLM has no /audit/logs: its route is GET /audit).
   */
  @Test
  void anUnknownPathUnderAnAdminResourceAnswers404InTheEnvelope() throws IOException {
    for (String route : List.of("POST /team/nothing", "GET /spend/nothing", "GET /global/spend/nothing", "GET /audit/logs")) {
      // No key: the admin function answers an unknown route before it asks for one.
      Answer answer = raw(gateway.port(), route + " HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      assertEnvelope(answer, 404, "not_found_error");
      assertThat(answer.error().get("message").asText()).as(route).isEqualTo("Unknown route " + route + ".");
    }
  }

  @Test
  void aBodyOverTheServersLimitGets413InTheEnvelope() throws IOException {
    byte[] head = ("POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nOrigin: " + PAGE + "\r\nContent-Type: application/json\r\n"
        + "Content-Length: " + (LocalServer.MAX_BODY_BYTES + 1) + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1);
    byte[] request = Arrays.copyOf(head, head.length + LocalServer.MAX_BODY_BYTES + 1);
    Arrays.fill(request, head.length, request.length, (byte) 'x');
    Answer answer = raw(gateway.port(), request);
    assertEnvelope(answer, 413, "invalid_request_error");
    // The route's own limit (AIGW_MAX_REQUEST_BYTES, 5 MiB by default), refused from the declared length.
    assertThat(answer.error().get("message").asText())
        .isEqualTo("Request body is " + (LocalServer.MAX_BODY_BYTES + 1) + " bytes; the limit is " + 5 * 1024 * 1024 + " bytes.");
    assertThat(answer.header("access-control-allow-origin")).isEqualTo(PAGE); // a page can read why
  }

  @Test
  void aBodyThatCannotBeReadGets400InTheEnvelope() throws IOException {
    Answer answer = raw(gateway.port(),
        "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz-not-a-chunk-size\r\n{}\r\n0\r\n\r\n");
    assertEnvelope(answer, 400, "invalid_request_error");
  }

  @Test
  void aBodyThatIsNotUtf8GetsA400InTheEnvelopeInsteadOfBeingRepaired() throws IOException {
    // JSON is UTF-8 (RFC 8259 8.1): the body reaches the application as sent, so a stray byte is
    // refused, not silently turned into U+FFFD and acted on.
    byte[] body = {'{', '"', 'k', 'e', 'y', '_', 'a', 'l', 'i', 'a', 's', '"', ':', '"', (byte) 0xff, '"', '}'};
    byte[] head = ("POST /key/generate HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + MASTER + "\r\nContent-Type: application/json\r\n"
        + "Content-Length: " + body.length + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1);
    byte[] request = Arrays.copyOf(head, head.length + body.length);
    System.arraycopy(body, 0, request, head.length, body.length);
    Answer answer = raw(gateway.port(), request);
    assertEnvelope(answer, 400, "invalid_request_error");
    assertThat(answer.error().get("message").asText()).contains("UTF-8");
  }

  @Test
  void anUnknownMethodGets405InTheEnvelopeWithAllow() throws IOException {
    for (String path : List.of("/v1/models", "/key/generate")) {
      Answer answer = raw(gateway.port(), "PROPFIND " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
      assertEnvelope(answer, 405, "invalid_request_error");
      assertThat(answer.header("allow")).as(path).isNotBlank();
    }
  }

  @Test
  void anUnknownPathGets404InTheEnvelope() throws IOException {
    assertEnvelope(raw(gateway.port(), "GET /nowhere HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"), 404, "not_found_error");
  }

  @Test
  void aHandlerThatCrashesGets502InTheEnvelopeWithCors() throws IOException {
    var cors = CorsPolicy.allowing(List.of(PAGE));
    LocalServer server = LocalServer.start("127.0.0.1", 0, GatewayApplication.of(cors, request -> {
      throw new StackOverflowError("a bug in a handler");
    }));
    try {
      Answer answer = raw(server.port(), "GET /v1/models HTTP/1.1\r\nHost: localhost\r\nOrigin: " + PAGE + "\r\nConnection: close\r\n\r\n");
      assertEnvelope(answer, 502, "internal_server_error");
      assertThat(answer.error().get("message").asText()).doesNotContain("a bug in a handler");
      assertThat(answer.header("access-control-allow-origin")).isEqualTo(PAGE);
    } finally {
      server.stop();
    }
  }

  @Test
  void headIsAnsweredWithoutBody() throws IOException {
    Answer health = raw(gateway.port(), "HEAD /health/liveliness HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    assertThat(health.status()).isEqualTo(200);
    assertThat(health.body()).isEmpty();
    Answer noKey = raw(gateway.port(), "HEAD /v1/models HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    assertThat(noKey.status()).isEqualTo(401);
    assertThat(noKey.body()).isEmpty();
    Answer master = raw(gateway.port(), "HEAD /key/list HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + MASTER + "\r\nConnection: close\r\n\r\n");
    assertThat(master.status()).isEqualTo(200);
    assertThat(master.body()).isEmpty();
  }

  @Test
  void aBrowserPreflightIsAnsweredOnEveryRouteWithoutAKey() throws IOException {
    for (String path : List.of("/v1/chat/completions", "/chat/completions", "/v1/models", "/key/generate", "/health/readiness")) {
      Answer answer = raw(gateway.port(), "OPTIONS " + path + " HTTP/1.1\r\nHost: localhost\r\nOrigin: " + PAGE
          + "\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: authorization, content-type, x-stainless-retry-count\r\nConnection: close\r\n\r\n");
      assertThat(answer.status()).as(path).isEqualTo(204);
      assertThat(answer.body()).isEmpty();
      assertThat(answer.header("access-control-allow-origin")).isEqualTo(PAGE);
      assertThat(answer.header("access-control-allow-methods")).isEqualTo("GET, HEAD, POST");
      assertThat(answer.header("access-control-allow-headers")).contains("authorization", "content-type", "x-stainless-retry-count");
      assertThat(answer.header("access-control-max-age")).isEqualTo("7200");
      assertThat(answer.header("vary")).contains("Origin");
    }
    Answer denied = raw(gateway.port(), "OPTIONS /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nOrigin: https://evil.example"
        + "\r\nAccess-Control-Request-Method: POST\r\nConnection: close\r\n\r\n");
    assertEnvelope(denied, 403, "auth_error");
    assertThat(denied.header("access-control-allow-origin")).isNull();
  }

  @Test
  void anActualAnswerCarriesAllowOriginForAConfiguredPageOnly() throws IOException {
    Answer allowed = raw(gateway.port(), "GET /v1/models HTTP/1.1\r\nHost: localhost\r\nOrigin: https://chat.example.com\r\nConnection: close\r\n\r\n");
    assertEnvelope(allowed, 401, allowed.error().get("type").asText());
    assertThat(allowed.header("access-control-allow-origin")).isEqualTo("https://chat.example.com");
    Answer other = raw(gateway.port(), "GET /v1/models HTTP/1.1\r\nHost: localhost\r\nOrigin: https://evil.example\r\nConnection: close\r\n\r\n");
    assertThat(other.status()).isEqualTo(401);
    assertThat(other.header("access-control-allow-origin")).isNull();
  }

  @Test
  void theCorsFlagWinsOverTheEnvironmentAndABadOriginIsRefusedAtParse() {
    var options = LocalOptions.parse(new String[] {"--cors-allowed-origins", "https://a.example"}, Map.of("AIGW_CORS_ALLOWED_ORIGINS", "https://b.example"));
    assertThat(options.env()).containsEntry("AIGW_CORS_ALLOWED_ORIGINS", "https://a.example");
    var bad = LocalOptions.parse(new String[] {"--in-memory", "--cors-allowed-origins", "https://a.example/app"}, Map.of());
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> LocalGateway.create(bad).close())
        .hasMessageContaining("AIGW_CORS_ALLOWED_ORIGINS")
        .hasMessageContaining("https://a.example/app");
  }
}

package aigw.core.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.json.Json;
import aigw.core.testing.Logs;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The server's half of the Fetch standard's CORS protocol, on the core's request and response. */
class CorsPolicyTest {
  private static final String APP = "https://chat.example.com";

  private static CorsPolicy allowing(String list) {
    return CorsPolicy.allowing(CorsPolicy.parseOrigins(list, "AIGW_CORS_ALLOWED_ORIGINS"));
  }

  private static GatewayRequest request(String method, Map<String, String> headers) {
    return new GatewayRequest(method, "/v1/chat/completions", headers, Map.of(), null, "req-1");
  }

  private static GatewayRequest preflight(String origin, String requestHeaders) {
    return request(
        "OPTIONS",
        requestHeaders == null
            ? Map.of("Origin", origin, "Access-Control-Request-Method", "POST")
            : Map.of("Origin", origin, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", requestHeaders));
  }

  @Test
  void originsAreReadAsBrowsersSendThem() {
    assertThat(CorsPolicy.parseOrigins(" https://Chat.Example.com/ , http://localhost:8080,https://a.example:443", "X"))
        .containsExactly("https://chat.example.com", "http://localhost:8080", "https://a.example");
    assertThat(CorsPolicy.parseOrigins("https://a.example, *", "X")).containsExactly("*");
    assertThat(CorsPolicy.parseOrigins("  ", "X")).isEmpty();
    assertThat(CorsPolicy.parseOrigins(null, "X")).isEmpty();
  }

  @Test
  void anEntryThatIsNotAnOriginStopsTheStartNamingIt() {
    for (String bad : List.of("https://chat.example.com/app", "chat.example.com", "https://a.example?x=1", "https://*.example.com", "null")) {
      assertThatThrownBy(() -> CorsPolicy.parseOrigins(bad, "AIGW_CORS_ALLOWED_ORIGINS"))
          .as(bad)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("AIGW_CORS_ALLOWED_ORIGINS")
          .hasMessageContaining(bad);
    }
  }

  @Test
  void offByDefaultNoHeaderAndNoPreflightAnswer() {
    var policy = CorsPolicy.allowing(CorsPolicy.parseOrigins(null, "X"));
    assertThat(policy).isSameAs(CorsPolicy.DISABLED);
    assertThat(policy.preflight(preflight(APP, null))).isEmpty();
    var response = GatewayResponse.json(200, Json.bytes(Map.of("ok", true)));
    assertThat(policy.onResponse(request("POST", Map.of("Origin", APP)), response)).isSameAs(response);
  }

  @Test
  void preflightFromAnAllowedOriginGets204WithWhatTheSdkSends() {
    var answer =
        allowing(APP + ",http://localhost:5173")
            .preflight(preflight(APP, "authorization,content-type,x-stainless-arch,x-stainless-retry-count,x-unknown-thing"))
            .orElseThrow();
    assertThat(answer.status()).isEqualTo(204);
    assertThat(answer.body()).isEmpty();
    assertThat(answer.headers())
        .containsEntry("Access-Control-Allow-Origin", APP)
        .containsEntry("Access-Control-Allow-Methods", "GET, HEAD, POST")
        .containsEntry("Access-Control-Max-Age", "7200")
        .containsEntry("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
    assertThat(answer.headers().get("Access-Control-Allow-Headers").split(", "))
        .containsExactlyInAnyOrder(
            "authorization", "x-api-key", "api-key", "content-type", "x-stainless-arch", "x-stainless-retry-count");
  }

  @Test
  void preflightFromAnotherOriginGets403AndNoAllowOrigin() {
    var answer = allowing(APP).preflight(preflight("https://evil.example", null)).orElseThrow();
    assertThat(answer.status()).isEqualTo(403);
    assertThat(answer.headers()).doesNotContainKey("Access-Control-Allow-Origin").containsKey("Vary");
    // As the handlers finish every answer: the denial keeps one Vary with Origin once.
    var finished = allowing(APP).onResponse(preflight("https://evil.example", null), answer);
    assertThat(finished.headers()).containsEntry("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
    var error = Json.readObject(answer.body()).get("error");
    assertThat(error.get("message").asText()).contains("https://evil.example").contains("AIGW_CORS_ALLOWED_ORIGINS");
    assertThat(error.get("code").asText()).isEqualTo("403");
  }

  @Test
  void optionsWithoutRequestMethodIsNotAPreflight() {
    assertThat(allowing(APP).preflight(request("OPTIONS", Map.of("Origin", APP)))).isEmpty();
    assertThat(allowing(APP).preflight(request("OPTIONS", Map.of("Access-Control-Request-Method", "POST")))).isEmpty();
  }

  @Test
  void anActualAnswerFromAnAllowedOriginExposesItsHeaders() {
    var error = GatewayResponse.json(429, Json.bytes(Map.of("error", "x"))).withHeader("Retry-After", "3");
    var answer = allowing(APP).onResponse(request("POST", Map.of("Origin", APP)), error);
    assertThat(answer.headers())
        .containsEntry("Access-Control-Allow-Origin", APP)
        .containsEntry("Access-Control-Expose-Headers", "Retry-After")
        .containsEntry("Vary", "Origin")
        .doesNotContainKey("Access-Control-Allow-Credentials");
  }

  @Test
  void anActualAnswerToAnotherOriginOrNoOriginCarriesOnlyVary() {
    var response = GatewayResponse.json(200, Json.bytes(Map.of("ok", true)));
    var policy = allowing(APP);
    assertThat(policy.onResponse(request("POST", Map.of("Origin", "https://evil.example")), response).headers())
        .doesNotContainKeys("Access-Control-Allow-Origin", "Access-Control-Expose-Headers")
        .containsEntry("Vary", "Origin");
    assertThat(policy.onResponse(request("POST", Map.of()), response).headers()).doesNotContainKey("Access-Control-Allow-Origin");
  }

  @Test
  void anyOriginAnswersStarNeverTheReflectedOriginAndWarnsOnce() {
    var logs = Logs.messages(CorsPolicy.class, () -> {
      var policy = allowing("*");
      assertThat(policy.preflight(preflight("https://anything.example", null)).orElseThrow().headers())
          .containsEntry("Access-Control-Allow-Origin", "*");
      assertThat(policy.onResponse(request("GET", Map.of("Origin", "https://anything.example")), GatewayResponse.json(200, new byte[] {'1'})).headers())
          .containsEntry("Access-Control-Allow-Origin", "*");
    });
    assertThat(logs).hasSize(1);
    assertThat(logs.get(0)).contains("every web page");
  }
}

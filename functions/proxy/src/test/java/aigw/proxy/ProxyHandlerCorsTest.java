package aigw.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.GatewaySettings;
import aigw.core.http.CorsPolicy;
import aigw.core.json.Json;
import aigw.core.testing.Events;
import aigw.core.testing.LocalDynamo;
import aigw.core.testing.MutableClock;
import aigw.core.testing.TestGateways;
import aigw.core.apigateway.ProxyRequestEvent;
import aigw.core.apigateway.ProxyResponseEvent;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A browser page calling the proxy function through API Gateway's ANY method: CORS preflights,
 * the CORS headers of actual answers (errors included), and HEAD.
 */
class ProxyHandlerCorsTest {
  private static final String PAGE = "https://chat.example.com";
  private LocalDynamo dynamo;
  private MutableClock clock;

  @BeforeEach
  void setUp() {
    dynamo = new LocalDynamo();
    clock = MutableClock.at("2026-05-01T12:00:00Z");
  }

  @AfterEach
  void tearDown() {
    dynamo.close();
  }

  /** The proxy function as its Lambda constructor builds it, with these extra environment variables. */
  private ProxyHandler handler(Map<String, String> env) {
    var all = new HashMap<>(env);
    all.put("AIGW_KEYS_TABLE", dynamo.keysTable());
    var gateway = TestGateways.gateway(GatewaySettings.fromEnvironment(all), dynamo, List.of(TestGateways.openAi("gpt-4o-mini", "gpt-4o-mini", "http://127.0.0.1:1/v1")), clock);
    TestGateways.storeKey(gateway, Events.EVENTS_VIRTUAL_KEY, List.of(), null, false);
    return new ProxyHandler(new ProxyService(gateway), CorsPolicy.allowing(gateway.settings().corsAllowedOrigins()));
  }

  private static ProxyRequestEvent event(String method, String path, Map<String, String> headers) {
    var multi = new HashMap<String, List<String>>();
    headers.forEach((name, value) -> multi.put(name, List.of(value)));
    return new ProxyRequestEvent()
        .withHttpMethod(method)
        .withPath(path)
        .withHeaders(new HashMap<>(headers))
        .withMultiValueHeaders(multi)
        .withRequestContext(new ProxyRequestEvent.ProxyRequestContext().withRequestId("req-cors"));
  }

  private static Map<String, String> preflightFrom(String origin) {
    return Map.of(
        "Origin", origin,
        "Access-Control-Request-Method", "POST",
        "Access-Control-Request-Headers", "authorization,content-type,x-stainless-os,x-stainless-lang");
  }

  @Test
  void preflightOnEveryRouteGets204WithoutAnyKey() {
    var handler = handler(Map.of("AIGW_CORS_ALLOWED_ORIGINS", PAGE + ", http://localhost:5173"));
    for (String path : List.of("/v1/chat/completions", "/chat/completions", "/v1/embeddings", "/v1/models", "/models", "/v1/no-such-route")) {
      ProxyResponseEvent response = handler.handleRequest(event("OPTIONS", path, preflightFrom(PAGE)), null);
      assertThat(response.getStatusCode()).as(path).isEqualTo(204);
      assertThat(response.getBody()).as(path).isEmpty();
      assertThat(response.getHeaders())
          .as(path)
          .containsEntry("Access-Control-Allow-Origin", PAGE)
          .containsEntry("Access-Control-Allow-Methods", "GET, HEAD, POST")
          .containsEntry("Access-Control-Max-Age", "7200")
          .containsKey("Vary");
      assertThat(response.getHeaders().get("Access-Control-Allow-Headers"))
          .contains("authorization", "x-api-key", "api-key", "content-type", "x-stainless-os", "x-stainless-lang");
    }
  }

  @Test
  void preflightFromAnOriginNotConfiguredGets403InTheEnvelopeAndNoAllowOrigin() {
    var response = handler(Map.of("AIGW_CORS_ALLOWED_ORIGINS", PAGE)).handleRequest(event("OPTIONS", "/v1/chat/completions", preflightFrom("https://evil.example")), null);
    assertThat(response.getStatusCode()).isEqualTo(403);
    assertThat(response.getHeaders()).doesNotContainKey("Access-Control-Allow-Origin");
    assertThat(Json.readObject(response.getBody().getBytes()).at("/error/code").asText()).isEqualTo("403");
  }

  @Test
  void errorsAndAnswersCarryAllowOriginForAnAllowedPageOnly() {
    var handler = handler(Map.of("AIGW_CORS_ALLOWED_ORIGINS", PAGE));
    var noKey = handler.handleRequest(event("POST", "/v1/chat/completions", Map.of("Origin", PAGE, "Content-Type", "application/json")), null);
    assertThat(noKey.getStatusCode()).isEqualTo(401);
    assertThat(Json.readObject(noKey.getBody().getBytes()).at("/error/code").asText()).isEqualTo("401");
    assertThat(noKey.getHeaders()).containsEntry("Access-Control-Allow-Origin", PAGE).containsEntry("Vary", "Origin");

    var wrongMethod = handler.handleRequest(event("GET", "/v1/chat/completions", Map.of("Origin", PAGE)), null);
    assertThat(wrongMethod.getStatusCode()).isEqualTo(405);
    assertThat(wrongMethod.getHeaders())
        .containsEntry("Access-Control-Allow-Origin", PAGE)
        .containsEntry("Access-Control-Expose-Headers", "Allow");

    var models = handler.handleRequest(
        event("GET", "/v1/models", Map.of("Origin", PAGE, "Authorization", "Bearer " + Events.EVENTS_VIRTUAL_KEY)), null);
    assertThat(models.getStatusCode()).isEqualTo(200);
    assertThat(models.getHeaders()).containsEntry("Access-Control-Allow-Origin", PAGE);

    var otherPage = handler.handleRequest(
        event("GET", "/v1/models", Map.of("Origin", "https://evil.example", "Authorization", "Bearer " + Events.EVENTS_VIRTUAL_KEY)), null);
    assertThat(otherPage.getStatusCode()).isEqualTo(200);
    assertThat(otherPage.getHeaders()).doesNotContainKey("Access-Control-Allow-Origin").containsEntry("Vary", "Origin");
  }

  @Test
  void withoutConfigurationThereIsNoCorsAtAll() {
    var handler = handler(Map.of());
    var preflight = handler.handleRequest(event("OPTIONS", "/v1/chat/completions", preflightFrom(PAGE)), null);
    assertThat(preflight.getStatusCode()).isEqualTo(405); // the route's own answer: POST only
    assertThat(preflight.getHeaders()).noneSatisfy((name, value) -> assertThat(name).startsWithIgnoringCase("Access-Control-"));
    var models = handler.handleRequest(
        event("GET", "/v1/models", Map.of("Origin", PAGE, "Authorization", "Bearer " + Events.EVENTS_VIRTUAL_KEY)), null);
    assertThat(models.getHeaders()).noneSatisfy((name, value) -> assertThat(name).startsWithIgnoringCase("Access-Control-")).doesNotContainKey("Vary");
  }

  @Test
  void headIsAnsweredAsGetWithoutTheBody() {
    var handler = handler(Map.of());
    var get = handler.handleRequest(event("GET", "/v1/models", Map.of("Authorization", "Bearer " + Events.EVENTS_VIRTUAL_KEY)), null);
    var head = handler.handleRequest(event("HEAD", "/v1/models", Map.of("Authorization", "Bearer " + Events.EVENTS_VIRTUAL_KEY)), null);
    assertThat(get.getStatusCode()).isEqualTo(200);
    assertThat(get.getBody()).contains("gpt-4o-mini");
    assertThat(head.getStatusCode()).isEqualTo(200);
    assertThat(head.getHeaders()).isEqualTo(get.getHeaders());
    assertThat(head.getBody()).isEmpty();

    var headWithoutKey = handler.handleRequest(event("HEAD", "/v1/models", Map.of()), null);
    assertThat(headWithoutKey.getStatusCode()).isEqualTo(401);
    assertThat(headWithoutKey.getBody()).isEmpty();
    var headOnPostRoute = handler.handleRequest(event("HEAD", "/v1/chat/completions", Map.of()), null);
    assertThat(headOnPostRoute.getStatusCode()).isEqualTo(405);
    assertThat(headOnPostRoute.getHeaders()).containsEntry("Allow", "POST");
  }
}

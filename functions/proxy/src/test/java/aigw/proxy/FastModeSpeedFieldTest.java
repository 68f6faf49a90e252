package aigw.proxy;

import static com.github.tomakehurst.wiremock.client.WireMock.*;
import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.Gateway;
import aigw.core.GatewaySettings;
import aigw.core.config.Deployment;
import aigw.core.config.Provider;
import aigw.core.config.RoutingFields;
import aigw.core.http.CorsPolicy;
import aigw.core.http.GatewayApplication;
import aigw.core.http.GatewayRequest;
import aigw.core.http.GatewayResponse;
import aigw.core.json.Json;
import aigw.core.testing.LocalDynamo;
import aigw.core.testing.MutableClock;
import aigw.core.testing.TestGateways;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A key limited to a Claude model cannot make Anthropic run it in fast mode ({@code "speed":
 * "fast"} with {@code anthropic-beta: fast-mode-2026-02-01}: six times the standard price on Opus
 * 4.6), which the gateway would cost at the standard price, so a $1 budget bought $6 of calls. Found
 * by the attacker's review (issue 15, finding 1's kind): {@code /v1/messages} passes the client's body
 * through to Anthropic, and OpenRouter takes the same field.
 */
class FastModeSpeedFieldTest {
  private static final String KEY = "sk-aigw-fast-mode-test-key-0001";
  private static final String PROVIDER_KEY = "sk-ant-provider-credential-0001";
  private static final String MESSAGE =
      """
      {"id":"msg_1","type":"message","role":"assistant","model":"claude-opus-4-6","content":[{"type":"text","text":"Hi"}],
       "stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":5}}""";
  private static final String COMPLETION =
      """
      {"id":"c","object":"chat.completion","created":1,"model":"m",
       "choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],
       "usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}""";

  private static WireMockServer upstream;
  private LocalDynamo dynamo;

  @BeforeAll
  static void startUpstream() {
    upstream = aigw.core.testing.Upstream.start();
  }

  @AfterAll
  static void stopUpstream() {
    upstream.stop();
  }

  @BeforeEach
  void setUp() {
    upstream.resetAll();
    upstream.stubFor(post("/v1/messages").willReturn(okJson(MESSAGE)));
    upstream.stubFor(post("/v1/chat/completions").willReturn(okJson(COMPLETION)));
    dynamo = new LocalDynamo();
  }

  @AfterEach
  void tearDown() {
    dynamo.close();
  }

  private GatewayApplication app(RoutingFields allowed) {
    GatewaySettings settings = TestGateways.settings(dynamo).withAllowedRoutingFields(allowed);
    Gateway gateway =
        TestGateways.gateway(settings, dynamo, List.of(
            new Deployment("opus", Provider.ANTHROPIC, "claude-opus-4-6", URI.create(upstream.baseUrl()), PROVIDER_KEY,
                "os.environ/ANTHROPIC_API_KEY", Duration.ofSeconds(5)),
            new Deployment("cheap", Provider.OPENROUTER, "anthropic/claude-opus-4.6", URI.create(upstream.baseUrl() + "/v1"),
                PROVIDER_KEY, "os.environ/OPENROUTER_API_KEY", Duration.ofSeconds(5))),
            MutableClock.at("2026-05-01T12:00:00Z"));
    TestGateways.storeKey(gateway, KEY, List.of("opus", "cheap"), null, false);
    return GatewayApplication.of(CorsPolicy.DISABLED, new ProxyService(gateway)::handle);
  }

  private static GatewayResponse send(GatewayApplication app, String path, String body) {
    var headers = new HashMap<String, String>(Map.of(
        "x-api-key", KEY, "anthropic-version", "2023-06-01", "anthropic-beta", "fast-mode-2026-02-01", "content-type", "application/json"));
    return app.handle(new GatewayRequest("POST", path, headers, Map.of(), body.getBytes(StandardCharsets.UTF_8), "req-fast-1")).buffered();
  }

  private static String messages(String speed) {
    return "{\"model\":\"opus\",\"max_tokens\":100,\"speed\":" + speed + ",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
  }

  @Test
  void fastModeOnAPassedThroughMessagesRequestIsRefusedInAnthropicsShapeAndNeverReachesAnthropic() throws Exception {
    var response = send(app(RoutingFields.noneAllowed()), "/v1/messages", messages("\"fast\""));

    assertThat(response.status()).as(response.bodyText()).isEqualTo(400);
    JsonNode body = Json.MAPPER.readTree(response.body());
    assertThat(body.path("type").asText()).as("Anthropic's error shape").isEqualTo("error");
    assertThat(body.path("error").path("type").asText()).isEqualTo("invalid_request_error");
    assertThat(body.path("error").path("message").asText()).contains("'speed'", "'opus'", "AIGW_ALLOWED_ROUTING_FIELDS=anthropic:speed");
    upstream.verify(0, anyRequestedFor(anyUrl()));
  }

  @Test
  void theStandardSpeedIsPassedThrough() {
    var response = send(app(RoutingFields.noneAllowed()), "/v1/messages", messages("\"standard\""));

    assertThat(response.status()).as(response.bodyText()).isEqualTo(200);
    upstream.verify(1, postRequestedFor(urlEqualTo("/v1/messages")).withRequestBody(containing("\"speed\":\"standard\"")));
  }

  @Test
  void fastModeTheOperatorAllowsIsPassedThrough() {
    var response = send(app(RoutingFields.parse("anthropic:speed")), "/v1/messages", messages("\"fast\""));

    assertThat(response.status()).as(response.bodyText()).isEqualTo(200);
    upstream.verify(1, postRequestedFor(urlEqualTo("/v1/messages"))
        .withHeader("anthropic-beta", equalTo("fast-mode-2026-02-01")).withRequestBody(containing("\"speed\":\"fast\"")));
  }

  @Test
  void fastModeThroughOpenRouterIsRefusedNamingTheField() throws Exception {
    var response = send(app(RoutingFields.noneAllowed()), "/v1/chat/completions",
        "{\"model\":\"cheap\",\"speed\":\"fast\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");

    assertThat(response.status()).as(response.bodyText()).isEqualTo(400);
    JsonNode error = Json.MAPPER.readTree(response.body()).path("error");
    assertThat(error.path("param").asText()).isEqualTo("speed");
    assertThat(error.path("message").asText()).contains("openrouter", "AIGW_ALLOWED_ROUTING_FIELDS=openrouter:speed");
    upstream.verify(0, anyRequestedFor(anyUrl()));
  }
}

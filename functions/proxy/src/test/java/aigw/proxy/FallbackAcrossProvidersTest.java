package aigw.proxy;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.Gateway;
import aigw.core.config.Deployment;
import aigw.core.config.ModelList;
import aigw.core.config.Provider;
import aigw.core.config.RouterSettings;
import aigw.core.http.CorsPolicy;
import aigw.core.http.GatewayApplication;
import aigw.core.http.GatewayRequest;
import aigw.core.http.GatewayResponse;
import aigw.core.json.Json;
import aigw.core.providers.Providers;
import aigw.core.providers.http.UpstreamHttp;
import aigw.core.secrets.StaticSecretSource;
import aigw.core.testing.LocalDynamo;
import aigw.core.testing.MutableClock;
import aigw.core.testing.TestGateways;
import aigw.core.testing.Upstream;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A model group whose {@code fallbacks} name a group of another provider: whatever the client's
 * protocol, the whole call (the group and its fallbacks) is judged once, so a fallback never gets
 * a request in a protocol its provider does not speak, and a routing field refused for the
 * fallback's provider is refused before the first deployment is called.
 */
class FallbackAcrossProvidersTest {
  private static final String KEY = "sk-aigw-fallback-providers-key-0001";
  private static WireMockServer wiremock;

  private LocalDynamo dynamo;
  private GatewayApplication app;

  @BeforeAll
  static void startWireMock() {
    wiremock = Upstream.start();
  }

  @AfterAll
  static void stopWireMock() {
    wiremock.stop();
  }

  @BeforeEach
  void setUp() {
    wiremock.resetAll();
    dynamo = new LocalDynamo();
    var claude = new Deployment("claude", Provider.ANTHROPIC, "claude-sonnet-4-5", URI.create(wiremock.baseUrl() + "/anthropic"),
        "sk-ant-provider-credential-0001", "os.environ/ANTHROPIC_API_KEY", Duration.ofSeconds(5));
    var gpt = TestGateways.openAi("gpt", "gpt-4o-mini", wiremock.baseUrl() + "/openai/v1");
    var openRouter = new Deployment("router", Provider.OPENROUTER, "openai/gpt-4o-mini", URI.create(wiremock.baseUrl() + "/openrouter/v1"),
        "sk-or-provider-credential-0001", "os.environ/OPENROUTER_API_KEY", Duration.ofSeconds(5));
    var settings = new RouterSettings(0, Map.of("claude", List.of("gpt"), "gpt", List.of("router")), Map.of(), 3,
        Duration.ofSeconds(5), Duration.ZERO, false, 5);
    Gateway gateway = Gateway.over(
        TestGateways.settings(dynamo), dynamo.client(), StaticSecretSource.of(TestGateways.MASTER_KEY),
        new ModelList.Config(List.of(claude, gpt, openRouter), settings), new Providers(UpstreamHttp.defaultHttpClient()),
        MutableClock.at("2026-05-01T12:00:00Z"));
    app = GatewayApplication.of(CorsPolicy.DISABLED, new ProxyService(gateway)::handle);
    TestGateways.storeKey(gateway, KEY, List.of(), null, false);
  }

  @AfterEach
  void tearDown() {
    dynamo.close();
  }

  private GatewayResponse send(String path, String body) {
    return app.handle(new GatewayRequest("POST", path, Map.of("Authorization", "Bearer " + KEY), Map.of(),
        body.getBytes(StandardCharsets.UTF_8), "req-fallback-1")).buffered();
  }

  private static JsonNode json(GatewayResponse response) throws Exception {
    return Json.MAPPER.readTree(response.body());
  }

  private static void gptAnswers(String text) {
    wiremock.stubFor(post(urlEqualTo("/openai/v1/chat/completions")).willReturn(okJson("""
        {"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini",
         "choices":[{"index":0,"message":{"role":"assistant","content":"%s"},"finish_reason":"stop"}],
         "usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}""".formatted(text))));
  }

  @Test
  void anAnthropicModelWhoseFallbackIsOpenAiIsTranslatedSoTheFallbackAnswersAMessagesRequest() throws Exception {
    wiremock.stubFor(post(urlEqualTo("/anthropic/v1/messages")).willReturn(aResponse().withStatus(529)
        .withHeader("Content-Type", "application/json")
        .withBody("{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}")));
    gptAnswers("Hello from the fallback");

    var response = send("/v1/messages", """
        {"model":"claude","max_tokens":64,"messages":[{"role":"user","content":"Hi"}]}""");

    assertThat(response.status()).as(response.bodyText()).isEqualTo(200);
    assertThat(json(response).path("type").asText()).isEqualTo("message");
    assertThat(json(response).at("/content/0/text").asText()).isEqualTo("Hello from the fallback");
    // Anthropic was asked first, with a body the gateway built (not the client's passed through)
    wiremock.verify(1, postRequestedFor(urlEqualTo("/anthropic/v1/messages")));
    wiremock.verify(1, postRequestedFor(urlEqualTo("/openai/v1/chat/completions")));
  }

  @Test
  void countTokensIsRefusedForAModelWhoseFallbackHasNoTokenCounting() throws Exception {
    var response = send("/v1/messages/count_tokens", """
        {"model":"claude","messages":[{"role":"user","content":"Hi"}]}""");

    assertThat(response.status()).isEqualTo(400);
    assertThat(json(response).at("/error/message").asText()).contains("only available for models served by Anthropic").contains("openai");
    wiremock.verify(0, postRequestedFor(urlEqualTo("/anthropic/v1/messages/count_tokens")));
  }

  @Test
  void aResponsesRequestToAnOpenAiModelWhoseFallbackHasNoResponsesApiIsTranslated() throws Exception {
    gptAnswers("Translated");

    var response = send("/v1/responses", """
        {"model":"gpt","input":"Hi"}""");

    assertThat(response.status()).as(response.bodyText()).isEqualTo(200);
    assertThat(json(response).path("object").asText()).isEqualTo("response");
    assertThat(json(response).at("/output/0/content/0/text").asText()).isEqualTo("Translated");
    wiremock.verify(0, postRequestedFor(urlEqualTo("/openai/v1/responses")));
    wiremock.verify(1, postRequestedFor(urlEqualTo("/openai/v1/chat/completions")));
  }

  @Test
  void aRoutingFieldTheFallbacksProviderWouldHonourIsRefusedBeforeAnyDeploymentIsCalled() throws Exception {
    gptAnswers("unused");

    var response = send("/v1/chat/completions", """
        {"model":"gpt","models":["anthropic/claude-opus-4"],"route":"fallback","messages":[{"role":"user","content":"Hi"}]}""");

    assertThat(response.status()).isEqualTo(400);
    assertThat(json(response).at("/error/param").asText()).isIn("models", "route");
    wiremock.verify(0, postRequestedFor(urlEqualTo("/openai/v1/chat/completions")));
  }
}

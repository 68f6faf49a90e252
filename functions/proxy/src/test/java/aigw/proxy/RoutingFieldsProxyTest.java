package aigw.proxy;

import static com.github.tomakehurst.wiremock.client.WireMock.*;
import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.Gateway;
import aigw.core.config.Deployment;
import aigw.core.config.Provider;
import aigw.core.config.RoutingFields;
import aigw.core.json.Json;
import aigw.core.testing.Events;
import aigw.core.testing.LocalDynamo;
import aigw.core.testing.MutableClock;
import aigw.core.testing.TestGateways;
import aigw.core.apigateway.ProxyResponseEvent;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A key restricted to {@code cheap} cannot make the provider run other models or price tiers
 * through body fields (issue 15, finding 1): the audit's input, then each field of {@link RoutingFields}.
 */
class RoutingFieldsProxyTest {
  private static final String KEY = Events.EVENTS_VIRTUAL_KEY;
  private static final String COMPLETION =
      """
      {"id":"c","object":"chat.completion","created":1,"model":"m",
       "choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"finish_reason":"stop"}],
       "usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}
      """;

  private static WireMockServer upstream;
  private LocalDynamo dynamo;
  private ProxyHandler handler;

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
    upstream.stubFor(post("/v1/chat/completions").willReturn(okJson(COMPLETION)));
    dynamo = new LocalDynamo();
    handler = handlerAllowing(RoutingFields.noneAllowed());
  }

  @AfterEach
  void tearDown() {
    dynamo.close();
  }

  private ProxyHandler handlerAllowing(RoutingFields allowed) {
    var models =
        List.of(
            new Deployment("cheap", Provider.OPENROUTER, "meta-llama/llama-3.1-8b-instruct", URI.create(upstream.baseUrl() + "/v1"),
                "sk-upstream-test-credential", "test", Duration.ofSeconds(5)),
            TestGateways.openAi("gpt-4o-mini", "gpt-4o-mini", upstream.baseUrl() + "/v1"),
            new Deployment("llama", Provider.MISTRAL, "mistral-small", URI.create(upstream.baseUrl() + "/v1"),
                "sk-upstream-test-credential", "test", Duration.ofSeconds(5)),
            new Deployment("fast", Provider.GROQ, "llama-3.3-70b-versatile", URI.create(upstream.baseUrl() + "/v1"),
                "sk-upstream-test-credential", "test", Duration.ofSeconds(5)));
    Gateway gateway =
        TestGateways.gateway(TestGateways.settings(dynamo).withAllowedRoutingFields(allowed), dynamo, models, MutableClock.at("2026-05-01T12:00:00Z"));
    TestGateways.storeKey(gateway, KEY, List.of("cheap", "gpt-4o-mini", "llama", "fast"), null, false);
    return new ProxyHandler(new ProxyService(gateway));
  }

  private ProxyResponseEvent send(String body) {
    return handler.handleRequest(Events.withBody(Events.load("proxy-chat-completions.json"), body), null);
  }

  private static JsonNode error(ProxyResponseEvent response) throws Exception {
    JsonNode error = Json.MAPPER.readTree(response.getBody()).get("error");
    assertThat(error).as(response.getBody()).isNotNull();
    assertThat(error.get("code").asText()).isEqualTo(Integer.toString(response.getStatusCode()));
    return error;
  }

  @Test
  void theAuditsFallbackToOtherModelsIsRefusedAndNeverReachesOpenRouter() throws Exception {
    var response =
        send("{\"model\":\"cheap\",\"models\":[\"openai/o1-pro\",\"anthropic/claude-opus-4\"],\"route\":\"fallback\","
            + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    assertThat(response.getStatusCode()).isEqualTo(400);
    JsonNode error = error(response);
    assertThat(error.get("type").asText()).isEqualTo("invalid_request_error");
    assertThat(error.get("param").asText()).isEqualTo("models");
    assertThat(error.get("message").asText()).contains("'models'", "'cheap'", "openrouter", "AIGW_ALLOWED_ROUTING_FIELDS=openrouter:models");
    upstream.verify(0, anyRequestedFor(anyUrl()));
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "cheap|route|\"fallback\"",
        "cheap|provider|{\"order\":[\"openai\"],\"allow_fallbacks\":true}",
        "cheap|plugins|[{\"id\":\"web\"}]",
        "cheap|preset|\"expensive-preset\"",
        "cheap|service_tier|\"priority\"",
        "gpt-4o-mini|service_tier|\"priority\"",
        "gpt-4o-mini|service_tier|\"flex\"",
        "gpt-4o-mini|service_tier|\"scale\"",
        "gpt-4o-mini|service_tier|{\"tier\":\"priority\"}",
        "fast|service_tier|\"performance\"",
      })
  void eachFieldThatChoosesAnotherModelOrTierIsRefusedNamingIt(String model, String field, String value) throws Exception {
    var response = send("{\"model\":\"" + model + "\",\"" + field + "\":" + value + ",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    assertThat(response.getStatusCode()).as(response.getBody()).isEqualTo(400);
    assertThat(error(response).get("param").asText()).isEqualTo(field);
    upstream.verify(0, anyRequestedFor(anyUrl()));
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "gpt-4o-mini|service_tier|\"auto\"",
        "gpt-4o-mini|service_tier|\"default\"",
        "cheap|service_tier|null",
        "gpt-4o-mini|models|[\"o1-pro\"]", // OpenAI has no fallback field: its own 4xx judges it
        "llama|route|\"fallback\"",
        "fast|service_tier|\"flex\"", // Groq's flex is priced as on_demand
      })
  void harmlessValuesAndFieldsTheProviderDoesNotRouteOnPassUnchanged(String model, String field, String value) {
    String body = "{\"model\":\"" + model + "\",\"" + field + "\":" + value + ",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    var response = send(body);
    assertThat(response.getStatusCode()).as(response.getBody()).isEqualTo(200);
    upstream.verify(1, postRequestedFor(urlEqualTo("/v1/chat/completions")).withRequestBody(containing("\"" + field + "\":" + value)));
  }

  @Test
  void aFieldTheOperatorAllowsForTheProviderReachesItByteForByte() throws Exception {
    dynamo.close();
    dynamo = new LocalDynamo();
    handler = handlerAllowing(RoutingFields.parse("openrouter:models,route;openai:service_tier"));
    String body =
        "{\"model\":\"cheap\",\"models\":[\"openai/o1-pro\",\"anthropic/claude-opus-4\"],\"route\":\"fallback\","
            + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    assertThat(send(body).getStatusCode()).isEqualTo(200);
    var received = upstream.findAll(postRequestedFor(urlEqualTo("/v1/chat/completions")));
    assertThat(received.get(0).getBodyAsString()).isEqualTo(body.replace("\"cheap\"", "\"meta-llama/llama-3.1-8b-instruct\""));
    // Allowed for openrouter only: provider is still refused there.
    var provider = send("{\"model\":\"cheap\",\"provider\":{\"sort\":\"price\"},\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    assertThat(provider.getStatusCode()).isEqualTo(400);
    assertThat(error(provider).get("param").asText()).isEqualTo("provider");
  }

  @Test
  void aMistakeInTheOperatorsSettingIsNamedAtStart() {
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> RoutingFields.parse("openrouter:modles"))
        .hasMessageContaining("'modles' is not a routing field of openrouter");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> RoutingFields.parse("nosuch:models"))
        .hasMessageContaining("AIGW_ALLOWED_ROUTING_FIELDS");
  }
}

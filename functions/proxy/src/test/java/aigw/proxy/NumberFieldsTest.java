package aigw.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.Gateway;
import aigw.core.http.CorsPolicy;
import aigw.core.http.GatewayApplication;
import aigw.core.http.GatewayRequest;
import aigw.core.http.GatewayResponse;
import aigw.core.json.Json;
import aigw.core.testing.LocalDynamo;
import aigw.core.testing.MutableClock;
import aigw.core.testing.TestGateways;
import aigw.core.testing.Upstream;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Numbers out of their documented range in the fields the gateway reads or forwards (issue 15:
 * {@code "max_tokens": 1e999999} went to the provider as sent): each inbound protocol answers 400
 * in its envelope naming the field, and the provider is never called.
 */
class NumberFieldsTest {
  private static final String KEY = "sk-aigw-number-fields-test-0001";
  private static WireMockServer provider;

  private LocalDynamo dynamo;
  private GatewayApplication app;

  @BeforeAll
  static void startProvider() {
    provider = Upstream.answeringChatCompletions();
  }

  @AfterAll
  static void stopProvider() {
    provider.stop();
  }

  @BeforeEach
  void setUp() {
    provider.resetRequests();
    dynamo = new LocalDynamo();
    Gateway gateway = TestGateways.gateway(dynamo, List.of(TestGateways.openAi("m", "gpt-4o-mini", provider.baseUrl() + "/v1")),
        MutableClock.at("2026-05-01T12:00:00Z"));
    app = GatewayApplication.of(CorsPolicy.DISABLED, new ProxyService(gateway)::handle);
    TestGateways.storeKey(gateway, KEY, List.of(), null, false);
  }

  @AfterEach
  void tearDown() {
    dynamo.close();
  }

  private static final String MESSAGES = "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";

  /** The route's smallest valid body with {@code field} set to {@code value} (raw JSON). */
  private static String body(String path, String field, String value) {
    String extra = ",\"" + field + "\":" + value;
    return switch (path) {
      case "/v1/chat/completions" -> "{\"model\":\"m\"," + MESSAGES + extra + "}";
      case "/v1/completions" -> "{\"model\":\"m\",\"prompt\":\"hi\"" + extra + "}";
      case "/v1/embeddings" -> "{\"model\":\"m\",\"input\":\"hi\"" + extra + "}";
      case "/v1/messages" -> "{\"model\":\"m\"," + MESSAGES + (field.equals("max_tokens") ? "" : ",\"max_tokens\":10") + extra + "}";
      case "/v1/responses" -> "{\"model\":\"m\",\"input\":\"hi\"" + extra + "}";
      default -> throw new IllegalArgumentException(path);
    };
  }

  private GatewayResponse post(String path, String body) {
    return app.handle(new GatewayRequest("POST", path, Map.of("authorization", "Bearer " + KEY, "content-type", "application/json"), Map.of(),
        body.getBytes(StandardCharsets.UTF_8), "req-numbers")).buffered();
  }

  static Stream<Arguments> outOfRange() {
    String chat = "/v1/chat/completions";
    return Stream.of(
        Arguments.of(chat, "max_tokens", "1e999999"),
        Arguments.of(chat, "max_tokens", "2147483648"),
        Arguments.of(chat, "max_tokens", "-1"),
        Arguments.of(chat, "max_tokens", "0"),
        Arguments.of(chat, "max_tokens", "1.5"),
        Arguments.of(chat, "max_tokens", "1e-999999"),
        Arguments.of(chat, "max_tokens", "\"100\""),
        Arguments.of(chat, "max_tokens", "99999999999999999999999999999"),
        Arguments.of(chat, "max_completion_tokens", "1e999999"),
        Arguments.of(chat, "n", "0"),
        Arguments.of(chat, "n", "129"),
        Arguments.of(chat, "n", "1e9"),
        Arguments.of(chat, "temperature", "2.5"),
        Arguments.of(chat, "temperature", "-0.1"),
        Arguments.of(chat, "temperature", "1e999999"),
        Arguments.of(chat, "temperature", "-1e999999"),
        Arguments.of(chat, "top_p", "1.5"),
        Arguments.of(chat, "presence_penalty", "3"),
        Arguments.of(chat, "frequency_penalty", "-1e400"),
        Arguments.of(chat, "top_logprobs", "21"),
        Arguments.of(chat, "seed", "9223372036854775808"),
        Arguments.of(chat, "top_k", "-1"),
        Arguments.of(chat, "logit_bias", "{\"50256\":1e999999}"),
        Arguments.of(chat, "logit_bias", "[1]"),
        Arguments.of(chat, "logit_bias", "{\"abc\":1}"),
        Arguments.of(chat, "logit_bias", "{\"50256\":1,\"-1\":1}"),
        Arguments.of(chat, "logit_bias", "{\"1.5\":1}"),
        Arguments.of(chat, "logit_bias", "{\"1e3\":1}"),
        Arguments.of(chat, "logit_bias", "{\" 42\":1}"),
        Arguments.of(chat, "logit_bias", "{\"\":1}"),
        Arguments.of(chat, "logit_bias", "{\"2147483648\":1}"),
        Arguments.of(chat, "logit_bias", "{\"\\u0661\":1}"),
        Arguments.of("/v1/completions", "logit_bias", "{\"abc\":1}"),
        Arguments.of("/v1/completions", "logit_bias", "{\"50256\":1e999999}"),
        Arguments.of("/v1/completions", "max_tokens", "1e999999"),
        Arguments.of("/v1/completions", "best_of", "21"),
        Arguments.of("/v1/completions", "logprobs", "6"),
        Arguments.of("/v1/completions", "n", "1000"),
        Arguments.of("/v1/embeddings", "dimensions", "0"),
        Arguments.of("/v1/embeddings", "dimensions", "1e999999"),
        Arguments.of("/v1/messages", "max_tokens", "1e999999"),
        Arguments.of("/v1/messages", "max_tokens", "0"),
        Arguments.of("/v1/messages", "temperature", "1.5"),
        Arguments.of("/v1/messages", "top_p", "1e999999"),
        Arguments.of("/v1/messages", "top_k", "-1"),
        Arguments.of("/v1/responses", "max_output_tokens", "1e999999"),
        Arguments.of("/v1/responses", "temperature", "1e999999"),
        Arguments.of("/v1/responses", "top_p", "-1"),
        Arguments.of("/v1/responses", "top_logprobs", "1000"),
        Arguments.of("/v1/responses", "max_tool_calls", "0"));
  }

  @ParameterizedTest(name = "{0} {1}: {2}")
  @MethodSource("outOfRange")
  void aNumberOutOfItsRangeIs400NamingTheFieldAndNothingIsSent(String path, String field, String value) throws Exception {
    GatewayResponse answer = post(path, body(path, field, value));
    String text = new String(answer.body(), StandardCharsets.UTF_8);
    assertThat(answer.status()).as(text).isEqualTo(400);
    JsonNode body = Json.MAPPER.readTree(answer.body());
    if (path.equals("/v1/messages")) {
      assertThat(body.path("type").asText()).isEqualTo("error");
      assertThat(body.path("error").path("type").asText()).isEqualTo("invalid_request_error");
      assertThat(body.path("error").path("message").asText()).contains(field);
    } else {
      assertThat(body.path("error").path("param").asText()).isEqualTo(field);
      assertThat(body.path("error").path("type").asText()).isEqualTo("invalid_request_error");
      assertThat(body.path("error").path("message").asText()).contains(field);
    }
    assertThat(provider.getAllServeEvents()).as("the provider is never called").isEmpty();
  }

  @Test
  void numbersInTheirRangesReachTheProvider() {
    String chat = "{\"model\":\"m\"," + MESSAGES + ",\"max_tokens\":2147483647,\"max_completion_tokens\":1,\"n\":128,\"temperature\":2,"
        + "\"top_p\":0,\"presence_penalty\":-2,\"frequency_penalty\":2.0,\"top_logprobs\":20,\"seed\":-9223372036854775808,"
        + "\"logit_bias\":{\"50256\":-100,\"1\":100,\"0\":0,\"2147483647\":1},\"top_k\":0.0,\"user\":null,\"temperature_unit\":1e999999}";
    assertThat(post("/v1/chat/completions", chat).status()).isEqualTo(200);
    String messages = "{\"model\":\"m\"," + MESSAGES + ",\"max_tokens\":1,\"temperature\":1,\"top_p\":0.5,\"top_k\":40}";
    assertThat(post("/v1/messages", messages).status()).isEqualTo(200);
    String nulls = "{\"model\":\"m\"," + MESSAGES + ",\"max_tokens\":null,\"temperature\":null,\"n\":null,\"logit_bias\":null}";
    assertThat(post("/v1/chat/completions", nulls).status()).isEqualTo(200);
    assertThat(provider.getAllServeEvents()).hasSize(3);
  }

  /**
   * One rule for whole numbers (aigw.core.json.WholeNumbers): 10.0 and 1E1 are ten wherever a
   * whole number is read, so Messages translated to chat takes what NumberFields takes, and the
   * translated request carries the integer.
   */
  @ParameterizedTest(name = "max_tokens {0}")
  @org.junit.jupiter.params.provider.ValueSource(strings = {"10.0", "1E1", "10.000"})
  void aWholeNumberSpelledAsADecimalIsTakenOnEveryRoute(String ten) throws Exception {
    String messages = "{\"model\":\"m\"," + MESSAGES + ",\"max_tokens\":" + ten + "}";
    GatewayResponse answer = post("/v1/messages", messages);
    assertThat(answer.status()).as(new String(answer.body(), StandardCharsets.UTF_8)).isEqualTo(200);
    JsonNode sent = Json.MAPPER.readTree(provider.getAllServeEvents().get(0).getRequest().getBodyAsString());
    assertThat(sent.path("max_tokens").isInt()).as("%s", sent).isTrue();
    assertThat(sent.path("max_tokens").asInt()).isEqualTo(10);
    String thinking = "{\"model\":\"m\"," + MESSAGES + ",\"max_tokens\":4096.0,\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2048.0}}";
    assertThat(post("/v1/messages", thinking).status()).isEqualTo(200);
    assertThat(post("/v1/chat/completions", body("/v1/chat/completions", "max_tokens", ten)).status()).isEqualTo(200);
    // Past the gateway's checks to the provider (whose stand-in answers chat only: its 404 passed on).
    assertThat(post("/v1/responses", body("/v1/responses", "max_output_tokens", "16.0")).status()).isNotEqualTo(400);
    assertThat(provider.getAllServeEvents()).hasSize(4);
  }
}

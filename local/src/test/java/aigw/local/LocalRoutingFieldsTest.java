package aigw.local;

import static com.github.tomakehurst.wiremock.client.WireMock.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.json.Json;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.errors.BadRequestException;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 15, finding 1, over the local server with the OpenAI SDK: a key limited to {@code cheap} (an
 * OpenRouter deployment) cannot send OpenRouter's fallback fields unless the operator allows them.
 */
class LocalRoutingFieldsTest {
  private static final String MASTER = "sk-routing-master-key-for-tests-only";
  private static final String COMPLETION =
      """
      {"id":"c","object":"chat.completion","created":1700000000,"model":"meta-llama/llama-3.1-8b-instruct",
       "choices":[{"index":0,"message":{"role":"assistant","content":"hi","refusal":null},"logprobs":null,"finish_reason":"stop"}],
       "usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}
      """;

  @TempDir static Path dir;
  private static WireMockServer upstream;
  private static Path config;

  @BeforeAll
  static void start() throws Exception {
    upstream = aigw.core.testing.Upstream.start();
    upstream.stubFor(post("/api/v1/chat/completions").willReturn(okJson(COMPLETION)));
    config = dir.resolve("config.yaml");
    Files.writeString(
        config,
        """
        model_list:
          - model_name: cheap
            litellm_params: {model: openrouter/meta-llama/llama-3.1-8b-instruct, api_base: "%s/api/v1", api_key: os.environ/OR_KEY}
        """
            .formatted(upstream.baseUrl()));
  }

  @AfterAll
  static void stop() {
    upstream.stop();
  }

  private static LocalGateway gateway(Map<String, String> extraEnv) {
    var env = new HashMap<>(Map.of("AIGW_MASTER_KEY", MASTER, "OR_KEY", "sk-or-test-not-a-secret"));
    env.putAll(extraEnv);
    return LocalGateway.start(LocalOptions.inMemory(config, env));
  }

  private static String cheapKey(LocalGateway gateway) throws Exception {
    var response =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/key/generate"))
                    .header("Authorization", "Bearer " + MASTER)
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"models\":[\"cheap\"]}"))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    return Json.MAPPER.readTree(response.body()).get("key").asText();
  }

  /** The audit's request, as an OpenAI SDK user sends OpenRouter's extra fields. */
  private static ChatCompletionCreateParams auditsRequest() {
    return ChatCompletionCreateParams.builder()
        .model("cheap")
        .addUserMessage("hi")
        .putAdditionalBodyProperty("models", JsonValue.from(List.of("openai/o1-pro", "anthropic/claude-opus-4")))
        .putAdditionalBodyProperty("route", JsonValue.from("fallback"))
        .build();
  }

  @Test
  void theSdksFallbackFieldsGet400NamingModelsAndNothingReachesOpenRouter() throws Exception {
    upstream.resetRequests();
    try (var gateway = gateway(Map.of())) {
      var client = OpenAIOkHttpClient.builder().apiKey(cheapKey(gateway)).baseUrl(gateway.baseUrl() + "/v1").maxRetries(0).build();
      assertThatThrownBy(() -> client.chat().completions().create(auditsRequest()))
          .isInstanceOfSatisfying(BadRequestException.class, e -> {
            assertThat(e.statusCode()).isEqualTo(400);
            assertThat(e.param()).contains("models");
            assertThat(e.getMessage()).contains("AIGW_ALLOWED_ROUTING_FIELDS");
          });
      // Without the fields the key works.
      assertThat(client.chat().completions().create(ChatCompletionCreateParams.builder().model("cheap").addUserMessage("hi").build())
          .choices().get(0).message().content()).contains("hi");
    }
    upstream.verify(1, postRequestedFor(urlEqualTo("/api/v1/chat/completions")));
    upstream.verify(0, postRequestedFor(urlEqualTo("/api/v1/chat/completions")).withRequestBody(containing("o1-pro")));
  }

  @Test
  void anOperatorWhoAllowsThemPassesThemOnUnchanged() throws Exception {
    upstream.resetRequests();
    try (var gateway = gateway(Map.of("AIGW_ALLOWED_ROUTING_FIELDS", "openrouter:models,route"))) {
      var client = OpenAIOkHttpClient.builder().apiKey(cheapKey(gateway)).baseUrl(gateway.baseUrl() + "/v1").maxRetries(0).build();
      client.chat().completions().create(auditsRequest());
    }
    upstream.verify(
        postRequestedFor(urlEqualTo("/api/v1/chat/completions"))
            .withRequestBody(matchingJsonPath("$.models[0]", equalTo("openai/o1-pro")))
            .withRequestBody(matchingJsonPath("$.route", equalTo("fallback")))
            .withRequestBody(matchingJsonPath("$.model", equalTo("meta-llama/llama-3.1-8b-instruct"))));
  }
}

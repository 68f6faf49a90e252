package aigw.local.clients;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.matchingJsonPath;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.testing.Upstream;
import aigw.local.LocalGateway;
import aigw.local.LocalOptions;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Spend end to end: the official OpenAI Java SDK through the local gateway (HTTP, DynamoDB Local) to
 * WireMock providers; {@code /key/info} shows what each key's calls cost, whole and streamed, at
 * the prices of the deployment that answered (the config's own, or the built-in table's).
 */
class SpendEndToEndTest {
  private static final String MASTER = "sk-spend-master-key-for-tests-only";
  private static final String USAGE = "\"usage\":{\"prompt_tokens\":3000,\"completion_tokens\":200,\"total_tokens\":3200}";

  @TempDir static Path dir;
  private static WireMockServer provider;
  private static LocalGateway gateway;
  private static GatewayAdmin admin;

  @BeforeAll
  static void start() throws Exception {
    provider = Upstream.start();
    for (String path : List.of("/healthy/v1/chat/completions")) {
      provider.stubFor(post(path).atPriority(1).withRequestBody(matchingJsonPath("$.stream", equalTo("true")))
          .willReturn(aResponse().withHeader("Content-Type", "text/event-stream").withBody(
              "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"streamed\"},\"finish_reason\":\"stop\"}]}\n\n"
                  + "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[]," + USAGE + "}\n\n"
                  + "data: [DONE]\n\n")));
      provider.stubFor(post(path).atPriority(2).willReturn(okJson(
          "{\"id\":\"c\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
              + "\"message\":{\"role\":\"assistant\",\"content\":\"whole\"},\"finish_reason\":\"stop\"}]," + USAGE + "}")));
    }
    provider.stubFor(post("/failing/v1/chat/completions").willReturn(aResponse().withStatus(503)
        .withHeader("Content-Type", "application/json").withBody("{\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}")));
    Path config = dir.resolve("config.yaml");
    Files.writeString(config, """
        model_list:
          - model_name: own-prices
            litellm_params: {model: openai/my-fine-tune, api_base: "%1$s/healthy/v1", api_key: os.environ/PROVIDER_KEY,
              input_cost_per_token: 0.000002, output_cost_per_token: 0.00001}
          - model_name: table-prices
            litellm_params: {model: openai/gpt-4o-mini, api_base: "%1$s/healthy/v1", api_key: os.environ/PROVIDER_KEY}
          - model_name: expensive
            litellm_params: {model: openai/expensive-model, api_base: "%1$s/failing/v1", api_key: os.environ/PROVIDER_KEY,
              input_cost_per_token: 1, output_cost_per_token: 1}
          - model_name: cheap
            litellm_params: {model: openai/cheap-model, api_base: "%1$s/healthy/v1", api_key: os.environ/PROVIDER_KEY,
              input_cost_per_token: 0.0000001, output_cost_per_token: 0.0000004}
        router_settings:
          num_retries: 0
          fallbacks: [{expensive: [cheap]}]
        """.formatted(provider.baseUrl()));
    gateway = LocalGateway.start(LocalOptions.inMemory(config, Map.of("AIGW_MASTER_KEY", MASTER, "PROVIDER_KEY", "sk-provider-spend")));
    admin = new GatewayAdmin(gateway.baseUrl(), MASTER);
  }

  @AfterAll
  static void stop() {
    gateway.close();
    provider.stop();
  }

  private static OpenAIClient sdk(String key) {
    return OpenAIOkHttpClient.builder().baseUrl(gateway.baseUrl() + "/v1").apiKey(key).maxRetries(0).build();
  }

  private static ChatCompletionCreateParams ask(String model) {
    return ChatCompletionCreateParams.builder().model(model).addUserMessage("Hi").build();
  }

  /** One whole call and one streamed call of {@code model} with a new key; the key's info after both. */
  private static JsonNode spendOfOneWholeAndOneStreamedCall(String model) throws Exception {
    String key = admin.newKey("spend");
    var client = sdk(key);
    assertThat(client.chat().completions().create(ask(model)).choices().getFirst().message().content()).contains("whole");
    try (var stream = client.chat().completions().createStreaming(ask(model))) {
      List<ChatCompletionChunk> chunks = stream.stream().toList();
      assertThat(chunks.stream().flatMap(c -> c.choices().stream()).map(c -> c.delta().content().orElse("")).collect(Collectors.joining()))
          .isEqualTo("streamed");
    }
    return admin.keyInfoAfter(key, 2);
  }

  @Test
  void aKeysSpendIsWhatItsWholeAndStreamedCallsCostAtTheConfigsPrices() throws Exception {
    JsonNode info = spendOfOneWholeAndOneStreamedCall("own-prices");

    assertThat(info.path("request_count").asLong()).isEqualTo(2);
    // Each: 3000 × 0.000002 + 200 × 0.00001 = 0.008 USD; the stream costs as much as the whole call.
    assertThat(info.path("spend").isNumber()).isTrue();
    assertThat(info.path("spend").decimalValue()).isEqualByComparingTo("0.016");
  }

  @Test
  void aModelWithoutPricesInTheConfigIsPricedFromTheBuiltInTable() throws Exception {
    JsonNode info = spendOfOneWholeAndOneStreamedCall("table-prices");

    // gpt-4o-mini (LiteLLM's figures): 3000 × 1.5e-07 + 200 × 6e-07 = 0.00057 USD a call.
    assertThat(info.path("spend").decimalValue()).isEqualByComparingTo("0.00114");
  }

  @Test
  void afterAFailoverTheSpendIsAtThePricesOfTheDeploymentThatAnswered() throws Exception {
    JsonNode info = spendOfOneWholeAndOneStreamedCall("expensive");

    // cheap-model answered both: 3000 × 1e-07 + 200 × 4e-07 = 0.00038 USD a call, not expensive's 3200.
    assertThat(info.path("request_count").asLong()).isEqualTo(2);
    assertThat(info.path("spend").decimalValue()).isEqualByComparingTo("0.00076");
  }

  @Test
  void aNewKeyHasSpentNothing() throws Exception {
    String key = admin.newKey("unused");

    JsonNode info = admin.keyInfoAfter(key, 0);

    assertThat(info.path("spend").isNumber()).isTrue();
    assertThat(info.path("spend").decimalValue()).isZero();
  }
}

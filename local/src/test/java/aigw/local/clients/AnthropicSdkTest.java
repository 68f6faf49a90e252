package aigw.local.clients;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.matchingJsonPath;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.json.Json;
import aigw.core.testing.Upstream;
import aigw.local.LocalGateway;
import aigw.local.LocalOptions;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.MappingBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The official Anthropic TypeScript SDK ({@code @anthropic-ai/sdk}, pinned in local/src/test/js),
 * unchanged, through the local gateway's {@code /v1/messages}: {@code messages.create} and {@code
 * messages.stream}, with and without tool use, against a model served by an OpenAI-compatible
 * stand-in (translated both ways) and one served by an Anthropic stand-in (passed through), with the
 * usage recorded on the key; and the same, with a tool call round trip (the tool's result sent back
 * for a final answer), against the Gemini, Bedrock and Azure (dated api_version and v1) stand-ins of
 * {@link AdapterStandIns}, all translated. Script: {@code anthropic-node.mjs}. Skipped only when node
 * or npm is absent.
 */
class AnthropicSdkTest {
  private static final String MASTER = "sk-anthropic-sdk-master-key-for-tests-only";
  private static final String TEXT = "Hello from the stand-in";
  /** Both stand-ins count 12 prompt tokens (Anthropic's: 10 + 2 read from the cache) and 5 output tokens. */
  private static final long PROMPT_TOKENS = 12;
  private static final long OUTPUT_TOKENS = 5;

  @TempDir static Path dir;
  @TempDir Path home;
  private static WireMockServer standIn;
  private static LocalGateway gateway;

  @BeforeAll
  static void start() throws Exception {
    NodeClients.install();
    standIn = Upstream.start();
    stubOpenAi();
    stubAnthropic();
    AdapterStandIns.stub(standIn, new AdapterStandIns.Answer(List.of("Hello", " from the stand-in"), (int) PROMPT_TOKENS, (int) OUTPUT_TOKENS));
    Path config = dir.resolve("config.yaml");
    Files.writeString(config, """
        model_list:
          - model_name: gpt-4o-mini
            litellm_params: {model: openai/gpt-4o-mini, api_base: "%1$s/v1", api_key: os.environ/SDK_PROVIDER_KEY}
          - model_name: claude-sonnet
            litellm_params: {model: anthropic/claude-sonnet-4-5-20250929, api_base: "%1$s", api_key: os.environ/SDK_PROVIDER_KEY}
        """.formatted(standIn.baseUrl()) + AdapterStandIns.modelList(standIn.baseUrl()));
    var environment = new HashMap<>(AdapterStandIns.environment());
    environment.putAll(Map.of("AIGW_MASTER_KEY", MASTER, "SDK_PROVIDER_KEY", "sk-provider-sdk"));
    gateway = LocalGateway.start(LocalOptions.inMemory(config, environment));
  }

  @AfterAll
  static void stop() {
    AdapterStandIns.clearCredentials();
    if (gateway != null) {
      gateway.close();
    }
    if (standIn != null) {
      standIn.stop();
    }
  }

  @ParameterizedTest(name = "{0} on {1}")
  @CsvSource({
    "create, gpt-4o-mini", "stream, gpt-4o-mini", "tool-create, gpt-4o-mini", "tool-stream, gpt-4o-mini",
    "create, claude-sonnet", "stream, claude-sonnet", "tool-create, claude-sonnet", "tool-stream, claude-sonnet"
  })
  void theAnthropicSdkWorksUnchangedThroughTheGatewayWithUsageOnTheKey(String mode, String model) throws Exception {
    var admin = new GatewayAdmin(gateway.baseUrl(), MASTER);
    String key = admin.newKey("anthropic-sdk");

    var run = NodeClients.node("anthropic-node.mjs", List.of(mode),
        Map.of("HOME", home.toString(), "AIGW_BASE_URL", gateway.baseUrl().toString(), "AIGW_API_KEY", key, "AIGW_MODEL", model));

    assertThat(run.exitCode()).as("the SDK exited with %d:%n%s%n%s", run.exitCode(), run.stdout(), run.stderr()).isZero();
    JsonNode printed = Json.MAPPER.readTree(run.stdout().strip().lines().reduce((first, last) -> last).orElse("{}"));
    if (mode.startsWith("tool")) {
      assertThat(printed.path("stop_reason").asText()).isEqualTo("tool_use");
      assertThat(printed.at("/tool/name").asText()).isEqualTo("get_weather");
      assertThat(printed.at("/tool/input")).isEqualTo(Json.MAPPER.readTree("{\"city\":\"Paris\"}"));
    } else {
      assertThat(printed.path("stop_reason").asText()).isEqualTo("end_turn");
      assertThat(printed.path("text").asText()).isEqualTo(TEXT);
    }
    if (mode.endsWith("stream")) {
      assertThat(printed.path("events").asInt()).as("events the SDK's MessageStream saw").isGreaterThanOrEqualTo(5);
    }
    JsonNode usage = printed.path("usage");
    assertThat(usage.path("output_tokens").asLong()).isEqualTo(OUTPUT_TOKENS);
    assertThat(usage.path("input_tokens").asLong() + usage.path("cache_read_input_tokens").asLong()).isEqualTo(PROMPT_TOKENS);
    JsonNode info = admin.keyInfoAfter(key, 1);
    assertThat(info.path("request_count").asLong()).isEqualTo(1);
    assertThat(info.path("prompt_tokens").asLong()).isEqualTo(PROMPT_TOKENS);
    assertThat(info.path("completion_tokens").asLong()).isEqualTo(OUTPUT_TOKENS);
    assertThat(info.path("estimated_request_count").asLong()).isZero();
  }

  /**
   * Gemini, Bedrock (a non-Claude model: translated, not passed through) and Azure through the
   * Anthropic SDK, plain and streamed, text and a tool call whose result goes back for the final
   * answer: every request of the conversation is counted on the key with its tokens.
   */
  @ParameterizedTest(name = "{0} on {1}")
  @CsvSource({ // a round trip is a tool call answered and a text answer: both kinds of answer, one node process
    "roundtrip-create, gemini-flash", "roundtrip-stream, gemini-flash", "roundtrip-create, nova-lite", "roundtrip-stream, nova-lite",
    "roundtrip-create, azure-dated", "roundtrip-stream, azure-dated", "roundtrip-create, azure-v1", "roundtrip-stream, azure-v1"
  })
  void theAnthropicSdkWorksThroughTheGatewayOnGeminiBedrockAndAzureWithToolRoundTripsAndUsageOnTheKey(String mode, String model)
      throws Exception {
    var admin = new GatewayAdmin(gateway.baseUrl(), MASTER);
    String key = admin.newKey("anthropic-sdk-adapters");

    var run = NodeClients.node("anthropic-node.mjs", List.of(mode), Map.of("HOME", home.toString(),
        "AIGW_BASE_URL", gateway.baseUrl().toString(), "AIGW_API_KEY", key, "AIGW_MODEL", model, "AIGW_TOOL_RESULT", AdapterStandIns.RESULT));

    assertThat(run.exitCode()).as("the SDK exited with %d:%n%s%n%s", run.exitCode(), run.stdout(), run.stderr()).isZero();
    JsonNode printed = Json.MAPPER.readTree(run.stdout().strip().lines().reduce((first, last) -> last).orElse("{}"));
    boolean roundTrip = mode.startsWith("roundtrip"); // else a plain question
    assertThat(printed.path("stop_reason").asText()).isEqualTo("end_turn");
    assertThat(printed.path("text").asText()).isEqualTo(roundTrip ? AdapterStandIns.AFTER_TOOL : TEXT);
    if (roundTrip) {
      assertThat(printed.path("first_stop_reason").asText()).isEqualTo("tool_use");
      assertThat(printed.at("/tool/name").asText()).isEqualTo("get_weather");
      assertThat(printed.at("/tool/input")).isEqualTo(Json.MAPPER.readTree("{\"city\":\"Paris\"}"));
    }
    if (mode.endsWith("stream")) {
      assertThat(printed.path("events").asInt()).as("events the SDK's MessageStream saw").isGreaterThanOrEqualTo(5);
    }
    JsonNode usage = printed.path("usage");
    assertThat(usage.path("output_tokens").asLong()).isEqualTo(OUTPUT_TOKENS);
    assertThat(usage.path("input_tokens").asLong() + usage.path("cache_read_input_tokens").asLong()).isEqualTo(PROMPT_TOKENS);
    long requests = roundTrip ? 2 : 1;
    JsonNode info = admin.keyInfoAfter(key, requests);
    assertThat(info.path("request_count").asLong()).isEqualTo(requests);
    assertThat(info.path("prompt_tokens").asLong()).isEqualTo(requests * PROMPT_TOKENS);
    assertThat(info.path("completion_tokens").asLong()).isEqualTo(requests * OUTPUT_TOKENS);
    assertThat(info.path("estimated_request_count").asLong()).isZero();
  }

  // ------------------------------------------------------------ the stand-ins

  private static MappingBuilder streamed(MappingBuilder stub) {
    return stub.withRequestBody(matchingJsonPath("$.stream", equalTo("true")));
  }

  private static MappingBuilder withTools(MappingBuilder stub) {
    return stub.withRequestBody(matchingJsonPath("$.tools[0].function.name", equalTo("get_weather")));
  }

  private static String sse(List<String> data) {
    var out = new StringBuilder();
    data.forEach(d -> out.append("data: ").append(d).append("\n\n"));
    return out.append("data: [DONE]\n\n").toString();
  }

  private static com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder eventStream(String body) {
    return aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream").withBody(body);
  }

  /** OpenAI's chat completions (https://platform.openai.com/docs/api-reference/chat), text or a get_weather call, whole or streamed. */
  private static void stubOpenAi() {
    String usage = "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":5,\"total_tokens\":17}";
    String head = "{\"id\":\"chatcmpl-sdk\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o-mini\",";
    String choice = "\"choices\":[{\"index\":0,\"delta\":%s,\"logprobs\":null,\"finish_reason\":%s}]}";
    standIn.stubFor(streamed(withTools(post("/v1/chat/completions"))).atPriority(1).willReturn(eventStream(sse(List.of(
        head + choice.formatted("{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0,\"id\":\"call_w\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]}", "null"),
        head + choice.formatted("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]}", "null"),
        head + choice.formatted("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}}]}", "null"),
        head + choice.formatted("{}", "\"tool_calls\""),
        head + "\"choices\":[]," + usage + "}")))));
    standIn.stubFor(streamed(post("/v1/chat/completions")).atPriority(2).willReturn(eventStream(sse(List.of(
        head + choice.formatted("{\"role\":\"assistant\",\"content\":\"\"}", "null"),
        head + choice.formatted("{\"content\":\"Hello\"}", "null"),
        head + choice.formatted("{\"content\":\" from the stand-in\"}", "null"),
        head + choice.formatted("{}", "\"stop\""),
        head + "\"choices\":[]," + usage + "}")))));
    standIn.stubFor(withTools(post("/v1/chat/completions")).atPriority(3).willReturn(okJson(
        "{\"id\":\"chatcmpl-sdk\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,"
            + "\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_w\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},"
            + "\"finish_reason\":\"tool_calls\"}]," + usage + "}")));
    standIn.stubFor(post("/v1/chat/completions").atPriority(4).willReturn(okJson(
        "{\"id\":\"chatcmpl-sdk\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,"
            + "\"message\":{\"role\":\"assistant\",\"content\":\"" + TEXT + "\"},\"finish_reason\":\"stop\"}]," + usage + "}")));
  }

  /** Anthropic's Messages API (https://docs.anthropic.com/en/api/messages, .../messages-streaming), text or a get_weather call. */
  private static void stubAnthropic() {
    String startUsage = "{\"input_tokens\":10,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":2,\"output_tokens\":1}";
    String endUsage = "{\"input_tokens\":10,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":2,\"output_tokens\":5}";
    String start = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_sdk\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],"
        + "\"model\":\"claude-sonnet-4-5-20250929\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":" + startUsage + "}}\n\n";
    String end = "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"%s\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":5}}\n\n"
        + "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    MappingBuilder messages = post("/v1/messages").withHeader("x-api-key", equalTo("sk-provider-sdk"));
    standIn.stubFor(streamed(messages).withRequestBody(matchingJsonPath("$.tools[0].name", equalTo("get_weather"))).atPriority(1).willReturn(eventStream(start
        + "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_w\",\"name\":\"get_weather\",\"input\":{}}}\n\n"
        + "event: ping\ndata: {\"type\": \"ping\"}\n\n"
        + "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\":\"}}\n\n"
        + "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"Paris\\\"}\"}}\n\n"
        + "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
        + end.formatted("tool_use"))));
    messages = post("/v1/messages").withHeader("x-api-key", equalTo("sk-provider-sdk"));
    standIn.stubFor(streamed(messages).atPriority(2).willReturn(eventStream(start
        + "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
        + "event: ping\ndata: {\"type\": \"ping\"}\n\n"
        + "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n"
        + "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" from the stand-in\"}}\n\n"
        + "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
        + end.formatted("end_turn"))));
    String message = "{\"id\":\"msg_sdk\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\",\"content\":%s,"
        + "\"stop_reason\":\"%s\",\"stop_sequence\":null,\"usage\":" + endUsage + "}";
    standIn.stubFor(post("/v1/messages").withHeader("x-api-key", equalTo("sk-provider-sdk"))
        .withRequestBody(matchingJsonPath("$.tools[0].name", equalTo("get_weather"))).atPriority(3).willReturn(okJson(message.formatted(
            "[{\"type\":\"tool_use\",\"id\":\"toolu_w\",\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}]", "tool_use"))));
    standIn.stubFor(post("/v1/messages").withHeader("x-api-key", equalTo("sk-provider-sdk")).atPriority(4)
        .willReturn(okJson(message.formatted("[{\"type\":\"text\",\"text\":\"" + TEXT + "\"}]", "end_turn"))));
  }
}

package aigw.local.clients;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.equalToJson;
import static com.github.tomakehurst.wiremock.client.WireMock.matchingJsonPath;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.json.Json;
import aigw.core.testing.Upstream;
import aigw.local.LocalGateway;
import aigw.local.LocalOptions;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.errors.RateLimitException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An {@code anthropic/<model>} deployment end to end: the official OpenAI Java SDK talks chat
 * completions to the local gateway, which talks Anthropic's Messages API to a WireMock stand-in
 * answering with the shapes of Anthropic's documented examples; plain and streamed, with the usage
 * recorded on the key, and Anthropic's 429 reaching the SDK as a 429 with its retry-after.
 */
class AnthropicEndToEndTest {
  private static final String MASTER = "sk-anthropic-e2e-master-key-for-tests-only";
  private static final String PROVIDER_KEY = "sk-ant-provider-e2e";
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  /** Anthropic's answer to a plain request: 2095 input + 503 output tokens, 100 of the input read from the cache. */
  private static final String MESSAGE =
      """
      {"id":"msg_013Zva2CMHLNnXjNJJKqJ2EF","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",
       "content":[{"type":"text","text":"Hi! My name is Claude."}],"stop_reason":"end_turn","stop_sequence":null,
       "usage":{"input_tokens":1995,"cache_read_input_tokens":100,"output_tokens":503}}""";

  /** Anthropic's event stream (the streaming guide's example): 25 input tokens, 15 output tokens. */
  private static final String STREAM =
      """
      event: message_start
      data: {"type":"message_start","message":{"id":"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"output_tokens":1}}}

      event: content_block_start
      data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

      event: ping
      data: {"type": "ping"}

      event: content_block_delta
      data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}

      event: content_block_delta
      data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"!"}}

      event: content_block_stop
      data: {"type":"content_block_stop","index":0}

      event: message_delta
      data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}

      event: message_stop
      data: {"type":"message_stop"}

      """;

  /** Anthropic's tool use stream (the streaming guide's input_json_delta example), arguments in three pieces. */
  private static final String TOOL_STREAM =
      """
      event: message_start
      data: {"type":"message_start","message":{"id":"msg_014p7gG3wDgGV9EUtLvnow3U","type":"message","role":"assistant","model":"claude-sonnet-4-5","stop_sequence":null,"usage":{"input_tokens":472,"output_tokens":2},"content":[],"stop_reason":null}}

      event: content_block_start
      data: {"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}}

      event: content_block_delta
      data: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\\\"location\\\":"}}

      event: content_block_delta
      data: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":" \\\"San Francisc"}}

      event: content_block_delta
      data: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"o, CA\\\"}"}}

      event: content_block_stop
      data: {"type":"content_block_stop","index":0}

      event: message_delta
      data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}

      event: message_stop
      data: {"type":"message_stop"}

      """;

  @TempDir static Path dir;
  private static WireMockServer anthropic;
  private static LocalGateway gateway;

  @BeforeAll
  static void start() throws Exception {
    anthropic = Upstream.start();
    anthropic.stubFor(
        post("/v1/messages").atPriority(1)
            .withRequestBody(matchingJsonPath("$.messages[0].content[0].text", equalTo("Too many")))
            .willReturn(aResponse().withStatus(429).withHeader("retry-after", "17").withHeader("Content-Type", "application/json")
                .withBody("{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"Number of request tokens has exceeded your per-minute rate limit\"}}")));
    anthropic.stubFor(
        post("/v1/messages").atPriority(1)
            .withRequestBody(matchingJsonPath("$.tools[0].name", equalTo("get_weather")))
            .withRequestBody(matchingJsonPath("$.stream", equalTo("true")))
            .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream").withBody(TOOL_STREAM)));
    anthropic.stubFor(
        post("/v1/messages").atPriority(2)
            .withHeader("x-api-key", equalTo(PROVIDER_KEY))
            .withHeader("anthropic-version", equalTo("2023-06-01"))
            .withRequestBody(matchingJsonPath("$.stream", equalTo("true")))
            .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream").withBody(STREAM)));
    anthropic.stubFor(
        post("/v1/messages").atPriority(3)
            .withHeader("x-api-key", equalTo(PROVIDER_KEY))
            .withHeader("anthropic-version", equalTo("2023-06-01"))
            .willReturn(okJson(MESSAGE)));
    Path config = dir.resolve("config.yaml");
    Files.writeString(
        config,
        """
        model_list:
          - model_name: claude
            litellm_params: {model: anthropic/claude-sonnet-4-5, api_base: "%s", api_key: os.environ/ANTHROPIC_API_KEY}
        """.formatted(anthropic.baseUrl()));
    gateway = LocalGateway.start(LocalOptions.inMemory(config, Map.of("AIGW_MASTER_KEY", MASTER, "ANTHROPIC_API_KEY", PROVIDER_KEY)));
  }

  @AfterAll
  static void stop() {
    gateway.close();
    anthropic.stop();
  }

  private static OpenAIClient sdk(String key) {
    return OpenAIOkHttpClient.builder().baseUrl(gateway.baseUrl() + "/v1").apiKey(key).maxRetries(0).build();
  }

  @Test
  void aPlainChatCompletionIsAnsweredByAnthropicAndItsUsageRecorded() throws Exception {
    String key = newKey();

    ChatCompletion completion =
        sdk(key).chat().completions().create(
            ChatCompletionCreateParams.builder().model("claude").addSystemMessage("Be brief.").addUserMessage("Hello, Claude").build());

    assertThat(completion.choices().getFirst().message().content()).hasValue("Hi! My name is Claude.");
    assertThat(completion.choices().getFirst().finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.STOP);
    var usage = completion.usage().orElseThrow();
    assertThat(usage.promptTokens()).isEqualTo(2095);
    assertThat(usage.completionTokens()).isEqualTo(503);
    assertThat(usage.promptTokensDetails().orElseThrow().cachedTokens()).hasValue(100L);
    anthropic.verify(
        postRequestedFor(urlEqualTo("/v1/messages"))
            .withRequestBody(equalToJson(
                "{\"model\":\"claude-sonnet-4-5\",\"system\":\"Be brief.\",\"max_tokens\":4096,"
                    + "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hello, Claude\"}]}]}")));
    var info = keyInfoAfter(key, 1);
    assertThat(info.get("prompt_tokens").asLong()).isEqualTo(2095);
    assertThat(info.get("completion_tokens").asLong()).isEqualTo(503);
    assertThat(info.get("total_tokens").asLong()).isEqualTo(2598);
  }

  @Test
  void aStreamedChatCompletionArrivesAsOpenAiChunksAndItsUsageIsRecordedUnasked() throws Exception {
    String key = newKey();
    var params = ChatCompletionCreateParams.builder().model("claude").addUserMessage("Say hello").build();

    List<ChatCompletionChunk> chunks;
    try (var stream = sdk(key).chat().completions().createStreaming(params)) {
      chunks = stream.stream().toList();
    }

    assertThat(chunks).hasSizeGreaterThan(2);
    assertThat(chunks.stream().flatMap(c -> c.choices().stream()).map(c -> c.delta().content().orElse("")).collect(Collectors.joining()))
        .isEqualTo("Hello!");
    assertThat(chunks.stream().flatMap(c -> c.choices().stream()).flatMap(c -> c.finishReason().stream()).toList())
        .containsExactly(ChatCompletionChunk.Choice.FinishReason.STOP);
    assertThat(chunks.stream().flatMap(c -> c.usage().stream()).toList()).as("no usage chunk unless the client asks").isEmpty();
    var info = keyInfoAfter(key, 1);
    assertThat(info.get("prompt_tokens").asLong()).isEqualTo(25);
    assertThat(info.get("completion_tokens").asLong()).isEqualTo(15);
    assertThat(info.get("total_tokens").asLong()).isEqualTo(40);
  }

  @Test
  void aStreamGivesTheUsageChunkWhenTheClientAsks() throws Exception {
    String key = newKey();
    var params =
        ChatCompletionCreateParams.builder().model("claude").addUserMessage("Say hello")
            .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build();

    List<ChatCompletionChunk> chunks;
    try (var stream = sdk(key).chat().completions().createStreaming(params)) {
      chunks = stream.stream().toList();
    }

    var last = chunks.getLast();
    assertThat(last.choices()).isEmpty();
    assertThat(last.usage().orElseThrow().promptTokens()).isEqualTo(25);
    assertThat(last.usage().orElseThrow().completionTokens()).isEqualTo(15);
    assertThat(keyInfoAfter(key, 1).get("total_tokens").asLong()).isEqualTo(40);
  }

  @Test
  void aStreamedToolCallReachesTheSdkAsIndexedToolCallDeltas() throws Exception {
    String key = newKey();
    var tool =
        com.openai.models.chat.completions.ChatCompletionFunctionTool.builder()
            .function(com.openai.models.FunctionDefinition.builder().name("get_weather")
                .parameters(com.openai.models.FunctionParameters.builder()
                    .putAdditionalProperty("type", com.openai.core.JsonValue.from("object")).build())
                .build())
            .build();
    var params =
        ChatCompletionCreateParams.builder().model("claude").addUserMessage("What's the weather like in San Francisco?")
            .addTool(tool).build();

    List<ChatCompletionChunk> chunks;
    try (var stream = sdk(key).chat().completions().createStreaming(params)) {
      chunks = stream.stream().toList();
    }

    var calls = chunks.stream().flatMap(c -> c.choices().stream()).flatMap(c -> c.delta().toolCalls().stream().flatMap(List::stream)).toList();
    assertThat(calls).allSatisfy(call -> assertThat(call.index()).isZero());
    assertThat(calls.getFirst().id()).hasValue("toolu_01T1x1fJ34qAmk2tNTrN7Up6");
    assertThat(calls.getFirst().function().orElseThrow().name()).hasValue("get_weather");
    assertThat(calls.stream().map(call -> call.function().flatMap(f -> f.arguments()).orElse("")).collect(Collectors.joining()))
        .isEqualTo("{\"location\": \"San Francisco, CA\"}");
    assertThat(chunks.stream().flatMap(c -> c.choices().stream()).flatMap(c -> c.finishReason().stream()).toList())
        .containsExactly(ChatCompletionChunk.Choice.FinishReason.TOOL_CALLS);
    anthropic.verify(
        postRequestedFor(urlEqualTo("/v1/messages"))
            .withRequestBody(matchingJsonPath("$.tools[0].input_schema.type", equalTo("object"))));
    assertThat(keyInfoAfter(key, 1).get("total_tokens").asLong()).isEqualTo(472 + 89);
  }

  @Test
  void anthropicsRateLimitReachesTheClientAs429WithItsRetryAfter() throws Exception {
    String key = newKey();

    assertThatThrownBy(
            () -> sdk(key).chat().completions().create(ChatCompletionCreateParams.builder().model("claude").addUserMessage("Too many").build()))
        .isInstanceOfSatisfying(
            RateLimitException.class,
            e -> {
              assertThat(e.headers().values("retry-after")).containsExactly("17");
              assertThat(e.getMessage()).contains("Number of request tokens has exceeded your per-minute rate limit");
            });
  }

  @Test
  void whatAnthropicCannotTakeIsRefusedWith400InTheEnvelopeAndNothingIsSent() throws Exception {
    String key = newKey();
    int before = anthropic.getAllServeEvents().size();

    var embeddings = proxy(key, "/v1/embeddings", "{\"model\":\"claude\",\"input\":\"hello\"}");
    var localFile =
        proxy(key, "/v1/chat/completions",
            "{\"model\":\"claude\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"file:///etc/passwd\"}}]}]}");

    assertThat(embeddings.statusCode()).isEqualTo(400);
    assertThat(Json.MAPPER.readTree(embeddings.body()).path("error").path("message").asText())
        .isEqualTo("Model 'claude' is an Anthropic model: it serves /v1/chat/completions only, not /v1/embeddings.");
    assertThat(localFile.statusCode()).isEqualTo(400);
    JsonNode error = Json.MAPPER.readTree(localFile.body()).path("error");
    assertThat(error.path("type").asText()).isEqualTo("invalid_request_error");
    assertThat(error.path("message").asText()).isEqualTo("messages[0]: image_url.url must be an http(s) URL or a base64 data URL.");
    assertThat(anthropic.getAllServeEvents()).hasSize(before);
  }

  private static HttpResponse<String> proxy(String key, String path, String body) throws Exception {
    var request =
        HttpRequest.newBuilder(URI.create(gateway.baseUrl() + path))
            .timeout(Duration.ofSeconds(20))
            .header("Authorization", "Bearer " + key)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body));
    return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static String newKey() throws Exception {
    return admin().newKey("anthropic");
  }

  private static JsonNode keyInfoAfter(String key, long requests) throws Exception {
    return admin().keyInfoAfter(key, requests);
  }

  private static HttpResponse<String> call(String method, String path, String body) throws Exception {
    return admin().call(method, path, body);
  }

  private static GatewayAdmin admin() {
    return new GatewayAdmin(gateway.baseUrl(), MASTER);
  }
}

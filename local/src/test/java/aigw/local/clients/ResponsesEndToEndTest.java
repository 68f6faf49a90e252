package aigw.local.clients;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.json.Json;
import aigw.local.LocalGateway;
import aigw.local.LocalOptions;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.models.responses.EasyInputMessage;
import com.openai.models.responses.FunctionTool;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseFunctionToolCall;
import com.openai.models.responses.ResponseInputItem;
import com.openai.models.responses.ResponseStreamEvent;
import com.openai.models.responses.ResponseUsage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The OpenAI SDKs' Responses API ({@code responses.create}, streamed and not, with a function
 * tool) end to end through the local gateway, for a model whose provider has only chat completions
 * ({@code hosted_vllm/}: the gateway translates) and for an OpenAI model (passed through), both on
 * {@link ResponsesStandIn}; the usage lands on the key ({@code GET /key/info}). The official Java
 * SDK (openai-java) and the Node SDK ({@code local/src/test/js/openai-responses.mjs}).
 *
 * <p>The same against every other adapter's stand-in ({@link AdapterStandIns}): Gemini, Bedrock and
 * Azure with a dated {@code api_version} (translated to their chat APIs), and Azure's v1 API (passed
 * through to its Responses API), with a function call round trip (the call's output sent back for
 * the final answer).
 */
class ResponsesEndToEndTest {
  static final String MASTER = "sk-responses-master-key-for-tests-only";
  /** hosted_vllm: chat completions only, the request is translated. */
  static final String TRANSLATED = "local-llama";
  /** openai: the Responses API, the request is passed through. */
  static final String NATIVE = "gpt-4.1";
  static final String GEMINI = "gemini-flash";
  static final String BEDROCK = "nova-lite";
  static final String AZURE_DATED = "azure-dated";
  static final String AZURE_V1 = "azure-v1";

  @TempDir static Path dir;
  @TempDir Path home;
  private static WireMockServer upstream;
  private static LocalGateway gateway;

  @BeforeAll
  static void start() throws Exception {
    upstream = ResponsesStandIn.start();
    AdapterStandIns.stub(upstream, new AdapterStandIns.Answer(OpenAiStandIn.PIECES, OpenAiStandIn.PROMPT_TOKENS, OpenAiStandIn.COMPLETION_TOKENS));
    Path config = dir.resolve("config.yaml");
    Files.writeString(
        config,
        """
        model_list:
          - model_name: %2$s
            litellm_params: {model: hosted_vllm/meta-llama/Llama-3.1-8B-Instruct, api_base: "%1$s/v1", api_key: os.environ/RESPONSES_PROVIDER_KEY}
          - model_name: %3$s
            litellm_params: {model: openai/gpt-4.1-2025-04-14, api_base: "%1$s/v1", api_key: os.environ/RESPONSES_PROVIDER_KEY}
        """
            .formatted(upstream.baseUrl(), TRANSLATED, NATIVE)
            + AdapterStandIns.modelList(upstream.baseUrl()));
    var environment = new HashMap<>(AdapterStandIns.environment());
    environment.putAll(Map.of("AIGW_MASTER_KEY", MASTER, "RESPONSES_PROVIDER_KEY", "sk-provider-responses"));
    gateway = LocalGateway.start(LocalOptions.inMemory(config, environment));
  }

  @AfterAll
  static void stop() {
    AdapterStandIns.clearCredentials();
    if (gateway != null) {
      gateway.close();
    }
    if (upstream != null) {
      upstream.stop();
    }
  }

  private static GatewayAdmin admin() {
    return new GatewayAdmin(gateway.baseUrl(), MASTER);
  }

  private static OpenAIClient sdk(String key) {
    return OpenAIOkHttpClient.builder().baseUrl(gateway.baseUrl() + "/v1").apiKey(key).maxRetries(0).build();
  }

  private static ResponseCreateParams params(String model, boolean withTool) {
    var params = ResponseCreateParams.builder().model(model).instructions("Be brief.").store(false);
    if (!withTool) {
      return params.input("Say hello").build();
    }
    var schema = FunctionTool.Parameters.builder()
        .putAdditionalProperty("type", JsonValue.from("object"))
        .putAdditionalProperty("properties", JsonValue.from(Map.of("city", Map.of("type", "string"))))
        .putAdditionalProperty("required", JsonValue.from(List.of("city")))
        .build();
    return params.input("What is the weather in Paris?")
        .addTool(FunctionTool.builder().name(ResponsesStandIn.TOOL).description("The current weather in a city.").parameters(schema).strict(false).build())
        .build();
  }

  private static String text(Response response) {
    return response.output().stream()
        .flatMap(item -> item.message().stream())
        .flatMap(message -> message.content().stream())
        .flatMap(content -> content.outputText().stream())
        .map(text -> text.text())
        .collect(Collectors.joining());
  }

  private static void assertUsage(ResponseUsage usage) {
    assertThat(usage.inputTokens()).isEqualTo(OpenAiStandIn.PROMPT_TOKENS);
    assertThat(usage.outputTokens()).isEqualTo(OpenAiStandIn.COMPLETION_TOKENS);
    assertThat(usage.totalTokens()).isEqualTo(OpenAiStandIn.TOTAL_TOKENS);
    assertThat(usage.inputTokensDetails().cachedTokens()).isZero();
    assertThat(usage.outputTokensDetails().reasoningTokens()).isZero();
  }

  private static void assertRecorded(String key) throws Exception {
    assertRecorded(key, 1);
  }

  /** The key counts {@code requests} answers of the stand-ins' size. */
  private static void assertRecorded(String key, long requests) throws Exception {
    JsonNode info = admin().keyInfoAfter(key, requests);
    assertThat(info.get("request_count").asLong()).isEqualTo(requests);
    assertThat(info.get("prompt_tokens").asLong()).isEqualTo(requests * OpenAiStandIn.PROMPT_TOKENS);
    assertThat(info.get("total_tokens").asLong()).isEqualTo(requests * OpenAiStandIn.TOTAL_TOKENS);
  }

  /** The call id the client sees: the provider's, except Gemini's calls, which have none (the gateway makes one). */
  private static void assertCallId(String model, String callId) {
    if (model.equals(GEMINI)) {
      assertThat(callId).startsWith("call_");
    } else {
      assertThat(callId).isEqualTo(ResponsesStandIn.CALL_ID);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {TRANSLATED, NATIVE, GEMINI, BEDROCK, AZURE_DATED, AZURE_V1})
  void javaSdkCreateGetsTheTextAndTheKeyRecordsTheUsage(String model) throws Exception {
    String key = admin().newKey("responses");

    Response response = sdk(key).responses().create(params(model, false));

    assertThat(text(response)).isEqualTo(OpenAiStandIn.TEXT);
    assertThat(response.status()).hasValueSatisfying(status -> assertThat(status.asString()).isEqualTo("completed"));
    assertUsage(response.usage().orElseThrow());
    assertRecorded(key);
  }

  @ParameterizedTest
  @ValueSource(strings = {TRANSLATED, NATIVE, GEMINI, BEDROCK, AZURE_DATED, AZURE_V1})
  void javaSdkCreateWithAFunctionToolGetsTheCall(String model) throws Exception {
    String key = admin().newKey("responses");

    Response response = sdk(key).responses().create(params(model, true));

    List<ResponseFunctionToolCall> calls = response.output().stream().flatMap(item -> item.functionCall().stream()).toList();
    assertThat(calls).hasSize(1);
    assertThat(calls.get(0).name()).isEqualTo(ResponsesStandIn.TOOL);
    assertCallId(model, calls.get(0).callId());
    assertThat(Json.MAPPER.readTree(calls.get(0).arguments())).isEqualTo(Json.MAPPER.readTree(ResponsesStandIn.ARGUMENTS));
    assertUsage(response.usage().orElseThrow());
    assertRecorded(key);
  }

  @ParameterizedTest
  @ValueSource(strings = {TRANSLATED, NATIVE, GEMINI, BEDROCK, AZURE_DATED, AZURE_V1})
  void javaSdkCreateStreamingGetsTheDeltasThenResponseCompletedWithUsage(String model) throws Exception {
    String key = admin().newKey("responses");

    List<ResponseStreamEvent> events;
    try (var stream = sdk(key).responses().createStreaming(params(model, false))) {
      events = stream.stream().toList();
    }

    String streamed = events.stream().flatMap(e -> e.outputTextDelta().stream()).map(d -> d.delta()).collect(Collectors.joining());
    assertThat(streamed).isEqualTo(OpenAiStandIn.TEXT);
    assertThat(events.get(0).isCreated()).as("response.created first").isTrue();
    assertThat(events.get(events.size() - 1).isCompleted()).as("response.completed last").isTrue();
    Response completed = events.get(events.size() - 1).asCompleted().response();
    assertThat(text(completed)).isEqualTo(OpenAiStandIn.TEXT);
    assertUsage(completed.usage().orElseThrow());
    for (int i = 0; i < events.size(); i++) {
      assertThat(Json.MAPPER.valueToTree(events.get(i)).path("sequence_number").asInt()).as("event %d numbered", i).isEqualTo(i);
    }
    assertRecorded(key);
  }

  @ParameterizedTest
  @ValueSource(strings = {TRANSLATED, NATIVE, GEMINI, BEDROCK, AZURE_DATED, AZURE_V1})
  void javaSdkCreateStreamingWithAFunctionToolStreamsItsArguments(String model) throws Exception {
    String key = admin().newKey("responses");

    List<ResponseStreamEvent> events;
    try (var stream = sdk(key).responses().createStreaming(params(model, true))) {
      events = stream.stream().toList();
    }

    String arguments = events.stream().flatMap(e -> e.functionCallArgumentsDelta().stream()).map(d -> d.delta()).collect(Collectors.joining());
    assertThat(Json.MAPPER.readTree(arguments)).isEqualTo(Json.MAPPER.readTree(ResponsesStandIn.ARGUMENTS));
    var done = events.stream().flatMap(e -> e.outputItemDone().stream()).flatMap(d -> d.item().functionCall().stream()).toList();
    assertThat(done).singleElement().satisfies(call -> {
      assertThat(call.name()).isEqualTo(ResponsesStandIn.TOOL);
      assertCallId(model, call.callId());
    });
    assertUsage(events.get(events.size() - 1).asCompleted().response().usage().orElseThrow());
    assertRecorded(key);
  }

  @ParameterizedTest
  @ValueSource(strings = {TRANSLATED + " plain", TRANSLATED + " stream", NATIVE + " plain", NATIVE + " stream"})
  void nodeSdkResponsesWithAFunctionToolAndPlainTextThroughTheGateway(String modelAndMode) throws Exception {
    NodeClients.install();
    String model = modelAndMode.split(" ")[0];
    String mode = modelAndMode.split(" ")[1];
    for (boolean withTool : new boolean[] {false, true}) {
      String key = admin().newKey("responses-node");
      var env = Map.of("HOME", home.toString(), "AIGW_BASE_URL", gateway.baseUrl() + "/v1", "AIGW_API_KEY", key, "AIGW_MODEL", model);
      var run = NodeClients.node("openai-responses.mjs", withTool ? List.of(mode, "tool") : List.of(mode), env);
      assertThat(run.exitCode()).as("%s exited with %d:%n%s%n%s", modelAndMode, run.exitCode(), run.stdout(), run.stderr()).isZero();
      JsonNode printed = Json.MAPPER.readTree(run.stdout().strip().lines().reduce((first, last) -> last).orElse("{}"));
      assertThat(printed.get("status").asText()).isEqualTo("completed");
      if (withTool) {
        assertThat(printed.at("/calls/0/name").asText()).isEqualTo(ResponsesStandIn.TOOL);
        assertThat(printed.at("/calls/0/call_id").asText()).isEqualTo(ResponsesStandIn.CALL_ID);
        assertThat(Json.MAPPER.readTree(printed.at("/calls/0/arguments").asText())).isEqualTo(Json.MAPPER.readTree(ResponsesStandIn.ARGUMENTS));
      } else {
        assertThat(printed.get("text").asText()).isEqualTo(OpenAiStandIn.TEXT);
      }
      assertThat(printed.at("/usage/total_tokens").asInt()).isEqualTo(OpenAiStandIn.TOTAL_TOKENS);
      assertThat(printed.at("/usage/input_tokens_details/cached_tokens").isInt()).isTrue();
      assertRecorded(key);
    }
  }

  /**
   * A function call round trip with the Java SDK: the model calls the tool, the client sends the
   * call and its output back as input items, the model answers; both requests counted on the key.
   */
  @ParameterizedTest(name = "{0}, streamed: {1}")
  @CsvSource({
    GEMINI + ", false", GEMINI + ", true", BEDROCK + ", false", BEDROCK + ", true",
    AZURE_DATED + ", false", AZURE_DATED + ", true", AZURE_V1 + ", false", AZURE_V1 + ", true"
  })
  void javaSdkFunctionCallRoundTripGetsTheFinalAnswerAndTheKeyRecordsBothRequests(String model, boolean streamed) throws Exception {
    String key = admin().newKey("responses-roundtrip");
    OpenAIClient client = sdk(key);
    ResponseCreateParams first = params(model, true);

    Response called = streamed ? completedOf(client, first) : client.responses().create(first);
    ResponseFunctionToolCall call = called.output().stream().flatMap(item -> item.functionCall().stream()).findFirst().orElseThrow();
    var input = new ArrayList<ResponseInputItem>();
    input.add(ResponseInputItem.ofEasyInputMessage(EasyInputMessage.builder()
        .role(EasyInputMessage.Role.USER).content("What is the weather in Paris?").build()));
    input.add(ResponseInputItem.ofFunctionCall(call));
    input.add(ResponseInputItem.ofFunctionCallOutput(
        ResponseInputItem.FunctionCallOutput.builder().callId(call.callId()).output(AdapterStandIns.RESULT).build()));
    ResponseCreateParams second = first.toBuilder().inputOfResponse(input).build();
    Response answered = streamed ? completedOf(client, second) : client.responses().create(second);

    assertThat(call.name()).isEqualTo(ResponsesStandIn.TOOL);
    assertCallId(model, call.callId());
    assertThat(text(answered)).isEqualTo(AdapterStandIns.AFTER_TOOL);
    assertUsage(answered.usage().orElseThrow());
    assertRecorded(key, 2);
  }

  /** The Response of {@code response.completed}, the last event of a stream, whose text deltas add up to its text. */
  private static Response completedOf(OpenAIClient client, ResponseCreateParams params) {
    List<ResponseStreamEvent> events;
    try (var stream = client.responses().createStreaming(params)) {
      events = stream.stream().toList();
    }
    Response completed = events.get(events.size() - 1).asCompleted().response();
    String streamed = events.stream().flatMap(e -> e.outputTextDelta().stream()).map(d -> d.delta()).collect(Collectors.joining());
    assertThat(streamed).isEqualTo(text(completed));
    return completed;
  }

  @ParameterizedTest
  @ValueSource(strings = {GEMINI + " plain", GEMINI + " stream", BEDROCK + " plain", BEDROCK + " stream",
      AZURE_DATED + " plain", AZURE_DATED + " stream", AZURE_V1 + " plain", AZURE_V1 + " stream"})
  void nodeSdkFunctionCallRoundTripThroughTheGatewayToEveryOtherAdapter(String modelAndMode) throws Exception {
    NodeClients.install();
    String model = modelAndMode.split(" ")[0];
    String key = admin().newKey("responses-node-roundtrip");
    var env = Map.of("HOME", home.toString(), "AIGW_BASE_URL", gateway.baseUrl() + "/v1", "AIGW_API_KEY", key, "AIGW_MODEL", model,
        "AIGW_TOOL_RESULT", AdapterStandIns.RESULT);

    var run = NodeClients.node("openai-responses.mjs", List.of(modelAndMode.split(" ")[1], "roundtrip"), env);

    assertThat(run.exitCode()).as("%s exited with %d:%n%s%n%s", modelAndMode, run.exitCode(), run.stdout(), run.stderr()).isZero();
    JsonNode printed = Json.MAPPER.readTree(run.stdout().strip().lines().reduce((first, last) -> last).orElse("{}"));
    assertThat(printed.get("status").asText()).isEqualTo("completed");
    assertThat(printed.at("/calls/0/name").asText()).isEqualTo(ResponsesStandIn.TOOL);
    assertCallId(model, printed.at("/calls/0/call_id").asText());
    assertThat(printed.get("text").asText()).isEqualTo(AdapterStandIns.AFTER_TOOL);
    assertThat(printed.at("/usage/total_tokens").asInt()).isEqualTo(OpenAiStandIn.TOTAL_TOKENS);
    assertRecorded(key, 2);
  }
}

package aigw.local.clients;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
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
import com.openai.core.JsonValue;
import com.openai.errors.RateLimitException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionFunctionTool;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.FunctionDefinition;
import com.openai.models.FunctionParameters;
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
 * A {@code gemini/<model>} deployment end to end: the official OpenAI Java SDK talks chat
 * completions to the local gateway, which talks Gemini's generateContent and
 * streamGenerateContent (SSE) to a loopback WireMock stand-in answering in Google's documented
 * shapes (ai.google.dev/api/generate-content); the usage Gemini reports is recorded on the key.
 */
class GeminiEndToEndTest {
  private static final String MASTER = "sk-gemini-master-key-for-tests-only";
  private static final String PROVIDER_KEY = "gemini-stand-in-key-not-a-secret-0042";
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  @TempDir static Path dir;
  private static WireMockServer gemini;
  private static LocalGateway gateway;

  @BeforeAll
  static void start() throws Exception {
    gemini = Upstream.start();
    gemini.stubFor(
        post(urlEqualTo("/v1beta/models/gemini-2.5-flash:generateContent"))
            .withHeader("x-goog-api-key", equalTo(PROVIDER_KEY))
            .withRequestBody(matchingJsonPath("$.tools[0].functionDeclarations[0].name", equalTo("get_weather")))
            .atPriority(1)
            .willReturn(okJson("""
                {"candidates":[{"content":{"parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}}}],"role":"model"},"finishReason":"STOP","index":0}],
                 "usageMetadata":{"promptTokenCount":30,"candidatesTokenCount":7,"totalTokenCount":37},"modelVersion":"gemini-2.5-flash","responseId":"tool1"}""")));
    gemini.stubFor(
        post(urlEqualTo("/v1beta/models/gemini-2.5-flash:generateContent"))
            .withHeader("x-goog-api-key", equalTo(PROVIDER_KEY))
            .atPriority(2)
            .willReturn(okJson("""
                {"candidates":[{"content":{"parts":[{"text":"Bonjour de Gemini"}],"role":"model"},"finishReason":"STOP","index":0}],
                 "usageMetadata":{"promptTokenCount":11,"candidatesTokenCount":4,"totalTokenCount":21,"thoughtsTokenCount":6},
                 "modelVersion":"gemini-2.5-flash","responseId":"plain1"}""")));
    gemini.stubFor(
        post(urlEqualTo("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"))
            .withHeader("x-goog-api-key", equalTo(PROVIDER_KEY))
            .willReturn(
                aResponse()
                    .withHeader("Content-Type", "text/event-stream")
                    .withBody(
                        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Bonjour\"}],\"role\":\"model\"},\"index\":0}],"
                            + "\"usageMetadata\":{\"promptTokenCount\":11,\"totalTokenCount\":11},\"responseId\":\"s1\"}\r\n\r\n"
                            + "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\" de\"}],\"role\":\"model\"},\"index\":0}],"
                            + "\"usageMetadata\":{\"promptTokenCount\":11,\"totalTokenCount\":11},\"responseId\":\"s1\"}\r\n\r\n"
                            + "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\" Gemini\"}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],"
                            + "\"usageMetadata\":{\"promptTokenCount\":11,\"candidatesTokenCount\":3,\"totalTokenCount\":14},\"responseId\":\"s1\"}\r\n\r\n")));
    gemini.stubFor(
        post(urlEqualTo("/v1beta/models/gemini-busy:generateContent"))
            .willReturn(
                aResponse()
                    .withStatus(429)
                    .withHeader("Content-Type", "application/json")
                    .withHeader("Retry-After", "9")
                    .withBody("{\"error\":{\"code\":429,\"message\":\"Resource has been exhausted (e.g. check quota).\",\"status\":\"RESOURCE_EXHAUSTED\"}}")));
    gemini.stubFor(
        post(urlEqualTo("/v1beta/models/gemini-wrong-key:generateContent"))
            .willReturn(
                aResponse()
                    .withStatus(400)
                    .withHeader("Content-Type", "application/json")
                    .withBody(
                        "{\"error\":{\"code\":400,\"message\":\"API key not valid. Please pass a valid API key.\",\"status\":\"INVALID_ARGUMENT\","
                            + "\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\",\"reason\":\"API_KEY_INVALID\",\"domain\":\"googleapis.com\"}]}}")));
    Path config = dir.resolve("config.yaml");
    Files.writeString(
        config,
        """
        model_list:
          - model_name: gemini-flash
            litellm_params: {model: gemini/gemini-2.5-flash, api_base: "%1$s", api_key: os.environ/GEMINI_API_KEY}
          - model_name: gemini-busy
            litellm_params: {model: gemini/gemini-busy, api_base: "%1$s", api_key: os.environ/GEMINI_API_KEY}
          - model_name: gemini-wrong-key
            litellm_params: {model: gemini/gemini-wrong-key, api_base: "%1$s", api_key: os.environ/GEMINI_API_KEY}
        """
            .formatted(gemini.baseUrl()));
    gateway = LocalGateway.start(LocalOptions.inMemory(config, Map.of("AIGW_MASTER_KEY", MASTER, "GEMINI_API_KEY", PROVIDER_KEY)));
  }

  @AfterAll
  static void stop() {
    gateway.close();
    gemini.stop();
  }

  private static OpenAIClient sdk(String key) {
    return OpenAIOkHttpClient.builder().baseUrl(gateway.baseUrl() + "/v1").apiKey(key).maxRetries(0).build();
  }

  @Test
  void theSdkGetsAGeminiAnswerAndTheKeyRecordsItsUsage() throws Exception {
    String key = newKey();

    ChatCompletion answer =
        sdk(key).chat().completions().create(
            ChatCompletionCreateParams.builder().model("gemini-flash").addSystemMessage("Be brief.").addUserMessage("Say hello").maxCompletionTokens(50).build());

    assertThat(answer.choices().getFirst().message().content()).contains("Bonjour de Gemini");
    assertThat(answer.choices().getFirst().finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.STOP);
    assertThat(answer.usage().orElseThrow().completionTokens()).as("thinking tokens are completion tokens").isEqualTo(10);
    gemini.verify(
        postRequestedFor(urlEqualTo("/v1beta/models/gemini-2.5-flash:generateContent"))
            .withHeader("x-goog-api-key", equalTo(PROVIDER_KEY))
            .withRequestBody(matchingJsonPath("$.systemInstruction.parts[0].text", equalTo("Be brief.")))
            .withRequestBody(matchingJsonPath("$.contents[0].role", equalTo("user")))
            .withRequestBody(matchingJsonPath("$.generationConfig.maxOutputTokens", equalTo("50"))));
    JsonNode info = keyInfoAfter(key, 1);
    assertThat(info.get("request_count").asLong()).isEqualTo(1);
    assertThat(info.get("total_tokens").asLong()).isEqualTo(21);
  }

  @Test
  void theSdkStreamsAGeminiAnswerAndTheKeyRecordsItsUsage() throws Exception {
    String key = newKey();

    List<ChatCompletionChunk> chunks;
    try (var stream = sdk(key).chat().completions().createStreaming(
        ChatCompletionCreateParams.builder().model("gemini-flash").addUserMessage("Say hello").build())) {
      chunks = stream.stream().toList();
    }

    assertThat(chunks).hasSizeGreaterThan(2);
    assertThat(chunks.stream().flatMap(c -> c.choices().stream()).map(c -> c.delta().content().orElse("")).collect(Collectors.joining()))
        .isEqualTo("Bonjour de Gemini");
    assertThat(chunks.stream().flatMap(c -> c.usage().stream()).toList()).as("no usage chunk unless the client asks").isEmpty();
    JsonNode info = keyInfoAfter(key, 1);
    assertThat(info.get("request_count").asLong()).isEqualTo(1);
    assertThat(info.get("total_tokens").asLong()).isEqualTo(14);
  }

  @Test
  void aGeminiFunctionCallReachesTheSdkAsAToolCall() throws Exception {
    var tool =
        ChatCompletionFunctionTool.builder()
            .function(
                FunctionDefinition.builder()
                    .name("get_weather")
                    .parameters(
                        FunctionParameters.builder()
                            .putAdditionalProperty("type", JsonValue.from("object"))
                            .putAdditionalProperty("properties", JsonValue.from(Map.of("city", Map.of("type", "string"))))
                            .build())
                    .build())
            .build();

    ChatCompletion answer =
        sdk(newKey()).chat().completions().create(
            ChatCompletionCreateParams.builder().model("gemini-flash").addUserMessage("Weather in Paris?").addTool(tool).build());

    var call = answer.choices().getFirst().message().toolCalls().orElseThrow().getFirst().asFunction();
    assertThat(call.function().name()).isEqualTo("get_weather");
    assertThat(Json.MAPPER.readTree(call.function().arguments()).get("city").asText()).isEqualTo("Paris");
    assertThat(call.id()).startsWith("call_");
    assertThat(answer.choices().getFirst().finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.TOOL_CALLS);
  }

  @Test
  void geminisRateLimitReachesTheClientAs429WithRetryAfter() throws Exception {
    String key = newKey();

    assertThatThrownBy(() -> sdk(key).chat().completions().create(
            ChatCompletionCreateParams.builder().model("gemini-busy").addUserMessage("hi").build()))
        .isInstanceOfSatisfying(RateLimitException.class, e -> {
          assertThat(e.headers().values("retry-after")).containsExactly("9");
          assertThat(e.getMessage()).contains("Resource has been exhausted");
        });
  }

  @Test
  void theSdkGetsGeminisUsageChunkWhenItAsks() throws Exception {
    String key = newKey();

    List<ChatCompletionChunk> chunks;
    try (var stream = sdk(key).chat().completions().createStreaming(
        ChatCompletionCreateParams.builder().model("gemini-flash").addUserMessage("Say hello")
            .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build())) {
      chunks = stream.stream().toList();
    }

    var last = chunks.getLast();
    assertThat(last.choices()).isEmpty();
    assertThat(last.usage().orElseThrow().promptTokens()).isEqualTo(11);
    assertThat(last.usage().orElseThrow().completionTokens()).isEqualTo(3);
    assertThat(chunks.stream().flatMap(c -> c.choices().stream()).flatMap(c -> c.finishReason().stream()).toList())
        .containsExactly(ChatCompletionChunk.Choice.FinishReason.STOP);
  }

  /** Google answers a wrong key with 400 API_KEY_INVALID: the client must not read it as its own mistake. */
  @Test
  void geminiRefusingTheGatewaysKeyIsA502UpstreamAuthErrorWithoutTheKey() throws Exception {
    var response =
        HTTP.send(
            HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/v1/chat/completions"))
                .header("Authorization", "Bearer " + newKey())
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"gemini-wrong-key\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"))
                .build(),
            HttpResponse.BodyHandlers.ofString());

    assertThat(response.statusCode()).isEqualTo(502);
    JsonNode error = Json.MAPPER.readTree(response.body()).get("error");
    assertThat(error.get("type").asText()).isEqualTo("upstream_auth_error");
    assertThat(error.get("message").asText()).contains("refused the gateway's credentials");
    assertThat(response.body()).doesNotContain(PROVIDER_KEY);
  }

  private static String newKey() throws Exception {
    return admin().newKey("gemini");
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

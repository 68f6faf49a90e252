package aigw.local.clients;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.matching;
import static com.github.tomakehurst.wiremock.client.WireMock.matchingJsonPath;
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
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.errors.RateLimitException;
import com.openai.models.FunctionDefinition;
import com.openai.models.FunctionParameters;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionFunctionTool;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.eventstream.HeaderValue;
import software.amazon.eventstream.Message;

/**
 * A {@code bedrock/<model id>} deployment end to end: the official OpenAI Java SDK talks chat
 * completions to the local gateway, which signs Converse and ConverseStream calls with SigV4 and
 * sends them to a loopback WireMock stand-in set as {@code aws_bedrock_runtime_endpoint}. The
 * stand-in answers Converse's JSON, and ConverseStream's binary {@code
 * application/vnd.amazon.eventstream}, which this test encodes with the event stream library's own
 * {@link Message} encoder. The credentials are static test ones, given to the SDK's default chain
 * as system properties only after the gateway started: what the gateway signs with is read at the
 * call, not at start (as it must be under SnapStart).
 */
class BedrockEndToEndTest {
  private static final String MASTER = "sk-bedrock-master-key-for-tests-only";
  private static final String ACCESS_KEY = "AKIDBEDROCKTEST00001";
  private static final String SECRET_KEY = "bedrock/secret/access/key/for/tests/only/0001";
  private static final String SESSION_TOKEN = "bedrock-session-token-for-tests-only";
  private static final String CLAUDE = "anthropic.claude-3-5-sonnet-20240620-v1:0";
  private static final String CLAUDE_PATH = "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0";
  private static final String PROFILE = "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-3-7-sonnet-20250219-v1:0";
  private static final String PROFILE_PATH =
      "/model/arn%3Aaws%3Abedrock%3Aeu-west-1%3A123456789012%3Ainference-profile%2Feu.anthropic.claude-3-7-sonnet-20250219-v1%3A0";
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  @TempDir static Path dir;
  private static WireMockServer bedrock;
  private static LocalGateway gateway;

  @BeforeAll
  static void start() throws Exception {
    bedrock = Upstream.start();
    bedrock.stubFor(
        post(urlEqualTo(CLAUDE_PATH + "/converse"))
            .withRequestBody(matchingJsonPath("$.toolConfig.tools[0].toolSpec.name", equalTo("get_weather")))
            .atPriority(1)
            .willReturn(converseJson("""
                {"output":{"message":{"role":"assistant","content":[{"toolUse":{"toolUseId":"tooluse_kZJMlvQmRJ6eAyJE5GIl7Q","name":"get_weather","input":{"city":"Paris"}}}]}},
                 "stopReason":"tool_use","usage":{"inputTokens":401,"outputTokens":38,"totalTokens":439},"metrics":{"latencyMs":980}}""")));
    bedrock.stubFor(
        post(urlEqualTo(CLAUDE_PATH + "/converse"))
            .atPriority(2)
            .willReturn(converseJson("""
                {"output":{"message":{"role":"assistant","content":[{"text":"Bonjour de Bedrock"}]}},
                 "stopReason":"end_turn","usage":{"inputTokens":9,"outputTokens":5,"totalTokens":1214,"cacheReadInputTokens":1200,"cacheWriteInputTokens":0},
                 "metrics":{"latencyMs":480}}""")));
    bedrock.stubFor(
        post(urlEqualTo(PROFILE_PATH + "/converse-stream"))
            .willReturn(
                aResponse()
                    .withHeader("Content-Type", "application/vnd.amazon.eventstream")
                    .withHeader("x-amzn-RequestId", "e0a1b2c3-stream")
                    .withBody(
                        eventStream(
                            event("messageStart", "{\"p\":\"abcd\",\"role\":\"assistant\"}"),
                            event("contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Bonjour\"},\"p\":\"abcdefgh\"}"),
                            event("contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\" de Bedrock\"},\"p\":\"ab\"}"),
                            event("contentBlockStop", "{\"contentBlockIndex\":0,\"p\":\"abcdef\"}"),
                            event("messageStop", "{\"p\":\"abc\",\"stopReason\":\"end_turn\"}"),
                            event("metadata", "{\"metrics\":{\"latencyMs\":610},\"p\":\"a\",\"usage\":{\"inputTokens\":12,\"outputTokens\":4,\"totalTokens\":16}}")))));
    bedrock.stubFor(
        post(urlEqualTo("/model/throttled.model-v1%3A0/converse-stream"))
            .willReturn(
                aResponse()
                    .withHeader("Content-Type", "application/vnd.amazon.eventstream")
                    .withBody(
                        eventStream(
                            exception("throttlingException", "{\"message\":\"Too many tokens, please wait before trying again.\"}")))));
    bedrock.stubFor(
        post(urlEqualTo("/model/throttled.model-v1%3A0/converse"))
            .willReturn(bedrockError(429, "ThrottlingException", "Too many requests, please wait before trying again.")));
    bedrock.stubFor(
        post(urlEqualTo("/model/denied.model-v1%3A0/converse"))
            .willReturn(
                bedrockError(
                    403, "AccessDeniedException",
                    "User: arn:aws:sts::123456789012:assumed-role/aigw-ProxyFunctionRole/aigw is not authorized to perform: bedrock:InvokeModel")));
    Path config = dir.resolve("config.yaml");
    Files.writeString(
        config,
        """
        model_list:
          - model_name: claude
            litellm_params: {model: "bedrock/%2$s", aws_region_name: us-east-1, aws_bedrock_runtime_endpoint: "%1$s"}
          - model_name: claude-profile
            litellm_params: {model: "bedrock/%3$s", aws_region_name: eu-west-1, aws_bedrock_runtime_endpoint: "%1$s"}
          - model_name: throttled
            litellm_params: {model: "bedrock/throttled.model-v1:0", aws_region_name: us-east-1, aws_bedrock_runtime_endpoint: "%1$s"}
          - model_name: denied
            litellm_params: {model: "bedrock/denied.model-v1:0", aws_region_name: us-east-1, aws_bedrock_runtime_endpoint: "%1$s"}
        """
            .formatted(bedrock.baseUrl(), CLAUDE, PROFILE));
    gateway = LocalGateway.start(LocalOptions.inMemory(config, Map.of("AIGW_MASTER_KEY", MASTER)));
    // Only now: the gateway must not have needed (or kept) AWS credentials to start.
    useCredentials(ACCESS_KEY);
  }

  @AfterAll
  static void stop() {
    System.clearProperty("aws.accessKeyId");
    System.clearProperty("aws.secretAccessKey");
    System.clearProperty("aws.sessionToken");
    gateway.close();
    bedrock.stop();
  }

  /** The SDK's default chain reads these system properties first, at each resolution. */
  private static void useCredentials(String accessKey) {
    System.setProperty("aws.accessKeyId", accessKey);
    System.setProperty("aws.secretAccessKey", SECRET_KEY);
    System.setProperty("aws.sessionToken", SESSION_TOKEN);
  }

  private static com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder converseJson(String json) {
    return aResponse().withHeader("Content-Type", "application/json").withHeader("x-amzn-RequestId", "9b7c6d5e-plain").withBody(json);
  }

  private static com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder bedrockError(int status, String exception, String message) {
    return aResponse()
        .withStatus(status)
        .withHeader("Content-Type", "application/json")
        .withHeader("x-amzn-ErrorType", exception + ":http://internal.amazon.com/coral/com.amazon.bedrock/")
        .withBody("{\"message\":\"" + message + "\"}");
  }

  /** One ConverseStream event as Bedrock frames it: {@code :event-type}, {@code :content-type}, {@code :message-type} headers. */
  private static Message event(String type, String json) {
    var headers = new LinkedHashMap<String, HeaderValue>();
    headers.put(":event-type", HeaderValue.fromString(type));
    headers.put(":content-type", HeaderValue.fromString("application/json"));
    headers.put(":message-type", HeaderValue.fromString("event"));
    return new Message(headers, json.getBytes(StandardCharsets.UTF_8));
  }

  private static Message exception(String type, String json) {
    var headers = new LinkedHashMap<String, HeaderValue>();
    headers.put(":exception-type", HeaderValue.fromString(type));
    headers.put(":content-type", HeaderValue.fromString("application/json"));
    headers.put(":message-type", HeaderValue.fromString("exception"));
    return new Message(headers, json.getBytes(StandardCharsets.UTF_8));
  }

  private static byte[] eventStream(Message... messages) {
    var out = new ByteArrayOutputStream();
    for (Message message : messages) {
      message.encode(out);
    }
    return out.toByteArray();
  }

  private static OpenAIClient sdk(String key) {
    return OpenAIOkHttpClient.builder().baseUrl(gateway.baseUrl() + "/v1").apiKey(key).maxRetries(0).build();
  }

  /** {@code AWS4-HMAC-SHA256 Credential=<key>/<yyyymmdd>/<region>/bedrock/aws4_request, SignedHeaders=..., Signature=<64 hex>}. */
  private static String sigV4(String accessKey, String region) {
    return "AWS4-HMAC-SHA256 Credential=" + accessKey + "/\\d{8}/" + region + "/bedrock/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*x-amz-date[a-z0-9;-]*, Signature=[0-9a-f]{64}";
  }

  @Test
  void theSdkGetsAConverseAnswerSignedForTheRegionAndTheKeyRecordsItsUsage() throws Exception {
    String key = newKey();

    ChatCompletion answer =
        sdk(key).chat().completions().create(
            ChatCompletionCreateParams.builder().model("claude").addSystemMessage("Be brief.").addUserMessage("Say hello").maxCompletionTokens(50).build());

    assertThat(answer.choices().getFirst().message().content()).contains("Bonjour de Bedrock");
    assertThat(answer.choices().getFirst().finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.STOP);
    assertThat(answer.id()).isEqualTo("chatcmpl-9b7c6d5e-plain");
    assertThat(answer.usage().orElseThrow().promptTokens()).as("cache reads are prompt tokens").isEqualTo(1209);
    bedrock.verify(
        postRequestedFor(urlEqualTo(CLAUDE_PATH + "/converse"))
            .withHeader("Authorization", matching(sigV4(ACCESS_KEY, "us-east-1")))
            .withHeader("X-Amz-Date", matching("\\d{8}T\\d{6}Z"))
            .withHeader("X-Amz-Security-Token", equalTo(SESSION_TOKEN))
            .withRequestBody(matchingJsonPath("$.system[0].text", equalTo("Be brief.")))
            .withRequestBody(matchingJsonPath("$.messages[0].content[0].text", equalTo("Say hello")))
            .withRequestBody(matchingJsonPath("$.inferenceConfig.maxTokens", equalTo("50"))));
    JsonNode info = admin().keyInfoAfter(key, 1);
    assertThat(info.get("request_count").asLong()).isEqualTo(1);
    assertThat(info.get("total_tokens").asLong()).isEqualTo(1214);
  }

  @Test
  void theSdkStreamsAnInferenceProfilesAnswerDecodedFromTheEventStreamAndTheKeyRecordsItsUsage() throws Exception {
    String key = newKey();

    List<ChatCompletionChunk> chunks;
    try (var stream = sdk(key).chat().completions().createStreaming(
        ChatCompletionCreateParams.builder().model("claude-profile").addUserMessage("Say hello")
            .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build())) {
      chunks = stream.stream().toList();
    }

    assertThat(chunks.stream().flatMap(c -> c.choices().stream()).map(c -> c.delta().content().orElse("")).collect(Collectors.joining()))
        .isEqualTo("Bonjour de Bedrock");
    assertThat(chunks.stream().flatMap(c -> c.choices().stream()).flatMap(c -> c.finishReason().stream()).toList())
        .containsExactly(ChatCompletionChunk.Choice.FinishReason.STOP);
    assertThat(chunks.getLast().usage().orElseThrow().totalTokens()).isEqualTo(16);
    List<LoggedRequest> sent = bedrock.findAll(postRequestedFor(urlEqualTo(PROFILE_PATH + "/converse-stream")));
    assertThat(sent).hasSize(1);
    assertThat(sent.getFirst().getHeader("Authorization")).as("signed for the profile's region").matches(sigV4(ACCESS_KEY, "eu-west-1"));
    assertThat(sent.getFirst().getHeader("Accept")).isEqualTo("application/vnd.amazon.eventstream");
    JsonNode info = admin().keyInfoAfter(key, 1);
    assertThat(info.get("request_count").asLong()).isEqualTo(1);
    assertThat(info.get("total_tokens").asLong()).isEqualTo(16);
  }

  @Test
  void aToolUseReachesTheSdkAsAToolCall() throws Exception {
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
            ChatCompletionCreateParams.builder().model("claude").addUserMessage("Weather in Paris?").addTool(tool).build());

    var call = answer.choices().getFirst().message().toolCalls().orElseThrow().getFirst().asFunction();
    assertThat(call.id()).isEqualTo("tooluse_kZJMlvQmRJ6eAyJE5GIl7Q");
    assertThat(call.function().name()).isEqualTo("get_weather");
    assertThat(Json.MAPPER.readTree(call.function().arguments()).get("city").asText()).isEqualTo("Paris");
    assertThat(answer.choices().getFirst().finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.TOOL_CALLS);
  }

  @Test
  void theCredentialsAreReadAtEachCallNotKeptFromTheFirst() throws Exception {
    String key = newKey();
    sdk(key).chat().completions().create(ChatCompletionCreateParams.builder().model("claude").addUserMessage("one").build());
    try {
      useCredentials("AKIDBEDROCKTEST00002"); // the role's credentials were renewed

      sdk(key).chat().completions().create(ChatCompletionCreateParams.builder().model("claude").addUserMessage("two").build());

      bedrock.verify(
          postRequestedFor(urlEqualTo(CLAUDE_PATH + "/converse"))
              .withRequestBody(matchingJsonPath("$.messages[0].content[0].text", equalTo("two")))
              .withHeader("Authorization", matching(sigV4("AKIDBEDROCKTEST00002", "us-east-1"))));
    } finally {
      useCredentials(ACCESS_KEY);
    }
  }

  @Test
  void bedrocksThrottlingReachesTheClientAs429() {
    assertThatThrownBy(() -> sdk(newKey()).chat().completions().create(
            ChatCompletionCreateParams.builder().model("throttled").addUserMessage("hi").build()))
        .isInstanceOfSatisfying(RateLimitException.class, e -> assertThat(e.getMessage()).contains("Too many requests"));
  }

  @Test
  void aThrottlingExceptionInTheEventStreamBeforeAnyChunkIsA429Response() throws Exception {
    var response = chat("throttled", true);

    assertThat(response.statusCode()).isEqualTo(429);
    JsonNode error = Json.MAPPER.readTree(response.body()).get("error");
    assertThat(error.get("type").asText()).isEqualTo("rate_limit_error");
    assertThat(error.get("code").asText()).isEqualTo("ThrottlingException");
    assertThat(error.get("message").asText()).contains("Too many tokens");
  }

  @Test
  void bedrockDenyingTheRoleIsA502UpstreamAuthErrorWithoutTheRoleOrAccount() throws Exception {
    var response = chat("denied", false);

    assertThat(response.statusCode()).isEqualTo(502);
    JsonNode error = Json.MAPPER.readTree(response.body()).get("error");
    assertThat(error.get("type").asText()).isEqualTo("upstream_auth_error");
    assertThat(error.get("message").asText()).contains("IAM role").contains("bedrock:InvokeModel");
    assertThat(response.body()).doesNotContain("123456789012").doesNotContain("assumed-role");
  }

  private static HttpResponse<String> chat(String model, boolean stream) throws Exception {
    return HTTP.send(
        HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/v1/chat/completions"))
            .header("Authorization", "Bearer " + newKey())
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(
                "{\"model\":\"" + model + "\",\"stream\":" + stream + ",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static String newKey() throws Exception {
    return admin().newKey("bedrock");
  }

  private static GatewayAdmin admin() {
    return new GatewayAdmin(gateway.baseUrl(), MASTER);
  }
}

package aigw.core.providers.bedrock;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.config.Deployment;
import aigw.core.config.Provider;
import aigw.core.errors.ErrorEnvelope;
import aigw.core.errors.GatewayException;
import aigw.core.json.Json;
import aigw.core.providers.ForwardedBody;
import aigw.core.providers.Operation;
import aigw.core.providers.ProviderRequest;
import aigw.core.providers.ProviderResponse;
import aigw.core.providers.ProviderStream;
import aigw.core.providers.StreamChunk;
import aigw.core.providers.http.UpstreamCall;
import aigw.core.providers.http.UpstreamHttp;
import aigw.core.testing.Upstream;
import aigw.core.usage.TokenUsage;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.eventstream.HeaderValue;
import software.amazon.eventstream.Message;

/**
 * Anthropic's Messages API to Bedrock's InvokeModel and back ({@link BedrockClaudeMessages}), and
 * through {@link BedrockConverseProvider} over a WireMock stand-in answering Bedrock's recorded
 * shapes: the Message of InvokeModel, InvokeModelWithResponseStream's {@code chunk} events (base64
 * {@code bytes} of Anthropic's events, Bedrock's {@code p} padding and {@code
 * amazon-bedrock-invocationMetrics}), its exceptions, and CountTokens.
 */
class BedrockClaudeMessagesTest {
  private static final String PROFILE = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-20250514-v1:0";
  private static final String PROFILE_SEGMENT =
      "arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-sonnet-4-20250514-v1%3A0";
  /** Claude Code's shape: system blocks with cache_control, a thinking budget, metadata, a beta field. */
  private static final String CLIENT_BODY = """
      {"model":"claude","max_tokens":1024,"stream":true,"metadata":{"user_id":"u-1"},
       "thinking":{"type":"enabled","budget_tokens":512},"temperature":1,
       "system":[{"type":"text","text":"You are Claude Code.","cache_control":{"type":"ephemeral"}}],
       "messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral"}}]},
                   {"role":"assistant","content":[{"type":"thinking","thinking":"...","signature":"EqQBCkYIARgCIkD"},{"type":"text","text":"Hello"}]},
                   {"role":"user","content":"again"}],
       "context_management":{"edits":[{"type":"clear_tool_uses_20250919"}]}}""";

  private static final String SONNET_4 = "us.anthropic.claude-sonnet-4-20250514-v1:0";

  private static WireMockServer bedrock;
  private final BedrockConverseProvider provider = new BedrockConverseProvider(
      new BedrockTranslator(), new UpstreamHttp(UpstreamHttp.defaultHttpClient()),
      StaticCredentialsProvider.create(AwsBasicCredentials.create("AKIDCLAUDETEST000001", "secret-for-tests-only")));

  @BeforeAll
  static void start() {
    bedrock = Upstream.start();
  }

  @AfterAll
  static void stop() {
    bedrock.stop();
  }

  @BeforeEach
  void reset() {
    bedrock.resetAll();
  }

  private static Deployment deployment(String modelId, URI endpoint) {
    return new Deployment("claude", Provider.BEDROCK, modelId, endpoint, null, null, Duration.ofSeconds(10), null, null, null, "us-east-1");
  }

  private Deployment standIn() {
    return deployment(PROFILE, URI.create(bedrock.baseUrl()));
  }

  private static ProviderRequest messages(Operation operation, String body, boolean stream, Map<String, String> headers) {
    return new ProviderRequest(operation, ForwardedBody.of(body.getBytes(StandardCharsets.UTF_8)), stream, headers);
  }

  // ---------------------------------------------------------------- which deployments

  @ParameterizedTest(name = "{0} → {1}")
  @CsvSource({
    "anthropic.claude-3-5-sonnet-20240620-v1:0, true",
    "us.anthropic.claude-3-7-sonnet-20250219-v1:0, true",
    "global.anthropic.claude-sonnet-4-5-20250929-v1:0, true",
    "apac.anthropic.claude-3-haiku-20240307-v1:0, true",
    "us-gov.anthropic.claude-3-5-sonnet-20240620-v1:0, true",
    "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0, true",
    "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-20250514-v1:0, true",
    "amazon.nova-lite-v1:0, false",
    "meta.llama3-8b-instruct-v1:0, false",
    "us.amazon.nova-pro-v1:0, false",
    "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6, false",
    "anthropic.titan-lookalike-v1, false"
  })
  void claudeIsRecognisedByItsBedrockIdProfileOrArn(String modelId, boolean claude) {
    assertThat(BedrockClaudeMessages.servesClaude(deployment(modelId, URI.create("http://localhost")))).isEqualTo(claude);
  }

  @Test
  void anAnthropicDeploymentIsNotBedrockClaude() {
    var anthropic = new Deployment("c", Provider.ANTHROPIC, "anthropic.claude-3-5-sonnet-20240620-v1:0", URI.create("http://localhost"), "k", null,
        Duration.ofSeconds(5), null, null, null, null);
    assertThat(BedrockClaudeMessages.servesClaude(anthropic)).isFalse();
  }

  // ---------------------------------------------------------------- request

  @Test
  void theBodyLosesModelAndStreamGainsBedrocksVersionAndTheBetasOfTheHeaderAndKeepsEverythingElse() {
    JsonNode client = Json.readObject(CLIENT_BODY.getBytes(StandardCharsets.UTF_8));
    UpstreamCall call = new BedrockClaudeMessages().request(standIn(),
        messages(Operation.MESSAGES, CLIENT_BODY, true, Map.of("anthropic-beta", "interleaved-thinking-2025-05-14, context-management-2025-06-27")));

    JsonNode sent = Json.readObject(call.body());
    assertThat(sent.has("model")).isFalse();
    assertThat(sent.has("stream")).isFalse();
    assertThat(sent.path("anthropic_version").asText()).isEqualTo("bedrock-2023-05-31");
    assertThat(sent.path("anthropic_beta")).isEqualTo(Json.MAPPER.createArrayNode().add("interleaved-thinking-2025-05-14").add("context-management-2025-06-27"));
    for (String kept : List.of("max_tokens", "metadata", "thinking", "temperature", "system", "messages")) {
      assertThat(sent.get(kept)).as(kept).isEqualTo(client.get(kept));
    }
    assertThat(sent.has("context_management")).as("no compact edit: Bedrock takes no other").isFalse();
    assertThat(sent.at("/messages/1/content/0/signature").asText()).isEqualTo("EqQBCkYIARgCIkD");
  }

  @Test
  void betasTheBodyAlreadyNamesAreKeptAndNotRepeated() {
    JsonNode sent = BedrockClaudeMessages.invokeBody(
        Json.readObject("{\"model\":\"m\",\"anthropic_beta\":[\"effort-2025-11-24\"],\"messages\":[]}".getBytes(StandardCharsets.UTF_8)),
        "effort-2025-11-24,context-1m-2025-08-07", SONNET_4);
    assertThat(sent.path("anthropic_beta")).isEqualTo(Json.MAPPER.createArrayNode().add("effort-2025-11-24").add("context-1m-2025-08-07"));
    assertThat(BedrockClaudeMessages.invokeBody(Json.readObject("{\"messages\":[]}".getBytes(StandardCharsets.UTF_8)), null, SONNET_4).has("anthropic_beta")).isFalse();
  }

  @Test
  void cacheScopesAreLeftOutAndTheBreakpointsKept() {
    JsonNode sent = BedrockClaudeMessages.invokeBody(Json.readObject("""
        {"tools":[{"name":"t","input_schema":{"type":"object"},"cache_control":{"type":"ephemeral","scope":"global"}}],
         "system":[{"type":"text","text":"s","cache_control":{"type":"ephemeral","ttl":"1h","scope":"global"}}],
         "messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral","scope":"global"}}]},
                     {"role":"assistant","content":"plain text"}]}""".getBytes(StandardCharsets.UTF_8)), "prompt-caching-scope-2026-01-05",
        "global.anthropic.claude-sonnet-4-5-20250929-v1:0");
    assertThat(sent.at("/tools/0/cache_control")).isEqualTo(Json.MAPPER.createObjectNode().put("type", "ephemeral"));
    assertThat(sent.at("/system/0/cache_control")).isEqualTo(Json.MAPPER.createObjectNode().put("type", "ephemeral").put("ttl", "1h"));
    assertThat(sent.at("/messages/0/content/0/cache_control")).isEqualTo(Json.MAPPER.createObjectNode().put("type", "ephemeral"));
    assertThat(sent.at("/messages/1/content").asText()).isEqualTo("plain text");
    assertThat(sent.has("anthropic_beta")).isFalse();
  }

  /** Claude Code's header (2.1.x) as it reaches a gateway that speaks Anthropic's API. */
  @Test
  void betasBedrockRefusesAreLeftOutAndOnesItNamesOtherwiseAreRenamed() {
    JsonNode sent = BedrockClaudeMessages.invokeBody(
        Json.readObject("{\"messages\":[]}".getBytes(StandardCharsets.UTF_8)),
        "claude-code-20250219,oauth-2025-04-20,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14,"
            + "prompt-caching-scope-2026-01-05,mcp-servers-2025-12-04,advanced-tool-use-2025-11-20", SONNET_4);
    assertThat(sent.path("anthropic_beta")).isEqualTo(Json.MAPPER.createArrayNode()
        .add("interleaved-thinking-2025-05-14").add("fine-grained-tool-streaming-2025-05-14").add("tool-search-tool-2025-10-19"));
    JsonNode none = BedrockClaudeMessages.invokeBody(
        Json.readObject("{\"anthropic_beta\":[\"claude-code-20250219\"],\"messages\":[]}".getBytes(StandardCharsets.UTF_8)), "oauth-2025-04-20", SONNET_4);
    assertThat(none.has("anthropic_beta")).as("no empty array: Bedrock is given no beta").isFalse();
  }

  @Test
  void pathsAreInvokeAndInvokeWithResponseStreamWithTheArnAsOneEncodedSegment() {
    var claude = new BedrockClaudeMessages();
    UpstreamCall plain = claude.request(standIn(), messages(Operation.MESSAGES, CLIENT_BODY, false, Map.of()));
    UpstreamCall streamed = claude.request(standIn(), messages(Operation.MESSAGES, CLIENT_BODY, true, Map.of()));
    assertThat(plain.uri().getRawPath()).isEqualTo("/model/" + PROFILE_SEGMENT + "/invoke");
    assertThat(plain.headers()).containsEntry("Accept", "application/json").doesNotContainKey("X-Amzn-Bedrock-Accept");
    assertThat(streamed.uri().getRawPath()).isEqualTo("/model/" + PROFILE_SEGMENT + "/invoke-with-response-stream");
    assertThat(streamed.headers())
        .containsEntry("Accept", "application/vnd.amazon.eventstream")
        .containsEntry("X-Amzn-Bedrock-Accept", "application/json")
        .containsEntry("Content-Type", "application/json");
  }

  @Test
  void countTokensGoesToTheFoundationModelWithTheInvokeBodyInBase64() {
    UpstreamCall call = new BedrockClaudeMessages().request(standIn(),
        messages(Operation.MESSAGES_COUNT_TOKENS, "{\"model\":\"claude\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", false,
            Map.of("anthropic-beta", "context-1m-2025-08-07")));
    assertThat(call.uri().getRawPath()).isEqualTo("/model/anthropic.claude-sonnet-4-20250514-v1%3A0/count-tokens");
    JsonNode body = Json.readObject(call.body());
    JsonNode counted = Json.readObject(Base64.getDecoder().decode(body.at("/input/invokeModel/body").asText()));
    assertThat(counted).isEqualTo(Json.readObject(
        "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"anthropic_version\":\"bedrock-2023-05-31\",\"anthropic_beta\":[\"context-1m-2025-08-07\"],\"max_tokens\":1024}"
            .getBytes(StandardCharsets.UTF_8)));
    assertThat(BedrockClaudeMessages.foundationModelId("eu.anthropic.claude-3-7-sonnet-20250219-v1:0")).isEqualTo("anthropic.claude-3-7-sonnet-20250219-v1:0");
    assertThat(BedrockClaudeMessages.foundationModelId("anthropic.claude-3-haiku-20240307-v1:0")).isEqualTo("anthropic.claude-3-haiku-20240307-v1:0");
  }

  // ---------------------------------------------------------------- answers, through the provider

  /** InvokeModel's answer for a Claude model, as Bedrock sends it (its id is msg_bdrk_...). */
  private static final String INVOKE_ANSWER = """
      {"id":"msg_bdrk_01Y5xQ2zN8b3","type":"message","role":"assistant","model":"claude-sonnet-4-20250514",
       "content":[{"type":"thinking","thinking":"Greet back.","signature":"EqQBCkYIARgCIkDsig"},{"type":"text","text":"Hello again"}],
       "stop_reason":"end_turn","stop_sequence":null,
       "usage":{"input_tokens":9,"cache_creation_input_tokens":40,"cache_read_input_tokens":1200,"output_tokens":17}}""";

  @Test
  void invokeModelsMessageIsRelayedAsSentWithItsUsageAndCacheTokens() {
    bedrock.stubFor(post(urlEqualTo("/model/" + PROFILE_SEGMENT + "/invoke"))
        .willReturn(aResponse().withHeader("Content-Type", "application/json").withHeader("X-Amzn-Bedrock-Input-Token-Count", "9").withBody(INVOKE_ANSWER)));

    var answer = (ProviderResponse) provider.answer(standIn(), messages(Operation.MESSAGES, CLIENT_BODY.replace("\"stream\":true,", ""), false, Map.of()));

    assertThat(new String(answer.body(), StandardCharsets.UTF_8)).isEqualTo(INVOKE_ANSWER);
    assertThat(answer.usage()).isEqualTo(new TokenUsage(1249, 17, 1266, 1200, 40));
    var received = bedrock.getAllServeEvents().getFirst().getRequest();
    assertThat(received.getHeader("Authorization")).startsWith("AWS4-HMAC-SHA256 Credential=AKIDCLAUDETEST000001/").contains("/us-east-1/bedrock/aws4_request");
  }

  private static Message chunk(String anthropicEvent) {
    String payload = "{\"bytes\":\"" + Base64.getEncoder().encodeToString(anthropicEvent.getBytes(StandardCharsets.UTF_8)) + "\",\"p\":\"abcdefghij\"}";
    var headers = new LinkedHashMap<String, HeaderValue>();
    headers.put(":event-type", HeaderValue.fromString("chunk"));
    headers.put(":content-type", HeaderValue.fromString("application/json"));
    headers.put(":message-type", HeaderValue.fromString("event"));
    return new Message(headers, payload.getBytes(StandardCharsets.UTF_8));
  }

  private static Message exception(String type, String message) {
    var headers = new LinkedHashMap<String, HeaderValue>();
    headers.put(":exception-type", HeaderValue.fromString(type));
    headers.put(":content-type", HeaderValue.fromString("application/json"));
    headers.put(":message-type", HeaderValue.fromString("exception"));
    return new Message(headers, ("{\"message\":\"" + message + "\"}").getBytes(StandardCharsets.UTF_8));
  }

  private static byte[] encode(Message... messages) {
    var out = new ByteArrayOutputStream();
    for (Message message : messages) {
      message.encode(out);
    }
    return out.toByteArray();
  }

  private void streamAnswers(byte[] body) {
    bedrock.stubFor(post(urlEqualTo("/model/" + PROFILE_SEGMENT + "/invoke-with-response-stream"))
        .willReturn(aResponse().withHeader("Content-Type", "application/vnd.amazon.eventstream").withBody(body)));
  }

  static final List<String> EVENTS = List.of(
      "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_bdrk_01Y5\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-20250514\","
          + "\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
          + "\"usage\":{\"input_tokens\":9,\"cache_creation_input_tokens\":40,\"cache_read_input_tokens\":1200,\"output_tokens\":1}}}",
      "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}",
      "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Greet back.\"}}",
      "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQBCkYIARgCIkDsig\"}}",
      "{\"type\":\"content_block_stop\",\"index\":0}",
      "{\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}",
      "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello again\"}}",
      "{\"type\":\"content_block_stop\",\"index\":1}",
      "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":17}}");
  static final String STOP_WITH_METRICS =
      "{\"type\":\"message_stop\",\"amazon-bedrock-invocationMetrics\":{\"inputTokenCount\":9,\"outputTokenCount\":17,\"invocationLatency\":812,\"firstByteLatency\":402}}";

  @Test
  void theStreamsChunksArePassedOnAsAnthropicsEventsWithTheUsageReadOnTheWay() {
    var messages = new ArrayList<Message>();
    EVENTS.forEach(event -> messages.add(chunk(event)));
    messages.add(chunk(STOP_WITH_METRICS));
    streamAnswers(encode(messages.toArray(Message[]::new)));

    var relayed = new ArrayList<String>();
    TokenUsage last = null;
    try (var stream = (ProviderStream) provider.answer(standIn(), messages(Operation.MESSAGES, CLIENT_BODY, true, Map.of()))) {
      StreamChunk chunk;
      while ((chunk = stream.next()) != null) {
        relayed.add(new String(chunk.json(), StandardCharsets.UTF_8));
        last = chunk.usage() != null ? chunk.usage() : last;
      }
    }

    var expected = new ArrayList<>(EVENTS);
    expected.add("{\"type\":\"message_stop\"}"); // Bedrock's invocation metrics are not Anthropic's
    assertThat(relayed).isEqualTo(expected);
    assertThat(last).isEqualTo(new TokenUsage(1249, 17, 1266, 1200, 40));
  }

  @Test
  void anExceptionInTheStreamIsTheProvidersFailureWithItsStatus() {
    streamAnswers(encode(chunk(EVENTS.getFirst()), exception("throttlingException", "Too many tokens, please wait before trying again.")));
    try (var stream = (ProviderStream) provider.answer(standIn(), messages(Operation.MESSAGES, CLIENT_BODY, true, Map.of()))) {
      // The exception may arrive in the same read as the event before it: then nothing reaches the client first.
      assertThatThrownBy(() -> {
            while (stream.next() != null) {
              // drained until the failure
            }
          })
          .isInstanceOfSatisfying(GatewayException.class, e -> {
            assertThat(ErrorEnvelope.status(e)).isEqualTo(429);
            assertThat(ErrorEnvelope.type(e)).isEqualTo("rate_limit_error");
          });
    }
  }

  @Test
  void aStreamCutBeforeMessageStopIsAFailureNotAnEnd() {
    streamAnswers(encode(EVENTS.stream().limit(4).map(BedrockClaudeMessagesTest::chunk).toArray(Message[]::new)));
    try (var stream = (ProviderStream) provider.answer(standIn(), messages(Operation.MESSAGES, CLIENT_BODY, true, Map.of()))) {
      for (int i = 0; i < 4; i++) {
        assertThat(stream.next()).isNotNull();
      }
      assertThatThrownBy(stream::next).isInstanceOfSatisfying(GatewayException.class, e -> assertThat(e.getMessage()).contains("before it was complete"));
    }
  }

  @Test
  void bedrocksValidationExceptionIsA400WithItsMessage() {
    bedrock.stubFor(post(urlEqualTo("/model/" + PROFILE_SEGMENT + "/invoke"))
        .willReturn(aResponse().withStatus(400).withHeader("Content-Type", "application/json")
            .withHeader("x-amzn-ErrorType", "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/")
            .withBody("{\"message\":\"context_management: Extra inputs are not permitted\"}")));
    assertThatThrownBy(() -> provider.answer(standIn(), messages(Operation.MESSAGES, CLIENT_BODY, false, Map.of())))
        .isInstanceOfSatisfying(GatewayException.class, e -> {
          assertThat(ErrorEnvelope.status(e)).isEqualTo(400);
          assertThat(e.getMessage()).contains("context_management: Extra inputs are not permitted");
        });
  }

  @Test
  void countTokensAnswersAnthropicsShapeWithNothingToRecord() {
    bedrock.stubFor(post(urlEqualTo("/model/anthropic.claude-sonnet-4-20250514-v1%3A0/count-tokens"))
        .willReturn(aResponse().withHeader("Content-Type", "application/json").withBody("{\"inputTokens\":1249}")));
    var answer = (ProviderResponse) provider.answer(standIn(),
        messages(Operation.MESSAGES_COUNT_TOKENS, "{\"model\":\"claude\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", false, Map.of()));
    assertThat(new String(answer.body(), StandardCharsets.UTF_8)).isEqualTo("{\"input_tokens\":1249}");
    assertThat(answer.usage()).isEqualTo(TokenUsage.NONE);
  }

  // ---------------------------------------------------------------- fields Bedrock refuses (review of the pass-through)

  @ParameterizedTest(name = "{0} → {1}")
  @CsvSource({
    "anthropic.claude-3-haiku-20240307-v1:0, 30",
    "us.anthropic.claude-3-5-sonnet-20241022-v2:0, 35",
    "us.anthropic.claude-3-7-sonnet-20250219-v1:0, 37",
    "us.anthropic.claude-sonnet-4-20250514-v1:0, 40",
    "us.anthropic.claude-opus-4-1-20250805-v1:0, 41",
    "global.anthropic.claude-sonnet-4-5-20250929-v1:0, 45",
    "anthropic.claude-haiku-4-5-20251001-v1:0, 45",
    "global.anthropic.claude-opus-4-6-v1, 46",
    "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-opus-4-7, 47",
    "anthropic.claude-sonnet-5-v1:0, 50",
    "anthropic.claude-v2:1, 0",
    "anthropic.claude-instant-v1, 0"
  })
  void theClaudeGenerationIsReadFromEveryBedrockIdShape(String modelId, int generation) {
    assertThat(BedrockClaudeMessages.claudeGeneration(modelId)).isEqualTo(generation);
  }

  /** Claude Code 2.1.x's request as recorded against Anthropic's API, with the fields Bedrock refuses. */
  private static final String CLAUDE_CODE_BODY = """
      {"model":"claude-sonnet-4-5","max_tokens":32000,"stream":true,"speed":"fast","mcp_servers":[{"type":"url","url":"https://mcp.example","name":"m"}],
       "container":"c-1","service_tier":"auto",
       "context_management":{"edits":[{"type":"clear_thinking_20251015","keep":"all"},{"type":"compact_20260112","trigger":{"type":"input_tokens","value":150000}}]},
       "output_config":{"effort":"high"},
       "output_format":{"type":"json_schema","schema":{"type":"object","properties":{"ok":{"type":"boolean"}}}},
       "system":[{"type":"text","text":"You are Claude Code.","cache_control":{"type":"ephemeral","ttl":"1h","scope":"global"}}],
       "tools":[{"name":"Read","description":"Read a file","input_schema":{"type":"object"},"custom":{"defer_loading":true}},
                {"name":"Bash","description":"Run","input_schema":{"type":"object"},"defer_loading":false,"custom":{"defer_loading":true}},
                {"name":"Edit","input_schema":{"type":"object"},"cache_control":{"type":"ephemeral","ttl":"5m"}}],
       "messages":[{"role":"user","content":"fix the bug"}]}""";

  private static JsonNode claudeCodeSentTo(String modelId) {
    return BedrockClaudeMessages.invokeBody(Json.readObject(CLAUDE_CODE_BODY.getBytes(StandardCharsets.UTF_8)),
        "claude-code-20250219,interleaved-thinking-2025-05-14", modelId);
  }

  @Test
  void onlyTheTopLevelFieldsBedrockTakesAreSent() {
    JsonNode sent = claudeCodeSentTo("global.anthropic.claude-opus-4-6-v1");
    var names = new ArrayList<String>();
    sent.fieldNames().forEachRemaining(names::add);
    assertThat(names).containsExactlyInAnyOrder(
        "max_tokens", "context_management", "output_config", "system", "tools", "messages", "anthropic_version", "anthropic_beta");
  }

  @Test
  void contextManagementKeepsOnlyCompactEditsWithTheirBetaAndIsDroppedWithoutThem() {
    JsonNode sent = claudeCodeSentTo(SONNET_4);
    assertThat(sent.at("/context_management/edits")).isEqualTo(Json.readObject(
        "{\"e\":[{\"type\":\"compact_20260112\",\"trigger\":{\"type\":\"input_tokens\",\"value\":150000}}]}".getBytes(StandardCharsets.UTF_8)).get("e"));
    assertThat(sent.path("anthropic_beta")).isEqualTo(Json.MAPPER.createArrayNode().add("interleaved-thinking-2025-05-14").add("compact-2026-01-12"));

    JsonNode clearOnly = BedrockClaudeMessages.invokeBody(Json.readObject(
        "{\"messages\":[],\"context_management\":{\"edits\":[{\"type\":\"clear_thinking_20251015\",\"keep\":\"all\"}]}}".getBytes(StandardCharsets.UTF_8)),
        null, SONNET_4);
    assertThat(clearOnly.has("context_management")).isFalse();
    assertThat(clearOnly.has("anthropic_beta")).isFalse();
  }

  @Test
  void toolsLoseCustomAndKeepItsDeferLoadingUnlessTheyHaveTheirOwn() {
    JsonNode tools = claudeCodeSentTo(SONNET_4).path("tools");
    for (JsonNode tool : tools) {
      assertThat(tool.has("custom")).as(tool.path("name").asText()).isFalse();
    }
    assertThat(tools.at("/0/defer_loading").asBoolean()).isTrue();
    assertThat(tools.at("/1/defer_loading").asBoolean()).as("the tool's own flag wins").isFalse();
    assertThat(tools.at("/2").has("defer_loading")).isFalse();
  }

  @Test
  void outputFormatBecomesTheSchemaInTheLastUserMessage() {
    JsonNode sent = claudeCodeSentTo(SONNET_4);
    assertThat(sent.has("output_format")).isFalse();
    assertThat(sent.at("/messages/0/content")).isEqualTo(Json.readObject(("{\"c\":[{\"type\":\"text\",\"text\":\"fix the bug\"},"
        + "{\"type\":\"text\",\"text\":\"{\\\"type\\\":\\\"object\\\",\\\"properties\\\":{\\\"ok\\\":{\\\"type\\\":\\\"boolean\\\"}}}\"}]}")
        .getBytes(StandardCharsets.UTF_8)).get("c"));
  }

  @ParameterizedTest(name = "{0}: ttl kept {1}, output_config kept {2}")
  @CsvSource({
    "us.anthropic.claude-3-7-sonnet-20250219-v1:0, false, false",
    "us.anthropic.claude-sonnet-4-20250514-v1:0, false, false",
    "global.anthropic.claude-sonnet-4-5-20250929-v1:0, true, false",
    "global.anthropic.claude-opus-4-6-v1, true, true",
    "anthropic.claude-sonnet-5-v1:0, true, true"
  })
  void cacheTtlFromClaude45AndOutputConfigFromClaude46(String modelId, boolean ttlKept, boolean outputConfigKept) {
    JsonNode sent = claudeCodeSentTo(modelId);
    var system = Json.MAPPER.createObjectNode().put("type", "ephemeral");
    var edit = Json.MAPPER.createObjectNode().put("type", "ephemeral");
    if (ttlKept) {
      system.put("ttl", "1h");
      edit.put("ttl", "5m");
    }
    assertThat(sent.at("/system/0/cache_control")).isEqualTo(system);
    assertThat(sent.at("/tools/2/cache_control")).isEqualTo(edit);
    assertThat(sent.has("output_config")).isEqualTo(outputConfigKept);
  }

  @Test
  void onlyTheCountTokensBodyGainsMaxTokensAndOnlyWhenTheClientSentNone() {
    var claude = new BedrockClaudeMessages();
    String withoutMax = "{\"model\":\"claude\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    JsonNode counted = countedBody(claude.request(standIn(), messages(Operation.MESSAGES_COUNT_TOKENS, withoutMax, false, Map.of())));
    assertThat(counted.path("max_tokens").intValue()).isEqualTo(1024);
    JsonNode own = countedBody(claude.request(standIn(),
        messages(Operation.MESSAGES_COUNT_TOKENS, "{\"max_tokens\":300,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", false, Map.of())));
    assertThat(own.path("max_tokens").intValue()).isEqualTo(300);
    JsonNode invoked = Json.readObject(claude.request(standIn(), messages(Operation.MESSAGES, withoutMax, false, Map.of())).body());
    assertThat(invoked.has("max_tokens")).as("a Messages call without max_tokens is Bedrock's 400 to give, as Anthropic's").isFalse();
  }

  @Test
  void countTokensFiltersTheBodyAsTheCallDoes() {
    JsonNode counted = countedBody(new BedrockClaudeMessages().request(standIn(),
        messages(Operation.MESSAGES_COUNT_TOKENS, CLAUDE_CODE_BODY, false, Map.of("anthropic-beta", "claude-code-20250219"))));
    assertThat(counted.has("speed")).isFalse();
    assertThat(counted.has("mcp_servers")).isFalse();
    assertThat(counted.at("/tools/0").has("custom")).isFalse();
    assertThat(counted.path("max_tokens").intValue()).isEqualTo(32000);
  }

  private static JsonNode countedBody(UpstreamCall call) {
    return Json.readObject(Base64.getDecoder().decode(Json.readObject(call.body()).at("/input/invokeModel/body").asText()));
  }

  // ---------------------------------------------------------------- CountTokens refused for the model

  private void countTokensRefused(String message) {
    bedrock.stubFor(post(urlEqualTo("/model/anthropic.claude-sonnet-4-20250514-v1%3A0/count-tokens"))
        .willReturn(aResponse().withStatus(400).withHeader("Content-Type", "application/json")
            .withHeader("x-amzn-ErrorType", "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/")
            .withBody("{\"message\":\"" + message + "\"}")));
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
    "The provided model doesn't support counting tokens.",
    "Invocation of model ID anthropic.claude-sonnet-4-20250514-v1:0 with on-demand throughput isn’t supported. Retry your request with the ID or ARN of an inference profile that contains this model."
  })
  void aModelBedrockCannotCountIsAClear400InAnthropicsShape(String bedrocksWords) {
    countTokensRefused(bedrocksWords);
    assertThatThrownBy(() -> provider.answer(standIn(),
            messages(Operation.MESSAGES_COUNT_TOKENS, "{\"model\":\"claude\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", false, Map.of())))
        .isInstanceOfSatisfying(GatewayException.class, e -> {
          var response = ErrorEnvelope.response(e, ErrorEnvelope.Dialect.ANTHROPIC, "req_1");
          assertThat(response.status()).isEqualTo(400);
          JsonNode body = Json.readObject(response.body());
          assertThat(body.path("type").asText()).isEqualTo("error");
          assertThat(body.at("/error/type").asText()).isEqualTo("invalid_request_error");
          assertThat(body.at("/error/message").asText())
              .startsWith("count_tokens is not available for model 'claude' on Amazon Bedrock")
              .doesNotContain(bedrocksWords);
        });
  }

  @Test
  void anotherValidationExceptionOfCountTokensKeepsBedrocksMessage() {
    countTokensRefused("messages.0.content: Field required");
    assertThatThrownBy(() -> provider.answer(standIn(),
            messages(Operation.MESSAGES_COUNT_TOKENS, "{\"model\":\"claude\",\"messages\":[{\"role\":\"user\"}]}", false, Map.of())))
        .isInstanceOfSatisfying(GatewayException.class, e -> {
          assertThat(ErrorEnvelope.status(e)).isEqualTo(400);
          assertThat(e.getMessage()).isEqualTo("messages.0.content: Field required");
        });
  }

  // ---------------------------------------------------------------- stream exceptions and usage

  private GatewayException streamFailure(Message exception) {
    streamAnswers(encode(chunk(EVENTS.getFirst()), exception));
    try (var stream = (ProviderStream) provider.answer(standIn(), messages(Operation.MESSAGES, CLIENT_BODY, true, Map.of()))) {
      while (stream.next() != null) {
        // drained until the failure
      }
    } catch (GatewayException e) {
      return e;
    }
    throw new AssertionError("the stream ended without its exception");
  }

  private static Message exceptionWithPayload(String type, String payload) {
    var headers = new LinkedHashMap<String, HeaderValue>();
    headers.put(":exception-type", HeaderValue.fromString(type));
    headers.put(":content-type", HeaderValue.fromString("application/json"));
    headers.put(":message-type", HeaderValue.fromString("exception"));
    return new Message(headers, payload.getBytes(StandardCharsets.UTF_8));
  }

  @ParameterizedTest
  @CsvSource({"serviceUnavailableException", "modelNotReadyException"})
  void bedrockUnableToServeIsAnthropicsOverloadedError(String exceptionType) {
    GatewayException e = streamFailure(exception(exceptionType, "Bedrock is unable to process your request."));
    assertThat(ErrorEnvelope.status(e)).isEqualTo(503);
    assertThat(ErrorEnvelope.anthropicType(e)).isEqualTo("overloaded_error");
    assertThat(ErrorEnvelope.response(e).headers()).containsEntry("Retry-After", "1");
  }

  @Test
  void bedrocksServiceUnavailableAnswerIsOverloadedToo() {
    bedrock.stubFor(post(urlEqualTo("/model/" + PROFILE_SEGMENT + "/invoke"))
        .willReturn(aResponse().withStatus(503).withHeader("Content-Type", "application/json")
            .withHeader("x-amzn-ErrorType", "ServiceUnavailableException:http://internal.amazon.com/coral/com.amazon.bedrock/")
            .withBody("{\"message\":\"Bedrock is unable to process your request.\"}")));
    assertThatThrownBy(() -> provider.answer(standIn(), messages(Operation.MESSAGES, CLIENT_BODY, false, Map.of())))
        .isInstanceOfSatisfying(GatewayException.class, e -> {
          JsonNode body = Json.readObject(ErrorEnvelope.response(e, ErrorEnvelope.Dialect.ANTHROPIC, null).body());
          assertThat(body.at("/error/type").asText()).isEqualTo("overloaded_error");
        });
  }

  @ParameterizedTest(name = "originalStatusCode {0} → {1} {2}")
  @CsvSource({
    "429, 429, rate_limit_error",
    "400, 400, invalid_request_error",
    "529, 503, overloaded_error",
    "500, 502, api_error",
    "403, 502, api_error"
  })
  void aModelStreamErrorIsJudgedByTheModelsOwnStatus(int original, int status, String anthropicType) {
    GatewayException e = streamFailure(exceptionWithPayload("modelStreamErrorException",
        "{\"message\":\"Model error\",\"originalStatusCode\":" + original + ",\"originalMessage\":\"Too many requests in flight\"}"));
    assertThat(ErrorEnvelope.status(e)).isEqualTo(status);
    assertThat(ErrorEnvelope.anthropicType(e)).isEqualTo(anthropicType);
  }

  @Test
  void aModelStreamErrorWithoutTheModelsStatusIsABadGateway() {
    GatewayException e = streamFailure(exceptionWithPayload("modelStreamErrorException", "{\"message\":\"Model error\"}"));
    assertThat(ErrorEnvelope.status(e)).isEqualTo(502);
  }

  @Test
  void theInvocationMetricsCountWhatAnthropicsUsageLacks() {
    var events = new ArrayList<String>();
    events.add(EVENTS.getFirst().replace(
        ",\"usage\":{\"input_tokens\":9,\"cache_creation_input_tokens\":40,\"cache_read_input_tokens\":1200,\"output_tokens\":1}", ""));
    events.addAll(EVENTS.subList(1, EVENTS.size() - 1));
    events.add("{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null}}");
    var messages = new ArrayList<Message>();
    events.forEach(event -> messages.add(chunk(event)));
    messages.add(chunk("{\"type\":\"message_stop\",\"amazon-bedrock-invocationMetrics\":{\"inputTokenCount\":9,\"outputTokenCount\":17,"
        + "\"invocationLatency\":812,\"firstByteLatency\":402,\"cacheReadInputTokenCount\":1200,\"cacheWriteInputTokenCount\":40}}"));
    streamAnswers(encode(messages.toArray(Message[]::new)));

    TokenUsage last = null;
    String stop = null;
    try (var stream = (ProviderStream) provider.answer(standIn(), messages(Operation.MESSAGES, CLIENT_BODY, true, Map.of()))) {
      StreamChunk chunk;
      while ((chunk = stream.next()) != null) {
        last = chunk.usage() != null ? chunk.usage() : last;
        stop = new String(chunk.json(), StandardCharsets.UTF_8);
      }
    }
    assertThat(last).isEqualTo(new TokenUsage(1249, 17, 1266, 1200, 40));
    assertThat(stop).isEqualTo("{\"type\":\"message_stop\"}");
  }

  @Test
  void anthropicsCountsWinOverTheMetricsWhenOnlyTheOutputIsMissing() {
    var events = new ArrayList<>(EVENTS.subList(0, EVENTS.size() - 1));
    events.add("{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null}}");
    var messages = new ArrayList<Message>();
    events.forEach(event -> messages.add(chunk(event)));
    messages.add(chunk("{\"type\":\"message_stop\",\"amazon-bedrock-invocationMetrics\":{\"inputTokenCount\":5,\"outputTokenCount\":17}}"));
    streamAnswers(encode(messages.toArray(Message[]::new)));

    TokenUsage last = null;
    try (var stream = (ProviderStream) provider.answer(standIn(), messages(Operation.MESSAGES, CLIENT_BODY, true, Map.of()))) {
      StreamChunk chunk;
      while ((chunk = stream.next()) != null) {
        last = chunk.usage() != null ? chunk.usage() : last;
      }
    }
    assertThat(last).as("input and cache from message_start, output from the metrics").isEqualTo(new TokenUsage(1249, 17, 1266, 1200, 40));
  }
}

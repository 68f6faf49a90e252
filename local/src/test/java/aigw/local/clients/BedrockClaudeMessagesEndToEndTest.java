package aigw.local.clients;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import aigw.core.json.Json;
import aigw.core.testing.Upstream;
import aigw.local.LocalGateway;
import aigw.local.LocalOptions;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.eventstream.HeaderValue;
import software.amazon.eventstream.Message;

/**
 * {@code /v1/messages} on Claude models served by Amazon Bedrock, passed through natively: the
 * official Anthropic TypeScript SDK ({@code anthropic-node.mjs}, as in {@link AnthropicSdkTest})
 * talks to the local gateway, which sends Bedrock's Anthropic body to InvokeModel and
 * InvokeModelWithResponseStream of a loopback WireMock stand-in ({@code aws_bedrock_runtime_endpoint}),
 * signed with SigV4. The stand-in answers Anthropic's Message, and the binary event stream whose
 * {@code chunk} events carry the base64 of Anthropic's events, encoded by this test with the event
 * stream library's own {@link Message}. The SDK test is skipped only when node or npm is absent.
 */
class BedrockClaudeMessagesEndToEndTest {
  private static final String MASTER = "sk-bedrock-claude-master-key-for-tests-only";
  private static final String ACCESS_KEY = "AKIDBEDROCKCLAUDE001";
  private static final String SESSION_TOKEN = "bedrock-claude-session-token-for-tests-only";
  /** A global profile of Claude Sonnet 4.5 (priced in the cost table). */
  private static final String SONNET = "global.anthropic.claude-sonnet-4-5-20250929-v1:0";
  private static final String SONNET_PATH = "/model/global.anthropic.claude-sonnet-4-5-20250929-v1%3A0";
  private static final String PROFILE = "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-3-7-sonnet-20250219-v1:0";
  private static final String PROFILE_PATH =
      "/model/arn%3Aaws%3Abedrock%3Aeu-west-1%3A123456789012%3Ainference-profile%2Feu.anthropic.claude-3-7-sonnet-20250219-v1%3A0";
  private static final String DOWN_PATH = "/model/us.anthropic.claude-3-5-haiku-20241022-v1%3A0";
  private static final String TEXT = "Bonjour de Claude sur Bedrock";
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  @TempDir static Path dir;
  @TempDir Path home;
  private static WireMockServer bedrock;
  private static LocalGateway gateway;

  @BeforeAll
  static void start() throws Exception {
    bedrock = Upstream.start();
    bedrock.stubFor(post(urlEqualTo(SONNET_PATH + "/invoke")).willReturn(json(200, """
        {"id":"msg_bdrk_01Y5xQ2zN8b3","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",
         "content":[{"type":"text","text":"%s"}],"stop_reason":"end_turn","stop_sequence":null,
         "usage":{"input_tokens":9,"cache_creation_input_tokens":40,"cache_read_input_tokens":1200,"output_tokens":17}}""".formatted(TEXT))
        .withHeader("X-Amzn-Bedrock-Input-Token-Count", "9").withHeader("X-Amzn-Bedrock-Output-Token-Count", "17")));
    bedrock.stubFor(post(urlEqualTo(PROFILE_PATH + "/invoke-with-response-stream")).willReturn(aResponse()
        .withHeader("Content-Type", "application/vnd.amazon.eventstream")
        .withHeader("X-Amzn-Bedrock-Content-Type", "application/json")
        .withBody(eventStream(
            "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_bdrk_01Stream\",\"type\":\"message\",\"role\":\"assistant\","
                + "\"model\":\"claude-3-7-sonnet-20250219\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
                + "\"usage\":{\"input_tokens\":10,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":2,\"output_tokens\":1}}}",
            "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}",
            "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Bonjour de Claude\"}}",
            "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" sur Bedrock\"}}",
            "{\"type\":\"content_block_stop\",\"index\":0}",
            "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":5}}",
            "{\"type\":\"message_stop\",\"amazon-bedrock-invocationMetrics\":{\"inputTokenCount\":10,\"outputTokenCount\":5,"
                + "\"invocationLatency\":640,\"firstByteLatency\":210}}"))));
    bedrock.stubFor(post(urlEqualTo(DOWN_PATH + "/invoke"))
        .willReturn(bedrockError(503, "ServiceUnavailableException", "Bedrock is unable to process your request.")));
    var throttled = new LinkedHashMap<String, HeaderValue>();
    throttled.put(":exception-type", HeaderValue.fromString("throttlingException"));
    throttled.put(":content-type", HeaderValue.fromString("application/json"));
    throttled.put(":message-type", HeaderValue.fromString("exception"));
    var throttling = new ByteArrayOutputStream();
    new Message(throttled, "{\"message\":\"Too many tokens, please wait before trying again.\"}".getBytes(StandardCharsets.UTF_8)).encode(throttling);
    bedrock.stubFor(post(urlEqualTo("/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke-with-response-stream"))
        .willReturn(aResponse().withHeader("Content-Type", "application/vnd.amazon.eventstream").withBody(throttling.toByteArray())));
    bedrock.stubFor(post(urlEqualTo("/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke"))
        .willReturn(bedrockError(400, "ValidationException", "messages: text content blocks must be non-empty")));
    bedrock.stubFor(post(urlEqualTo("/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/count-tokens")).willReturn(json(200, "{\"inputTokens\":1249}")));
    bedrock.stubFor(post(urlEqualTo("/model/anthropic.claude-3-haiku-20240307-v1%3A0/count-tokens"))
        .willReturn(bedrockError(400, "ValidationException", "The provided model doesn't support counting tokens.")));
    Path config = dir.resolve("config.yaml");
    Files.writeString(config, """
        model_list:
          - model_name: claude
            litellm_params: {model: "bedrock/%2$s", aws_region_name: us-east-1, aws_bedrock_runtime_endpoint: "%1$s"}
          - model_name: claude-profile
            litellm_params: {model: "bedrock/%3$s", aws_region_name: eu-west-1, aws_bedrock_runtime_endpoint: "%1$s"}
          - model_name: claude-down
            litellm_params: {model: "bedrock/us.anthropic.claude-3-5-haiku-20241022-v1:0", aws_region_name: us-east-1, aws_bedrock_runtime_endpoint: "%1$s"}
          - model_name: claude-haiku
            litellm_params: {model: "bedrock/anthropic.claude-3-haiku-20240307-v1:0", aws_region_name: us-east-1, aws_bedrock_runtime_endpoint: "%1$s"}
          - model_name: claude-overloaded
            litellm_params: {model: "bedrock/us.anthropic.claude-3-5-haiku-20241022-v1:0", aws_region_name: us-east-1, aws_bedrock_runtime_endpoint: "%1$s"}
        router_settings:
          num_retries: 0
          fallbacks: [{claude-down: [claude]}]
        """.formatted(bedrock.baseUrl(), SONNET, PROFILE));
    gateway = LocalGateway.start(LocalOptions.inMemory(config, Map.of("AIGW_MASTER_KEY", MASTER)));
    // Only now: the gateway must not have needed (or kept) AWS credentials to start.
    System.setProperty("aws.accessKeyId", ACCESS_KEY);
    System.setProperty("aws.secretAccessKey", "bedrock/claude/secret/key/for/tests/only");
    System.setProperty("aws.sessionToken", SESSION_TOKEN);
  }

  @AfterAll
  static void stop() {
    System.clearProperty("aws.accessKeyId");
    System.clearProperty("aws.secretAccessKey");
    System.clearProperty("aws.sessionToken");
    if (gateway != null) {
      gateway.close();
    }
    if (bedrock != null) {
      bedrock.stop();
    }
  }

  // ------------------------------------------------------------ the official SDK

  @Test
  void theAnthropicSdksMessageComesFromInvokeModelAndTheKeyRecordsAndCostsItsUsage() throws Exception {
    NodeClients.install();
    String key = admin().newKey("bedrock-claude");

    JsonNode printed = sdk("create", "claude", key);

    assertThat(printed.path("text").asText()).isEqualTo(TEXT);
    assertThat(printed.path("stop_reason").asText()).isEqualTo("end_turn");
    assertThat(printed.at("/usage/cache_read_input_tokens").asLong()).isEqualTo(1200);
    LoggedRequest sent = only(SONNET_PATH + "/invoke");
    assertThat(sent.getHeader("Authorization")).matches(sigV4("us-east-1"));
    assertThat(sent.getHeader("X-Amz-Security-Token")).isEqualTo(SESSION_TOKEN);
    JsonNode body = Json.MAPPER.readTree(sent.getBodyAsString());
    assertThat(body.has("model")).as("the model is the path").isFalse();
    assertThat(body.has("stream")).isFalse();
    assertThat(body.path("anthropic_version").asText()).isEqualTo("bedrock-2023-05-31");
    assertThat(body.at("/system/0/cache_control/type").asText()).as("Anthropic-only fields reach Bedrock").isEqualTo("ephemeral");
    assertThat(body.path("max_tokens").asInt()).isEqualTo(256);
    JsonNode info = admin().keyInfoAfter(key, 1);
    assertThat(info.path("request_count").asLong()).isEqualTo(1);
    assertThat(info.path("prompt_tokens").asLong()).as("input + cache writes + cache reads").isEqualTo(1249);
    assertThat(info.path("completion_tokens").asLong()).isEqualTo(17);
    // Sonnet 4.5's prices: 9 × 3e-6 + 40 × 3.75e-6 + 1200 × 3e-7 + 17 × 1.5e-5
    assertThat(info.path("spend").asDouble()).isCloseTo(0.000792, within(1e-9));
  }

  @Test
  void theAnthropicSdkStreamsTheEventsDecodedFromInvokeModelWithResponseStreamWithTheUsageOnTheKey() throws Exception {
    NodeClients.install();
    String key = admin().newKey("bedrock-claude-stream");

    JsonNode printed = sdk("stream", "claude-profile", key);

    assertThat(printed.path("text").asText()).isEqualTo(TEXT);
    assertThat(printed.path("stop_reason").asText()).isEqualTo("end_turn");
    assertThat(printed.path("events").asInt()).as("events the SDK's MessageStream saw").isEqualTo(7);
    assertThat(printed.at("/usage/output_tokens").asLong()).isEqualTo(5);
    LoggedRequest sent = only(PROFILE_PATH + "/invoke-with-response-stream");
    assertThat(sent.getHeader("Authorization")).as("signed for the profile's region").matches(sigV4("eu-west-1"));
    assertThat(sent.getHeader("Accept")).isEqualTo("application/vnd.amazon.eventstream");
    JsonNode body = Json.MAPPER.readTree(sent.getBodyAsString());
    assertThat(body.has("stream")).isFalse();
    assertThat(body.has("model")).isFalse();
    JsonNode info = admin().keyInfoAfter(key, 1);
    assertThat(info.path("prompt_tokens").asLong()).isEqualTo(12);
    assertThat(info.path("completion_tokens").asLong()).isEqualTo(5);
    assertThat(info.path("estimated_request_count").asLong()).isZero();
  }

  // ------------------------------------------------------------ over plain HTTP

  @Test
  void theStreamReachesTheClientAsAnthropicsEventsWithoutBedrocksMetrics() throws Exception {
    var response = messages("claude-profile", true, Map.of());

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.headers().firstValue("content-type").orElse("")).startsWith("text/event-stream");
    assertThat(response.body())
        .contains("event: message_start\n")
        .contains("\"text\":\"Bonjour de Claude\"")
        .contains("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
        .doesNotContain("amazon-bedrock-invocationMetrics");
  }

  @Test
  void theClientsBetaHeaderBecomesTheBodysAnthropicBetaLessTheBetasBedrockRefuses() throws Exception {
    var response = messages("claude", false,
        Map.of("anthropic-beta", "claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14"));

    assertThat(response.statusCode()).isEqualTo(200);
    JsonNode body = Json.MAPPER.readTree(bedrock.findAll(postRequestedFor(urlEqualTo(SONNET_PATH + "/invoke"))).getLast().getBodyAsString());
    assertThat(body.path("anthropic_beta"))
        .isEqualTo(Json.MAPPER.createArrayNode().add("interleaved-thinking-2025-05-14").add("fine-grained-tool-streaming-2025-05-14"));
  }

  @Test
  void aDeploymentBedrockCannotServeFallsBackToTheNextClaudeWithoutTheClientNoticing() throws Exception {
    var response = messages("claude-down", false, Map.of());

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(Json.MAPPER.readTree(response.body()).at("/content/0/text").asText()).isEqualTo(TEXT);
    assertThat(bedrock.findAll(postRequestedFor(urlEqualTo(DOWN_PATH + "/invoke")))).isNotEmpty();
  }

  @Test
  void bedrocksValidationExceptionReachesTheClientIn400AnthropicShape() throws Exception {
    var response = messages("claude-haiku", false, Map.of());

    assertThat(response.statusCode()).isEqualTo(400);
    JsonNode error = Json.MAPPER.readTree(response.body());
    assertThat(error.path("type").asText()).isEqualTo("error");
    assertThat(error.at("/error/type").asText()).isEqualTo("invalid_request_error");
    assertThat(error.at("/error/message").asText()).contains("text content blocks must be non-empty");
  }

  @Test
  void aThrottlingExceptionInTheStreamBeforeAnyEventIsA429InAnthropicShape() throws Exception {
    var response = messages("claude-haiku", true, Map.of());

    assertThat(response.statusCode()).isEqualTo(429);
    JsonNode error = Json.MAPPER.readTree(response.body());
    assertThat(error.at("/error/type").asText()).isEqualTo("rate_limit_error");
    assertThat(error.at("/error/message").asText()).contains("Too many tokens");
  }

  @Test
  void countTokensIsBedrocksCountInAnthropicsShape() throws Exception {
    var response = HTTP.send(HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/v1/messages/count_tokens"))
            .header("x-api-key", admin().newKey("bedrock-claude-count"))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"claude\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"))
            .build(),
        HttpResponse.BodyHandlers.ofString());

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(Json.MAPPER.readTree(response.body())).isEqualTo(Json.MAPPER.readTree("{\"input_tokens\":1249}"));
    LoggedRequest sent = only("/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/count-tokens");
    JsonNode counted = Json.MAPPER.readTree(Base64.getDecoder().decode(Json.MAPPER.readTree(sent.getBodyAsString()).at("/input/invokeModel/body").asText()));
    assertThat(counted.path("anthropic_version").asText()).isEqualTo("bedrock-2023-05-31");
    assertThat(counted.at("/messages/0/content").asText()).isEqualTo("hi");
    assertThat(counted.path("max_tokens").asInt()).as("required by Bedrock's InvokeModel schema, which CountTokens validates").isEqualTo(1024);
  }

  @Test
  void countTokensOfAModelBedrockCannotCountIsAClear400InAnthropicShape() throws Exception {
    var response = HTTP.send(HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/v1/messages/count_tokens"))
            .header("x-api-key", admin().newKey("bedrock-claude-count-refused"))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"claude-haiku\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"))
            .build(),
        HttpResponse.BodyHandlers.ofString());

    assertThat(response.statusCode()).isEqualTo(400);
    JsonNode error = Json.MAPPER.readTree(response.body());
    assertThat(error.path("type").asText()).isEqualTo("error");
    assertThat(error.at("/error/type").asText()).isEqualTo("invalid_request_error");
    assertThat(error.at("/error/message").asText())
        .startsWith("count_tokens is not available for model 'claude-haiku' on Amazon Bedrock")
        .doesNotContain("The provided model");
  }

  @Test
  void claudeCodesFieldsThatBedrockRefusesAreNotSent() throws Exception {
    var request = HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/v1/messages"))
        .header("x-api-key", admin().newKey("bedrock-claude-code"))
        .header("anthropic-version", "2023-06-01")
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("""
            {"model":"claude","max_tokens":64,"speed":"fast",
             "context_management":{"edits":[{"type":"clear_thinking_20251015","keep":"all"}]},
             "tools":[{"name":"Read","input_schema":{"type":"object"},"custom":{"defer_loading":true}}],
             "messages":[{"role":"user","content":"Say hello"}]}"""));
    var response = HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());

    assertThat(response.statusCode()).isEqualTo(200);
    JsonNode body = Json.MAPPER.readTree(only(SONNET_PATH + "/invoke").getBodyAsString());
    assertThat(body.has("speed")).isFalse();
    assertThat(body.has("context_management")).isFalse();
    assertThat(body.at("/tools/0").has("custom")).isFalse();
    assertThat(body.at("/tools/0/defer_loading").asBoolean()).isTrue();
  }

  @Test
  void bedrockUnableToServeIsAnthropicsOverloadedError() throws Exception {
    var response = messages("claude-overloaded", false, Map.of());

    assertThat(response.statusCode()).isEqualTo(503);
    JsonNode error = Json.MAPPER.readTree(response.body());
    assertThat(error.at("/error/type").asText()).isEqualTo("overloaded_error");
  }

  // ------------------------------------------------------------ helpers

  private JsonNode sdk(String mode, String model, String key) throws Exception {
    var run = NodeClients.node("anthropic-node.mjs", List.of(mode),
        Map.of("HOME", home.toString(), "AIGW_BASE_URL", gateway.baseUrl().toString(), "AIGW_API_KEY", key, "AIGW_MODEL", model));
    assertThat(run.exitCode()).as("the SDK exited with %d:%n%s%n%s", run.exitCode(), run.stdout(), run.stderr()).isZero();
    return Json.MAPPER.readTree(run.stdout().strip().lines().reduce((first, last) -> last).orElse("{}"));
  }

  private static HttpResponse<String> messages(String model, boolean stream, Map<String, String> headers) throws Exception {
    var request = HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/v1/messages"))
        .header("x-api-key", admin().newKey("bedrock-claude-http"))
        .header("anthropic-version", "2023-06-01")
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(
            "{\"model\":\"" + model + "\",\"max_tokens\":64,\"stream\":" + stream + ",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]}"));
    headers.forEach(request::header);
    return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** The last request the stand-in received at {@code path} (the tests share it). */
  private static LoggedRequest only(String path) {
    List<LoggedRequest> sent = bedrock.findAll(postRequestedFor(urlEqualTo(path)));
    assertThat(sent).as("requests to %s", path).isNotEmpty();
    return sent.getLast();
  }

  private static String sigV4(String region) {
    return "AWS4-HMAC-SHA256 Credential=" + ACCESS_KEY + "/\\d{8}/" + region + "/bedrock/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*x-amz-date[a-z0-9;-]*, Signature=[0-9a-f]{64}";
  }

  private static ResponseDefinitionBuilder json(int status, String body) {
    return aResponse().withStatus(status).withHeader("Content-Type", "application/json").withHeader("x-amzn-RequestId", "4f1e2d3c-claude").withBody(body);
  }

  private static ResponseDefinitionBuilder bedrockError(int status, String exception, String message) {
    return json(status, "{\"message\":\"" + message + "\"}").withHeader("x-amzn-ErrorType", exception + ":http://internal.amazon.com/coral/com.amazon.bedrock/");
  }

  /** InvokeModelWithResponseStream's answer: one {@code chunk} event per Anthropic event, its JSON in base64 {@code bytes}, with Bedrock's {@code p} padding. */
  private static byte[] eventStream(String... anthropicEvents) {
    var out = new ByteArrayOutputStream();
    for (String event : anthropicEvents) {
      var headers = new LinkedHashMap<String, HeaderValue>();
      headers.put(":event-type", HeaderValue.fromString("chunk"));
      headers.put(":content-type", HeaderValue.fromString("application/json"));
      headers.put(":message-type", HeaderValue.fromString("event"));
      String payload = "{\"bytes\":\"" + Base64.getEncoder().encodeToString(event.getBytes(StandardCharsets.UTF_8)) + "\",\"p\":\"abcdefghijklmnopqrstuvwxyzABCDEFGH\"}";
      new Message(headers, payload.getBytes(StandardCharsets.UTF_8)).encode(out);
    }
    return out.toByteArray();
  }

  private static GatewayAdmin admin() {
    return new GatewayAdmin(gateway.baseUrl(), MASTER);
  }
}

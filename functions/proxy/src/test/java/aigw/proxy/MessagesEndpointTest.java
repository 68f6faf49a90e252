package aigw.proxy;

import static com.github.tomakehurst.wiremock.client.WireMock.*;
import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.Gateway;
import aigw.core.config.Deployment;
import aigw.core.config.Provider;
import aigw.core.http.CorsPolicy;
import aigw.core.http.GatewayApplication;
import aigw.core.http.GatewayRequest;
import aigw.core.http.GatewayResponse;
import aigw.core.json.Json;
import aigw.core.keys.KeyUsage;
import aigw.core.testing.LocalDynamo;
import aigw.core.testing.MutableClock;
import aigw.core.testing.TestGateways;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import java.math.BigDecimal;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code POST /v1/messages} and {@code /v1/messages/count_tokens} through the proxy's HTTP
 * application, against loopback stand-ins (WireMock) of an OpenAI-compatible provider and of
 * Anthropic: what the client gets (status, Anthropic's body or events, headers, Anthropic's error
 * shape), what the provider was sent, and the usage recorded on the key.
 */
class MessagesEndpointTest {
  private static final String KEY = "sk-aigw-messages-test-key-0001";
  private static final String LIMITED_KEY = "sk-aigw-messages-test-key-0002";
  private static final String PROVIDER_KEY = "sk-ant-provider-credential-0001";
  private static WireMockServer wiremock;

  private LocalDynamo dynamo;
  private Gateway gateway;
  private GatewayApplication app;
  private String keyId;

  @BeforeAll
  static void startWireMock() {
    wiremock = aigw.core.testing.Upstream.start();
  }

  @AfterAll
  static void stopWireMock() {
    wiremock.stop();
  }

  @BeforeEach
  void setUp() {
    wiremock.resetAll();
    dynamo = new LocalDynamo();
    var settings = aigw.core.GatewaySettings.fromEnvironment(Map.of("AIGW_KEYS_TABLE", dynamo.keysTable(), "AIGW_MAX_REQUEST_BYTES", "20000"));
    gateway = TestGateways.gateway(settings, dynamo, List.of(
        TestGateways.openAi("gpt-4o-mini", "gpt-4o-mini-2024-07-18", wiremock.baseUrl() + "/v1"),
        new Deployment("claude", Provider.ANTHROPIC, "claude-sonnet-4-5-20250929", URI.create(wiremock.baseUrl()), PROVIDER_KEY,
            "os.environ/ANTHROPIC_API_KEY", Duration.ofSeconds(5))),
        MutableClock.at("2026-05-01T12:00:00Z"));
    app = GatewayApplication.of(CorsPolicy.DISABLED, new ProxyService(gateway)::handle);
    keyId = TestGateways.storeKey(gateway, KEY, List.of(), null, false).keyId();
    TestGateways.storeKey(gateway, LIMITED_KEY, List.of("gpt-4o-mini"), null, false);
  }

  @AfterEach
  void tearDown() {
    dynamo.close();
  }

  /** As Anthropic's SDKs send it: the key in x-api-key, anthropic-version, optionally anthropic-beta. */
  private GatewayResponse send(String method, String path, Map<String, String> extraHeaders, String body) {
    var headers = new HashMap<String, String>(Map.of("x-api-key", KEY, "anthropic-version", "2023-06-01", "content-type", "application/json"));
    headers.putAll(extraHeaders);
    headers.values().removeIf(String::isEmpty);
    return app.handle(new GatewayRequest(method, path, headers, Map.of(), body.getBytes(StandardCharsets.UTF_8), "req-messages-1")).buffered();
  }

  private GatewayResponse send(String body) {
    return send("POST", "/v1/messages", Map.of(), body);
  }

  private static JsonNode json(GatewayResponse response) throws Exception {
    return Json.MAPPER.readTree(response.body());
  }

  private KeyUsage usage() {
    return gateway.keyStore().usageOf(keyId);
  }

  /** The events of an Anthropic SSE body: each {@code event:} name paired with its data's type. */
  private static List<JsonNode> events(String sse) throws Exception {
    var events = new ArrayList<JsonNode>();
    for (String block : sse.split("\n\n")) {
      if (block.isBlank()) {
        continue;
      }
      String[] lines = block.split("\n");
      assertThat(lines).hasSize(2);
      assertThat(lines[0]).startsWith("event: ");
      assertThat(lines[1]).startsWith("data: ");
      JsonNode data = Json.MAPPER.readTree(lines[1].substring(6));
      assertThat(data.path("type").asText()).as("the event name is its data's type").isEqualTo(lines[0].substring(7));
      events.add(data);
    }
    return events;
  }

  private static List<String> types(List<JsonNode> events) {
    return events.stream().map(e -> e.path("type").asText()).toList();
  }

  private static final String CLAUDE_CODE_BODY = """
      {"model":"%s","max_tokens":32000,"stream":%s,"metadata":{"user_id":"user_abc_account__session_1"},
       "system":[{"type":"text","text":"You are Claude Code, Anthropic's official CLI for Claude.","cache_control":{"type":"ephemeral"}}],
       "tools":[{"name":"Read","description":"Reads a file.","input_schema":{"type":"object","properties":{"file_path":{"type":"string"}},"required":["file_path"]}}],
       "messages":[{"role":"user","content":[{"type":"text","text":"Read package.json","cache_control":{"type":"ephemeral"}}]}]}""";

  private static String claudeCode(String model, boolean stream) {
    return CLAUDE_CODE_BODY.formatted(model, stream);
  }

  // ------------------------------------------------------------ an OpenAI-compatible model

  @Test
  void aMessagesRequestToAnOpenAiModelIsTranslatedAndAnsweredAsAnAnthropicMessage() throws Exception {
    wiremock.stubFor(post("/v1/chat/completions").willReturn(okJson("""
        {"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini-2024-07-18",
         "choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[
           {"id":"call_1","type":"function","function":{"name":"Read","arguments":"{\\"file_path\\":\\"package.json\\"}"}}]},"finish_reason":"tool_calls"}],
         "usage":{"prompt_tokens":120,"completion_tokens":18,"total_tokens":138,"prompt_tokens_details":{"cached_tokens":100}}}""")));

    var response = send(claudeCode("gpt-4o-mini", false));

    assertThat(response.status()).isEqualTo(200);
    assertThat(response.headers()).containsEntry("request-id", "req-messages-1");
    JsonNode message = json(response);
    assertThat(message.path("type").asText()).isEqualTo("message");
    assertThat(message.path("model").asText()).as("the model the provider says answered, as chat completions passes it").isEqualTo("gpt-4o-mini-2024-07-18");
    assertThat(message.path("stop_reason").asText()).isEqualTo("tool_use");
    assertThat(message.at("/content/0/type").asText()).isEqualTo("tool_use");
    assertThat(message.at("/content/0/input/file_path").asText()).isEqualTo("package.json");
    assertThat(message.path("usage")).isEqualTo(Json.MAPPER.readTree(
        "{\"input_tokens\":20,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":100,\"output_tokens\":18}"));
    JsonNode sent = Json.MAPPER.readTree(wiremock.getAllServeEvents().get(0).getRequest().getBodyAsString());
    assertThat(sent.path("model").asText()).isEqualTo("gpt-4o-mini-2024-07-18");
    assertThat(sent.at("/messages/0/role").asText()).isEqualTo("system");
    assertThat(sent.path("max_tokens").asInt()).isEqualTo(32000);
    assertThat(sent.at("/tools/0/function/name").asText()).isEqualTo("Read");
    assertThat(sent.path("user").asText()).isEqualTo("user_abc_account__session_1");
    assertThat(usage().requests()).isEqualTo(1);
    assertThat(usage().promptTokens()).isEqualTo(120);
    assertThat(usage().completionTokens()).isEqualTo(18);
  }

  @Test
  void aStreamedMessagesRequestToAnOpenAiModelGetsAnthropicsEventSequenceWithUsage() throws Exception {
    String chunk = "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":%s,\"finish_reason\":%s}]}";
    String sse = "data: " + chunk.formatted("{\"role\":\"assistant\",\"content\":\"\"}", "null") + "\n\n"
        + "data: " + chunk.formatted("{\"content\":\"Hello\"}", "null") + "\n\n"
        + "data: " + chunk.formatted("{\"content\":\" there\"}", "null") + "\n\n"
        + "data: " + chunk.formatted("{}", "\"stop\"") + "\n\n"
        + "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":30,\"completion_tokens\":2,\"total_tokens\":32}}\n\n"
        + "data: [DONE]\n\n";
    wiremock.stubFor(post("/v1/chat/completions").willReturn(aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream").withBody(sse)));

    var response = send(claudeCode("gpt-4o-mini", true));

    assertThat(response.status()).isEqualTo(200);
    assertThat(response.headers().get("Content-Type")).startsWith("text/event-stream");
    var events = events(response.bodyText());
    assertThat(types(events)).containsExactly(
        "message_start", "ping", "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop");
    assertThat(events.get(0).at("/message/model").asText()).as("the model the provider's chunks name").isEqualTo("m");
    assertThat(events.get(3).at("/delta/text").asText() + events.get(4).at("/delta/text").asText()).isEqualTo("Hello there");
    assertThat(events.get(6).at("/delta/stop_reason").asText()).isEqualTo("end_turn");
    assertThat(events.get(6).at("/usage/input_tokens").asInt()).isEqualTo(30);
    assertThat(events.get(6).at("/usage/output_tokens").asInt()).isEqualTo(2);
    JsonNode sent = Json.MAPPER.readTree(wiremock.getAllServeEvents().get(0).getRequest().getBodyAsString());
    assertThat(sent.at("/stream_options/include_usage").asBoolean()).as("the gateway asks for usage").isTrue();
    // gpt-4o-mini-2024-07-18: 30 × 1.5e-07 + 2 × 6e-07 USD.
    assertThat(usage()).usingRecursiveComparison().withComparatorForType(BigDecimal::compareTo, BigDecimal.class)
        .isEqualTo(new KeyUsage(1, 30, 2, 32, usage().lastUsedAt(), 0, new BigDecimal("0.0000057")));
  }

  // ------------------------------------------------------------ an Anthropic model

  @Test
  void aMessagesRequestToAnAnthropicModelIsPassedThroughWithTheProvidersCredentialAndTheClientsBeta() throws Exception {
    String answer = """
        {"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",
         "content":[{"type":"text","text":"Hello!"}],"stop_reason":"end_turn","stop_sequence":null,
         "usage":{"input_tokens":3,"cache_creation_input_tokens":5501,"cache_read_input_tokens":200,"output_tokens":12,"service_tier":"standard"}}""";
    wiremock.stubFor(post("/v1/messages").willReturn(okJson(answer)));
    String body = claudeCode("claude", false);

    var response = send("POST", "/v1/messages", Map.of("anthropic-beta", "claude-code-20250219,interleaved-thinking-2025-05-14"), body);

    assertThat(response.status()).isEqualTo(200);
    assertThat(response.bodyText()).as("Anthropic's answer byte for byte").isEqualTo(answer);
    var sent = wiremock.getAllServeEvents().get(0).getRequest();
    assertThat(sent.getHeader("x-api-key")).isEqualTo(PROVIDER_KEY);
    assertThat(sent.getHeader("anthropic-version")).isEqualTo("2023-06-01");
    assertThat(sent.getHeader("anthropic-beta")).isEqualTo("claude-code-20250219,interleaved-thinking-2025-05-14");
    assertThat(sent.getBodyAsString()).as("the client's body, only model replaced")
        .isEqualTo(body.replace("\"model\":\"claude\"", "\"model\":\"claude-sonnet-4-5-20250929\""));
    assertThat(usage().requests()).isEqualTo(1);
    assertThat(usage().promptTokens()).as("input, cache creation and cache read tokens").isEqualTo(3 + 5501 + 200);
    assertThat(usage().completionTokens()).isEqualTo(12);
    // Cache writes and reads at their own prices: 3 × 3e-06 + 200 × 3e-07 + 5501 × 3.75e-06 + 12 × 1.5e-05 USD.
    assertThat(usage().spend()).isEqualByComparingTo("0.02087775");
  }

  @Test
  void aStreamedMessagesRequestToAnAnthropicModelRelaysAnthropicsEventsAsSentAndRecordsTheirUsage() throws Exception {
    String upstream = """
        event: message_start
        data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5-20250929","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_read_input_tokens":100,"output_tokens":1}}}

        event: content_block_start
        data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

        event: ping
        data: {"type": "ping"}

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}

        event: content_block_stop
        data: {"type":"content_block_stop","index":0}

        event: message_delta
        data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}

        event: message_stop
        data: {"type":"message_stop"}

        """;
    wiremock.stubFor(post("/v1/messages").willReturn(aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream").withBody(upstream)));

    var response = send(claudeCode("claude", true));

    assertThat(response.status()).isEqualTo(200);
    assertThat(response.bodyText()).as("every event, ping included, as Anthropic sent it").isEqualTo(upstream);
    // claude-sonnet-4-5-20250929: 25 × 3e-06 + 100 cache reads × 3e-07 + 15 × 1.5e-05 USD.
    assertThat(usage()).usingRecursiveComparison().withComparatorForType(BigDecimal::compareTo, BigDecimal.class)
        .isEqualTo(new KeyUsage(1, 125, 15, 140, usage().lastUsedAt(), 0, new BigDecimal("0.00033")));
  }

  @Test
  void anAnthropicErrorEventMidStreamReachesTheClientAsAnthropicsErrorEventAndWhatWasSentIsCounted() throws Exception {
    String upstream = """
        event: message_start
        data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"c","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"output_tokens":1}}}

        event: error
        data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}

        """;
    wiremock.stubFor(post("/v1/messages").willReturn(aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream").withBody(upstream)));

    var response = send(claudeCode("claude", true));

    assertThat(response.status()).isEqualTo(200);
    var events = events(response.bodyText());
    assertThat(types(events)).containsExactly("message_start", "error");
    assertThat(events.get(1)).isEqualTo(Json.MAPPER.readTree(
        "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"},\"request_id\":\"req-messages-1\"}"));
    assertThat(usage().requests()).isEqualTo(1);
    assertThat(usage().promptTokens()).isEqualTo(25);
  }

  @Test
  void anAnthropicModelAnsweringAStreamRequestWholeStillGivesTheClientAnthropicsEventSequence() throws Exception {
    wiremock.stubFor(post("/v1/messages").willReturn(okJson("""
        {"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",
         "content":[{"type":"text","text":"Hi"},{"type":"tool_use","id":"toolu_1","name":"Read","input":{"file_path":"a"}}],
         "stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":4,"cache_creation_input_tokens":6,"output_tokens":9}}""")));

    var response = send(claudeCode("claude", true));

    var events = events(response.bodyText());
    assertThat(types(events)).containsExactly("message_start", "content_block_start", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop");
    assertThat(events.get(0).at("/message/content").isEmpty()).isTrue();
    assertThat(events.get(2).at("/delta/text").asText()).isEqualTo("Hi");
    assertThat(Json.MAPPER.readTree(events.get(5).at("/delta/partial_json").asText())).isEqualTo(Json.MAPPER.readTree("{\"file_path\":\"a\"}"));
    assertThat(events.get(7).at("/delta/stop_reason").asText()).isEqualTo("tool_use");
    // 4 × 3e-06 + 6 cache writes × 3.75e-06 + 9 × 1.5e-05 USD.
    assertThat(usage()).usingRecursiveComparison().withComparatorForType(BigDecimal::compareTo, BigDecimal.class)
        .isEqualTo(new KeyUsage(1, 10, 9, 19, usage().lastUsedAt(), 0, new BigDecimal("0.0001695")));
  }

  @Test
  void countTokensIsForwardedToAnthropicAndRefusedInAnthropicsShapeForOtherModels() throws Exception {
    wiremock.stubFor(post("/v1/messages/count_tokens").willReturn(okJson("{\"input_tokens\":2095}")));
    String body = "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}";

    var counted = send("POST", "/v1/messages/count_tokens", Map.of(), body.formatted("claude"));
    var refused = send("POST", "/v1/messages/count_tokens", Map.of(), body.formatted("gpt-4o-mini"));

    assertThat(counted.status()).isEqualTo(200);
    assertThat(json(counted)).isEqualTo(Json.MAPPER.readTree("{\"input_tokens\":2095}"));
    assertThat(Json.MAPPER.readTree(wiremock.getAllServeEvents().get(0).getRequest().getBodyAsString()).path("model").asText())
        .isEqualTo("claude-sonnet-4-5-20250929");
    assertThat(refused.status()).isEqualTo(400);
    assertThat(json(refused).at("/error/type").asText()).isEqualTo("invalid_request_error");
    assertThat(json(refused).at("/error/message").asText()).contains("only available for models served by Anthropic").contains("openai")
        .as("the model has no fallbacks").doesNotContain("fallbacks");
    assertThat(usage().requests()).as("counting tokens generates none and is not counted").isZero();
  }

  @Test
  void countTokensWithStreamIsRefusedNamingStreamAsAnthropicHasNoStreamThere() throws Exception {
    var refused = send("POST", "/v1/messages/count_tokens", Map.of(),
        "{\"model\":\"claude\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}");

    assertAnthropicError(refused, 400, "invalid_request_error");
    assertThat(json(refused).at("/error/message").asText()).startsWith("stream:");
    assertThat(wiremock.getAllServeEvents()).as("nothing reached Anthropic").isEmpty();
  }

  @Test
  void fieldsAnthropicWouldRefuseAreRefusedInItsShapeNotDroppedOnTheWayToAnOpenAiModel() throws Exception {
    wiremock.stubFor(post("/v1/chat/completions").willReturn(okJson("{}")));
    String hello = "{\"model\":\"gpt-4o-mini\",\"max_tokens\":10,%s,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";

    for (var refused : List.of(
        send(hello.formatted("\"tool_choice\":{\"type\":\"zzz\"}")),
        send(hello.formatted("\"metadata\":{\"user_id\":5}")),
        send("{\"model\":\"gpt-4o-mini\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":[]}]}"))) {
      assertAnthropicError(refused, 400, "invalid_request_error");
    }
    assertThat(wiremock.getAllServeEvents()).as("nothing reached the provider").isEmpty();
  }

  @Test
  void aClientThatGoesAwayMidStreamEndsTheUpstreamCallAndWhatWasGeneratedIsCounted() throws Exception {
    try (var upstream = aigw.core.testing.StreamingUpstream.start()) {
      var held = new Deployment("held", Provider.ANTHROPIC, "claude-held", URI.create(upstream.baseUrl()), PROVIDER_KEY,
          "os.environ/ANTHROPIC_API_KEY", Duration.ofSeconds(5));
      gateway = TestGateways.gateway(aigw.core.GatewaySettings.fromEnvironment(Map.of("AIGW_KEYS_TABLE", dynamo.keysTable())), dynamo,
          List.of(held), MutableClock.at("2026-05-01T12:00:00Z"));
      app = GatewayApplication.of(CorsPolicy.DISABLED, new ProxyService(gateway)::handle);
      var written = new java.io.ByteArrayOutputStream();
      var client = new java.io.OutputStream() { // the client's connection: gone after its second write
        volatile int flushes;

        @Override
        public void write(int b) throws java.io.IOException {
          write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws java.io.IOException {
          if (flushes >= 2) {
            throw new java.io.IOException("Broken pipe");
          }
          written.write(b, off, len);
        }

        @Override
        public void flush() {
          flushes++;
        }
      };
      var call = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
        var response = app.handle(new GatewayRequest("POST", "/v1/messages", Map.of("x-api-key", KEY), Map.of(),
            claudeCode("held", true).getBytes(StandardCharsets.UTF_8), "req-gone"));
        try {
          response.stream().writeTo(client);
          return "completed";
        } catch (java.io.IOException gone) {
          return "client gone";
        }
      });
      var exchange = upstream.awaitRequest();
      assertThat(exchange.requestLine()).isEqualTo("POST /v1/messages HTTP/1.1");
      exchange.startStream();
      // Two events in one write: the first leaves at once, the second in the client's second write; the next finds it gone.
      exchange.sendRaw("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
          + "\"content\":[],\"model\":\"claude-held\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n"
          + "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n");
      long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
      while (client.flushes < 2 && System.nanoTime() < deadline) {
        Thread.sleep(5);
      }
      exchange.sendRaw("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n");

      assertThat(call.get(10, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo("client gone");
      assertThat(exchange.awaitClientClosed(Duration.ofSeconds(10))).as("the upstream call was ended").isTrue();
      assertThat(written.toString(StandardCharsets.UTF_8)).startsWith("event: message_start\n").contains("event: content_block_start\n");
      var counted = gateway.keyStore().usageOf(keyId);
      assertThat(counted.requests()).isEqualTo(1);
      assertThat(counted.promptTokens()).as("message_start's usage").isEqualTo(25);
    }
  }

  // ------------------------------------------------------------ errors in Anthropic's shape

  private static void assertAnthropicError(GatewayResponse response, int status, String type) throws Exception {
    assertThat(response.status()).isEqualTo(status);
    JsonNode body = json(response);
    assertThat(body.path("type").asText()).isEqualTo("error");
    assertThat(body.at("/error/type").asText()).isEqualTo(type);
    assertThat(body.at("/error/message").asText()).isNotBlank();
    assertThat(body.path("request_id").asText()).isEqualTo("req-messages-1");
    assertThat(body.has("code")).isFalse();
    assertThat(response.headers()).containsEntry("request-id", "req-messages-1");
  }

  @Test
  void theGatewaysOwnFailuresOnThisRouteAreInAnthropicsErrorShapeWithTheirStatus() throws Exception {
    String hello = "{\"model\":\"%s\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";
    assertAnthropicError(send("POST", "/v1/messages", Map.of("x-api-key", ""), hello.formatted("claude")), 401, "authentication_error");
    assertAnthropicError(send("POST", "/v1/messages", Map.of("x-api-key", "sk-not-a-key-of-this-gateway"), hello.formatted("claude")), 401, "authentication_error");
    assertAnthropicError(send("POST", "/v1/messages", Map.of("x-api-key", LIMITED_KEY), hello.formatted("claude")), 401, "authentication_error");
    assertAnthropicError(send("POST", "/v1/messages", Map.of("x-api-key", "", "authorization", "Bearer " + TestGateways.MASTER_KEY), hello.formatted("claude")), 403, "permission_error");
    assertAnthropicError(send(hello.formatted("no-such-model")), 404, "not_found_error");
    assertAnthropicError(send("{\"model\":\"claude\",\"messages\":[{\"role\":\"user\",\"content\":\"" + "x".repeat(20_000) + "\"}]}"), 413, "request_too_large");
    assertAnthropicError(send("{not json"), 400, "invalid_request_error");
    assertAnthropicError(send("{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}"), 400, "invalid_request_error");
    assertAnthropicError(send("POST", "/messages/", Map.of(), hello.formatted("no-such-model")), 404, "not_found_error"); // without /v1, as routed
    var wrongMethod = send("GET", "/v1/messages", Map.of(), "");
    assertAnthropicError(wrongMethod, 405, "invalid_request_error");
    assertThat(wrongMethod.headers()).containsEntry("Allow", "POST");
    assertThat(wiremock.getAllServeEvents()).as("nothing reached a provider").isEmpty();
  }

  @Test
  void aProviderErrorThatNamesNoTypeKeepsItsStatusInAnthropicsShapeWhetherPlainOrStreamed() throws Exception {
    String hello = "{\"model\":\"%s\",\"max_tokens\":10,\"stream\":%s,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";
    // A load balancer's HTML page, Ollama's string error, vLLM's top-level error: none has error.type.
    record Case(String path, int status, String contentType, String body, String model, String type) {}
    var cases = List.of(
        new Case("/v1/chat/completions", 503, "text/html", "<html><body>503 Service Unavailable</body></html>", "gpt-4o-mini", "api_error"),
        new Case("/v1/chat/completions", 404, "application/json", "{\"error\":\"model 'llama9' not found\"}", "gpt-4o-mini", "not_found_error"),
        new Case("/v1/chat/completions", 400, "application/json",
            "{\"object\":\"error\",\"message\":\"bad\",\"type\":\"BadRequestError\",\"code\":400}", "gpt-4o-mini", "invalid_request_error"),
        new Case("/v1/messages", 502, "text/html", "<html>Bad Gateway</html>", "claude", "api_error"));
    for (var c : cases) {
      for (boolean stream : new boolean[] {false, true}) {
        wiremock.resetAll();
        wiremock.stubFor(post(c.path()).willReturn(aResponse().withStatus(c.status()).withHeader("Content-Type", c.contentType()).withBody(c.body())));
        var response = send(hello.formatted(c.model(), stream));
        // A provider's 5xx is the gateway's 502 (as on /v1/chat/completions); its 4xx keeps its status.
        assertAnthropicError(response, c.status() >= 500 ? 502 : c.status(), c.type());
        assertThat(response.bodyText()).as(c + " stream " + stream).doesNotContain("Exception").doesNotContain("internal_server_error");
      }
    }
  }

  @Test
  void aVirtualKeyInAuthorizationBearerIsAcceptedAsClaudeCodeSendsIt() throws Exception {
    wiremock.stubFor(post("/v1/messages").willReturn(okJson(
        "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"c\",\"content\":[],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}")));

    var response = send("POST", "/v1/messages", Map.of("x-api-key", "", "authorization", "Bearer " + KEY), claudeCode("claude", false));

    assertThat(response.status()).isEqualTo(200);
    assertThat(usage().requests()).isEqualTo(1);
  }

  @Test
  void whenBothAuthorizationAndXApiKeyAreSentAuthorizationDecidesEvenWithAnInvalidKey() throws Exception {
    wiremock.stubFor(post("/v1/messages").willReturn(okJson("{}")));

    var response = send("POST", "/v1/messages", Map.of("x-api-key", KEY, "authorization", "Bearer sk-not-a-key-of-this-gateway"),
        claudeCode("claude", false));

    assertAnthropicError(response, 401, "authentication_error");
    assertThat(wiremock.getAllServeEvents()).isEmpty();
  }

  @Test
  void providerFailuresKeepTheirStatusAndRetryAfterAndGetAnthropicsTypes() throws Exception {
    wiremock.stubFor(post("/v1/messages").willReturn(aResponse().withStatus(429).withHeader("retry-after", "17").withHeader("Content-Type", "application/json")
        .withBody("{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"Number of request tokens has exceeded your per-minute rate limit\"}}")));
    wiremock.stubFor(post("/v1/chat/completions").willReturn(aResponse().withStatus(503).withHeader("Content-Type", "application/json")
        .withBody("{\"error\":{\"message\":\"The server is overloaded\",\"type\":\"server_error\"}}")));

    var limited = send(claudeCode("claude", false));
    var failed = send(claudeCode("gpt-4o-mini", true));

    assertAnthropicError(limited, 429, "rate_limit_error");
    assertThat(json(limited).at("/error/message").asText()).isEqualTo("Number of request tokens has exceeded your per-minute rate limit");
    assertThat(limited.headers()).containsEntry("Retry-After", "17");
    assertAnthropicError(failed, 502, "api_error");
    assertThat(usage().requests()).isZero();
  }

  @Test
  void aProviderRefusingTheGatewaysCredentialIsTheGatewaysApiErrorNotTheClientsAuthenticationError() throws Exception {
    wiremock.stubFor(post("/v1/messages").willReturn(aResponse().withStatus(401).withHeader("Content-Type", "application/json")
        .withBody("{\"type\":\"error\",\"error\":{\"type\":\"authentication_error\",\"message\":\"invalid x-api-key\"}}")));

    var response = send(claudeCode("claude", false));

    assertAnthropicError(response, 502, "api_error");
    assertThat(response.bodyText()).doesNotContain(PROVIDER_KEY);
  }

  @Test
  void theOpenAiRoutesKeepOpenAisErrorEnvelope() throws Exception {
    var response = app.handle(new GatewayRequest("POST", "/v1/chat/completions", Map.of("x-api-key", KEY), Map.of(),
        "{\"model\":\"no-such-model\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}".getBytes(StandardCharsets.UTF_8), "req-2"));

    assertThat(response.status()).isEqualTo(404);
    assertThat(json(response).at("/error/code").asText()).isEqualTo("404");
    assertThat(json(response).has("type")).isFalse();
    assertThat(response.headers()).doesNotContainKey("request-id");
  }
}

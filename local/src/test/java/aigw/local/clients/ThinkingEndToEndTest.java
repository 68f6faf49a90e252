package aigw.local.clients;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.matchingJsonPath;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.json.Json;
import aigw.core.testing.Upstream;
import aigw.local.LocalGateway;
import aigw.local.LocalOptions;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.MappingBuilder;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A conversation with extended thinking and tools over two turns, through the local gateway to an
 * Anthropic stand-in that behaves as Anthropic does with thinking enabled: the assistant turn that
 * called the tool must come back starting with its thinking blocks, signature and redacted data
 * unchanged, or the next request is refused (400 "a final assistant message must start with a
 * thinking block", https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking).
 *
 * <ul>
 *   <li>through {@code /v1/chat/completions} to {@code anthropic/}: the client keeps the answer's
 *       {@code thinking_blocks} (LiteLLM's field; from a stream, by adding up the deltas' entries)
 *       and sends the assistant message back with them;
 *   <li>through {@code /v1/messages} translated (the official Anthropic SDK on a model whose
 *       fallback is an OpenAI model, so the request goes through chat completions to the Anthropic
 *       deployment): the SDK sends the content blocks back as it got them.
 * </ul>
 *
 * Plain and streamed; both requests are counted on the key with their tokens.
 */
class ThinkingEndToEndTest {
  private static final String MASTER = "sk-thinking-master-key-for-tests-only";
  private static final String PROVIDER_KEY = "sk-ant-provider-thinking";
  private static final String THOUGHT = "The user wants the weather.";
  private static final String SIGNATURE = "EuYBCkQYAiJAgCs1leThinkingSignatureForTests";
  private static final String REDACTED = "EmwKAhgBEgy3va3pzix/LafPsn4aRedactedForTests";
  private static final String TOOL_ID = "toolu_01ThinkingTool";
  /** First answer: 30 in, 50 out; the answer after the tool result: 40 in, 10 out. */
  private static final long PROMPT_TOKENS = 70;
  private static final long COMPLETION_TOKENS = 60;
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  @TempDir static Path dir;
  @TempDir Path home;
  private static WireMockServer anthropic;
  private static LocalGateway gateway;

  @BeforeAll
  static void start() throws Exception {
    anthropic = Upstream.start();
    stubThinkingClaude("/chat"); // reached by /v1/chat/completions
    stubThinkingClaude("/translated"); // reached by /v1/messages, translated
    Path config = dir.resolve("config.yaml");
    Files.writeString(config, """
        model_list:
          - model_name: claude-thinking
            litellm_params: {model: anthropic/claude-sonnet-4-5, api_base: "%1$s/chat", api_key: os.environ/THINKING_PROVIDER_KEY}
          - model_name: claude-translated
            litellm_params: {model: anthropic/claude-sonnet-4-5, api_base: "%1$s/translated", api_key: os.environ/THINKING_PROVIDER_KEY}
          - model_name: gpt-fallback
            litellm_params: {model: openai/gpt-4o-mini, api_base: "%1$s/unused/v1", api_key: os.environ/THINKING_PROVIDER_KEY}
        router_settings:
          fallbacks: [{claude-translated: [gpt-fallback]}]
        """.formatted(anthropic.baseUrl()));
    gateway = LocalGateway.start(LocalOptions.inMemory(config, Map.of("AIGW_MASTER_KEY", MASTER, "THINKING_PROVIDER_KEY", PROVIDER_KEY)));
  }

  @AfterAll
  static void stop() {
    if (gateway != null) {
      gateway.close();
    }
    if (anthropic != null) {
      anthropic.stop();
    }
  }

  @ParameterizedTest(name = "streamed: {0}")
  @ValueSource(booleans = {false, true})
  void chatCompletionsKeepTheSignedThinkingSoTheConversationContinuesAfterTheToolCall(boolean stream) throws Exception {
    var admin = new GatewayAdmin(gateway.baseUrl(), MASTER);
    String key = admin.newKey("thinking-chat");
    ObjectNode request = (ObjectNode) Json.MAPPER.readTree("""
        {"model":"claude-thinking","reasoning_effort":"low","max_tokens":2048,
         "messages":[{"role":"user","content":"What is the weather in Paris?"}],
         "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}""");
    request.put("stream", stream);

    ObjectNode assistant = assistantMessage(chat(key, request), stream);

    assertThat(assistant.at("/thinking_blocks")).as("what the client keeps of the thinking").isEqualTo(Json.MAPPER.readTree(
        "[{\"type\":\"thinking\",\"thinking\":\"" + THOUGHT + "\",\"signature\":\"" + SIGNATURE + "\"},"
            + "{\"type\":\"redacted_thinking\",\"data\":\"" + REDACTED + "\"}]"));
    assertThat(assistant.at("/reasoning_content").asText()).isEqualTo(THOUGHT);
    assertThat(assistant.at("/tool_calls/0/id").asText()).isEqualTo(TOOL_ID);
    ArrayNode messages = (ArrayNode) request.get("messages");
    messages.add(assistant);
    messages.addObject().put("role", "tool").put("tool_call_id", TOOL_ID).put("content", AdapterStandIns.RESULT);

    ObjectNode last = assistantMessage(chat(key, request), stream);

    assertThat(last.path("content").asText()).isEqualTo(AdapterStandIns.AFTER_TOOL);
    assertRecorded(admin, key);
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"roundtrip-create", "roundtrip-stream"})
  void theAnthropicSdkOnATranslatedModelGetsTheSignedThinkingAndContinuesAfterTheToolCall(String mode) throws Exception {
    NodeClients.install();
    var admin = new GatewayAdmin(gateway.baseUrl(), MASTER);
    String key = admin.newKey("thinking-messages");

    var run = NodeClients.node("anthropic-node.mjs", List.of(mode), Map.of("HOME", home.toString(), "AIGW_BASE_URL", gateway.baseUrl().toString(),
        "AIGW_API_KEY", key, "AIGW_MODEL", "claude-translated", "AIGW_TOOL_RESULT", AdapterStandIns.RESULT, "AIGW_THINKING_BUDGET", "1024"));

    assertThat(run.exitCode()).as("the SDK exited with %d:%n%s%n%s", run.exitCode(), run.stdout(), run.stderr()).isZero();
    JsonNode printed = Json.MAPPER.readTree(run.stdout().strip().lines().reduce((first, last) -> last).orElse("{}"));
    assertThat(printed.get("thinking")).isEqualTo(Json.MAPPER.readTree(
        "[{\"type\":\"thinking\",\"signature\":\"" + SIGNATURE + "\"},{\"type\":\"redacted_thinking\",\"data\":\"" + REDACTED + "\"}]"));
    assertThat(printed.path("first_stop_reason").asText()).isEqualTo("tool_use");
    assertThat(printed.at("/tool/name").asText()).isEqualTo("get_weather");
    assertThat(printed.path("text").asText()).isEqualTo(AdapterStandIns.AFTER_TOOL);
    assertThat(printed.path("stop_reason").asText()).isEqualTo("end_turn");
    // Translated, not passed through: the system blocks' cache_control is not sent, the system is one string.
    for (var sent : anthropic.findAll(postRequestedFor(urlEqualTo("/translated/v1/messages")))) {
      assertThat(Json.MAPPER.readTree(sent.getBodyAsString()).path("system").asText()).isEqualTo("Be brief.");
    }
    assertRecorded(admin, key);
  }

  private static void assertRecorded(GatewayAdmin admin, String key) throws Exception {
    JsonNode info = admin.keyInfoAfter(key, 2);
    assertThat(info.path("request_count").asLong()).isEqualTo(2);
    assertThat(info.path("prompt_tokens").asLong()).isEqualTo(PROMPT_TOKENS);
    assertThat(info.path("completion_tokens").asLong()).isEqualTo(COMPLETION_TOKENS);
  }

  private static HttpResponse<String> chat(String key, ObjectNode request) throws Exception {
    return HTTP.send(
        HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/v1/chat/completions"))
            .timeout(Duration.ofSeconds(20))
            .header("Authorization", "Bearer " + key)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(Json.string(request)))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /**
   * The assistant message a client keeps: a whole answer's {@code message}, or a stream's deltas
   * added up as LiteLLM's clients do: content, reasoning_content and tool call arguments joined,
   * {@code thinking_blocks} entries joined into one block until a signature ends it (a redacted
   * entry is a block of its own).
   */
  private static ObjectNode assistantMessage(HttpResponse<String> response, boolean stream) throws Exception {
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    if (!stream) {
      return (ObjectNode) Json.MAPPER.readTree(response.body()).at("/choices/0/message");
    }
    var content = new StringBuilder();
    var reasoning = new StringBuilder();
    ArrayNode thinkingBlocks = Json.MAPPER.createArrayNode();
    ObjectNode open = null;
    var calls = new TreeMap<Integer, ObjectNode>();
    for (String line : response.body().split("\n")) {
      if (!line.startsWith("data: ") || line.equals("data: [DONE]")) {
        continue;
      }
      JsonNode delta = Json.MAPPER.readTree(line.substring(6)).at("/choices/0/delta");
      content.append(delta.path("content").asText(""));
      reasoning.append(delta.path("reasoning_content").asText(""));
      for (JsonNode entry : delta.path("thinking_blocks")) {
        if (entry.path("type").asText().equals("redacted_thinking")) {
          thinkingBlocks.add(entry);
          open = null;
          continue;
        }
        if (open == null) {
          open = thinkingBlocks.addObject().put("type", "thinking").put("thinking", "").put("signature", "");
        }
        open.put("thinking", open.get("thinking").asText() + entry.path("thinking").asText(""));
        open.put("signature", open.get("signature").asText() + entry.path("signature").asText(""));
        if (!entry.path("signature").asText("").isEmpty()) {
          open = null;
        }
      }
      for (JsonNode call : delta.path("tool_calls")) {
        ObjectNode kept = calls.computeIfAbsent(call.path("index").asInt(), i -> {
          ObjectNode made = Json.MAPPER.createObjectNode().put("type", "function");
          made.putObject("function").put("arguments", "");
          return made;
        });
        if (call.hasNonNull("id")) {
          kept.put("id", call.get("id").asText());
        }
        ObjectNode function = (ObjectNode) kept.get("function");
        if (call.path("function").hasNonNull("name")) {
          function.put("name", call.at("/function/name").asText());
        }
        function.put("arguments", function.get("arguments").asText() + call.at("/function/arguments").asText(""));
      }
    }
    ObjectNode message = Json.MAPPER.createObjectNode().put("role", "assistant");
    if (content.isEmpty() && !calls.isEmpty()) {
      message.putNull("content");
    } else {
      message.put("content", content.toString());
    }
    if (!reasoning.isEmpty()) {
      message.put("reasoning_content", reasoning.toString());
    }
    if (!thinkingBlocks.isEmpty()) {
      message.set("thinking_blocks", thinkingBlocks);
    }
    if (!calls.isEmpty()) {
      message.putArray("tool_calls").addAll(calls.values());
    }
    return message;
  }

  // ------------------------------------------------------------ the stand-in

  /**
   * Claude with thinking enabled at {@code <prefix>/v1/messages}: the first turn thinks (signed),
   * thinks redacted, and calls get_weather; a request with the tool's result is answered only when
   * the assistant turn before it starts with those blocks unchanged, else with Anthropic's 400.
   */
  private static void stubThinkingClaude(String prefix) {
    String path = prefix + "/v1/messages";
    String tool = "{\"type\":\"tool_use\",\"id\":\"" + TOOL_ID + "\",\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}";
    String thinking = "{\"type\":\"thinking\",\"thinking\":\"" + THOUGHT + "\",\"signature\":\"" + SIGNATURE + "\"}";
    String redacted = "{\"type\":\"redacted_thinking\",\"data\":\"" + REDACTED + "\"}";
    for (boolean stream : new boolean[] {false, true}) {
      int offset = stream ? 0 : 3;
      var signedTurn = anthropic(path, stream).atPriority(1 + offset)
          .withRequestBody(matchingJsonPath("$.messages[1].content[0].thinking", equalTo(THOUGHT)))
          .withRequestBody(matchingJsonPath("$.messages[1].content[0].signature", equalTo(SIGNATURE)))
          .withRequestBody(matchingJsonPath("$.messages[1].content[1].data", equalTo(REDACTED)))
          .withRequestBody(matchingJsonPath("$.messages[2].content[0].tool_use_id", equalTo(TOOL_ID)));
      var otherwise = anthropic(path, stream).atPriority(2 + offset)
          .withRequestBody(matchingJsonPath("$.messages[2].content[0].type", equalTo("tool_result")));
      var first = anthropic(path, stream).atPriority(3 + offset);
      if (stream) {
        anthropic.stubFor(signedTurn.willReturn(sse(
            start(40) + block(0, "{\"type\":\"text\",\"text\":\"\"}", "{\"type\":\"text_delta\",\"text\":\"" + AdapterStandIns.AFTER_TOOL + "\"}")
                + end("end_turn", 10))));
        anthropic.stubFor(first.willReturn(sse(start(30)
            + block(0, "{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}",
                "{\"type\":\"thinking_delta\",\"thinking\":\"The user wants\"}", "{\"type\":\"thinking_delta\",\"thinking\":\" the weather.\"}",
                "{\"type\":\"signature_delta\",\"signature\":\"" + SIGNATURE + "\"}")
            + block(1, redacted)
            + block(2, "{\"type\":\"tool_use\",\"id\":\"" + TOOL_ID + "\",\"name\":\"get_weather\",\"input\":{}}",
                "{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\": \\\"Paris\\\"}\"}")
            + end("tool_use", 50))));
      } else {
        anthropic.stubFor(signedTurn.willReturn(okJson(message("[{\"type\":\"text\",\"text\":\"" + AdapterStandIns.AFTER_TOOL + "\"}]", "end_turn", 40, 10))));
        anthropic.stubFor(first.willReturn(okJson(message("[" + thinking + "," + redacted + "," + tool + "]", "tool_use", 30, 50))));
      }
      anthropic.stubFor(otherwise.willReturn(aResponse().withStatus(400).withHeader("Content-Type", "application/json").withBody(
          "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"messages.1.content.0.type: Expected `thinking` or"
              + " `redacted_thinking`, but found `tool_use`. When `thinking` is enabled, a final `assistant` message must start with a"
              + " thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks).\"}}")));
    }
  }

  private static MappingBuilder anthropic(String path, boolean stream) {
    var mapping = post(urlEqualTo(path)).withHeader("x-api-key", equalTo(PROVIDER_KEY))
        .withRequestBody(matchingJsonPath("$.thinking.type", equalTo("enabled")));
    return stream
        ? mapping.withRequestBody(matchingJsonPath("$.stream", equalTo("true")))
        : mapping;
  }

  private static String message(String content, String stopReason, int input, int output) {
    return "{\"id\":\"msg_thinking\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":" + content
        + ",\"stop_reason\":\"" + stopReason + "\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":" + input + ",\"output_tokens\":" + output + "}}";
  }

  private static String start(int input) {
    return event("message_start", "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_thinking\",\"type\":\"message\",\"role\":\"assistant\","
        + "\"content\":[],\"model\":\"claude-sonnet-4-5\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":" + input
        + ",\"output_tokens\":1}}}");
  }

  private static String block(int index, String contentBlock, String... deltas) {
    var out = new StringBuilder(event("content_block_start",
        "{\"type\":\"content_block_start\",\"index\":" + index + ",\"content_block\":" + contentBlock + "}"));
    for (String delta : deltas) {
      out.append(event("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":" + index + ",\"delta\":" + delta + "}"));
    }
    return out.append(event("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":" + index + "}")).toString();
  }

  private static String end(String stopReason, int output) {
    return event("message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"" + stopReason + "\",\"stop_sequence\":null},"
        + "\"usage\":{\"output_tokens\":" + output + "}}")
        + event("message_stop", "{\"type\":\"message_stop\"}");
  }

  private static String event(String type, String data) {
    return "event: " + type + "\ndata: " + data + "\n\n";
  }

  private static com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder sse(String body) {
    return aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream").withBody(body);
  }
}

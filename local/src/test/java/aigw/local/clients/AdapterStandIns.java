package aigw.local.clients;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.containing;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.matchingJsonPath;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.MappingBuilder;
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import software.amazon.eventstream.HeaderValue;
import software.amazon.eventstream.Message;

/**
 * Loopback stand-ins for the adapters whose wire format is not OpenAI's chat completions, on one
 * WireMock, each answering as its provider documents it and as a model with one tool would:
 *
 * <ul>
 *   <li>Gemini ({@code gemini/}): generateContent JSON and streamGenerateContent SSE
 *       (ai.google.dev/api/generate-content), key in {@code x-goog-api-key};
 *   <li>Bedrock ({@code bedrock/}, a non-Claude model: Nova Lite): Converse JSON and ConverseStream's
 *       binary {@code application/vnd.amazon.eventstream}, encoded here with the event stream
 *       library's {@link Message} (docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html);
 *   <li>Azure OpenAI with a dated {@code api_version} ({@code /openai/deployments/<name>/...?api-version=})
 *       and Azure's v1 API ({@code /openai/v1/chat/completions} and, passed through, {@code
 *       /openai/v1/responses}), key in {@code api-key}, chat streams in Azure's shape (a first chunk
 *       with {@code choices: []} and {@code prompt_filter_results}).
 * </ul>
 *
 * Each answers, whole or streamed: a request that carries the result of a {@link #TOOL} call
 * ({@link #RESULT}) with {@link #AFTER_TOOL} (Gemini: only with the call's {@code thoughtSignature}
 * back on its part, as Gemini 3 requires); one that offers tools with a call of {@link #TOOL}
 * ({@link ResponsesStandIn#ARGUMENTS}, id {@link ResponsesStandIn#CALL_ID} where the provider gives
 * ids: Gemini does not, the gateway makes one); anything else with the text of {@link Answer#pieces}.
 * Every answer reports {@link Answer#promptTokens} in and {@link Answer#completionTokens} out, so
 * the tests can check what the key records.
 */
final class AdapterStandIns {
  static final String TOOL = ResponsesStandIn.TOOL;
  /** What the client's tool returns; a request carrying it is answered {@link #AFTER_TOOL}. */
  static final String RESULT = "18 degrees and sunny";
  static final String AFTER_TOOL = "It is 18 degrees and sunny in Paris.";

  /** The model names the gateway's config gives the stand-ins. */
  enum Adapter {
    GEMINI("gemini-flash"),
    BEDROCK("nova-lite"),
    AZURE_DATED("azure-dated"),
    AZURE_V1("azure-v1");

    final String model;

    Adapter(String model) {
      this.model = model;
    }
  }

  /** What the plain answers say (streamed piece by piece) and count. */
  record Answer(List<String> pieces, int promptTokens, int completionTokens) {
    String text() {
      return String.join("", pieces);
    }

    int totalTokens() {
      return promptTokens + completionTokens;
    }
  }

  static final String GEMINI_KEY = "gemini-stand-in-key-not-a-secret-0077";
  private static final String GEMINI_SIGNATURE = "CiQBVKhc7kSignatureOfTheStandIn+/w==";
  static final String AZURE_KEY = "azure-stand-in-key-not-a-secret-0077";
  static final String ACCESS_KEY = "AKIDADAPTERSTEST0001";
  private static final String SECRET_KEY = "adapters/secret/access/key/for/tests/only/0001";
  private static final String BEDROCK_MODEL = "amazon.nova-lite-v1:0";
  private static final String BEDROCK_PATH = "/model/amazon.nova-lite-v1%3A0";
  private static final String GEMINI_PATH = "/v1beta/models/gemini-2.5-flash";
  private static final String AZURE_DATED_PATH = "/openai/deployments/gpt4o-dated/chat/completions";
  private static final String AZURE_VERSION = "2024-10-21";

  private final WireMockServer server;
  private final Answer answer;

  private AdapterStandIns(WireMockServer server, Answer answer) {
    this.server = server;
    this.answer = answer;
  }

  /**
   * Adds every stand-in to {@code server}, and gives the AWS SDK's default chain static test
   * credentials (system properties, read at each call; {@link #clearCredentials} takes them back).
   */
  static void stub(WireMockServer server, Answer answer) {
    var standIns = new AdapterStandIns(server, answer);
    standIns.gemini();
    standIns.bedrock();
    standIns.azureChat(() -> post(urlPathEqualTo(AZURE_DATED_PATH)).withQueryParam("api-version", equalTo(AZURE_VERSION)));
    standIns.azureChat(() -> post(urlPathEqualTo("/openai/v1/chat/completions")));
    standIns.azureResponses();
    System.setProperty("aws.accessKeyId", ACCESS_KEY);
    System.setProperty("aws.secretAccessKey", SECRET_KEY);
  }

  static void clearCredentials() {
    System.clearProperty("aws.accessKeyId");
    System.clearProperty("aws.secretAccessKey");
  }

  /** The {@code model_list} entries of the stand-ins at {@code baseUrl}, indented for a config's list. */
  static String modelList(String baseUrl) {
    return """
          - model_name: %2$s
            litellm_params: {model: gemini/gemini-2.5-flash, api_base: "%1$s", api_key: os.environ/ADAPTER_GEMINI_KEY}
          - model_name: %3$s
            litellm_params: {model: "bedrock/%6$s", aws_region_name: us-east-1, aws_bedrock_runtime_endpoint: "%1$s"}
          - model_name: %4$s
            litellm_params: {model: azure/gpt4o-dated, api_base: "%1$s", api_key: os.environ/ADAPTER_AZURE_KEY, api_version: "%7$s"}
          - model_name: %5$s
            litellm_params: {model: azure/gpt-4o-v1-deployment, api_base: "%1$s/openai/v1", api_key: os.environ/ADAPTER_AZURE_KEY}
        """.formatted(baseUrl, Adapter.GEMINI.model, Adapter.BEDROCK.model, Adapter.AZURE_DATED.model, Adapter.AZURE_V1.model,
        BEDROCK_MODEL, AZURE_VERSION);
  }

  /** The environment {@link #modelList} reads. */
  static Map<String, String> environment() {
    return Map.of("ADAPTER_GEMINI_KEY", GEMINI_KEY, "ADAPTER_AZURE_KEY", AZURE_KEY);
  }

  // ------------------------------------------------------------------ Gemini

  private void gemini() {
    String usage = "\"usageMetadata\":{\"promptTokenCount\":%d,\"candidatesTokenCount\":%d,\"totalTokenCount\":%d}"
        .formatted(answer.promptTokens(), answer.completionTokens(), answer.totalTokens());
    String promptOnly = "\"usageMetadata\":{\"promptTokenCount\":%d,\"totalTokenCount\":%d}".formatted(answer.promptTokens(), answer.promptTokens());
    // Gemini 2.5+ signs a function call's thinking; it must come back on the call's part, or Gemini 3 refuses the turn.
    String call = "{\"functionCall\":{\"name\":\"" + TOOL + "\",\"args\":" + ResponsesStandIn.ARGUMENTS + "},\"thoughtSignature\":\"" + GEMINI_SIGNATURE + "\"}";
    for (boolean streamed : new boolean[] {false, true}) {
      var path = urlEqualTo(GEMINI_PATH + (streamed ? ":streamGenerateContent?alt=sse" : ":generateContent"));
      var afterTool = post(path).withRequestBody(containing("functionResponse")).withRequestBody(containing(RESULT))
          .withRequestBody(matchingJsonPath("$.contents[1].parts[0].thoughtSignature", equalTo(GEMINI_SIGNATURE))).atPriority(1);
      var withTools = post(path).withRequestBody(matchingJsonPath("$.tools[0].functionDeclarations[0].name", equalTo(TOOL))).atPriority(2);
      var plain = post(path).atPriority(3);
      if (streamed) {
        server.stubFor(gemini(afterTool).willReturn(sse(geminiEvents(List.of(textPart(AFTER_TOOL)), promptOnly, usage))));
        server.stubFor(gemini(withTools).willReturn(sse(geminiEvents(List.of(call), promptOnly, usage))));
        server.stubFor(gemini(plain).willReturn(sse(geminiEvents(answer.pieces().stream().map(AdapterStandIns::textPart).toList(), promptOnly, usage))));
      } else {
        server.stubFor(gemini(afterTool).willReturn(okJson(geminiCandidate(textPart(AFTER_TOOL), usage))));
        server.stubFor(gemini(withTools).willReturn(okJson(geminiCandidate(call, usage))));
        server.stubFor(gemini(plain).willReturn(okJson(geminiCandidate(textPart(answer.text()), usage))));
      }
    }
  }

  private static MappingBuilder gemini(MappingBuilder mapping) {
    return mapping.withHeader("x-goog-api-key", equalTo(GEMINI_KEY));
  }

  private static String textPart(String text) {
    return "{\"text\":\"" + text + "\"}";
  }

  private static String geminiCandidate(String part, String usage) {
    return "{\"candidates\":[{\"content\":{\"parts\":[" + part + "],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],"
        + usage + ",\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"standin\"}";
  }

  /** One event per part, the last with finishReason and the full usage (Gemini repeats the prompt count before it). */
  private static String geminiEvents(List<String> parts, String promptOnly, String usage) {
    var body = new StringBuilder();
    for (int i = 0; i < parts.size(); i++) {
      boolean last = i == parts.size() - 1;
      body.append("data: {\"candidates\":[{\"content\":{\"parts\":[").append(parts.get(i)).append("],\"role\":\"model\"},")
          .append(last ? "\"finishReason\":\"STOP\"," : "").append("\"index\":0}],").append(last ? usage : promptOnly)
          .append(",\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"standin\"}\r\n\r\n");
    }
    return body.toString();
  }

  // ------------------------------------------------------------------ Bedrock

  private void bedrock() {
    String usage = "{\"inputTokens\":%d,\"outputTokens\":%d,\"totalTokens\":%d}".formatted(answer.promptTokens(), answer.completionTokens(), answer.totalTokens());
    String toolUse = "{\"toolUse\":{\"toolUseId\":\"" + ResponsesStandIn.CALL_ID + "\",\"name\":\"" + TOOL + "\",\"input\":" + ResponsesStandIn.ARGUMENTS + "}}";
    var whole = urlEqualTo(BEDROCK_PATH + "/converse");
    server.stubFor(post(whole).withRequestBody(containing("toolResult")).withRequestBody(containing(RESULT)).atPriority(1)
        .willReturn(converse("[" + textPart(AFTER_TOOL) + "]", "end_turn", usage)));
    server.stubFor(post(whole).withRequestBody(matchingJsonPath("$.toolConfig.tools[0].toolSpec.name", equalTo(TOOL))).atPriority(2)
        .willReturn(converse("[" + toolUse + "]", "tool_use", usage)));
    server.stubFor(post(whole).atPriority(3).willReturn(converse("[" + textPart(answer.text()) + "]", "end_turn", usage)));

    var streamed = urlEqualTo(BEDROCK_PATH + "/converse-stream");
    server.stubFor(post(streamed).withRequestBody(containing("toolResult")).withRequestBody(containing(RESULT)).atPriority(1)
        .willReturn(eventStream(textEvents(List.of(AFTER_TOOL), usage))));
    var call = new ArrayList<Message>();
    call.add(event("messageStart", "{\"role\":\"assistant\"}"));
    call.add(event("contentBlockStart", "{\"contentBlockIndex\":0,\"start\":{\"toolUse\":{\"toolUseId\":\"" + ResponsesStandIn.CALL_ID + "\",\"name\":\"" + TOOL + "\"}}}"));
    call.add(event("contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"toolUse\":{\"input\":\"{\\\"city\\\":\"}}}"));
    call.add(event("contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"toolUse\":{\"input\":\"\\\"Paris\\\"}\"}}}"));
    call.add(event("contentBlockStop", "{\"contentBlockIndex\":0}"));
    call.add(event("messageStop", "{\"stopReason\":\"tool_use\"}"));
    call.add(event("metadata", "{\"metrics\":{\"latencyMs\":300},\"usage\":" + usage + "}"));
    server.stubFor(post(streamed).withRequestBody(matchingJsonPath("$.toolConfig.tools[0].toolSpec.name", equalTo(TOOL))).atPriority(2)
        .willReturn(eventStream(call)));
    server.stubFor(post(streamed).atPriority(3).willReturn(eventStream(textEvents(answer.pieces(), usage))));
  }

  private static ResponseDefinitionBuilder converse(String content, String stopReason, String usage) {
    return aResponse().withHeader("Content-Type", "application/json").withHeader("x-amzn-RequestId", "adapters-standin")
        .withBody("{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":" + content + "}},\"stopReason\":\"" + stopReason
            + "\",\"usage\":" + usage + ",\"metrics\":{\"latencyMs\":300}}");
  }

  private static List<Message> textEvents(List<String> pieces, String usage) {
    var events = new ArrayList<Message>();
    events.add(event("messageStart", "{\"role\":\"assistant\"}"));
    for (String piece : pieces) {
      events.add(event("contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"" + piece + "\"}}"));
    }
    events.add(event("contentBlockStop", "{\"contentBlockIndex\":0}"));
    events.add(event("messageStop", "{\"stopReason\":\"end_turn\"}"));
    events.add(event("metadata", "{\"metrics\":{\"latencyMs\":300},\"usage\":" + usage + "}"));
    return events;
  }

  /** One ConverseStream event as Bedrock frames it: {@code :event-type}, {@code :content-type}, {@code :message-type} headers. */
  private static Message event(String type, String json) {
    var headers = new LinkedHashMap<String, HeaderValue>();
    headers.put(":event-type", HeaderValue.fromString(type));
    headers.put(":content-type", HeaderValue.fromString("application/json"));
    headers.put(":message-type", HeaderValue.fromString("event"));
    return new Message(headers, json.getBytes(StandardCharsets.UTF_8));
  }

  private static ResponseDefinitionBuilder eventStream(List<Message> messages) {
    var out = new ByteArrayOutputStream();
    messages.forEach(message -> message.encode(out));
    return aResponse().withHeader("Content-Type", "application/vnd.amazon.eventstream").withBody(out.toByteArray());
  }

  // ------------------------------------------------------------------ Azure

  /** @param base a new mapping of the deployment's URL at each call (a MappingBuilder is one stub) */
  private void azureChat(java.util.function.Supplier<MappingBuilder> base) {
    String usage = "{\"completion_tokens\":%d,\"prompt_tokens\":%d,\"total_tokens\":%d}".formatted(answer.completionTokens(), answer.promptTokens(), answer.totalTokens());
    String toolCall = "{\"id\":\"" + ResponsesStandIn.CALL_ID + "\",\"type\":\"function\",\"function\":{\"name\":\"" + TOOL + "\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}";
    String afterTool = "$.messages[?(@.role == 'tool' && @.tool_call_id == '" + ResponsesStandIn.CALL_ID + "')]";
    for (boolean streamed : new boolean[] {true, false}) {
      var stream = matchingJsonPath("$.stream", equalTo("true"));
      int offset = streamed ? 0 : 3;
      MappingBuilder toolResult = azure(base.get()).withRequestBody(matchingJsonPath(afterTool)).withRequestBody(containing(RESULT)).atPriority(1 + offset);
      MappingBuilder withTools = azure(base.get()).withRequestBody(matchingJsonPath("$.tools[0].function.name", equalTo(TOOL))).atPriority(2 + offset);
      MappingBuilder plain = azure(base.get()).atPriority(3 + offset);
      if (streamed) {
        server.stubFor(toolResult.withRequestBody(stream).willReturn(sse(azureStream(List.of("{\"content\":\"" + AFTER_TOOL + "\"}"), "stop", usage))));
        server.stubFor(withTools.withRequestBody(stream).willReturn(sse(azureStream(List.of(
            "{\"content\":null,\"role\":\"assistant\",\"tool_calls\":[{\"index\":0,\"id\":\"" + ResponsesStandIn.CALL_ID
                + "\",\"type\":\"function\",\"function\":{\"name\":\"" + TOOL + "\",\"arguments\":\"\"}}]}",
            "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]}",
            "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}}]}"), "tool_calls", usage))));
        server.stubFor(plain.withRequestBody(stream).willReturn(sse(azureStream(
            answer.pieces().stream().map(piece -> "{\"content\":\"" + piece + "\"}").toList(), "stop", usage))));
      } else {
        server.stubFor(toolResult.willReturn(okJson(azureCompletion("{\"content\":\"" + AFTER_TOOL + "\",\"refusal\":null,\"role\":\"assistant\"}", "stop", usage))));
        server.stubFor(withTools.willReturn(okJson(azureCompletion(
            "{\"content\":null,\"refusal\":null,\"role\":\"assistant\",\"tool_calls\":[" + toolCall + "]}", "tool_calls", usage))));
        server.stubFor(plain.willReturn(okJson(azureCompletion(
            "{\"content\":\"" + answer.text() + "\",\"refusal\":null,\"role\":\"assistant\"}", "stop", usage))));
      }
    }
  }

  private static MappingBuilder azure(MappingBuilder mapping) {
    return mapping.withHeader("api-key", equalTo(AZURE_KEY));
  }

  private static String azureCompletion(String message, String finishReason, String usage) {
    return "{\"choices\":[{\"content_filter_results\":{},\"finish_reason\":\"" + finishReason + "\",\"index\":0,\"logprobs\":null,"
        + "\"message\":" + message + "}],\"created\":1733376000,\"id\":\"chatcmpl-Az\",\"model\":\"gpt-4o-2024-11-20\","
        + "\"object\":\"chat.completion\",\"prompt_filter_results\":[{\"prompt_index\":0,\"content_filter_results\":{}}],"
        + "\"system_fingerprint\":\"fp_1\",\"usage\":" + usage + "}";
  }

  /** Azure's chunks: the prompt filter results, the deltas, the finish reason, the usage chunk, [DONE]. */
  private static String azureStream(List<String> deltas, String finishReason, String usage) {
    var events = new ArrayList<String>();
    events.add("{\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\",\"prompt_filter_results\":[{\"prompt_index\":0,"
        + "\"content_filter_results\":{\"hate\":{\"filtered\":false,\"severity\":\"safe\"}}}]}");
    for (String delta : deltas) {
      events.add(azureChunk(delta, "null"));
    }
    events.add(azureChunk("{}", "\"" + finishReason + "\""));
    events.add("{\"choices\":[],\"created\":1733376000,\"id\":\"chatcmpl-Az\",\"model\":\"gpt-4o-2024-11-20\",\"object\":\"chat.completion.chunk\","
        + "\"system_fingerprint\":\"fp_1\",\"usage\":" + usage + "}");
    events.add("[DONE]");
    return events.stream().map(e -> "data: " + e + "\n\n").collect(Collectors.joining());
  }

  private static String azureChunk(String delta, String finishReason) {
    return "{\"choices\":[{\"content_filter_results\":{},\"delta\":" + delta + ",\"finish_reason\":" + finishReason
        + ",\"index\":0,\"logprobs\":null}],\"created\":1733376000,\"id\":\"chatcmpl-Az\",\"model\":\"gpt-4o-2024-11-20\","
        + "\"object\":\"chat.completion.chunk\",\"system_fingerprint\":\"fp_1\",\"usage\":null}";
  }

  /** Azure's v1 Responses API, which the gateway passes {@code /v1/responses} through to: OpenAI's Response objects and events. */
  private void azureResponses() {
    String usage = ResponsesStandIn.usage(answer.promptTokens(), answer.completionTokens());
    var path = urlPathEqualTo("/openai/v1/responses");
    var stream = matchingJsonPath("$.stream", equalTo("true"));
    String afterTool = "$.input[?(@.type == 'function_call_output' && @.call_id == '" + ResponsesStandIn.CALL_ID + "')]";
    server.stubFor(azure(post(path)).withRequestBody(matchingJsonPath(afterTool)).withRequestBody(stream).atPriority(1)
        .willReturn(sse(ResponsesStandIn.responseStream(List.of(AFTER_TOOL), false, usage))));
    server.stubFor(azure(post(path)).withRequestBody(matchingJsonPath("$.tools")).withRequestBody(stream).atPriority(2)
        .willReturn(sse(ResponsesStandIn.responseStream(answer.pieces(), true, usage))));
    server.stubFor(azure(post(path)).withRequestBody(stream).atPriority(3)
        .willReturn(sse(ResponsesStandIn.responseStream(answer.pieces(), false, usage))));
    server.stubFor(azure(post(path)).withRequestBody(matchingJsonPath(afterTool)).atPriority(4)
        .willReturn(okJson(ResponsesStandIn.response("completed", List.of(ResponsesStandIn.message("completed", AFTER_TOOL)), usage))));
    server.stubFor(azure(post(path)).withRequestBody(matchingJsonPath("$.tools")).atPriority(5)
        .willReturn(okJson(ResponsesStandIn.response("completed", List.of(ResponsesStandIn.functionCall("completed", ResponsesStandIn.ARGS_JSON)), usage))));
    server.stubFor(azure(post(path)).atPriority(6)
        .willReturn(okJson(ResponsesStandIn.response("completed", List.of(ResponsesStandIn.message("completed", answer.text())), usage))));
  }

  private static ResponseDefinitionBuilder sse(String body) {
    return aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream").withBody(body);
  }
}

package aigw.local.clients;

import static com.github.tomakehurst.wiremock.client.WireMock.*;

import com.github.tomakehurst.wiremock.WireMockServer;
import java.util.List;

/**
 * Loopback stand-ins for the two ways the gateway serves {@code /v1/responses}, on one WireMock:
 *
 * <ul>
 *   <li>an OpenAI-compatible chat provider ({@link OpenAiStandIn}'s answers) that also calls the
 *       function tool when a request offers one: what a translated request reaches;
 *   <li>OpenAI's Responses API ({@code POST /v1/responses}), answering with a Response object or
 *       its event stream as OpenAI sends them
 *       (https://platform.openai.com/docs/api-reference/responses/object,
 *       https://platform.openai.com/docs/api-reference/responses-streaming): text, or a {@code
 *       function_call} when the request has tools. What a passed-through request reaches.
 * </ul>
 *
 * Every answer reports {@link OpenAiStandIn#PROMPT_TOKENS} in and {@link
 * OpenAiStandIn#COMPLETION_TOKENS} out.
 */
final class ResponsesStandIn {
  static final String TOOL = "get_weather";
  static final String ARGUMENTS = "{\"city\":\"Paris\"}";
  static final String CALL_ID = "call_standin_1";

  private static final String USAGE = usage(OpenAiStandIn.PROMPT_TOKENS, OpenAiStandIn.COMPLETION_TOKENS);
  private static final String CHAT_USAGE = "{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}"
      .formatted(OpenAiStandIn.PROMPT_TOKENS, OpenAiStandIn.COMPLETION_TOKENS, OpenAiStandIn.TOTAL_TOKENS);
  static final String ARGS_JSON = "\"{\\\"city\\\":\\\"Paris\\\"}\"";

  private ResponsesStandIn() {}

  /** A Response's usage object for these counts. */
  static String usage(int input, int output) {
    return "{\"input_tokens\":%d,\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens\":%d,".formatted(input, output)
        + "\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":%d}".formatted(input + output);
  }

  static WireMockServer start() {
    WireMockServer server = OpenAiStandIn.start();
    // Chat with a tool offered: the model calls it (stream or not).
    server.stubFor(post("/v1/chat/completions").atPriority(0)
        .withRequestBody(matchingJsonPath("$.tools"))
        .withRequestBody(matchingJsonPath("$.stream", equalTo("true")))
        .willReturn(sse(chatToolStream())));
    server.stubFor(post("/v1/chat/completions").atPriority(0)
        .withRequestBody(matchingJsonPath("$.tools"))
        .withRequestBody(notMatching(".*\"stream\"\\s*:\\s*true.*"))
        .willReturn(okJson(chatToolCompletion())));
    // OpenAI's Responses API.
    boolean[] tools = {false, true};
    for (boolean withTools : tools) {
      var streamed = post("/v1/responses").atPriority(withTools ? 0 : 1).withRequestBody(matchingJsonPath("$.stream", equalTo("true")));
      var whole = post("/v1/responses").atPriority(withTools ? 2 : 3);
      if (withTools) {
        streamed = streamed.withRequestBody(matchingJsonPath("$.tools"));
        whole = whole.withRequestBody(matchingJsonPath("$.tools"));
      }
      server.stubFor(streamed.willReturn(sse(responseStream(OpenAiStandIn.PIECES, withTools, USAGE))));
      server.stubFor(whole.willReturn(okJson(response("completed", withTools ? List.of(functionCall("completed", ARGS_JSON)) : List.of(message("completed", OpenAiStandIn.TEXT)), USAGE))));
    }
    return server;
  }

  private static String chatToolCompletion() {
    return "{\"id\":\"chatcmpl-tool\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":\"llama\",\"choices\":[{\"index\":0,"
        + "\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"" + CALL_ID + "\",\"type\":\"function\","
        + "\"function\":{\"name\":\"" + TOOL + "\",\"arguments\":" + ARGS_JSON + "}}]},\"finish_reason\":\"tool_calls\"}],\"usage\":" + CHAT_USAGE + "}";
  }

  private static String chatToolStream() {
    String head = "{\"id\":\"chatcmpl-tool\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"llama\",";
    return "data: " + head + "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0,\"id\":\""
        + CALL_ID + "\",\"type\":\"function\",\"function\":{\"name\":\"" + TOOL + "\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n"
        + "data: " + head + "\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]},\"finish_reason\":null}]}\n\n"
        + "data: " + head + "\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}}]},\"finish_reason\":null}]}\n\n"
        + "data: " + head + "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
        + "data: " + head + "\"choices\":[],\"usage\":" + CHAT_USAGE + "}\n\n"
        + "data: [DONE]\n\n";
  }

  static String message(String status, String text) {
    return "{\"id\":\"msg_standin\",\"type\":\"message\",\"status\":\"" + status + "\",\"role\":\"assistant\",\"content\":["
        + (text == null ? "" : "{\"type\":\"output_text\",\"annotations\":[],\"logprobs\":[],\"text\":\"" + text + "\"}") + "]}";
  }

  static String functionCall(String status, String arguments) {
    return "{\"id\":\"fc_standin\",\"type\":\"function_call\",\"status\":\"" + status + "\",\"arguments\":" + arguments
        + ",\"call_id\":\"" + CALL_ID + "\",\"name\":\"" + TOOL + "\"}";
  }

  /** A Response object as OpenAI returns it (gpt-4.1, 2025). */
  static String response(String status, List<String> output, String usage) {
    return "{\"id\":\"resp_standin\",\"object\":\"response\",\"created_at\":1741476542,\"status\":\"" + status + "\",\"background\":false,"
        + "\"error\":null,\"incomplete_details\":null,\"instructions\":null,\"max_output_tokens\":null,\"model\":\"gpt-4.1-2025-04-14\","
        + "\"output\":[" + String.join(",", output) + "],\"parallel_tool_calls\":true,\"previous_response_id\":null,"
        + "\"reasoning\":{\"effort\":null,\"summary\":null},\"store\":true,\"temperature\":1.0,\"text\":{\"format\":{\"type\":\"text\"}},"
        + "\"tool_choice\":\"auto\",\"tools\":[],\"top_p\":1.0,\"truncation\":\"disabled\",\"usage\":" + usage + ",\"user\":null,\"metadata\":{}}";
  }

  /** OpenAI's event sequence for a response saying {@code pieces} (or calling the tool), ending with {@code usage}. */
  static String responseStream(List<String> pieces, boolean withTools, String usage) {
    String text = String.join("", pieces);
    var body = new StringBuilder();
    int[] sequence = {0};
    java.util.function.BiConsumer<String, String> event = (type, members) ->
        body.append("event: ").append(type).append("\ndata: {\"type\":\"").append(type).append("\",").append(members)
            .append(",\"sequence_number\":").append(sequence[0]++).append("}\n\n");
    event.accept("response.created", "\"response\":" + response("in_progress", List.of(), "null"));
    event.accept("response.in_progress", "\"response\":" + response("in_progress", List.of(), "null"));
    if (withTools) {
      event.accept("response.output_item.added", "\"output_index\":0,\"item\":" + functionCall("in_progress", "\"\""));
      event.accept("response.function_call_arguments.delta", "\"item_id\":\"fc_standin\",\"output_index\":0,\"delta\":\"{\\\"city\\\":\"");
      event.accept("response.function_call_arguments.delta", "\"item_id\":\"fc_standin\",\"output_index\":0,\"delta\":\"\\\"Paris\\\"}\"");
      event.accept("response.function_call_arguments.done", "\"item_id\":\"fc_standin\",\"output_index\":0,\"arguments\":" + ARGS_JSON);
      event.accept("response.output_item.done", "\"output_index\":0,\"item\":" + functionCall("completed", ARGS_JSON));
      event.accept("response.completed", "\"response\":" + response("completed", List.of(functionCall("completed", ARGS_JSON)), usage));
    } else {
      String part = "{\"type\":\"output_text\",\"annotations\":[],\"logprobs\":[],\"text\":\"\"}";
      event.accept("response.output_item.added", "\"output_index\":0,\"item\":" + message("in_progress", null));
      event.accept("response.content_part.added", "\"item_id\":\"msg_standin\",\"output_index\":0,\"content_index\":0,\"part\":" + part);
      for (String piece : pieces) {
        event.accept("response.output_text.delta",
            "\"item_id\":\"msg_standin\",\"output_index\":0,\"content_index\":0,\"delta\":\"" + piece + "\",\"logprobs\":[]");
      }
      event.accept("response.output_text.done",
          "\"item_id\":\"msg_standin\",\"output_index\":0,\"content_index\":0,\"text\":\"" + text + "\",\"logprobs\":[]");
      event.accept("response.content_part.done", "\"item_id\":\"msg_standin\",\"output_index\":0,\"content_index\":0,\"part\":"
          + part.replace("\"text\":\"\"", "\"text\":\"" + text + "\""));
      event.accept("response.output_item.done", "\"output_index\":0,\"item\":" + message("completed", text));
      event.accept("response.completed", "\"response\":" + response("completed", List.of(message("completed", text)), usage));
    }
    return body.toString();
  }

  private static com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder sse(String body) {
    return aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream").withBody(body);
  }
}

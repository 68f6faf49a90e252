package aigw.proxy.responses;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A whole chat completion ({@code chat.completion}, any provider's, already in OpenAI's shape) as
 * the Responses API's Response object: the first choice's reasoning is dropped (OpenAI's Responses
 * API does not return raw reasoning either), its text becomes a {@code message} item, each tool call
 * a {@code function_call} item; {@code finish_reason: length} makes the Response {@code incomplete}
 * ({@code max_output_tokens}).
 */
public final class ChatToResponse {
  private ChatToResponse() {}

  /**
   * @param request the client's Responses request (its settings are echoed)
   * @param completion the provider's chat completion
   * @param model the model name the client asked for, reported as the Response's {@code model} only
   *     when the completion names none (else the completion's, the model that answered, as chat
   *     completions passes it on)
   */
  public static ObjectNode response(ObjectNode request, JsonNode completion, String model, long createdAt, Ids ids) {
    JsonNode choice = completion.path("choices").path(0);
    JsonNode message = choice.path("message");
    String reason = ResponseObjects.incompleteReason(choice.path("finish_reason").asText(null));
    ObjectNode response = ResponseObjects.response(
        request, ids.next("resp"), completion.path("created").asLong(createdAt),
        completion.path("model").isTextual() && !completion.get("model").asText().isBlank() ? completion.get("model").asText() : model,
        reason == null ? "completed" : "incomplete");
    if (reason != null) {
      response.putObject("incomplete_details").put("reason", reason);
    }
    ArrayNode output = (ArrayNode) response.get("output");
    String text = textOf(message.get("content"));
    String refusal = message.path("refusal").isTextual() ? message.get("refusal").asText() : null;
    if (text != null || refusal != null) {
      output.add(ResponseObjects.message(ids.next("msg"), "completed", text, refusal));
    }
    ToolNames toolNames = ToolNames.of(request);
    for (JsonNode call : message.path("tool_calls")) {
      JsonNode function = call.path("function");
      output.add(toolNames.callItem(
          ids.next("fc"), "completed", call.path("id").asText(), function.path("name").asText(), function.path("arguments").asText("")));
    }
    if (reason != null && !output.isEmpty()) { // the model was cut while writing its last item
      ((ObjectNode) output.get(output.size() - 1)).put("status", "incomplete");
    }
    if (completion.path("usage").isObject()) {
      response.set("usage", ResponseObjects.usage(completion.get("usage")));
    }
    return response;
  }

  /** A message's content: a string, or parts whose text is joined; null when empty. */
  static String textOf(JsonNode content) {
    if (content == null || content.isNull()) {
      return null;
    }
    if (content.isTextual()) {
      return content.asText().isEmpty() ? null : content.asText();
    }
    var text = new StringBuilder();
    for (JsonNode part : content) {
      text.append(part.path("text").asText(""));
    }
    return text.isEmpty() ? null : text.toString();
  }
}

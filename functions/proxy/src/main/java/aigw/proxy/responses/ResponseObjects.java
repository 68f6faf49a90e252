package aigw.proxy.responses;

import aigw.core.errors.ErrorEnvelope;
import aigw.core.json.Json;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The Responses API's Response object (https://platform.openai.com/docs/api-reference/responses/object)
 * as the gateway builds it for a translated call: every member the OpenAI SDKs read (openai-java's
 * {@code Response} requires id, created_at, error, incomplete_details, instructions, metadata,
 * model, object, output, parallel_tool_calls, temperature, tool_choice, tools, top_p), the request's
 * settings echoed as OpenAI echoes them, {@code store: false} (nothing is stored).
 */
public final class ResponseObjects {
  private ResponseObjects() {}

  /**
   * A Response with no output yet.
   *
   * @param request the client's Responses request
   * @param status {@code in_progress}, {@code completed}, {@code incomplete} or {@code failed}
   */
  public static ObjectNode response(ObjectNode request, String id, long createdAt, String model, String status) {
    ObjectNode response = Json.MAPPER.createObjectNode();
    response.put("id", id);
    response.put("object", "response");
    response.put("created_at", createdAt);
    response.put("status", status);
    response.put("background", false);
    response.putNull("error");
    response.putNull("incomplete_details");
    response.set("instructions", orNull(request.get("instructions")));
    response.set("max_output_tokens", orNull(request.get("max_output_tokens")));
    response.set("metadata", request.path("metadata").isObject() ? request.get("metadata") : Json.MAPPER.createObjectNode());
    response.put("model", model);
    response.putArray("output");
    response.put("parallel_tool_calls", request.path("parallel_tool_calls").asBoolean(true));
    response.putNull("previous_response_id");
    ObjectNode reasoning = response.putObject("reasoning");
    reasoning.set("effort", orNull(request.path("reasoning").get("effort")));
    reasoning.set("summary", orNull(request.path("reasoning").get("summary")));
    response.put("store", false);
    response.set("temperature", request.hasNonNull("temperature") ? request.get("temperature") : Json.MAPPER.getNodeFactory().numberNode(1.0));
    ObjectNode text = response.putObject("text");
    text.set("format", request.path("text").path("format").isObject()
        ? request.path("text").get("format")
        : Json.MAPPER.createObjectNode().put("type", "text"));
    response.set("tool_choice", request.hasNonNull("tool_choice") ? request.get("tool_choice") : Json.MAPPER.getNodeFactory().textNode("auto"));
    response.set("tools", request.path("tools").isArray() ? request.get("tools") : Json.MAPPER.createArrayNode());
    response.set("top_p", request.hasNonNull("top_p") ? request.get("top_p") : Json.MAPPER.getNodeFactory().numberNode(1.0));
    response.put("truncation", "disabled");
    response.putNull("usage");
    response.set("user", orNull(request.get("user")));
    return response;
  }

  /**
   * Chat's {@code usage} as the Responses API's: input/output/total tokens with {@code
   * input_tokens_details.cached_tokens} (from {@code prompt_tokens_details}) and {@code
   * output_tokens_details.reasoning_tokens} (from {@code completion_tokens_details}), 0 when absent.
   */
  public static ObjectNode usage(JsonNode chatUsage) {
    ObjectNode usage = Json.MAPPER.createObjectNode();
    long input = chatUsage.path("prompt_tokens").asLong(0);
    long output = chatUsage.path("completion_tokens").asLong(0);
    usage.put("input_tokens", input);
    usage.putObject("input_tokens_details").put("cached_tokens", chatUsage.path("prompt_tokens_details").path("cached_tokens").asLong(0));
    usage.put("output_tokens", output);
    usage.putObject("output_tokens_details")
        .put("reasoning_tokens", chatUsage.path("completion_tokens_details").path("reasoning_tokens").asLong(0));
    usage.put("total_tokens", chatUsage.path("total_tokens").asLong(input + output));
    return usage;
  }

  /** A message item: the assistant's text in one {@code output_text} part (and a refusal in a {@code refusal} part). */
  public static ObjectNode message(String id, String status, String text, String refusal) {
    ObjectNode item = Json.MAPPER.createObjectNode();
    item.put("id", id);
    item.put("type", "message");
    item.put("status", status);
    item.put("role", "assistant");
    ArrayNode content = item.putArray("content");
    if (text != null) {
      content.add(outputText(text));
    }
    if (refusal != null) {
      content.add(refusal(refusal));
    }
    return item;
  }

  /** A message's {@code refusal} part (openai-node's {@code ResponseOutputRefusal}). */
  public static ObjectNode refusal(String refusal) {
    return Json.MAPPER.createObjectNode().put("type", "refusal").put("refusal", refusal);
  }

  public static ObjectNode outputText(String text) {
    ObjectNode part = Json.MAPPER.createObjectNode().put("type", "output_text").put("text", text);
    part.putArray("annotations");
    part.putArray("logprobs");
    return part;
  }

  /** A function call item: {@code call_id} is the id the client sends back with its output. */
  public static ObjectNode functionCall(String id, String status, String callId, String name, String arguments) {
    return Json.MAPPER.createObjectNode()
        .put("id", id)
        .put("type", "function_call")
        .put("status", status)
        .put("arguments", arguments)
        .put("call_id", callId)
        .put("name", name);
  }

  /**
   * The Responses API's {@code error} event (openai-node's {@code ResponseErrorEvent}: code,
   * message, param at the top), plus the whole envelope as {@code error}: the OpenAI SDKs raise
   * their API error on an event whose data has an {@code error} member (openai-node
   * core/streaming.ts, openai-python's {@code Stream}), so the client's call fails with the message.
   * Without {@code sequence_number}: the caller numbers it.
   */
  public static ObjectNode errorEvent(ErrorEnvelope.Body error) {
    ObjectNode event = Json.MAPPER.createObjectNode()
        .put("type", "error")
        .put("code", error.code())
        .put("message", error.message())
        .put("param", error.param());
    event.set("error", Json.MAPPER.valueToTree(error));
    return event;
  }

  /**
   * The Response's {@code error.code} for a failure of this HTTP status: OpenAI's {@code
   * ResponseError.code} is one of a fixed list (openai-node resources/responses: {@code
   * server_error}, {@code rate_limit_exceeded}, {@code invalid_prompt}, image and vector store
   * codes), so the gateway's own code (the status as a string) is not one of them. 429 is {@code
   * rate_limit_exceeded}; 400, 413 and 422 (the request itself refused) {@code invalid_prompt};
   * everything else (a provider's 5xx, a timeout, a broken stream) {@code server_error}. The {@code
   * error} event after it keeps the gateway's own code, as that event's code is free text.
   */
  public static String responseErrorCode(int status) {
    return switch (status) {
      case 429 -> "rate_limit_exceeded";
      case 400, 413, 422 -> "invalid_prompt";
      default -> "server_error";
    };
  }

  /** {@code incomplete_details} for a chat {@code finish_reason}, or null when the answer is complete. */
  public static String incompleteReason(String finishReason) {
    return switch (finishReason == null ? "" : finishReason) {
      case "length" -> "max_output_tokens";
      case "content_filter" -> "content_filter";
      default -> null;
    };
  }

  private static JsonNode orNull(JsonNode value) {
    return value == null ? Json.MAPPER.nullNode() : value;
  }
}

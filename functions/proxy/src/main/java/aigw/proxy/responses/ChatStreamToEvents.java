package aigw.proxy.responses;

import aigw.core.errors.ErrorEnvelope;
import aigw.core.errors.GatewayException;
import aigw.core.json.Json;
import aigw.core.providers.StreamChunk;
import aigw.core.usage.TokenUsage;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A provider's chat completion chunks as the Responses API's event sequence
 * (https://platform.openai.com/docs/api-reference/responses-streaming), every event numbered
 * ({@code sequence_number} from 0):
 *
 * <pre>
 * response.created, response.in_progress
 * text:       response.output_item.added (message), response.content_part.added,
 *             response.output_text.delta..., response.output_text.done,
 *             response.content_part.done, response.output_item.done
 * tool call:  response.output_item.added (function_call), response.function_call_arguments.delta...,
 *             response.function_call_arguments.done, response.output_item.done
 * end:        response.completed (or response.incomplete, for finish_reason length) with usage
 * failure:    response.failed (its error), then error
 * </pre>
 *
 * An item is done when the next one starts or the stream ends; only the first choice is read.
 * Not thread-safe: one stream, one writer.
 */
public final class ChatStreamToEvents implements ResponseEventSource {
  private final ObjectNode request;
  /** The model the client asked for, until a chunk names the model that answered. */
  private String model;
  private final ToolNames toolNames;
  private final long createdAt;
  private final Ids ids;
  private final String responseId;
  private final ArrayNode output = Json.MAPPER.createArrayNode();

  private int sequence;
  private boolean ended;
  private String finishReason;
  private JsonNode chatUsage;

  /** The message item being written, or null. */
  private String messageId;
  private int messageIndex;
  private StringBuilder text;
  private StringBuilder refusal;

  /** The tool calls by chat's {@code index}; {@code open} is the one being written, or null. */
  private final Map<Integer, ToolCall> calls = new LinkedHashMap<>();
  private ToolCall open;

  private static final class ToolCall {
    final String itemId;
    final int outputIndex;
    final String callId;
    final String name;
    final StringBuilder arguments = new StringBuilder();

    ToolCall(String itemId, int outputIndex, String callId, String name) {
      this.itemId = itemId;
      this.outputIndex = outputIndex;
      this.callId = callId;
      this.name = name;
    }
  }

  /**
   * @param request the client's Responses request (its settings are echoed in the Response)
   * @param model the model name the client asked for, reported until the provider's chunks name the
   *     model that answered (as chat completions passes it on)
   */
  public ChatStreamToEvents(ObjectNode request, String model, long createdAt, Ids ids) {
    this.request = request;
    this.model = model;
    this.toolNames = ToolNames.of(request);
    this.createdAt = createdAt;
    this.ids = ids;
    this.responseId = ids.next("resp");
  }

  @Override
  public List<Event> opening(StreamChunk first) {
    if (first != null) {
      answeredBy(readChunk(first));
    }
    var events = new ArrayList<Event>(2);
    ObjectNode response = response("in_progress");
    events.add(event(Json.MAPPER.createObjectNode().put("type", "response.created").set("response", response)));
    events.add(event(Json.MAPPER.createObjectNode().put("type", "response.in_progress").set("response", response)));
    return events;
  }

  @Override
  public List<Event> onChunk(StreamChunk chunk) {
    JsonNode json = readChunk(chunk);
    answeredBy(json);
    if (json.path("usage").isObject()) {
      chatUsage = json.get("usage");
    }
    JsonNode choice = json.path("choices").path(0);
    if (choice.isMissingNode()) {
      return List.of();
    }
    var events = new ArrayList<Event>();
    JsonNode delta = choice.path("delta");
    String content = delta.path("content").isTextual() ? delta.get("content").asText() : "";
    if (!content.isEmpty()) {
      startMessage(events);
      text.append(content);
      ObjectNode event = itemEvent("response.output_text.delta", messageId, messageIndex).put("content_index", 0).put("delta", content);
      event.putArray("logprobs");
      events.add(event(event));
    }
    if (delta.path("refusal").isTextual()) {
      startMessage(events);
      if (refusal == null) {
        refusal = new StringBuilder();
      }
      refusal.append(delta.get("refusal").asText());
    }
    for (JsonNode call : delta.path("tool_calls")) {
      int index = call.path("index").asInt(calls.size());
      ToolCall toolCall = calls.get(index);
      if (toolCall == null) {
        endMessage(events);
        endToolCall(events);
        toolCall = new ToolCall(
            ids.next("fc"), output.size(), call.path("id").isTextual() ? call.get("id").asText() : ids.next("call"),
            call.path("function").path("name").asText(""));
        calls.put(index, toolCall);
        open = toolCall;
        events.add(event(Json.MAPPER.createObjectNode()
            .put("type", "response.output_item.added")
            .put("output_index", toolCall.outputIndex)
            .set("item", toolNames.callItem(toolCall.itemId, "in_progress", toolCall.callId, toolCall.name, ""))));
      }
      String arguments = call.path("function").path("arguments").asText("");
      toolCall.arguments.append(arguments);
      if (!arguments.isEmpty() && !toolNames.of(toolCall.name).custom()) { // a custom call's input is whole at its end
        events.add(event(itemEvent("response.function_call_arguments.delta", toolCall.itemId, toolCall.outputIndex).put("delta", arguments)));
      }
    }
    if (choice.path("finish_reason").isTextual()) {
      finishReason = choice.get("finish_reason").asText();
    }
    return events;
  }

  private static JsonNode readChunk(StreamChunk chunk) {
    try {
      return Json.MAPPER.readTree(chunk.json());
    } catch (IOException e) {
      throw new UncheckedIOException("a provider chunk that was parsed once is JSON", e);
    }
  }

  /** The model a chunk names as the one answering, reported from then on. */
  private void answeredBy(JsonNode chunk) {
    if (chunk.path("model").isTextual() && !chunk.get("model").asText().isBlank()) {
      model = chunk.get("model").asText();
    }
  }

  @Override
  public boolean ended() {
    return ended;
  }

  @Override
  public List<Event> closing(TokenUsage usage) {
    var events = new ArrayList<Event>();
    endMessage(events);
    endToolCall(events);
    String reason = ResponseObjects.incompleteReason(finishReason);
    ObjectNode response = response(reason == null ? "completed" : "incomplete");
    if (reason != null) {
      response.putObject("incomplete_details").put("reason", reason);
    }
    response.set("usage", ResponseObjects.usage(chatUsage != null ? chatUsage : asChatUsage(usage)));
    events.add(event(Json.MAPPER.createObjectNode()
        .put("type", reason == null ? "response.completed" : "response.incomplete")
        .set("response", response)));
    ended = true;
    return events;
  }

  @Override
  public List<Event> failure(GatewayException failure) {
    ErrorEnvelope.Body error = ErrorEnvelope.of(failure).error();
    ObjectNode response = response("failed");
    // What was generated stays in the failed Response: the items still being written, as incomplete.
    ArrayNode partial = (ArrayNode) response.get("output");
    if (messageId != null) {
      partial.add(ResponseObjects.message(messageId, "incomplete", text.toString(), refusal == null ? null : refusal.toString()));
    }
    if (open != null) {
      partial.add(toolNames.callItem(open.itemId, "incomplete", open.callId, open.name, open.arguments.toString()));
    }
    response.putObject("error").put("code", error.code()).put("message", error.message());
    var events = new ArrayList<Event>(2);
    events.add(event(Json.MAPPER.createObjectNode().put("type", "response.failed").set("response", response)));
    events.add(errorEvent(error));
    ended = true;
    return events;
  }

  private Event errorEvent(ErrorEnvelope.Body error) {
    return event(ResponseObjects.errorEvent(error));
  }

  private void startMessage(List<Event> events) {
    if (messageId != null) {
      return;
    }
    endToolCall(events);
    messageId = ids.next("msg");
    messageIndex = output.size();
    text = new StringBuilder();
    events.add(event(Json.MAPPER.createObjectNode()
        .put("type", "response.output_item.added")
        .put("output_index", messageIndex)
        .set("item", ResponseObjects.message(messageId, "in_progress", null, null))));
    events.add(event(itemEvent("response.content_part.added", messageId, messageIndex)
        .put("content_index", 0)
        .set("part", ResponseObjects.outputText(""))));
  }

  private void endMessage(List<Event> events) {
    if (messageId == null) {
      return;
    }
    String all = text.toString();
    ObjectNode done = itemEvent("response.output_text.done", messageId, messageIndex).put("content_index", 0).put("text", all);
    done.putArray("logprobs");
    events.add(event(done));
    events.add(event(itemEvent("response.content_part.done", messageId, messageIndex)
        .put("content_index", 0)
        .set("part", ResponseObjects.outputText(all))));
    ObjectNode item = ResponseObjects.message(messageId, "completed", all, refusal == null ? null : refusal.toString());
    output.add(item);
    events.add(event(Json.MAPPER.createObjectNode().put("type", "response.output_item.done").put("output_index", messageIndex).set("item", item)));
    messageId = null;
    text = null;
    refusal = null;
  }

  private void endToolCall(List<Event> events) {
    if (open == null) {
      return;
    }
    ToolCall call = open;
    open = null;
    String arguments = call.arguments.toString();
    ObjectNode item = toolNames.callItem(call.itemId, "completed", call.callId, call.name, arguments);
    if (item.path("type").asText().equals("custom_tool_call")) {
      events.add(event(itemEvent("response.custom_tool_call_input.done", call.itemId, call.outputIndex)
          .put("input", item.get("input").asText())));
    } else {
      events.add(event(itemEvent("response.function_call_arguments.done", call.itemId, call.outputIndex)
          .put("name", item.get("name").asText())
          .put("arguments", arguments)));
    }
    output.add(item);
    events.add(event(Json.MAPPER.createObjectNode().put("type", "response.output_item.done").put("output_index", call.outputIndex).set("item", item)));
  }

  private ObjectNode response(String status) {
    ObjectNode response = ResponseObjects.response(request, responseId, createdAt, model, status);
    response.set("output", output.deepCopy());
    return response;
  }

  private static ObjectNode itemEvent(String type, String itemId, int outputIndex) {
    return Json.MAPPER.createObjectNode().put("type", type).put("item_id", itemId).put("output_index", outputIndex);
  }

  private Event event(ObjectNode event) {
    event.put("sequence_number", sequence++);
    return new Event(event.get("type").asText(), Json.bytes(event));
  }

  private static JsonNode asChatUsage(TokenUsage usage) {
    return Json.MAPPER.createObjectNode()
        .put("prompt_tokens", usage.promptTokens())
        .put("completion_tokens", usage.completionTokens())
        .put("total_tokens", usage.totalTokens());
  }
}

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
import java.util.TreeMap;

/**
 * A provider's chat completion chunks as the Responses API's event sequence
 * (https://platform.openai.com/docs/api-reference/responses-streaming), every event numbered
 * ({@code sequence_number} from 0), in the shape openai-node's stream accumulator checks
 * (src/internal/responses/response-accumulator.ts: each item's events name its id, each part is
 * added before its deltas):
 *
 * <pre>
 * response.created, response.in_progress
 * message:    response.output_item.added (message), then per part, opened by its first delta:
 *               text:    response.content_part.added (output_text), response.output_text.delta...,
 *                        response.output_text.done, response.content_part.done
 *               refusal: response.content_part.added (refusal), response.refusal.delta...,
 *                        response.refusal.done, response.content_part.done
 *             response.output_item.done
 * tool call:  response.output_item.added (function_call), response.function_call_arguments.delta...,
 *             response.function_call_arguments.done, response.output_item.done
 * end:        response.completed (or response.incomplete, for finish_reason length or
 *             content_filter) with usage
 * failure:    response.failed (its error), then error
 * </pre>
 *
 * A message is done when a tool call starts or the stream ends. Tool calls stay open until the
 * stream ends: a model calling tools in parallel may interleave their arguments (chat's {@code
 * index}), so a call's arguments are whole only at the finish. At an incomplete finish the item
 * written last is {@code incomplete}, the others {@code completed}. Only the first choice is read.
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
  /** The items that are done, by output index: the Response's {@code output}. */
  private final TreeMap<Integer, ObjectNode> output = new TreeMap<>();
  private int nextOutputIndex;
  /** The output index of the item the model wrote to last (-1 before any). */
  private int lastWritten = -1;

  private int sequence;
  private boolean ended;
  private String finishReason;
  private JsonNode chatUsage;

  /** The message item being written, or null; its parts in the order they were opened. */
  private String messageId;
  private int messageIndex;
  private final List<Part> parts = new ArrayList<>();
  private Part text;
  private Part refusal;

  /** The tool calls by chat's {@code index}, each open until the stream ends. */
  private final Map<Integer, ToolCall> calls = new LinkedHashMap<>();

  /** A message's content part: {@code output_text} (its "text") or {@code refusal} (its "refusal"). */
  private record Part(String type, int contentIndex, StringBuilder content) {
    boolean isRefusal() {
      return type.equals("refusal");
    }

    ObjectNode json(String content) {
      return isRefusal() ? ResponseObjects.refusal(content) : ResponseObjects.outputText(content);
    }
  }

  private static final class ToolCall {
    final String itemId;
    final int outputIndex;
    final String callId;
    final String name;
    final StringBuilder arguments = new StringBuilder();
    boolean done;

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
      if (text == null) {
        text = openPart(events, "output_text");
      }
      write(events, text, content);
    }
    String refused = delta.path("refusal").isTextual() ? delta.get("refusal").asText() : "";
    if (!refused.isEmpty()) {
      startMessage(events);
      if (refusal == null) {
        refusal = openPart(events, "refusal");
      }
      write(events, refusal, refused);
    }
    for (JsonNode call : delta.path("tool_calls")) {
      int index = call.path("index").asInt(calls.size());
      ToolCall toolCall = calls.get(index);
      if (toolCall == null) {
        endMessage(events, "completed");
        toolCall = new ToolCall(
            ids.next("fc"), nextOutputIndex++, call.path("id").isTextual() ? call.get("id").asText() : ids.next("call"),
            call.path("function").path("name").asText(""));
        calls.put(index, toolCall);
        events.add(event(Json.MAPPER.createObjectNode()
            .put("type", "response.output_item.added")
            .put("output_index", toolCall.outputIndex)
            .set("item", toolNames.callItem(toolCall.itemId, "in_progress", toolCall.callId, toolCall.name, ""))));
      }
      String arguments = call.path("function").path("arguments").asText("");
      toolCall.arguments.append(arguments);
      lastWritten = toolCall.outputIndex;
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
    String reason = ResponseObjects.incompleteReason(finishReason);
    // The calls, then the message: a message still open started after every open call.
    for (ToolCall call : calls.values()) {
      endToolCall(events, call, reason != null && call.outputIndex == lastWritten ? "incomplete" : "completed");
    }
    endMessage(events, reason != null && messageIndex == lastWritten ? "incomplete" : "completed");
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
    var partial = new TreeMap<>(output);
    if (messageId != null) {
      partial.put(messageIndex, messageItem("incomplete", null));
    }
    for (ToolCall call : calls.values()) {
      if (!call.done) {
        partial.put(call.outputIndex, toolNames.callItem(call.itemId, "incomplete", call.callId, call.name, call.arguments.toString()));
      }
    }
    response.set("output", Json.MAPPER.createArrayNode().addAll(partial.values()));
    response.putObject("error")
        .put("code", ResponseObjects.responseErrorCode(ErrorEnvelope.status(failure)))
        .put("message", error.message());
    var events = new ArrayList<Event>(2);
    events.add(event(Json.MAPPER.createObjectNode().put("type", "response.failed").set("response", response)));
    events.add(errorEvent(error));
    ended = true;
    return events;
  }

  private Event errorEvent(ErrorEnvelope.Body error) {
    return event(ResponseObjects.errorEvent(error));
  }

  /** Opens a message item (its parts open with their first delta). */
  private void startMessage(List<Event> events) {
    if (messageId != null) {
      return;
    }
    messageId = ids.next("msg");
    messageIndex = nextOutputIndex++;
    events.add(event(Json.MAPPER.createObjectNode()
        .put("type", "response.output_item.added")
        .put("output_index", messageIndex)
        .set("item", ResponseObjects.message(messageId, "in_progress", null, null))));
  }

  /** Opens a part of the message, at the next content index: {@code output_text} or {@code refusal}. */
  private Part openPart(List<Event> events, String type) {
    Part part = new Part(type, parts.size(), new StringBuilder());
    parts.add(part);
    events.add(event(itemEvent("response.content_part.added", messageId, messageIndex)
        .put("content_index", part.contentIndex())
        .set("part", part.json(""))));
    return part;
  }

  private void write(List<Event> events, Part part, String delta) {
    part.content().append(delta);
    lastWritten = messageIndex;
    ObjectNode event = itemEvent(part.isRefusal() ? "response.refusal.delta" : "response.output_text.delta", messageId, messageIndex)
        .put("content_index", part.contentIndex())
        .put("delta", delta);
    if (!part.isRefusal()) {
      event.putArray("logprobs");
    }
    events.add(event(event));
  }

  /** The message item with its parts in content order; {@code events} (if not null) gets each part's done events. */
  private ObjectNode messageItem(String status, List<Event> events) {
    ObjectNode item = ResponseObjects.message(messageId, status, null, null);
    ArrayNode content = (ArrayNode) item.get("content");
    for (Part part : parts) {
      String all = part.content().toString();
      if (events != null) {
        ObjectNode done = itemEvent(part.isRefusal() ? "response.refusal.done" : "response.output_text.done", messageId, messageIndex)
            .put("content_index", part.contentIndex())
            .put(part.isRefusal() ? "refusal" : "text", all);
        if (!part.isRefusal()) {
          done.putArray("logprobs");
        }
        events.add(event(done));
        events.add(event(itemEvent("response.content_part.done", messageId, messageIndex)
            .put("content_index", part.contentIndex())
            .set("part", part.json(all))));
      }
      content.add(part.json(all));
    }
    return item;
  }

  /** Closes the message, if one is open: its parts' done events, then its item's, with {@code status}. */
  private void endMessage(List<Event> events, String status) {
    if (messageId == null) {
      return;
    }
    ObjectNode item = messageItem(status, events);
    output.put(messageIndex, item);
    events.add(event(Json.MAPPER.createObjectNode().put("type", "response.output_item.done").put("output_index", messageIndex).set("item", item)));
    messageId = null;
    parts.clear();
    text = null;
    refusal = null;
  }

  private void endToolCall(List<Event> events, ToolCall call, String status) {
    if (call.done) {
      return;
    }
    call.done = true;
    String arguments = call.arguments.toString();
    ObjectNode item = toolNames.callItem(call.itemId, status, call.callId, call.name, arguments);
    if (item.path("type").asText().equals("custom_tool_call")) {
      events.add(event(itemEvent("response.custom_tool_call_input.done", call.itemId, call.outputIndex)
          .put("input", item.get("input").asText())));
    } else {
      events.add(event(itemEvent("response.function_call_arguments.done", call.itemId, call.outputIndex)
          .put("name", item.get("name").asText())
          .put("arguments", arguments)));
    }
    output.put(call.outputIndex, item);
    events.add(event(Json.MAPPER.createObjectNode().put("type", "response.output_item.done").put("output_index", call.outputIndex).set("item", item)));
  }

  private ObjectNode response(String status) {
    ObjectNode response = ResponseObjects.response(request, responseId, createdAt, model, status);
    response.set("output", Json.MAPPER.createArrayNode().addAll(output.values()).deepCopy());
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

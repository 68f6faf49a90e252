package aigw.proxy.responses;

import aigw.core.errors.ErrorEnvelope;
import aigw.core.errors.GatewayException;
import aigw.core.json.Json;
import aigw.core.providers.StreamChunk;
import aigw.core.usage.TokenUsage;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * A Responses API's own events (OpenAI, Azure's v1 API) passed through byte for byte; the gateway
 * only reads each one's {@code type} (for the {@code event:} line) and {@code sequence_number} (to
 * number its own {@code error} event after the last one, should the stream fail). A provider that
 * ignored {@code stream} and answered a whole Response gets it written as the events it would have
 * streamed ({@link #eventsOf}).
 */
public final class NativeEvents implements ResponseEventSource {
  private static final List<String> ENDS = List.of("response.completed", "response.incomplete", "response.failed");

  private final Ids ids;
  private long nextSequence;
  private boolean ended;

  /** Passes a Responses API's events on; a whole Response's items without an id get random ones. */
  public NativeEvents() {
    this(Ids.random());
  }

  /** @param ids the ids given to the items of a whole Response that have none ({@link #eventsOf}) */
  public NativeEvents(Ids ids) {
    this.ids = ids;
  }

  @Override
  public List<Event> onChunk(StreamChunk chunk) {
    String type = "";
    try {
      JsonNode event = Json.MAPPER.readTree(chunk.json());
      if (event instanceof ObjectNode response && "response".equals(response.path("object").asText()) && !event.has("type")) {
        return eventsOf(response);
      }
      type = event.path("type").asText("");
      if (event.path("sequence_number").canConvertToLong()) {
        nextSequence = event.get("sequence_number").asLong() + 1;
      }
    } catch (IOException notJson) {
      // the provider's translator passes only JSON objects; nothing to read otherwise
    }
    ended |= ENDS.contains(type);
    return List.of(new Event(type, chunk.json()));
  }

  @Override
  public boolean ended() {
    return ended;
  }

  /** Nothing: the provider's own {@code response.completed} was passed on. */
  @Override
  public List<Event> closing(TokenUsage usage) {
    return List.of();
  }

  @Override
  public List<Event> failure(GatewayException failure) {
    ErrorEnvelope.Body error = ErrorEnvelope.of(failure).error();
    var event = ResponseObjects.errorEvent(error).put("sequence_number", nextSequence++);
    ended = true;
    return List.of(new Event("error", Json.bytes(event)));
  }

  /**
   * A whole Response, which the provider answered to a stream request, as the events OpenAI streams
   * (https://platform.openai.com/docs/api-reference/responses-streaming), so that an SDK reading
   * events gets the whole answer: {@code response.created} and {@code response.in_progress} (no
   * output yet), per output item {@code response.output_item.added} and {@code .done} (between them
   * a message's parts, each text in one {@code output_text} or {@code refusal} delta, and a function
   * call's arguments in one delta), then {@code response.completed} (or {@code .incomplete}, {@code
   * .failed}, by its status) with the Response as the provider sent it, usage included. An item
   * without an id (a provider may leave it out: it is optional on a function call) gets one, the
   * same in its events, its done item and the final Response: openai-node's accumulator rejects an
   * empty {@code item_id} and an {@code item_id} that is not its item's id.
   */
  private List<Event> eventsOf(ObjectNode whole) {
    ObjectNode response = whole.deepCopy();
    for (JsonNode item : response.path("output")) {
      if (item instanceof ObjectNode object && (!item.path("id").isTextual() || item.get("id").asText().isEmpty())) {
        object.put("id", ids.next(idPrefix(item.path("type").asText())));
      }
    }
    var events = new ArrayList<Event>();
    ObjectNode opening = response.deepCopy().put("status", "in_progress").putNull("usage");
    opening.putArray("output");
    events.add(event(Json.MAPPER.createObjectNode().put("type", "response.created").set("response", opening)));
    events.add(event(Json.MAPPER.createObjectNode().put("type", "response.in_progress").set("response", opening)));
    int outputIndex = 0;
    for (JsonNode item : response.path("output")) {
      ObjectNode added = item.deepCopy();
      if (item.has("status")) {
        added.put("status", "in_progress");
      }
      String type = item.path("type").asText();
      if (type.equals("message")) {
        added.putArray("content");
      } else if (type.equals("function_call")) {
        added.put("arguments", "");
      }
      events.add(event(Json.MAPPER.createObjectNode().put("type", "response.output_item.added").put("output_index", outputIndex).set("item", added)));
      String itemId = item.path("id").asText("");
      if (type.equals("message")) {
        int contentIndex = 0;
        for (JsonNode part : item.path("content")) {
          String kind = part.path("type").asText(); // output_text (its "text") or refusal (its "refusal")
          String field = kind.equals("refusal") ? "refusal" : "text";
          String prefix = kind.equals("refusal") ? "response.refusal" : "response.output_text";
          ObjectNode empty = ((ObjectNode) part.deepCopy()).put(field, "");
          events.add(event(itemEvent("response.content_part.added", itemId, outputIndex).put("content_index", contentIndex).set("part", empty)));
          ObjectNode delta = itemEvent(prefix + ".delta", itemId, outputIndex).put("content_index", contentIndex).put("delta", part.path(field).asText(""));
          ObjectNode done = itemEvent(prefix + ".done", itemId, outputIndex).put("content_index", contentIndex).put(field, part.path(field).asText(""));
          if (kind.equals("output_text")) {
            delta.putArray("logprobs");
            done.putArray("logprobs");
          }
          events.add(event(delta));
          events.add(event(done));
          events.add(event(itemEvent("response.content_part.done", itemId, outputIndex).put("content_index", contentIndex).set("part", part)));
          contentIndex++;
        }
      } else if (type.equals("function_call")) {
        String arguments = item.path("arguments").asText("");
        events.add(event(itemEvent("response.function_call_arguments.delta", itemId, outputIndex).put("delta", arguments)));
        events.add(event(itemEvent("response.function_call_arguments.done", itemId, outputIndex)
            .put("name", item.path("name").asText("")).put("arguments", arguments)));
      }
      events.add(event(Json.MAPPER.createObjectNode().put("type", "response.output_item.done").put("output_index", outputIndex).set("item", item)));
      outputIndex++;
    }
    String status = response.path("status").asText();
    String end = status.equals("incomplete") || status.equals("failed") ? "response." + status : "response.completed";
    events.add(event(Json.MAPPER.createObjectNode().put("type", end).set("response", response)));
    ended = true;
    return events;
  }

  /** OpenAI's id prefix for an item of this type ({@code msg_}, {@code fc_}, {@code rs_}...). */
  private static String idPrefix(String type) {
    return switch (type) {
      case "message" -> "msg";
      case "function_call" -> "fc";
      case "custom_tool_call" -> "ctc";
      case "reasoning" -> "rs";
      default -> "item";
    };
  }

  private static ObjectNode itemEvent(String type, String itemId, int outputIndex) {
    return Json.MAPPER.createObjectNode().put("type", type).put("item_id", itemId).put("output_index", outputIndex);
  }

  private Event event(ObjectNode event) {
    event.put("sequence_number", nextSequence++);
    return new Event(event.get("type").asText(), Json.bytes(event));
  }
}

package aigw.proxy.responses;

import aigw.core.errors.ErrorEnvelope;
import aigw.core.errors.GatewayException;
import aigw.core.json.Json;
import aigw.core.providers.StreamChunk;
import aigw.core.usage.TokenUsage;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.util.List;

/**
 * A Responses API's own events (OpenAI, Azure's v1 API) passed through byte for byte; the gateway
 * only reads each one's {@code type} (for the {@code event:} line) and {@code sequence_number} (to
 * number its own {@code error} event after the last one, should the stream fail).
 */
public final class NativeEvents implements ResponseEventSource {
  private static final List<String> ENDS = List.of("response.completed", "response.incomplete", "response.failed");

  private long nextSequence;
  private boolean ended;

  @Override
  public List<Event> onChunk(StreamChunk chunk) {
    String type = "";
    try {
      JsonNode event = Json.MAPPER.readTree(chunk.json());
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
}

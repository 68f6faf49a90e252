package aigw.core.providers.http;

import aigw.core.providers.StreamChunk;
import java.util.List;

/**
 * The translation of one streamed answer, event by event (no I/O). It may keep state between
 * events: Anthropic reports input tokens in {@code message_start} and output tokens in {@code
 * message_delta}, and a tool call's id and name arrive before its argument deltas.
 */
public interface StreamTranslation {
  /**
   * The OpenAI chunks one provider event becomes: none (a keep-alive, an event OpenAI has no chunk
   * for), one, or several.
   *
   * @throws aigw.core.errors.GatewayException for an error the provider reports inside the stream
   *     (OpenAI's {@code data: {"error":...}}, Anthropic's {@code event: error})
   */
  List<StreamChunk> onEvent(ServerSentEvent event);

  /**
   * True once the provider said its answer is complete (OpenAI's {@code data: [DONE]}, Anthropic's
   * {@code message_stop}). A stream that ends before this was cut off, and the client is told so.
   */
  boolean complete();
}

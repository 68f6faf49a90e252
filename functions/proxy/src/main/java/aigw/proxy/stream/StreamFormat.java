package aigw.proxy.stream;

import aigw.core.errors.GatewayException;
import aigw.core.providers.ProviderStream;
import aigw.core.providers.StreamChunk;
import aigw.core.usage.TokenUsage;
import java.util.List;

/**
 * One client protocol's side of a streamed answer: the Server-Sent Events each provider chunk
 * becomes, and those that open, end and fail the stream. Everything else is the relay's ({@code
 * aigw.proxy.StreamRelay}), the same for every protocol: the first chunk awaited, tokens counted,
 * the call recorded before the client is told the answer is complete, the client leaving, the
 * function's time limit, a failure mid-stream.
 *
 * <p>One per protocol: OpenAI's chat chunks ({@code aigw.proxy.ChatChunkEvents}), Anthropic's
 * Messages events ({@code aigw.proxy.AnthropicEvents}), the Responses API's events ({@code
 * aigw.proxy.responses.ResponseEventSource}). Not thread-safe: one stream, one writer.
 */
public interface StreamFormat {
  /**
   * One Server-Sent Event.
   *
   * @param type its {@code event:} name, or null for none (OpenAI's chat stream names no events)
   * @param json its data, written as one {@code data:} line per line of it (SSE joins them)
   */
  record Event(String type, byte[] json) {}

  /**
   * The stream whose chunks {@link #onChunk} is given: the provider's own, or a translation of it
   * (chat chunks as Anthropic's events). The relay counts tokens on {@code provider}'s chunks, so a
   * translation need not carry them.
   */
  default ProviderStream reading(ProviderStream provider) {
    return provider;
  }

  /**
   * The events that open the stream, before any chunk's.
   *
   * @param first the first chunk (not yet passed to {@link #onChunk}), or null when there was none
   */
  default List<Event> opening(StreamChunk first) {
    return List.of();
  }

  /** The events one chunk becomes (none for a chunk the client is not to see). */
  List<Event> onChunk(StreamChunk chunk);

  /**
   * True once {@link #onChunk} returned the event that tells the client the answer is complete
   * (Anthropic's {@code message_stop}, a passed-through {@code response.completed}): the relay
   * records the call before writing it and reads nothing after it.
   */
  default boolean ended() {
    return false;
  }

  /**
   * The events that end a stream whose provider finished without such an event.
   *
   * @param usage the tokens recorded for the call (the provider's, else the relay's estimate)
   */
  List<Event> closing(TokenUsage usage);

  /** The events that end a stream that failed (the provider's failure, the time limit, usage not recorded). */
  List<Event> failure(GatewayException failure);

  /**
   * True when the usage a chunk of the provider's stream reports counts only the prompt, reported
   * before the answer: Anthropic's {@code message_start}, whose output count is a placeholder. A
   * stream cut after it is counted with that prompt and an estimated completion.
   */
  default boolean reportsPromptOnly(StreamChunk chunk) {
    return false;
  }

  /** The request field that bounds the answer's length, named in the error of a stream ended at the time limit. */
  default String outputLimitField() {
    return "max_tokens";
  }
}

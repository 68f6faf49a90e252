package aigw.proxy;

import aigw.core.errors.ErrorEnvelope;
import aigw.core.errors.GatewayException;
import aigw.core.json.Json;
import aigw.core.providers.StreamChunk;
import aigw.core.usage.TokenUsage;
import aigw.proxy.stream.StreamFormat;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * OpenAI's chat (and legacy completions) stream, https://platform.openai.com/docs/api-reference/chat-streaming:
 * one {@code data: <chunk>} event per chunk, as the provider's translator made it, then {@code
 * data: [DONE]}. The gateway always asks the provider for usage (unless it refuses {@code
 * stream_options}: {@code Provider#acceptsStreamOptions}); the usage chunk ({@code choices: []}) is
 * passed on only when the client asked ({@code stream_options.include_usage}), as OpenAI sends it
 * only to those who ask. A failure is one {@code data: {"error":{...}}} event in OpenAI's envelope
 * and no {@code [DONE]}: the OpenAI SDKs (Python, Node, Java's {@code SseHandler}) raise on it, and
 * a client that does not check sees a stream without its {@code [DONE]}, which says it was cut off.
 */
final class ChatChunkEvents implements StreamFormat {
  private static final List<Event> DONE = List.of(new Event(null, "[DONE]".getBytes(StandardCharsets.US_ASCII)));

  private final boolean clientWantsUsage;

  ChatChunkEvents(boolean clientWantsUsage) {
    this.clientWantsUsage = clientWantsUsage;
  }

  @Override
  public List<Event> onChunk(StreamChunk chunk) {
    return chunk.usageOnly() && !clientWantsUsage ? List.of() : List.of(new Event(null, chunk.json()));
  }

  @Override
  public List<Event> closing(TokenUsage usage) {
    return DONE;
  }

  @Override
  public List<Event> failure(GatewayException failure) {
    return List.of(new Event(null, Json.bytes(ErrorEnvelope.of(failure))));
  }
}

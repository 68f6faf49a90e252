package aigw.proxy;

import aigw.core.errors.ErrorEnvelope;
import aigw.core.errors.GatewayException;
import aigw.core.json.Json;
import aigw.core.providers.ProviderStream;
import aigw.core.providers.StreamChunk;
import aigw.core.usage.TokenUsage;
import aigw.proxy.stream.StreamFormat;
import java.io.IOException;
import java.util.List;

/**
 * Anthropic's Messages events for a client of {@code /v1/messages}
 * (https://docs.anthropic.com/en/docs/build-with-claude/streaming): each chunk is already an
 * event's data (passed through from Anthropic, or made from chat chunks by {@link
 * ChatToMessages.EventStream}), written as {@code event: <its type>} and {@code data: <it>}.
 * Anthropic's SDKs dispatch on the {@code event:} name (anthropic-sdk-typescript {@code
 * src/core/streaming.ts}), so it is always written.
 *
 * <ul>
 *   <li>{@code message_stop} ends the stream: the call is recorded before it is sent. A stream
 *       without one is recorded all the same, and nothing is added.
 *   <li>{@code message_start}'s usage counts the prompt only (its output count is a placeholder);
 *       the answer's usage is {@code message_delta}'s cumulative counts.
 *   <li>A failure is one {@code event: error} with Anthropic's error body ({@link
 *       ErrorEnvelope#anthropic}), as Anthropic ends a failed stream; the SDKs throw it as an
 *       {@code APIError}.
 * </ul>
 */
final class AnthropicEvents implements StreamFormat {
  private final String requestId;
  /** The model asked for, when the provider's chunk stream is translated; null when Anthropic's events are passed through. */
  private final String translatedFor;
  private boolean ended;

  private AnthropicEvents(String requestId, String translatedFor) {
    this.requestId = requestId;
    this.translatedFor = translatedFor;
  }

  /** Anthropic's own events, passed on as sent. */
  static AnthropicEvents passedThrough(String requestId) {
    return new AnthropicEvents(requestId, null);
  }

  /** A provider's chat chunks, translated to Anthropic's events naming {@code model} until a chunk names the answering one. */
  static AnthropicEvents translated(String requestId, String model) {
    return new AnthropicEvents(requestId, model);
  }

  @Override
  public ProviderStream reading(ProviderStream provider) {
    return translatedFor == null ? provider : new ChatToMessages.EventStream(provider, translatedFor);
  }

  @Override
  public List<Event> onChunk(StreamChunk chunk) {
    String type = typeOf(chunk);
    ended |= type.equals("message_stop");
    return List.of(new Event(type, chunk.json()));
  }

  @Override
  public boolean ended() {
    return ended;
  }

  @Override
  public List<Event> closing(TokenUsage usage) {
    return List.of();
  }

  @Override
  public List<Event> failure(GatewayException failure) {
    return List.of(new Event("error", Json.bytes(ErrorEnvelope.anthropic(failure, requestId))));
  }

  @Override
  public boolean reportsPromptOnly(StreamChunk chunk) {
    return typeOf(chunk).equals("message_start");
  }

  /** The event's {@code type} member, which names it; Anthropic's event data always has one. */
  private static String typeOf(StreamChunk chunk) {
    try {
      String type = Json.MAPPER.readTree(chunk.json()).path("type").asText("");
      return type.isEmpty() ? "message" : type;
    } catch (IOException e) {
      return "message"; // cannot happen: every chunk was parsed or built as JSON
    }
  }
}

package aigw.core.providers.bedrock;

import aigw.core.providers.StreamChunk;
import java.util.List;

/**
 * The translation of one Bedrock event stream answer, event by event (no I/O), as {@link
 * BedrockConverseProvider} reads it: ConverseStream's events to OpenAI chunks ({@link
 * BedrockTranslator.EventsToChunks}), or InvokeModelWithResponseStream's Claude chunks passed on as
 * Anthropic's events ({@link BedrockClaudeMessages}). Bedrock's {@code exception} and {@code error}
 * messages never reach it: the reader throws them.
 */
interface BedrockEventTranslation {
  /**
   * The chunks of one event.
   *
   * @param eventType the message's {@code :event-type} header
   * @param payload its payload (JSON)
   */
  List<StreamChunk> onEvent(String eventType, byte[] payload);

  /** True once the last event of the answer arrived: nothing after it is read. */
  boolean complete();

  /** True once the answer itself is whole, though a last event (usage) may follow: an end of the stream here loses only that. */
  boolean stopped();
}

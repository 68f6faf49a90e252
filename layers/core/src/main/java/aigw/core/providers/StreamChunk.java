package aigw.core.providers;

import aigw.core.usage.TokenUsage;

/**
 * One chunk of a streamed answer, in OpenAI's shape ({@code chat.completion.chunk} or a streamed
 * {@code text_completion}), with what the gateway reads from it.
 *
 * @param json the chunk's JSON, as sent after {@code data: }
 * @param usage the tokens it reports ({@code usage} is an object), or null
 * @param usageOnly true for OpenAI's usage chunk: {@code usage} with {@code choices: []}; it is
 *     passed to the client only when the client asked for it ({@code stream_options.include_usage})
 * @param generatedChars characters of generated text it carries (content, refusal, reasoning, tool
 *     call arguments, completion text), for an estimate when no usage comes
 * @param promptTokens the prompt tokens the provider reported at the start of its answer, before
 *     its final usage (Anthropic's {@code message_start}), or null: a stream cut off before the
 *     final usage is then counted with these instead of an estimate of the prompt
 */
public record StreamChunk(byte[] json, TokenUsage usage, boolean usageOnly, long generatedChars, Long promptTokens) {
  /** A chunk that reports no prompt tokens of its own. */
  public StreamChunk(byte[] json, TokenUsage usage, boolean usageOnly, long generatedChars) {
    this(json, usage, usageOnly, generatedChars, null);
  }
}

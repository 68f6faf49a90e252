package aigw.core.usage;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Tokens of one response, as the provider reported them in its {@code usage} object.
 *
 * @param promptTokens every prompt token, cached or not (OpenAI's {@code prompt_tokens}; for
 *     Anthropic and Bedrock, whose input count leaves the cache out, input + cache read + cache write,
 *     as their translators build it)
 * @param cacheReadTokens of {@code promptTokens}, those read from the provider's prompt cache
 *     (OpenAI's and Gemini's {@code prompt_tokens_details.cached_tokens}, Anthropic's {@code
 *     cache_read_input_tokens}), priced at the cache read price
 * @param cacheWriteTokens of {@code promptTokens}, those written to the prompt cache (Anthropic's
 *     and Bedrock's {@code cache_creation_input_tokens}; OpenAI and Gemini report none), priced at
 *     the cache write price
 */
public record TokenUsage(long promptTokens, long completionTokens, long totalTokens, long cacheReadTokens, long cacheWriteTokens) {
  public static final TokenUsage NONE = new TokenUsage(0, 0, 0);

  /**
   * The most tokens one response may count: far above any model's context window, far below what
   * could overflow a key's counters. A provider's answer is not trusted beyond it.
   */
  static final long MAX_TOKENS_PER_RESPONSE = 1_000_000_000L;

  /** Tokens without prompt caching. */
  public TokenUsage(long promptTokens, long completionTokens, long totalTokens) {
    this(promptTokens, completionTokens, totalTokens, 0, 0);
  }

  /**
   * Reads OpenAI's {@code usage} ({@code prompt_tokens}, {@code completion_tokens},
   * {@code total_tokens}: integers, per OpenAI's API reference). A field that is missing, or not a
   * whole number from 0 to {@link #MAX_TOKENS_PER_RESPONSE} (a string, a fraction, a negative or
   * huge value from a faulty or hostile upstream), counts as 0, so it can neither lower a key's
   * counters nor overflow them; a total that is missing or unusable is prompt + completion.
   *
   * <p>The cached part of the prompt: {@code prompt_tokens_details.cached_tokens} (else {@code
   * cache_read_input_tokens}) read, {@code cache_creation_input_tokens} written, as the gateway's
   * Anthropic, Bedrock and Gemini translators report them; never more than the prompt, so a faulty
   * count cannot price more tokens than were sent.
   */
  public static TokenUsage fromOpenAi(JsonNode usage) {
    if (usage == null || !usage.isObject()) {
      return NONE;
    }
    long prompt = count(usage.path("prompt_tokens"));
    long completion = count(usage.path("completion_tokens"));
    JsonNode total = usage.path("total_tokens");
    JsonNode cached = usage.path("prompt_tokens_details").path("cached_tokens");
    long read = isCount(cached) ? cached.longValue() : count(usage.path("cache_read_input_tokens"));
    long written = count(usage.path("cache_creation_input_tokens"));
    return withCache(prompt, completion, isCount(total) ? total.longValue() : prompt + completion, read, written);
  }

  /**
   * Reads the Responses API's {@code usage} ({@code input_tokens}, {@code output_tokens}, {@code
   * total_tokens}, {@code input_tokens_details.cached_tokens};
   * https://platform.openai.com/docs/api-reference/responses/object#responses/object-usage),
   * with {@link #fromOpenAi}'s rules for a field that is missing or no count.
   */
  public static TokenUsage fromResponses(JsonNode usage) {
    if (usage == null || !usage.isObject()) {
      return NONE;
    }
    long input = count(usage.path("input_tokens"));
    long output = count(usage.path("output_tokens"));
    JsonNode total = usage.path("total_tokens");
    long read = count(usage.path("input_tokens_details").path("cached_tokens"));
    return withCache(input, output, isCount(total) ? total.longValue() : input + output, read, 0);
  }

  /** The cache counts bounded by the prompt: read first, then written from what is left. */
  private static TokenUsage withCache(long prompt, long completion, long total, long read, long written) {
    long boundedRead = Math.min(read, prompt);
    return new TokenUsage(prompt, completion, total, boundedRead, Math.min(written, prompt - boundedRead));
  }

  private static long count(JsonNode field) {
    return isCount(field) ? field.longValue() : 0;
  }

  private static boolean isCount(JsonNode field) {
    return field.isIntegralNumber() && field.canConvertToLong() && field.longValue() >= 0 && field.longValue() <= MAX_TOKENS_PER_RESPONSE;
  }

  public TokenUsage plus(TokenUsage other) {
    return new TokenUsage(
        promptTokens + other.promptTokens,
        completionTokens + other.completionTokens,
        totalTokens + other.totalTokens,
        cacheReadTokens + other.cacheReadTokens,
        cacheWriteTokens + other.cacheWriteTokens);
  }
}

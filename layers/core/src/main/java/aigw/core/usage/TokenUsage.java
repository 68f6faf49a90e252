package aigw.core.usage;

import com.fasterxml.jackson.databind.JsonNode;

/** Tokens of one response, as the provider reported them in its {@code usage} object. */
public record TokenUsage(long promptTokens, long completionTokens, long totalTokens) {
  public static final TokenUsage NONE = new TokenUsage(0, 0, 0);

  /**
   * The most tokens one response may count: far above any model's context window, far below what
   * could overflow a key's counters. A provider's answer is not trusted beyond it.
   */
  static final long MAX_TOKENS_PER_RESPONSE = 1_000_000_000L;

  /**
   * Reads OpenAI's {@code usage} ({@code prompt_tokens}, {@code completion_tokens},
   * {@code total_tokens}: integers, per OpenAI's API reference). A field that is missing, or not a
   * whole number from 0 to {@link #MAX_TOKENS_PER_RESPONSE} (a string, a fraction, a negative or
   * huge value from a faulty or hostile upstream), counts as 0, so it can neither lower a key's
   * counters nor overflow them; a total that is missing or unusable is prompt + completion.
   */
  public static TokenUsage fromOpenAi(JsonNode usage) {
    if (usage == null || !usage.isObject()) {
      return NONE;
    }
    long prompt = count(usage.path("prompt_tokens"));
    long completion = count(usage.path("completion_tokens"));
    JsonNode total = usage.path("total_tokens");
    return new TokenUsage(prompt, completion, isCount(total) ? total.longValue() : prompt + completion);
  }

  /**
   * Reads the Responses API's {@code usage} ({@code input_tokens}, {@code output_tokens}, {@code
   * total_tokens}; https://platform.openai.com/docs/api-reference/responses/object#responses/object-usage),
   * with {@link #fromOpenAi}'s rules for a field that is missing or no count.
   */
  public static TokenUsage fromResponses(JsonNode usage) {
    if (usage == null || !usage.isObject()) {
      return NONE;
    }
    long input = count(usage.path("input_tokens"));
    long output = count(usage.path("output_tokens"));
    JsonNode total = usage.path("total_tokens");
    return new TokenUsage(input, output, isCount(total) ? total.longValue() : input + output);
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
        totalTokens + other.totalTokens);
  }
}

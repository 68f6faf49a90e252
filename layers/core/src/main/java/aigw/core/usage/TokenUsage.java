package aigw.core.usage;

import com.fasterxml.jackson.databind.JsonNode;

/** Tokens of one response, as the provider reported them in its {@code usage} object. */
public record TokenUsage(long promptTokens, long completionTokens, long totalTokens) {
  public static final TokenUsage NONE = new TokenUsage(0, 0, 0);

  /** Reads OpenAI's {@code usage}: missing fields count as 0; total defaults to prompt + completion. */
  public static TokenUsage fromOpenAi(JsonNode usage) {
    if (usage == null || !usage.isObject()) {
      return NONE;
    }
    long prompt = usage.path("prompt_tokens").asLong(0);
    long completion = usage.path("completion_tokens").asLong(0);
    long total = usage.path("total_tokens").asLong(prompt + completion);
    return new TokenUsage(prompt, completion, total);
  }

  public TokenUsage plus(TokenUsage other) {
    return new TokenUsage(
        promptTokens + other.promptTokens,
        completionTokens + other.completionTokens,
        totalTokens + other.totalTokens);
  }
}

package aigw.core.cost;

import static aigw.core.cost.TokenCostCalculatorTest.deployment;
import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.config.Deployment;
import aigw.core.config.Provider;
import aigw.core.config.TokenPrices;
import aigw.core.providers.ForwardedBody;
import aigw.core.providers.Operation;
import aigw.core.providers.ProviderRequest;
import aigw.core.providers.anthropic.AnthropicTranslator;
import aigw.core.providers.bedrock.BedrockTranslator;
import aigw.core.providers.gemini.GeminiTranslator;
import aigw.core.providers.openai.OpenAiTranslator;
import aigw.core.usage.TokenUsage;
import java.math.BigDecimal;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * Each provider's answer, with prompt caching, through its real translator: the tokens it reports
 * (cache reads and writes included) and what they cost. One price set for all, so the sums are
 * easy to check: 1e-06 per uncached input token, 1e-07 per cache read, 2e-06 per cache write, 1e-05
 * per output token.
 */
class ProviderUsageCostTest {
  private static final TokenPrices PRICES =
      new TokenPrices(new BigDecimal("1e-06"), new BigDecimal("1e-05"), new BigDecimal("1e-07"), new BigDecimal("2e-06"));
  private static final TokenCostCalculator COSTS = TokenCostCalculator.builtIn();

  private static ProviderRequest chat() {
    return ProviderRequest.complete(
        Operation.CHAT_COMPLETIONS,
        ForwardedBody.of("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}".getBytes(StandardCharsets.UTF_8)));
  }

  private static byte[] bytes(String json) {
    return json.getBytes(StandardCharsets.UTF_8);
  }

  private static BigDecimal cost(Deployment deployment, TokenUsage usage) {
    return COSTS.cost(deployment.withPrices(PRICES), usage);
  }

  @Test
  void openAiCachedTokensAreReadAndCostTheCacheReadPrice() {
    Deployment gpt = deployment(Provider.OPENAI, "gpt-4o");
    TokenUsage usage = new OpenAiTranslator().response(gpt, chat(), bytes("""
        {"id":"c","object":"chat.completion","created":1,"model":"gpt-4o",
         "choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],
         "usage":{"prompt_tokens":2000,"completion_tokens":100,"total_tokens":2100,"prompt_tokens_details":{"cached_tokens":1500}}}
        """)).usage();

    assertThat(usage).isEqualTo(new TokenUsage(2000, 100, 2100, 1500, 0));
    assertThat(cost(gpt, usage)).isEqualByComparingTo("0.00165"); // 500×1e-6 + 1500×1e-7 + 100×1e-5
  }

  @Test
  void anthropicCacheReadsAndWritesCostTheirOwnPrices() {
    Deployment claude = new Deployment(
        "claude", Provider.ANTHROPIC, "claude-sonnet-4-5", URI.create("https://api.anthropic.com"), "sk-ant-test", "test", Duration.ofSeconds(5));
    TokenUsage usage = new AnthropicTranslator().response(claude, chat(), bytes("""
        {"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5",
         "content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","stop_sequence":null,
         "usage":{"input_tokens":21,"cache_creation_input_tokens":3000,"cache_read_input_tokens":1000,"output_tokens":393}}
        """)).usage();

    // input_tokens counts only the uncached part: the prompt is 21 + 3000 + 1000.
    assertThat(usage).isEqualTo(new TokenUsage(4021, 393, 4414, 1000, 3000));
    assertThat(cost(claude, usage)).isEqualByComparingTo("0.010051"); // 21×1e-6 + 1000×1e-7 + 3000×2e-6 + 393×1e-5
  }

  @Test
  void bedrockCacheReadsAndWritesCostTheirOwnPrices() {
    Deployment claude = new Deployment(
        "claude", Provider.BEDROCK, "anthropic.claude-3-5-sonnet-20240620-v1:0", URI.create("https://bedrock-runtime.us-east-1.amazonaws.com"),
        null, null, Duration.ofSeconds(5), null, null, null, "us-east-1");
    TokenUsage usage = new BedrockTranslator().response(claude, "req-1", bytes("""
        {"output":{"message":{"role":"assistant","content":[{"text":"hi"}]}},"stopReason":"end_turn",
         "usage":{"inputTokens":100,"outputTokens":50,"totalTokens":2450,"cacheReadInputTokens":2000,"cacheWriteInputTokens":300},
         "metrics":{"latencyMs":10}}
        """)).usage();

    assertThat(usage).isEqualTo(new TokenUsage(2400, 50, 2450, 2000, 300));
    assertThat(cost(claude, usage)).isEqualByComparingTo("0.0014"); // 100×1e-6 + 2000×1e-7 + 300×2e-6 + 50×1e-5
  }

  @Test
  void geminiCachedContentIsPartOfThePromptAndCostsTheCacheReadPrice() {
    Deployment gemini = new Deployment(
        "gemini", Provider.GEMINI, "gemini-2.5-pro", URI.create("https://generativelanguage.googleapis.com"), "g-key", "test", Duration.ofSeconds(5));
    TokenUsage usage = new GeminiTranslator().response(gemini, chat(), bytes("""
        {"candidates":[{"content":{"parts":[{"text":"hi"}],"role":"model"},"finishReason":"STOP","index":0}],
         "usageMetadata":{"promptTokenCount":1200,"candidatesTokenCount":10,"totalTokenCount":1230,"cachedContentTokenCount":1000,
           "thoughtsTokenCount":20},
         "modelVersion":"gemini-2.5-pro","responseId":"r1"}
        """)).usage();

    // Thoughts are billed as output: completion = 10 + 20.
    assertThat(usage).isEqualTo(new TokenUsage(1200, 30, 1230, 1000, 0));
    assertThat(cost(gemini, usage)).isEqualByComparingTo("0.0006"); // 200×1e-6 + 1000×1e-7 + 30×1e-5
  }

  @Test
  void aCacheCountAboveThePromptIsBoundedByIt() {
    TokenUsage hostile = TokenUsage.fromOpenAi(aigw.core.json.Json.MAPPER.valueToTree(java.util.Map.of(
        "prompt_tokens", 10, "completion_tokens", 0, "prompt_tokens_details", java.util.Map.of("cached_tokens", 999_999),
        "cache_creation_input_tokens", 50)));

    assertThat(hostile).isEqualTo(new TokenUsage(10, 0, 10, 10, 0));
  }
}

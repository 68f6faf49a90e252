package aigw.core.cost;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.config.Deployment;
import aigw.core.config.Provider;
import aigw.core.config.TokenPrices;
import aigw.core.json.Json;
import aigw.core.usage.TokenUsage;
import java.math.BigDecimal;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;

/** The price of a call: the built-in table, a deployment's own prices over it, cache tokens, unknown models. */
class TokenCostCalculatorTest {
  private final TokenCostCalculator costs = TokenCostCalculator.builtIn();

  static Deployment deployment(Provider provider, String upstreamModel) {
    return new Deployment("m", provider, upstreamModel, URI.create("http://127.0.0.1:9"), null, null, Duration.ofSeconds(5));
  }

  private static BigDecimal usd(String value) {
    return new BigDecimal(value);
  }

  @Test
  void aTableModelIsPricedAtItsInputAndOutputPrices() {
    // gpt-4o: 2.5e-06 in, 1e-05 out (LiteLLM's table).
    BigDecimal cost = costs.cost(deployment(Provider.OPENAI, "gpt-4o"), new TokenUsage(1000, 500, 1500));

    assertThat(cost).isEqualByComparingTo(usd("0.0075"));
  }

  @Test
  void theTableIsLookedUpWithTheProviderPrefixThenWithout() {
    var usage = new TokenUsage(1_000_000, 1_000_000, 2_000_000);
    // Keyed "gemini/gemini-2.5-pro" in the table: found with the prefix.
    assertThat(costs.cost(deployment(Provider.GEMINI, "gemini-2.5-pro"), usage)).isEqualByComparingTo(usd("11.25"));
    // Keyed "gpt-4o-mini": found without it, whatever the OpenAI-compatible prefix.
    assertThat(costs.cost(deployment(Provider.OPENAI, "gpt-4o-mini"), usage)).isEqualByComparingTo(usd("0.75"));
    // Bedrock ids, with and without the prefix in the table.
    assertThat(costs.cost(deployment(Provider.BEDROCK, "global.anthropic.claude-haiku-4-5-20251001-v1:0"), usage))
        .isEqualByComparingTo(usd("6"));
    assertThat(costs.cost(deployment(Provider.BEDROCK, "us.anthropic.claude-3-5-haiku-20241022-v1:0"), usage))
        .isEqualByComparingTo(usd("4.8"));
    assertThat(costs.cost(deployment(Provider.ANTHROPIC, "claude-sonnet-4-5"), usage)).isEqualByComparingTo(usd("18"));
  }

  @Test
  void aBedrockIdTheTableDoesNotNameIsPricedByItsBaseModelAsLiteLlmLooksItUp() {
    var usage = new TokenUsage(1_000_000, 1_000_000, 2_000_000);
    // A regional profile, the bare id and an inference-profile ARN of Claude Sonnet 4.5: Anthropic's
    // list price (3e-06 in, 1.5e-05 out), Bedrock's global one. Were they unpriced, they would cost 0.
    for (String id : List.of(
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "apac.anthropic.claude-sonnet-4-5-20250929-v1:0")) {
      assertThat(costs.cost(deployment(Provider.BEDROCK, id), usage)).as(id).isEqualByComparingTo(usd("18"));
    }
    // The docs' own example: Claude 3.7 Sonnet through the us. profile.
    assertThat(costs.cost(deployment(Provider.BEDROCK, "us.anthropic.claude-3-7-sonnet-20250219-v1:0"), usage)).isEqualByComparingTo(usd("18"));
    // A geography prefix whose own entry exists keeps it.
    assertThat(costs.cost(deployment(Provider.BEDROCK, "us.anthropic.claude-3-5-haiku-20241022-v1:0"), usage)).isEqualByComparingTo(usd("4.8"));
    // Only Bedrock ids are looked up this way: an OpenAI-compatible "us.anthropic…" stays unpriced.
    assertThat(costs.cost(deployment(Provider.OPENAI, "us.anthropic.claude-sonnet-4-5-20250929-v1:0"), usage)).isEqualByComparingTo(usd("0"));
    // Gemini 2.5 Flash (GA) is in the table.
    assertThat(costs.cost(deployment(Provider.GEMINI, "gemini-2.5-flash"), usage)).isEqualByComparingTo(usd("2.8"));
  }

  @Test
  void everyBuiltInPriceIsExactAndWithinBounds() {
    PriceTable table = PriceTable.builtIn();
    assertThat(table.size()).isGreaterThan(50);
    // Read as written: 1.25e-07 is exactly 0.000000125, not the double nearest to it.
    TokenPrices gpt5 = table.lookup(deployment(Provider.OPENAI, "gpt-5")).orElseThrow();
    assertThat(gpt5.cacheRead()).isEqualByComparingTo(usd("0.000000125"));
    assertThat(gpt5.cacheRead().scale()).isEqualTo(9);
  }

  @Test
  void aDeploymentsOwnPricesReplaceTheTablesFieldByField() {
    var own = new TokenPrices(null, usd("0.00002"), null, null); // only the output price
    Deployment overridden = deployment(Provider.OPENAI, "gpt-4o").withPrices(own);

    BigDecimal cost = costs.cost(overridden, new TokenUsage(1000, 500, 1500));

    assertThat(cost).isEqualByComparingTo(usd("0.0125")); // 1000 × 2.5e-06 (table) + 500 × 2e-05 (own)
  }

  @Test
  void aModelOutsideTheTableIsPricedByItsOwnPrices() {
    Deployment local = deployment(Provider.OLLAMA, "llama3.2").withPrices(new TokenPrices(usd("0.1"), usd("0.2"), null, null));

    // Exact decimals: 3 × 0.1 is 0.3, where doubles would make it 0.30000000000000004.
    assertThat(costs.cost(local, new TokenUsage(3, 0, 3))).isEqualTo(usd("0.3"));
    assertThat(costs.cost(local, new TokenUsage(3, 1, 4))).isEqualTo(usd("0.5"));
  }

  @Test
  void cachedPromptTokensArePricedAtTheCachePrices() {
    // OpenAI's shape: cached_tokens are part of prompt_tokens. gpt-4o: 2.5e-06 in, 1.25e-06 cached, 1e-05 out.
    TokenUsage openAi = TokenUsage.fromOpenAi(Json.MAPPER.valueToTree(java.util.Map.of(
        "prompt_tokens", 2000, "completion_tokens", 100, "total_tokens", 2100, "prompt_tokens_details", java.util.Map.of("cached_tokens", 1500))));
    assertThat(costs.cost(deployment(Provider.OPENAI, "gpt-4o"), openAi)).isEqualByComparingTo(usd("0.004125"));

    // The Responses API's shape: input_tokens_details.cached_tokens.
    TokenUsage responses = TokenUsage.fromResponses(Json.MAPPER.valueToTree(java.util.Map.of(
        "input_tokens", 2000, "output_tokens", 100, "total_tokens", 2100, "input_tokens_details", java.util.Map.of("cached_tokens", 1500))));
    assertThat(costs.cost(deployment(Provider.OPENAI, "gpt-4o"), responses)).isEqualByComparingTo(usd("0.004125"));

    // Anthropic's cache writes and reads (as its translator reports them): claude-sonnet-4-5
    // 3e-06 in, 3e-07 read, 3.75e-06 write, 1.5e-05 out.
    TokenUsage anthropic = new TokenUsage(1000 + 2000 + 4000, 10, 7010, 2000, 4000);
    assertThat(costs.cost(deployment(Provider.ANTHROPIC, "claude-sonnet-4-5"), anthropic))
        .isEqualByComparingTo(usd("0.01875")); // 1000×3e-6 + 2000×3e-7 + 4000×3.75e-6 + 10×1.5e-5
  }

  @Test
  void withoutACachePriceCachedTokensCostTheInputPrice() {
    Deployment plain = deployment(Provider.OLLAMA, "m").withPrices(new TokenPrices(usd("0.001"), usd("0.002"), null, null));

    assertThat(costs.cost(plain, new TokenUsage(100, 10, 110, 60, 20))).isEqualByComparingTo(usd("0.12")); // 100×0.001 + 10×0.002
  }

  @Test
  void anUnknownModelCostsNothingAndIsNamedInOneWarningOnly() {
    var warnings = new ArrayList<String>();
    Handler capture = new Handler() {
      @Override
      public void publish(LogRecord record) {
        warnings.add(record.getMessage());
      }

      @Override
      public void flush() {}

      @Override
      public void close() {}
    };
    Logger logger = Logger.getLogger(TokenCostCalculator.class.getName());
    logger.addHandler(capture);
    try {
      var calculator = TokenCostCalculator.builtIn();
      for (int i = 0; i < 5; i++) {
        assertThat(calculator.cost(deployment(Provider.OLLAMA, "my-private-model"), new TokenUsage(10, 10, 20))).isZero();
      }
      assertThat(calculator.cost(deployment(Provider.OLLAMA, "another-model"), new TokenUsage(1, 1, 2))).isZero();
      // A price of 0 says the model is free: no warning.
      assertThat(calculator.cost(
          deployment(Provider.OLLAMA, "free").withPrices(new TokenPrices(BigDecimal.ZERO, BigDecimal.ZERO, null, null)), new TokenUsage(1, 1, 2)))
          .isZero();
    } finally {
      logger.removeHandler(capture);
    }
    assertThat(warnings).hasSize(2);
    assertThat(warnings.get(0)).contains("ollama/my-private-model", "input_cost_per_token", "output_cost_per_token");
    assertThat(warnings.get(1)).contains("ollama/another-model");
  }

  @Test
  void noDeploymentMeansNoCost() {
    assertThat(costs.cost(null, new TokenUsage(10, 10, 20))).isZero();
  }

  @Test
  void pricesOutsideTheirBoundsAreRefusedWithTheReason() {
    assertThat(TokenPrices.price("2.5e-06")).isEqualTo(usd("0.0000025"));
    assertThat(TokenPrices.price(" 1e-6 ")).isEqualTo(usd("0.000001")); // YAML 1.1 reads 1e-6 as a string
    for (String bad : List.of("-0.1", "1001", "abc", "1e-19", "1e400")) {
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> TokenPrices.price(bad))
          .as(bad).isInstanceOf(IllegalArgumentException.class).hasMessageContaining(bad);
    }
  }
}

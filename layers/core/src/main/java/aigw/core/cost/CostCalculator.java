package aigw.core.cost;

import aigw.core.config.Deployment;
import aigw.core.usage.TokenUsage;
import java.math.BigDecimal;

/**
 * The cost in USD of one model call, from the tokens the provider reported and the answering
 * deployment's prices (LiteLLM's {@code input_cost_per_token}, {@code output_cost_per_token}, …
 * in {@code litellm_params}, over a built-in table). Exact decimals: spend is summed in DynamoDB's
 * decimal numbers, so no rounding accumulates.
 */
public interface CostCalculator {
  /** Every call costs nothing: before prices are known, and in tests that do not look at spend. */
  CostCalculator FREE = (deployment, usage) -> BigDecimal.ZERO;

  /**
   * @param deployment the deployment that answered (after failover, not necessarily the first tried)
   * @return USD, never negative; zero when the model's price is unknown
   */
  BigDecimal cost(Deployment deployment, TokenUsage usage);
}

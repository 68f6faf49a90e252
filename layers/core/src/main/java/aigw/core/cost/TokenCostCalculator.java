package aigw.core.cost;

import aigw.core.config.Deployment;
import aigw.core.config.TokenPrices;
import aigw.core.usage.TokenUsage;
import java.math.BigDecimal;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;

/**
 * The cost of a call from its tokens and per-token prices: the deployment's own ({@code
 * litellm_params}) over the built-in {@link PriceTable}'s, field by field. As LiteLLM's {@code
 * generic_cost_per_token}:
 *
 * <pre>
 * cost = (prompt − cache read − cache write) × input_cost_per_token
 *      + cache read  × cache_read_input_token_cost      (input price when none is known)
 *      + cache write × cache_creation_input_token_cost  (input price when none is known)
 *      + completion  × output_cost_per_token
 * </pre>
 *
 * Exact decimals (prices have at most 18 decimal places: {@link TokenPrices#MAX_SCALE}). A model
 * with neither an input nor an output price anywhere costs 0, and is named in one warning per
 * container (not one per request): the operator sets its prices in {@code litellm_params}, or 0 to
 * say it is free. Thread-safe.
 */
public final class TokenCostCalculator implements CostCalculator {
  private static final Logger LOG = Logger.getLogger(TokenCostCalculator.class.getName());

  private final PriceTable table;
  /** The models already warned about ({@code litellm_params.model}); per container, like every cache here. */
  private final Set<String> warnedUnpriced = ConcurrentHashMap.newKeySet();

  public TokenCostCalculator(PriceTable table) {
    this.table = table;
  }

  /** Over the gateway's built-in price table. */
  public static TokenCostCalculator builtIn() {
    return new TokenCostCalculator(PriceTable.builtIn());
  }

  @Override
  public BigDecimal cost(Deployment deployment, TokenUsage usage) {
    if (deployment == null || usage == null) {
      return BigDecimal.ZERO; // no deployment answered: nothing was generated
    }
    TokenPrices prices = deployment.prices().over(table.lookup(deployment).orElse(TokenPrices.NONE));
    if (prices.input() == null && prices.output() == null) {
      if (warnedUnpriced.add(deployment.litellmModel())) {
        LOG.warning("No price is known for model " + deployment.litellmModel() + " (model_name " + deployment.modelName()
            + "): its calls are counted at cost 0. Set input_cost_per_token and output_cost_per_token (USD) in its"
            + " litellm_params, or 0 if it is free (docs/configuration.md).");
      }
      return BigDecimal.ZERO;
    }
    BigDecimal input = orZero(prices.input());
    BigDecimal cacheRead = prices.cacheRead() != null ? prices.cacheRead() : input;
    BigDecimal cacheWrite = prices.cacheWrite() != null ? prices.cacheWrite() : input;
    long uncached = Math.max(0, usage.promptTokens() - usage.cacheReadTokens() - usage.cacheWriteTokens());
    BigDecimal cost = input.multiply(BigDecimal.valueOf(uncached))
        .add(cacheRead.multiply(BigDecimal.valueOf(usage.cacheReadTokens())))
        .add(cacheWrite.multiply(BigDecimal.valueOf(usage.cacheWriteTokens())))
        .add(orZero(prices.output()).multiply(BigDecimal.valueOf(usage.completionTokens())));
    return cost.signum() == 0 ? BigDecimal.ZERO : cost.stripTrailingZeros();
  }

  private static BigDecimal orZero(BigDecimal price) {
    return price == null ? BigDecimal.ZERO : price;
  }
}

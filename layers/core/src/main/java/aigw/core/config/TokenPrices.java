package aigw.core.config;

import java.math.BigDecimal;

/**
 * Prices in USD per token, with LiteLLM's names ({@code model_prices_and_context_window.json} and
 * {@code litellm_params}). Each is null when not given: a deployment's own price replaces the
 * built-in one field by field, and a cache price that is nowhere given is the input price (as
 * LiteLLM prices cache tokens without a cache price).
 *
 * @param input {@code input_cost_per_token}: an uncached prompt token
 * @param output {@code output_cost_per_token}: a completion token (reasoning included)
 * @param cacheRead {@code cache_read_input_token_cost}: a prompt token read from the provider's cache
 * @param cacheWrite {@code cache_creation_input_token_cost}: a prompt token written to the cache
 */
public record TokenPrices(BigDecimal input, BigDecimal output, BigDecimal cacheRead, BigDecimal cacheWrite) {
  /** No price given. */
  public static final TokenPrices NONE = new TokenPrices(null, null, null, null);

  /** LiteLLM's field names, in this record's order. */
  public static final String INPUT = "input_cost_per_token";
  public static final String OUTPUT = "output_cost_per_token";
  public static final String CACHE_READ = "cache_read_input_token_cost";
  public static final String CACHE_WRITE = "cache_creation_input_token_cost";

  /** The most a token may cost: far above any model's price (o1-pro's output, the dearest listed, is 0.0006). */
  public static final BigDecimal MAX_PRICE = BigDecimal.valueOf(1000);

  /**
   * The finest price: 18 decimal places (1e-18 USD per token). It bounds each cost's digits, so a
   * key's spend, summed in a DynamoDB number (38 significant digits), stays exact.
   */
  public static final int MAX_SCALE = 18;

  public boolean isEmpty() {
    return input == null && output == null && cacheRead == null && cacheWrite == null;
  }

  /** These prices, each missing one taken from {@code fallback}. */
  public TokenPrices over(TokenPrices fallback) {
    return new TokenPrices(
        input != null ? input : fallback.input,
        output != null ? output : fallback.output,
        cacheRead != null ? cacheRead : fallback.cacheRead,
        cacheWrite != null ? cacheWrite : fallback.cacheWrite);
  }

  /**
   * Reads one price as written in a config file or the built-in table: a number (or a string
   * holding one, since YAML 1.1 reads {@code 1e-6} without a dot as a string) of USD per token.
   *
   * @throws IllegalArgumentException (with the reason) when it is not a number from 0 to {@link
   *     #MAX_PRICE} with at most {@link #MAX_SCALE} decimal places
   */
  public static BigDecimal price(Object value) {
    BigDecimal price;
    try {
      price = value instanceof BigDecimal decimal ? decimal : new BigDecimal(String.valueOf(value).strip());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("must be a number of USD per token, e.g. 2.5e-06; got '" + value + "'");
    }
    if (price.signum() < 0 || price.compareTo(MAX_PRICE) > 0) {
      throw new IllegalArgumentException("must be from 0 to " + MAX_PRICE + " USD per token; got " + value);
    }
    BigDecimal exact = price.stripTrailingZeros();
    if (exact.scale() > MAX_SCALE) {
      throw new IllegalArgumentException("may have at most " + MAX_SCALE + " decimal places (1e-18 USD per token); got " + value);
    }
    return exact.scale() < 0 ? exact.setScale(0) : exact;
  }
}

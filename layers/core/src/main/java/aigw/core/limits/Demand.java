package aigw.core.limits;

import java.math.BigDecimal;

/**
 * What a request is expected to use, reserved at admission and settled with the real use.
 *
 * @param tokens prompt + completion tokens: the request's size / 4 plus its {@code max_tokens} (or
 *     {@code max_completion_tokens}); at least 1
 * @param usd its cost at the deployment's price for those tokens; null when unknown (no price or no
 *     {@code max_tokens}): the scope's average cost per request is reserved instead
 */
public record Demand(long tokens, BigDecimal usd) {
  public Demand {
    tokens = Math.max(1, tokens);
  }
}

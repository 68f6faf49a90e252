package aigw.core.limits;

import aigw.core.errors.BadRequest;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.util.Set;

/**
 * The limit fields of an admin request ({@code /key/generate}, {@code /key/update}; {@code
 * /team/new}, {@code /team/update} read them one by one), LiteLLM's names, turned into {@link
 * Limits}. A field that is absent keeps the current value; a field sent as {@code null} removes the
 * limit, as LiteLLM's updates do (they store every field the request set, {@code model_dump(exclude_unset=True)}
 * in {@code prepare_key_update_data} and {@code update_team}, so an explicit null clears the column).
 * Bad values are a 400 naming the field.
 */
public final class LimitFields {
  public static final String RPM_LIMIT = "rpm_limit";
  public static final String TPM_LIMIT = "tpm_limit";
  public static final String MAX_PARALLEL_REQUESTS = "max_parallel_requests";
  public static final String MAX_BUDGET = "max_budget";
  public static final String SOFT_BUDGET = "soft_budget";
  public static final String BUDGET_DURATION = "budget_duration";

  /** Every field this class reads: an admin route accepts them all. */
  public static final Set<String> NAMES = Set.of(RPM_LIMIT, TPM_LIMIT, MAX_PARALLEL_REQUESTS, MAX_BUDGET, SOFT_BUDGET, BUDGET_DURATION);

  /** Far above any real limit, far below what would overflow a counter: a larger value is a mistake. */
  static final long MAX_COUNT = 1_000_000_000_000L;
  /** The largest budget accepted, in USD. */
  static final BigDecimal MAX_USD = new BigDecimal("1000000000");
  /**
   * The most decimal places a USD amount may have: prices' rule ({@link
   * aigw.core.config.TokenPrices#MAX_SCALE}, 1e-18 USD). With {@link #MAX_USD} (10 digits) that is
   * at most 28 significant digits, inside what a DynamoDB number holds (38 digits, magnitudes from
   * 1e-130); a finer amount would be stored by no write (ValidationException) and lose the key's spend.
   */
  static final int MAX_USD_SCALE = aigw.core.config.TokenPrices.MAX_SCALE;

  private LimitFields() {}

  /**
   * @param current the scope's limits before this request ({@link Limits#NONE} for a new one)
   * @return {@code current} with each field the body names replaced: by its value, or removed (null) when sent as null
   * @throws BadRequest a value of the wrong type or range, or a budget_duration that is not one
   */
  public static Limits read(ObjectNode body, Limits current) {
    Long rpm = count(body, RPM_LIMIT, current.rpmLimit());
    Long tpm = count(body, TPM_LIMIT, current.tpmLimit());
    Long parallel = count(body, MAX_PARALLEL_REQUESTS, current.maxParallelRequests() == null ? null : current.maxParallelRequests().longValue());
    if (parallel != null && parallel > Integer.MAX_VALUE / 2) {
      throw new BadRequest("'" + MAX_PARALLEL_REQUESTS + "' must be at most " + Integer.MAX_VALUE / 2 + ".", MAX_PARALLEL_REQUESTS);
    }
    BigDecimal budget = usd(body, MAX_BUDGET, current.maxBudget());
    BigDecimal soft = usd(body, SOFT_BUDGET, current.softBudget());
    String duration = current.budgetDuration();
    JsonNode durationNode = body.get(BUDGET_DURATION);
    if (durationNode != null && durationNode.isNull()) {
      duration = null;
    } else if (durationNode != null) {
      if (!durationNode.isTextual()) {
        throw new BadRequest("'" + BUDGET_DURATION + "' must be a string such as 30d or 1mo.", BUDGET_DURATION);
      }
      duration = BudgetDuration.parse(durationNode.asText(), BUDGET_DURATION);
    }
    return new Limits(rpm, tpm, parallel == null ? null : parallel.intValue(), budget, soft, duration);
  }

  /**
   * A USD amount as keys and teams take it ({@code max_budget}, {@code soft_budget}): a JSON number
   * from 0 to {@link #MAX_USD} with at most {@link #MAX_USD_SCALE} decimal places; empty when absent or null.
   *
   * @throws BadRequest naming {@code field} otherwise
   */
  public static java.util.Optional<BigDecimal> usd(ObjectNode body, String field) {
    return java.util.Optional.ofNullable(usd(body, field, null));
  }

  /**
   * A count as keys and teams take it ({@code rpm_limit}, {@code tpm_limit}, {@code
   * max_parallel_requests}): a whole JSON number from 0 to {@link #MAX_COUNT}; empty when absent or null.
   *
   * @throws BadRequest naming {@code field} otherwise
   */
  public static java.util.Optional<Long> count(ObjectNode body, String field) {
    return java.util.Optional.ofNullable(count(body, field, null));
  }

  /** The field's count; {@code current} when the field is absent, null when it is sent as null. */
  private static Long count(ObjectNode body, String field, Long current) {
    JsonNode value = body.get(field);
    if (value == null || value.isNull()) {
      return value == null ? current : null;
    }
    if (!value.isIntegralNumber() || !value.canConvertToLong() || value.asLong() < 0 || value.asLong() > MAX_COUNT) {
      throw new BadRequest("'" + field + "' must be a whole number from 0 to " + MAX_COUNT + ".", field);
    }
    return value.asLong();
  }

  /** The field's amount; {@code current} when the field is absent, null when it is sent as null. */
  private static BigDecimal usd(ObjectNode body, String field, BigDecimal current) {
    JsonNode value = body.get(field);
    if (value == null || value.isNull()) {
      return value == null ? current : null;
    }
    if (!value.isNumber()) {
      throw new BadRequest("'" + field + "' must be a number of US dollars (0 or more).", field);
    }
    BigDecimal usd = value.decimalValue();
    if (usd.signum() < 0 || usd.compareTo(MAX_USD) > 0) {
      throw new BadRequest("'" + field + "' must be a number of US dollars from 0 to " + MAX_USD.toPlainString() + ".", field);
    }
    BigDecimal exact = usd.stripTrailingZeros();
    if (exact.scale() > MAX_USD_SCALE) {
      throw new BadRequest("'" + field + "' may have at most " + MAX_USD_SCALE + " decimal places (1e-18 US dollars).", field);
    }
    return exact;
  }
}

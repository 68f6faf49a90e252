package aigw.core.json;

import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigDecimal;

/**
 * The one rule for a request field that takes a whole number (a token cap, a count): the value is
 * judged, not its spelling. JSON has one number type, so {@code 10}, {@code 10.0} and {@code 1E1}
 * are all ten and taken; {@code 10.5}, the string {@code "10"}, and a value out of range are not.
 * {@code aigw.proxy.NumberFields} checks the documented ranges by it, and each translator that reads
 * such a field reads it by it, so that a value one accepts the next never refuses.
 */
public final class WholeNumbers {
  private WholeNumbers() {}

  /**
   * @return {@code value} as a long when it is a JSON number with a whole value from {@code min} to
   *     {@code max} (both included); null when it is not (absent, not a number, not whole, out of range)
   */
  public static Long in(JsonNode value, long min, long max) {
    if (value == null || !value.isNumber() || ((value.isDouble() || value.isFloat()) && !Double.isFinite(value.doubleValue()))) {
      return null;
    }
    BigDecimal exact = value.decimalValue();
    // The range first: it is what bounds the work of the whole-number test on a value like 1e999999.
    if (exact.compareTo(BigDecimal.valueOf(min)) < 0 || exact.compareTo(BigDecimal.valueOf(max)) > 0 || exact.stripTrailingZeros().scale() > 0) {
      return null;
    }
    return exact.longValueExact();
  }
}

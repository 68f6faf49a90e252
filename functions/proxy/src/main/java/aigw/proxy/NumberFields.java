package aigw.proxy;

import aigw.core.errors.BadRequest;
import aigw.core.providers.Operation;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The numeric fields of each inbound protocol that the gateway reads or forwards, each with the
 * range its API documents: a value outside it (or not a number) is the client's 400 naming the
 * field, before the key's limits are charged or any byte goes to a provider (issue 15: {@code
 * "max_tokens": 1e999999} went out as sent, since the client's bytes are forwarded). The gateway
 * reads the token caps itself (the limits' expected tokens), so for those an unbounded value is not
 * only the provider's to judge. JSON numbers are read exactly ({@link aigw.core.json.Json} keeps
 * a fraction or an exponent as a {@link BigDecimal}), so {@code 1e999999} is compared as written,
 * never rounded to infinity. {@code null} passes, as OpenAI's API takes it for "unset".
 *
 * <p>Sources of the ranges: OpenAI's API reference for chat completions, completions, embeddings
 * and responses ({@code temperature} 0 to 2, {@code top_p} 0 to 1, penalties -2 to 2, {@code n} 1
 * to 128, {@code top_logprobs} 0 to 20, {@code logprobs} 0 to 5, {@code best_of} 1 to 20, {@code
 * logit_bias} keys token ids (integers as strings) and values -100 to 100, token caps at least 1, {@code max_output_tokens} at least 16);
 * Anthropic's Messages API ({@code max_tokens} at least 1, {@code temperature} and {@code top_p} 0
 * to 1, {@code top_k} at least 0). Counts and token caps are bounded above by a 32-bit integer, what
 * every provider's API takes; a {@code seed} by a 64-bit one.
 */
public final class NumberFields {
  /** The most any count or token cap can be: a signed 32-bit integer. */
  static final long MAX_COUNT = Integer.MAX_VALUE;

  /**
   * A field's documented range.
   *
   * @param integer whether only whole numbers are taken ({@code 256.0} and {@code 2E+3} are whole: the value is
   *     judged, its spelling is the provider's)
   */
  public record Range(BigDecimal min, BigDecimal max, boolean integer) {
    static Range integers(long min, long max) {
      return new Range(BigDecimal.valueOf(min), BigDecimal.valueOf(max), true);
    }

    static Range numbers(double min, double max) {
      return new Range(BigDecimal.valueOf(min), BigDecimal.valueOf(max), false);
    }

    boolean holds(JsonNode value) {
      if (!value.isNumber() || ((value.isDouble() || value.isFloat()) && !Double.isFinite(value.doubleValue()))) {
        return false;
      }
      if (integer) {
        return aigw.core.json.WholeNumbers.in(value, min.longValueExact(), max.longValueExact()) != null; // the one rule for whole numbers
      }
      BigDecimal exact = value.decimalValue();
      return exact.compareTo(min) >= 0 && exact.compareTo(max) <= 0;
    }

    String describe() {
      String what = integer ? "an integer" : "a number";
      return what + " from " + min.stripTrailingZeros().toPlainString() + " to " + max.stripTrailingZeros().toPlainString();
    }
  }

  private static final Range TOKEN_CAP = Range.integers(1, MAX_COUNT);
  private static final Range SEED = Range.integers(Long.MIN_VALUE, Long.MAX_VALUE);
  private static final Range PENALTY = Range.numbers(-2, 2);
  private static final Range LOGIT_BIAS = Range.numbers(-100, 100);

  /** {@code POST /v1/chat/completions}. */
  static final Map<String, Range> CHAT = ordered(
      "max_tokens", TOKEN_CAP,
      "max_completion_tokens", TOKEN_CAP,
      "n", Range.integers(1, 128),
      "temperature", Range.numbers(0, 2),
      "top_p", Range.numbers(0, 1),
      "presence_penalty", PENALTY,
      "frequency_penalty", PENALTY,
      "top_logprobs", Range.integers(0, 20),
      "seed", SEED,
      "top_k", Range.integers(0, MAX_COUNT));

  /** {@code POST /v1/completions}. */
  static final Map<String, Range> COMPLETIONS = ordered(
      "max_tokens", TOKEN_CAP,
      "n", Range.integers(1, 128),
      "best_of", Range.integers(1, 20),
      "logprobs", Range.integers(0, 5),
      "temperature", Range.numbers(0, 2),
      "top_p", Range.numbers(0, 1),
      "presence_penalty", PENALTY,
      "frequency_penalty", PENALTY,
      "seed", SEED);

  /** {@code POST /v1/embeddings}. */
  static final Map<String, Range> EMBEDDINGS = ordered("dimensions", Range.integers(1, MAX_COUNT));

  /** {@code POST /v1/messages} (Anthropic's ranges, whichever provider answers). */
  static final Map<String, Range> MESSAGES = ordered(
      "max_tokens", TOKEN_CAP,
      "temperature", Range.numbers(0, 1),
      "top_p", Range.numbers(0, 1),
      "top_k", Range.integers(0, MAX_COUNT));

  /** {@code POST /v1/responses}. */
  public static final Map<String, Range> RESPONSES = ordered(
      "max_output_tokens", Range.integers(16, MAX_COUNT),
      "max_tool_calls", Range.integers(1, MAX_COUNT),
      "temperature", Range.numbers(0, 2),
      "top_p", Range.numbers(0, 1),
      "top_logprobs", Range.integers(0, 20));

  private NumberFields() {}

  /** The table of an OpenAI-shaped operation. */
  static Map<String, Range> of(Operation operation) {
    return switch (operation) {
      case CHAT_COMPLETIONS -> CHAT;
      case COMPLETIONS -> COMPLETIONS;
      case EMBEDDINGS -> EMBEDDINGS;
      default -> Map.of();
    };
  }

  /**
   * Checks {@code body}'s fields named in {@code fields}, and the values of {@code logit_bias} where
   * the table's protocol has it (chat and completions).
   *
   * @throws BadRequest (400) naming the first field out of its range, or of another type
   */
  public static void check(ObjectNode body, Map<String, Range> fields) {
    fields.forEach((field, range) -> {
      JsonNode value = body.get(field);
      if (value != null && !value.isNull() && !range.holds(value)) {
        throw new BadRequest("'" + field + "' must be " + range.describe() + ".", field);
      }
    });
    JsonNode bias = body.get("logit_bias");
    if ((fields == CHAT || fields == COMPLETIONS) && bias != null && !bias.isNull()) {
      if (!bias.isObject()) {
        throw new BadRequest("'logit_bias' must be an object of token ids to numbers from -100 to 100.", "logit_bias");
      }
      bias.properties().forEach(entry -> {
        if (!isTokenId(entry.getKey())) {
          throw new BadRequest("'logit_bias' keys must be token ids, integers from 0 to " + MAX_COUNT + " written as strings; "
              + shortened(entry.getKey()) + " is not.", "logit_bias");
        }
        if (!LOGIT_BIAS.holds(entry.getValue())) {
          throw new BadRequest("'logit_bias' values must be " + LOGIT_BIAS.describe() + "; token " + shortened(entry.getKey()) + " is not.",
              "logit_bias");
        }
      });
    }
  }

  /**
   * Whether a {@code logit_bias} key names a token: OpenAI documents the map as "token IDs (specified
   * by their token ID in the tokenizer)" to a bias, so a key is a non-negative decimal integer, at
   * most a 32-bit one (every tokenizer's vocabulary is far smaller). Only ASCII digits: no sign,
   * space, fraction or exponent, nothing the provider might read as another token or pass to a
   * parser of its own (issue 15: {@code {"abc":1}} went out as sent).
   */
  static boolean isTokenId(String key) {
    int length = key.length();
    if (length == 0 || length > 10) {
      return false;
    }
    for (int i = 0; i < length; i++) {
      char c = key.charAt(i);
      if (c < '0' || c > '9') {
        return false;
      }
    }
    return Long.parseLong(key) <= MAX_COUNT;
  }

  private static String shortened(String text) {
    return text.length() <= 20 ? "'" + text + "'" : "'" + text.substring(0, 20) + "...'";
  }

  private static Map<String, Range> ordered(Object... pairs) {
    var map = new LinkedHashMap<String, Range>();
    for (int i = 0; i < pairs.length; i += 2) {
      map.put((String) pairs[i], (Range) pairs[i + 1]);
    }
    return java.util.Collections.unmodifiableMap(map);
  }
}

package aigw.core.json;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.cfg.JsonNodeFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * The one ObjectMapper of the gateway: thread-safe, built once per container.
 *
 * <p>Numbers a client sent are kept as written: a JSON number with a fraction or an exponent is read as
 * a {@link java.math.BigDecimal} (not a double, which would turn {@code 1e400} into {@code "Infinity"} and
 * {@code 0.1000000000000000055511151231257827} into {@code 0.1}), and its trailing zeros are kept
 * ({@code 1.50} stays {@code 1.50}). Free-form values such as a key's {@code metadata} are therefore stored and
 * returned as given; typed fields ({@code double}, {@code long}) read the same as before.
 *
 * <p>Every document it reads (client bodies, provider answers, stored items) is held to {@link
 * #READ_CONSTRAINTS}, set here on purpose rather than left to the defaults of the Jackson version of
 * the day (docs/api.md, "Limits of a JSON document").
 */
public final class Json {
  /** Deepest nesting of arrays and objects read: deeper documents are refused. */
  public static final int MAX_NESTING_DEPTH = 128;
  /** Most characters in one JSON number. */
  public static final int MAX_NUMBER_LENGTH = 1_000;
  /** Most characters in one string value. */
  public static final int MAX_STRING_LENGTH = 20_000_000;
  /** Most characters in one member name. */
  public static final int MAX_NAME_LENGTH = 10_000;
  /** Most bytes in one document. */
  public static final long MAX_DOCUMENT_LENGTH = 64L * 1024 * 1024;

  /**
   * What a document may hold, and why each bound:
   *
   * <ul>
   *   <li>nesting depth 128 (Jackson's default 1,000): no request of any supported API nests near it
   *       (OpenAI's structured outputs allow 10 levels of schema, about 20 of JSON), and every
   *       recursive walk over a tree (validation, translation to another provider's shape, the
   *       serializer) stays far from a stack overflow;
   *   <li>number length 1,000 characters (the default): a number is parsed in time that grows with
   *       its digits, and no real field needs more than about 40; {@code 1e999999999} is short and
   *       stays a {@link java.math.BigDecimal} that typed fields refuse;
   *   <li>string length 20,000,000 characters (the default): above every body limit (proxy 5 MiB by
   *       default, local server 10 MiB), so the body limits decide; a provider answer is bounded by
   *       its own size limit before it is parsed;
   *   <li>member-name length 10,000 characters (default 50,000): no API names a field with more than a
   *       few dozen, and metadata keys are not documents;
   *   <li>document length 64 MiB (no bound by default): a last bound behind the body and answer size
   *       limits, for a caller that forgot one.
   * </ul>
   */
  public static final StreamReadConstraints READ_CONSTRAINTS =
      StreamReadConstraints.builder()
          .maxNestingDepth(MAX_NESTING_DEPTH)
          .maxNumberLength(MAX_NUMBER_LENGTH)
          .maxStringLength(MAX_STRING_LENGTH)
          .maxNameLength(MAX_NAME_LENGTH)
          .maxDocumentLength(MAX_DOCUMENT_LENGTH)
          .build();

  public static final ObjectMapper MAPPER =
      JsonMapper.builder(JsonFactory.builder().streamReadConstraints(READ_CONSTRAINTS).build())
          .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
          .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
          .disable(JsonNodeFeature.STRIP_TRAILING_BIGDECIMAL_ZEROES)
          .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
          // "{...} garbage" is not a JSON object: refuse it rather than forward half a body.
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
          .build();

  private Json() {}

  /**
   * Reads client bodies: a member name twice in one object is refused. Parsers disagree on which
   * one wins (Jackson and Python the last, others the first or an error), so the gateway could
   * check one value ({@code model}, a routing field such as OpenRouter's {@code models}) while the
   * provider acts on the other.
   */
  private static final com.fasterxml.jackson.databind.ObjectReader STRICT_READER =
      MAPPER.reader().with(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY);

  /**
   * Parses bytes that must be a JSON object with no member name twice in any object; throws
   * {@link NotAJsonObject} otherwise.
   */
  public static ObjectNode readObject(byte[] body) {
    JsonNode node;
    try {
      node = STRICT_READER.readTree(body);
    } catch (IOException e) {
      throw new NotAJsonObject(describe(e));
    }
    if (node == null || !node.isObject()) {
      throw new NotAJsonObject("the body must be a JSON object");
    }
    return (ObjectNode) node;
  }

  public static byte[] bytes(Object value) {
    try {
      return MAPPER.writeValueAsBytes(value);
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static String string(Object value) {
    try {
      return MAPPER.writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Jackson's message without the source excerpt, which may echo a secret back to a log. */
  private static String describe(IOException e) {
    if (e instanceof JsonProcessingException p) {
      var location = p.getLocation();
      String where = location == null ? "" : " at line " + location.getLineNr() + ", column " + location.getColumnNr();
      String reason = p.getOriginalMessage();
      // Jackson appends a source excerpt or location to some messages; the location is given above.
      for (String tail : new String[] {"\n", " [Source:", " at [Source:"}) {
        int cut = reason == null ? -1 : reason.indexOf(tail);
        if (cut >= 0) {
          reason = reason.substring(0, cut);
        }
      }
      // Jackson names Java types, features and methods in some messages, always between backticks
      // ("(1000, from `StreamReadConstraints.getMaxNumberLength()`)", "(bound as `...JsonNode`)",
      // "Duplicate field 'model' for `ObjectNode`: not allowed when `DeserializationFeature...`
      // enabled", "not allowed as per `DeserializationFeature...`"): the client needs what was wrong
      // with its JSON, not the gateway's classes. JSON text itself is quoted with ' or ", never `,
      // so any backtick-quoted name that is left goes too.
      if (reason != null) {
        reason = reason.replaceAll(", from `[^`]*`\\)", ")")
            .replaceAll(" ?\\((?:from|bound as) `[^`]*`\\)", "")
            .replaceAll(" for `[^`]*`", "")
            .replaceAll(" (?:when|if) `[^`]*` (?:is )?(?:enabled|disabled)", "")
            .replaceAll(" as per `[^`]*`", "")
            .replaceAll(" \\(of type [A-Z_]+\\)", "") // Jackson's token enum (START_OBJECT)
            .replaceAll("`[^`]*`", "a value");
      }
      return "malformed JSON" + where + ": " + reason;
    }
    return "malformed JSON";
  }

  /** Thrown when a request body is not a JSON object. */
  public static final class NotAJsonObject extends RuntimeException {
    NotAJsonObject(String message) {
      super(message);
    }
  }
}

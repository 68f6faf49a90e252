package aigw.core.json;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.nio.charset.StandardCharsets;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * What a client is told when its body is not a JSON object ({@link Json#readObject}): Jackson's
 * reason for each kind of fault Jackson reports (with the line and column where it has them), and never a Java name of
 * the gateway (a class, a feature flag, a method), which tells the client nothing and the world
 * what the gateway runs on.
 */
class JsonTest {
  static Stream<Arguments> malformedBodies() {
    return Stream.of(
        Arguments.of("a member name twice", "{\"model\":\"a\",\"model\":\"b\"}", "Duplicate field 'model'"),
        Arguments.of("a member name twice, nested", "{\"m\":{\"x\":1,\"x\":2}}", "Duplicate field 'x'"),
        Arguments.of("text after the object", "{\"a\":1} {\"b\":2}", "Trailing token"),
        Arguments.of("an unexpected character", "{\"a\":x}", "Unrecognized token 'x'"),
        Arguments.of("a document cut short", "{\"a\":[1,2", "end-of-input"),
        Arguments.of("a number longer than allowed", "{\"a\":" + "1".repeat(Json.MAX_NUMBER_LENGTH + 1) + "}", "Number value length"),
        Arguments.of("nesting deeper than allowed", "{\"a\":" + "[".repeat(Json.MAX_NESTING_DEPTH + 1) + "]".repeat(Json.MAX_NESTING_DEPTH + 1) + "}",
            "Document nesting depth"),
        Arguments.of("a member name longer than allowed", "{\"" + "n".repeat(Json.MAX_NAME_LENGTH + 1) + "\":1}", "Name length"),
        Arguments.of("a control character in a string", "{\"a\":\"x\u0001\"}", "Illegal unquoted character"),
        Arguments.of("a leading zero", "{\"a\":01}", "Invalid numeric value"),
        Arguments.of("a missing colon", "{\"a\" 1}", "was expecting a colon"),
        Arguments.of("a single-quoted name", "{'a':1}", "was expecting double-quote"),
        Arguments.of("not UTF-8", "{\"a\":\"\u00ff\"}".getBytes(StandardCharsets.ISO_8859_1), "Invalid UTF-8"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("malformedBodies")
  void aMalformedBodyIsDescribedWithJacksonsReasonAndNoJavaName(String kind, Object body, String reason) {
    byte[] bytes = body instanceof String text ? text.getBytes(StandardCharsets.UTF_8) : (byte[]) body;

    var refused = catchThrowableOfType(Json.NotAJsonObject.class, () -> Json.readObject(bytes));

    assertThat(refused).as(kind).isNotNull();
    assertThat(refused.getMessage()).startsWith("malformed JSON").contains(reason);
    assertThat(refused.getMessage())
        .as("no Java name: no backtick-quoted name, no CamelCase type, no package, no feature flag")
        .doesNotContain("`")
        .doesNotContainPattern("\\b[A-Z][a-z0-9]+[A-Z]\\w*")
        .doesNotContainPattern("\\b(?:com|java|aigw)\\.")
        .doesNotContainPattern("[A-Z]{2,}_[A-Z_]+");
  }
}

package aigw.core.testing;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.errors.ErrorEnvelope;
import aigw.core.errors.GatewayException;
import aigw.core.json.Json;
import aigw.core.usage.TokenUsage;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.InputStream;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import org.junit.jupiter.params.provider.Arguments;

/**
 * What every provider translator's fixture table test shares: reading a fixture file (a JSON array
 * of cases, each with a {@code name}) as parameterized-test arguments, and the expected error
 * envelope and usage written in the fixtures.
 */
public final class TranslatorFixtures {
  private TranslatorFixtures() {}

  /**
   * The cases of {@code /aigw/core/providers/<provider>/<file>} on the test class path, as
   * {@code (name, case)} arguments.
   */
  public static Stream<Arguments> cases(String provider, String file) throws Exception {
    try (InputStream in = TranslatorFixtures.class.getResourceAsStream("/aigw/core/providers/" + provider + "/" + file)) {
      if (in == null) {
        throw new IllegalArgumentException("no fixture file " + provider + "/" + file);
      }
      JsonNode all = Json.MAPPER.readTree(in);
      return StreamSupport.stream(all.spliterator(), false).map(c -> Arguments.of(c.get("name").asText(), c));
    }
  }

  /** {@code expected}: {@code {"status": 429, "type": "...", "message": "..."}}, as the client sees it. */
  public static void assertEnvelope(GatewayException e, JsonNode expected) {
    assertThat(ErrorEnvelope.status(e)).isEqualTo(expected.get("status").asInt());
    assertThat(ErrorEnvelope.type(e)).isEqualTo(expected.get("type").asText());
    assertThat(e.getMessage()).isEqualTo(expected.get("message").asText());
    if (expected.has("param")) {
      assertThat(ErrorEnvelope.of(e).error().param()).isEqualTo(expected.get("param").isNull() ? null : expected.get("param").asText());
    }
  }

  /**
   * OpenAI's {@code usage} object of a fixture, with its cached prompt tokens ({@code
   * prompt_tokens_details.cached_tokens} read, {@code cache_creation_input_tokens} written), which
   * the cost of a call depends on; {@link TokenUsage#NONE} when absent.
   */
  public static TokenUsage usage(JsonNode usage) {
    if (usage == null) {
      return TokenUsage.NONE;
    }
    return new TokenUsage(
        usage.get("prompt_tokens").asLong(),
        usage.get("completion_tokens").asLong(),
        usage.get("total_tokens").asLong(),
        usage.path("prompt_tokens_details").path("cached_tokens").asLong(0),
        usage.path("cache_creation_input_tokens").asLong(0));
  }
}

package aigw.core.usage;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.json.Json;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class TokenUsageTest {
  /** The provider's usage object, and what is counted on the key: only whole numbers from 0 to 10^9. */
  @ParameterizedTest(name = "{0} -> {1}/{2}/{3}")
  @CsvSource(
      delimiter = '|',
      value = {
        "{\"prompt_tokens\":3,\"completion_tokens\":4,\"total_tokens\":7}                 | 3 | 4 | 7",
        "{\"prompt_tokens\":3,\"completion_tokens\":4}                                    | 3 | 4 | 7",
        "{\"prompt_tokens\":1e400,\"completion_tokens\":\"5\",\"total_tokens\":-3}        | 0 | 0 | 0",
        "{\"prompt_tokens\":9223372036854775807,\"completion_tokens\":2}                   | 0 | 2 | 2",
        "{\"prompt_tokens\":99999999999999999999999,\"completion_tokens\":2.5}            | 0 | 0 | 0",
        "{\"prompt_tokens\":1000000000,\"completion_tokens\":1000000001}                   | 1000000000 | 0 | 1000000000",
        "{\"prompt_tokens\":-1,\"completion_tokens\":4,\"total_tokens\":null}              | 0 | 4 | 4",
        "[1,2,3]                                                                           | 0 | 0 | 0",
      })
  void aProvidersUsageCountsOnlyPlausibleWholeNumbers(String usage, long prompt, long completion, long total) throws Exception {
    assertThat(TokenUsage.fromOpenAi(Json.MAPPER.readTree(usage))).isEqualTo(new TokenUsage(prompt, completion, total));
  }
}

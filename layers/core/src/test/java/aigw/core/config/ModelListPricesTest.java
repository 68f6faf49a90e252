package aigw.core.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** LiteLLM's price fields in {@code litellm_params}: read exactly, refused at start when wrong. */
class ModelListPricesTest {
  private static List<Deployment> read(String yaml) {
    return ModelList.read(new ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8)), "test.yaml", Map.of("AWS_REGION", "us-east-1"));
  }

  @Test
  void theFourPriceFieldsAreReadExactlyAsWritten() {
    var deployments = read("""
        model_list:
          - model_name: mine
            litellm_params:
              model: openai/my-fine-tune
              input_cost_per_token: 2.5e-06
              output_cost_per_token: 0.00001
              cache_read_input_token_cost: 1e-7
              cache_creation_input_token_cost: "3.75e-06"
          - model_name: claude
            litellm_params: {model: bedrock/anthropic.claude-sonnet, output_cost_per_token: 0.000015}
          - model_name: plain
            litellm_params: {model: openai/gpt-4o}
        """);

    TokenPrices mine = deployments.get(0).prices();
    assertThat(mine.input()).isEqualTo(new BigDecimal("0.0000025"));
    assertThat(mine.output()).isEqualTo(new BigDecimal("0.00001"));
    assertThat(mine.cacheRead()).isEqualTo(new BigDecimal("1E-7")); // YAML 1.1 reads 1e-7 (no dot) as a string: taken all the same
    assertThat(mine.cacheWrite()).isEqualTo(new BigDecimal("0.00000375"));
    assertThat(deployments.get(1).prices()).isEqualTo(new TokenPrices(null, new BigDecimal("0.000015"), null, null));
    assertThat(deployments.get(2).prices()).isEqualTo(TokenPrices.NONE);
  }

  @Test
  void aWrongPriceStopsTheStartNamingTheDeploymentAndTheField() {
    for (String[] bad : List.of(
        new String[] {"input_cost_per_token: -1e-06", "input_cost_per_token must be from 0"},
        new String[] {"output_cost_per_token: cheap", "output_cost_per_token must be a number of USD per token"},
        new String[] {"cache_read_input_token_cost: [1]", "cache_read_input_token_cost must be a number"},
        new String[] {"cache_creation_input_token_cost: 1e-30", "cache_creation_input_token_cost may have at most 18 decimal places"})) {
      String yaml = "model_list:\n  - model_name: broken\n    litellm_params:\n      model: openai/gpt-4o\n      " + bad[0] + "\n";

      assertThatThrownBy(() -> read(yaml))
          .as(bad[0])
          .isInstanceOf(InvalidConfig.class)
          .hasMessageContaining("model_list[0] (broken)")
          .hasMessageContaining(bad[1]);
    }
  }
}

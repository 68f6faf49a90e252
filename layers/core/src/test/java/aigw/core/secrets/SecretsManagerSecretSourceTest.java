package aigw.core.secrets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class SecretsManagerSecretSourceTest {
  @Test
  void aPlainSecretStringIsTheKey() {
    assertThat(SecretsManagerSecretSource.parse("  sk-plain-master \n", "s")).isEqualTo("sk-plain-master");
  }

  @Test
  void aJsonSecretHoldsTheKeyInMasterKey() {
    assertThat(SecretsManagerSecretSource.parse("{\"master_key\":\"Abc123generated\"}", "s")).isEqualTo("Abc123generated");
  }

  @Test
  void brokenJsonIsRefusedWithoutQuotingTheSecret() {
    assertThatThrownBy(() -> SecretsManagerSecretSource.parse("{\"master_key\": \"sk-leak-me", "arn:secret"))
        .isInstanceOf(SecretSource.SecretUnavailable.class)
        .hasMessageContaining("arn:secret")
        .hasMessageNotContaining("leak-me");
    assertThatThrownBy(() -> SecretsManagerSecretSource.parse("{\"other\":\"sk-leak-me\"}", "arn:secret"))
        .hasMessageContaining("master_key")
        .hasMessageNotContaining("leak-me");
    assertThatThrownBy(() -> SecretsManagerSecretSource.parse("   ", "arn:secret")).isInstanceOf(SecretSource.SecretUnavailable.class);
  }
}

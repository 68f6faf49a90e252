package aigw.core.secrets;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.secretsmanager.SecretsManagerClient;
import software.amazon.awssdk.services.secretsmanager.model.GetSecretValueRequest;
import software.amazon.awssdk.services.secretsmanager.model.GetSecretValueResponse;
import software.amazon.awssdk.services.secretsmanager.model.ResourceNotFoundException;

class ProviderCredentialsTest {
  /** A Secrets Manager stand-in holding one secret string (null: the secret does not exist). */
  private static SecretsManagerClient holding(String secretString) {
    return new SecretsManagerClient() {
      @Override
      public GetSecretValueResponse getSecretValue(GetSecretValueRequest request) {
        if (secretString == null) {
          throw ResourceNotFoundException.builder().message("Secrets Manager can't find the specified secret.").build();
        }
        return GetSecretValueResponse.builder().name(request.secretId()).secretString(secretString).build();
      }

      @Override
      public String serviceName() {
        return "secretsmanager";
      }

      @Override
      public void close() {}
    };
  }

  @Test
  void theModelListResolvesNamesFromTheSecretWhenTheEnvironmentLacksThem() {
    var names =
        ProviderCredentials.overlay(
            Map.of("AZURE_API_KEY", "from-env"),
            holding("{\"OPENAI_API_KEY\":\"sk-from-secret\",\"AZURE_API_KEY\":\"from-secret\",\"n\":5}"),
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:aigw-providers");
    assertThat(names).containsEntry("OPENAI_API_KEY", "sk-from-secret");
    assertThat(names).containsEntry("AZURE_API_KEY", "from-env"); // the environment wins
    assertThat(names).doesNotContainKey("n"); // not a string
  }

  @Test
  void anUnreadableOrMalformedSecretContributesNothingInsteadOfStoppingTheFunction() {
    assertThat(ProviderCredentials.overlay(Map.of("A", "1"), holding(null), "missing")).containsOnlyKeys("A");
    assertThat(ProviderCredentials.overlay(Map.of(), holding("sk-not-json"), "s")).isEmpty();
    assertThat(ProviderCredentials.overlay(Map.of(), holding("{}"), "s")).isEmpty();
  }
}

package aigw.core.secrets;

import aigw.core.json.Json;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.secretsmanager.SecretsManagerClient;
import software.amazon.awssdk.services.secretsmanager.model.GetSecretValueResponse;

/**
 * The master key in Secrets Manager (AWSCURRENT). The secret string is the key itself, or a JSON
 * object whose {@code master_key} field holds it (the shape CloudFormation's GenerateSecretString
 * with a template produces).
 */
public final class SecretsManagerSecretSource implements SecretSource {
  static final String JSON_FIELD = "master_key";

  private final SecretsManagerClient secrets;
  private final String secretId;

  public SecretsManagerSecretSource(SecretsManagerClient secrets, String secretId) {
    if (secretId == null || secretId.isBlank()) {
      throw new IllegalArgumentException("a secret name or ARN is required");
    }
    this.secrets = secrets;
    this.secretId = secretId;
  }

  @Override
  public String read() {
    GetSecretValueResponse response;
    try {
      response = secrets.getSecretValue(r -> r.secretId(secretId));
    } catch (SdkException e) {
      throw new SecretUnavailable("cannot read secret " + secretId + ": " + e.getMessage(), e);
    }
    return parse(response.secretString(), secretId);
  }

  static String parse(String secretString, String secretId) {
    if (secretString == null || secretString.isBlank()) {
      throw new SecretUnavailable("secret " + secretId + " has no string value", null);
    }
    String trimmed = secretString.trim();
    if (!trimmed.startsWith("{")) {
      return trimmed;
    }
    try {
      JsonNode field = Json.MAPPER.readTree(trimmed).get(JSON_FIELD);
      if (field == null || !field.isTextual() || field.asText().isBlank()) {
        throw new SecretUnavailable(
            "secret " + secretId + " is JSON without a \"" + JSON_FIELD + "\" string field", null);
      }
      return field.asText().trim();
    } catch (IOException e) {
      // Do not pass Jackson's message on: it quotes the secret's text.
      throw new SecretUnavailable("secret " + secretId + " is neither a key nor valid JSON", null);
    }
  }

  @Override
  public String describe() {
    return "Secrets Manager secret " + secretId;
  }
}

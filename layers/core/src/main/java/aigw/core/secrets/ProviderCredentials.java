package aigw.core.secrets;

import aigw.core.json.Json;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import java.util.logging.Logger;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.secretsmanager.SecretsManagerClient;

/**
 * Provider credentials on AWS: one Secrets Manager secret holding a JSON object of named keys,
 * e.g. {@code {"OPENAI_API_KEY": "sk-...", "AZURE_API_KEY": "..."}}. The model list's
 * {@code api_key: os.environ/OPENAI_API_KEY} reads the environment first and then this secret, so
 * one model list works locally (environment variables) and on Lambda (no provider key may sit in a
 * function's environment).
 */
public final class ProviderCredentials {
  private static final Logger LOG = Logger.getLogger(ProviderCredentials.class.getName());

  private ProviderCredentials() {}

  /**
   * The names the model list can resolve: the secret's fields overlaid by the environment. A secret
   * that cannot be read or parsed is logged (never its content) and contributes nothing, so the
   * deployments that need it answer 503 naming the missing credential instead of the function
   * failing to start.
   */
  public static Map<String, String> overlay(Map<String, String> env, SecretsManagerClient secrets, String secretId) {
    var names = new HashMap<String, String>();
    try {
      names.putAll(parse(secrets.getSecretValue(r -> r.secretId(secretId)).secretString(), secretId));
    } catch (SdkException | SecretSource.SecretUnavailable e) {
      LOG.severe("Cannot read provider credentials from " + secretId + ": " + e.getMessage());
    }
    names.putAll(env);
    return names;
  }

  static Map<String, String> parse(String secretString, String secretId) {
    if (secretString == null || secretString.isBlank()) {
      return Map.of();
    }
    JsonNode root;
    try {
      root = Json.MAPPER.readTree(secretString);
    } catch (IOException e) {
      throw new SecretSource.SecretUnavailable("secret " + secretId + " is not a JSON object of named keys", null);
    }
    if (root == null || !root.isObject()) {
      throw new SecretSource.SecretUnavailable("secret " + secretId + " is not a JSON object of named keys", null);
    }
    var names = new HashMap<String, String>();
    root.fields().forEachRemaining(field -> {
      if (field.getValue().isTextual()) {
        names.put(field.getKey(), field.getValue().asText());
      } else {
        LOG.warning("Provider credential " + field.getKey() + " in " + secretId + " is not a string; ignored");
      }
    });
    return names;
  }
}

package aigw.core.secrets;

import aigw.core.json.Json;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.time.Instant;
import java.util.function.Consumer;
import java.util.logging.Logger;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.secretsmanager.SecretsManagerClient;
import software.amazon.awssdk.services.secretsmanager.model.GetSecretValueRequest;
import software.amazon.awssdk.services.secretsmanager.model.GetSecretValueResponse;
import software.amazon.awssdk.services.secretsmanager.model.ResourceNotFoundException;

/**
 * The master key in Secrets Manager (AWSCURRENT, and AWSPREVIOUS right after a rotation). The secret
 * string is the key itself, or a JSON object whose {@code master_key} field holds it (the shape
 * CloudFormation's GenerateSecretString with a template produces, and the rotation function keeps).
 * Only GetSecretValue is called, so the functions need no other permission on the secret.
 */
public final class SecretsManagerSecretSource implements SecretSource {
  public static final String JSON_FIELD = "master_key";
  private static final Logger LOG = Logger.getLogger(SecretsManagerSecretSource.class.getName());

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
    return parse(get(r -> r.secretId(secretId)).secretString(), secretId);
  }

  /**
   * AWSCURRENT with its CreatedDate, which is when the rotation (or put-secret-value) created it:
   * every container derives the same instant from it, so the previous key stops working everywhere at
   * once. AWSPREVIOUS is read only when that is recent enough to matter, so outside the grace period
   * a refresh stays one call.
   */
  @Override
  public Versions readVersions(Instant previousWantedIfRotatedAfter) {
    GetSecretValueResponse current = get(r -> r.secretId(secretId));
    String key = parse(current.secretString(), secretId);
    Instant since = current.createdDate();
    String previous = null;
    if (previousWantedIfRotatedAfter != null && since != null && since.isAfter(previousWantedIfRotatedAfter)) {
      try {
        previous = parse(get(r -> r.secretId(secretId).versionStage("AWSPREVIOUS")).secretString(), secretId);
      } catch (SecretUnavailable e) {
        if (!(e.getCause() instanceof ResourceNotFoundException)) { // none is normal: a secret never rotated
          LOG.warning("Could not read the previous master key (" + e.getMessage() + "); only the current one is accepted.");
        }
      }
    }
    return new Versions(key, since, previous);
  }

  private GetSecretValueResponse get(Consumer<GetSecretValueRequest.Builder> request) {
    try {
      return secrets.getSecretValue(request);
    } catch (SdkException e) {
      throw new SecretUnavailable("cannot read secret " + secretId + ": " + e.getMessage(), e);
    }
  }

  /** The master key in a secret string: the string itself, or its JSON {@code master_key} field. */
  public static String parse(String secretString, String secretId) {
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

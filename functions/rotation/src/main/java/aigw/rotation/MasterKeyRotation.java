package aigw.rotation;

import aigw.core.json.Json;
import aigw.core.keys.ApiKeys;
import aigw.core.secrets.SecretSource;
import aigw.core.secrets.SecretsManagerSecretSource;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.security.MessageDigest;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.logging.Logger;
import java.util.regex.Pattern;
import software.amazon.awssdk.services.secretsmanager.SecretsManagerClient;
import software.amazon.awssdk.services.secretsmanager.model.DescribeSecretResponse;
import software.amazon.awssdk.services.secretsmanager.model.ResourceNotFoundException;

/**
 * The four steps of a Secrets Manager rotation of the master key, as Secrets Manager calls them
 * (each step may be retried, so each is idempotent):
 *
 * <ol>
 *   <li>createSecret: put a new key as the AWSPENDING version whose id is the token, unless that
 *       version already has a value;
 *   <li>setSecret: nothing to do: no other system holds the master key, the gateway reads it from
 *       this secret;
 *   <li>testSecret: the pending value must be one the gateway reads as a well-formed key;
 *   <li>finishSecret: move AWSCURRENT to the pending version (Secrets Manager then labels the old one
 *       AWSPREVIOUS, which the gateway accepts for its grace period).
 * </ol>
 *
 * The secret keeps its shape: a JSON secret keeps every other field and gets the new key in
 * {@code master_key}; a plain-string secret stays a plain string.
 */
public final class MasterKeyRotation {
  private static final Logger LOG = Logger.getLogger(MasterKeyRotation.class.getName());
  static final String CURRENT = "AWSCURRENT";
  static final String PENDING = "AWSPENDING";
  /** {@code sk-} and at least 32 URL-safe characters: what {@link ApiKeys#generate} makes, with margin for none. */
  private static final Pattern WELL_FORMED = Pattern.compile("sk-[A-Za-z0-9_-]{32,}");

  /** A step that must not go on; Secrets Manager sees the invocation fail and retries later. */
  public static final class RotationRefused extends RuntimeException {
    RotationRefused(String message) {
      super(message);
    }
  }

  private final SecretsManagerClient secrets;
  private final Supplier<String> newKey;

  public MasterKeyRotation(SecretsManagerClient secrets) {
    this(secrets, ApiKeys::generate);
  }

  MasterKeyRotation(SecretsManagerClient secrets, Supplier<String> newKey) { // tests: a chosen next key
    this.secrets = secrets;
    this.newKey = newKey;
  }

  /**
   * Runs one step for the version {@code token}, after the checks of AWS's rotation template:
   * rotation is enabled and the version is staged AWSPENDING (or already AWSCURRENT: a finished
   * rotation retried, nothing to do).
   *
   * @param rotationToken the event's RotationToken, passed on to PutSecretValue (null when absent)
   */
  public void run(String secretId, String token, String step, String rotationToken) {
    if (secretId == null || token == null || step == null) {
      throw new IllegalArgumentException("a rotation event needs SecretId, ClientRequestToken and Step");
    }
    DescribeSecretResponse secret = secrets.describeSecret(r -> r.secretId(secretId));
    if (!Boolean.TRUE.equals(secret.rotationEnabled())) {
      throw new RotationRefused("rotation is not enabled for secret " + secretId);
    }
    List<String> stages = secret.versionIdsToStages().get(token);
    if (stages == null) {
      throw new RotationRefused("version " + token + " of secret " + secretId + " has no stage for rotation");
    }
    if (stages.contains(CURRENT)) {
      LOG.info(step + ": version " + token + " of " + secretId + " is already AWSCURRENT; nothing to do.");
      return;
    }
    if (!stages.contains(PENDING)) {
      throw new RotationRefused("version " + token + " of secret " + secretId + " is not staged AWSPENDING");
    }
    switch (step) {
      case "createSecret" -> createSecret(secretId, token, rotationToken);
      case "setSecret" -> LOG.info("setSecret: nothing to set; the gateway reads the master key from " + secretId + " itself.");
      case "testSecret" -> testSecret(secretId, token);
      case "finishSecret" -> finishSecret(secretId, token, secret.versionIdsToStages());
      default -> throw new IllegalArgumentException("unknown rotation step " + step);
    }
  }

  void createSecret(String secretId, String token, String rotationToken) { // package-private: the LocalStack test stages the version itself
    String current = secrets.getSecretValue(r -> r.secretId(secretId).versionStage(CURRENT)).secretString();
    try {
      secrets.getSecretValue(r -> r.secretId(secretId).versionId(token).versionStage(PENDING));
      LOG.info("createSecret: version " + token + " of " + secretId + " already has a value; kept.");
      return;
    } catch (ResourceNotFoundException e) {
      // The usual case: Secrets Manager created the version without a value.
    }
    String key = newKey.get();
    secrets.putSecretValue(r -> r.secretId(secretId).clientRequestToken(token).secretString(withMasterKey(current, key))
        .versionStages(PENDING).rotationToken(rotationToken));
    LOG.info("createSecret: new master key " + ApiKeys.mask(key) + " staged AWSPENDING as version " + token + " of " + secretId + ".");
  }

  private void testSecret(String secretId, String token) {
    String pendingValue = secrets.getSecretValue(r -> r.secretId(secretId).versionId(token).versionStage(PENDING)).secretString();
    String currentValue = secrets.getSecretValue(r -> r.secretId(secretId).versionStage(CURRENT)).secretString();
    String pending;
    try {
      pending = SecretsManagerSecretSource.parse(pendingValue, secretId); // exactly as the gateway will read it
    } catch (SecretSource.SecretUnavailable e) {
      throw new RotationRefused("testSecret: the pending value is not one the gateway can read: " + e.getMessage());
    }
    String current = SecretsManagerSecretSource.parse(currentValue, secretId);
    if (MessageDigest.isEqual(ApiKeys.sha256(pending), ApiKeys.sha256(current))) {
      // RotateSecret with RotateImmediately=false (our RotationSchedule) tests the function by
      // running only this step on an AWSPENDING copy of the current value. Finishing such a version
      // would change nothing, so it passes; a real rotation always carries a fresh key.
      LOG.info("testSecret: version " + token + " holds the current key (Secrets Manager testing the rotation configuration); nothing would change.");
      return;
    }
    if (!WELL_FORMED.matcher(pending).matches()) {
      throw new RotationRefused("testSecret: the pending master key " + ApiKeys.mask(pending)
          + " is not sk- followed by at least 32 URL-safe characters");
    }
    LOG.info("testSecret: pending master key " + ApiKeys.mask(pending) + " is well-formed and differs from the current one.");
  }

  private void finishSecret(String secretId, String token, Map<String, List<String>> versionIdsToStages) {
    String current = versionIdsToStages.entrySet().stream()
        .filter(v -> v.getValue().contains(CURRENT)).map(Map.Entry::getKey).findFirst().orElse(null);
    secrets.updateSecretVersionStage(r -> r.secretId(secretId).versionStage(CURRENT).moveToVersionId(token).removeFromVersionId(current));
    LOG.info("finishSecret: version " + token + " of " + secretId + " is AWSCURRENT; " + current + " became AWSPREVIOUS.");
  }

  /** The secret string with {@code key} as its master key, in the same shape as {@code current}. */
  static String withMasterKey(String current, String key) {
    if (current == null || !current.trim().startsWith("{")) {
      return key;
    }
    try {
      JsonNode root = Json.MAPPER.readTree(current);
      if (!(root instanceof ObjectNode object)) {
        throw new RotationRefused("the current secret is JSON but not an object");
      }
      object.put(SecretsManagerSecretSource.JSON_FIELD, key);
      return Json.MAPPER.writeValueAsString(object);
    } catch (JsonProcessingException e) {
      // Not Jackson's message: it quotes the secret.
      throw new RotationRefused("the current secret starts like JSON but is not valid JSON");
    }
  }
}

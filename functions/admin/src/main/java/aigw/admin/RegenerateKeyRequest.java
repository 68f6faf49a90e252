package aigw.admin;

import aigw.core.errors.BadRequest;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * {@code POST /key/regenerate} and {@code /key/{key}/regenerate} (LiteLLM's RegenerateKeyRequest,
 * the fields aigw takes).
 *
 * @param key the key to give a new value, from the path or the body
 * @param newKey the new value the caller chose; empty: the gateway makes one
 * @param gracePeriod how long the current value keeps working; empty: the key's own setting, else 0
 * @param fieldsSet the names of the fields the request sets, for the audit log
 */
record RegenerateKeyRequest(
    String key,
    Optional<String> newKey,
    Optional<Duration> gracePeriod,
    Optional<Durations.Lifetime> duration,
    Optional<Map<String, Object>> metadata,
    Optional<Boolean> blocked,
    List<String> fieldsSet) {

  static final Set<String> FIELDS = Set.of("key", "new_key", "grace_period", "duration", "metadata", "blocked", "new_master_key");

  /**
   * @param keyInPath the key of {@code /key/{key}/regenerate}, decoded; null on {@code /key/regenerate}
   * @throws BadRequest for {@code new_master_key} (Secrets Manager rotates the master key), a
   *     missing key, a body key other than the path's, or an unknown, unsupported or mistyped field
   */
  static RegenerateKeyRequest from(ObjectNode body, String keyInPath) {
    var fields = new Fields(body, FIELDS);
    if (fields.has("new_master_key")) {
      throw new BadRequest(
          "The master key is rotated by Secrets Manager, not by this call: aws secretsmanager rotate-secret --secret-id "
              + "<MasterKeySecretArn> (docs/operations.md).",
          "new_master_key");
    }
    String key = keyInPath != null ? keyInPath : fields.requiredText("key");
    if (keyInPath != null && fields.text("key").filter(k -> !k.equals(keyInPath)).isPresent()) {
      throw new BadRequest("'key' in the body names another key than the path.", "key");
    }
    return new RegenerateKeyRequest(
        key,
        fields.text("new_key"),
        fields.text("grace_period").map(t -> Durations.parseAllowingZero(t, "grace_period")),
        fields.text("duration").map(d -> Durations.lifetime(d, "duration")),
        fields.object("metadata"),
        fields.bool("blocked"),
        fields.namesSet());
  }
}

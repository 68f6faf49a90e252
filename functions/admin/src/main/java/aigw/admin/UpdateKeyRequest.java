package aigw.admin;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Set;

/**
 * {@code POST /key/update} (LiteLLM's UpdateKeyRequest, the fields aigw implements).
 *
 * @param key the key to change: its value, a value rotated out of it, or its hash
 * @param fieldsSet the names of the fields the request sets, for the audit log
 */
record UpdateKeyRequest(String key, KeySettings settings, List<String> fieldsSet) {
  static final Set<String> FIELDS = GenerateKeyRequest.FIELDS;

  /** @throws aigw.core.errors.BadRequest naming a missing, unknown, unsupported or mistyped field */
  static UpdateKeyRequest from(ObjectNode body) {
    var fields = new Fields(body, FIELDS);
    String key = fields.requiredText("key");
    return new UpdateKeyRequest(key, KeySettings.from(fields), fields.namesSet());
  }
}

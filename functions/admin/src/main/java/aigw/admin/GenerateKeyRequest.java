package aigw.admin;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * {@code POST /key/generate} (LiteLLM's GenerateKeyRequest, the fields aigw implements).
 *
 * @param key a value the caller chose; empty: the gateway makes one
 * @param fieldsSet the names of the fields the request sets, for the audit log
 */
record GenerateKeyRequest(Optional<String> key, KeySettings settings, List<String> fieldsSet) {
  static final Set<String> FIELDS = with(KeySettings.FIELDS, "key");

  /** @throws aigw.core.errors.BadRequest naming an unknown, unsupported or mistyped field */
  static GenerateKeyRequest from(ObjectNode body) {
    var fields = new Fields(body, FIELDS);
    return new GenerateKeyRequest(fields.text("key"), KeySettings.from(fields), fields.namesSet());
  }

  /** {@code fields} and {@code more}. */
  static Set<String> with(Set<String> fields, String... more) {
    var all = new HashSet<>(fields);
    all.addAll(List.of(more));
    return Set.copyOf(all);
  }
}

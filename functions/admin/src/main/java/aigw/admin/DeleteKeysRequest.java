package aigw.admin;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Set;

/**
 * {@code POST /key/delete} (LiteLLM's KeyRequest): the keys to delete, by value or hash, and by alias.
 */
record DeleteKeysRequest(List<String> keys, List<String> keyAliases) {
  static final Set<String> FIELDS = Set.of("keys", "key_aliases");

  static DeleteKeysRequest from(ObjectNode body) {
    var fields = new Fields(body, FIELDS);
    return new DeleteKeysRequest(fields.strings("keys").orElse(List.of()), fields.strings("key_aliases").orElse(List.of()));
  }
}

package aigw.admin;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Set;

/**
 * A request that only names a key: {@code POST /key/block}, {@code /key/unblock}, {@code /key/retrieve}.
 *
 * @param key the key's value, a value rotated out of it, or its hash
 */
record KeyReference(String key) {
  static final Set<String> FIELDS = Set.of("key");

  static KeyReference from(ObjectNode body) {
    return new KeyReference(new Fields(body, FIELDS).requiredText("key"));
  }
}

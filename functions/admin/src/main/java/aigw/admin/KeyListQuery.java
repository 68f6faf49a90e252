package aigw.admin;

import aigw.core.errors.BadRequest;
import aigw.core.http.GatewayRequest;
import aigw.core.keys.VirtualKey;
import java.util.Comparator;
import java.util.Optional;
import java.util.Set;

/**
 * {@code GET /key/list}'s query (LiteLLM's parameters that aigw implements).
 *
 * @param page 1-based page number
 * @param size keys per page, at most {@link #MAX_PAGE_SIZE}
 * @param fullObjects {@code return_full_object=true}: each key's info instead of its hash
 * @param order {@code sort_by} and {@code sort_order}
 * @param userId filter; null: any (likewise teamId, keyAlias, keyHash)
 */
record KeyListQuery(
    int page, int size, boolean fullObjects, Comparator<VirtualKey> order, String userId, String teamId, String keyAlias, String keyHash) {
  static final int MAX_PAGE_SIZE = 100;
  private static final Set<String> PARAMS =
      Set.of("page", "size", "user_id", "team_id", "key_alias", "key_hash", "return_full_object", "sort_by", "sort_order");
  private static final Set<String> NOT_YET = Set.of("organization_id", "include_team_keys", "project_id");

  static KeyListQuery from(GatewayRequest request) {
    var params = new QueryParams(request, PARAMS, NOT_YET);
    int page = params.positiveInt("page", 1, Integer.MAX_VALUE);
    int size = params.positiveInt("size", 10, MAX_PAGE_SIZE);
    boolean full = Boolean.parseBoolean(params.text("return_full_object"));
    String sortBy = Optional.ofNullable(params.text("sort_by")).orElse("created_at");
    String sortOrder = Optional.ofNullable(params.text("sort_order")).orElse("desc");
    Comparator<VirtualKey> order =
        switch (sortBy) {
          case "created_at" -> Comparator.comparing(VirtualKey::createdAt);
          case "updated_at" -> Comparator.comparing(VirtualKey::updatedAt);
          case "key_alias" -> Comparator.comparing(k -> k.keyAlias() == null ? "" : k.keyAlias());
          default -> throw new BadRequest("'sort_by' must be created_at, updated_at or key_alias.", "sort_by");
        };
    order =
        switch (sortOrder) {
          case "asc" -> order;
          case "desc" -> order.reversed();
          default -> throw new BadRequest("'sort_order' must be asc or desc.", "sort_order");
        };
    return new KeyListQuery(
        page, size, full, order, params.text("user_id"), params.text("team_id"), params.text("key_alias") == null ? null : aigw.core.keys.KeyRules.alias(params.text("key_alias"), "key_alias"), params.text("key_hash"));
  }

  /** Whether the key passes every filter the query sets. */
  boolean matches(VirtualKey key) {
    return matches(userId, key.userId()) && matches(teamId, key.teamId()) && matches(keyAlias, key.keyAlias())
        && matches(keyHash, key.tokenHash());
  }

  private static boolean matches(String wanted, String actual) {
    return wanted == null || wanted.equals(actual);
  }
}

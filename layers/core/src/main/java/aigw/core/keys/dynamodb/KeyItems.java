package aigw.core.keys.dynamodb;

import aigw.core.json.Json;
import aigw.core.keys.KeyUsage;
import aigw.core.keys.VirtualKey;
import com.fasterxml.jackson.core.type.TypeReference;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/** The keys table's item layout: one item per key hash, attribute names as in LiteLLM's API. */
final class KeyItems {
  static final String TOKEN_HASH = "token_hash";
  static final String KEY_ID = "key_id";
  static final String KEY_NAME = "key_name";
  static final String KEY_ALIAS = "key_alias";
  static final String MODELS = "models";
  static final String TEAM_ID = "team_id";
  static final String USER_ID = "user_id";
  static final String METADATA = "metadata"; // JSON text: keeps any shape the admin sent
  static final String CREATED_AT = "created_at";
  static final String UPDATED_AT = "updated_at";
  /** Epoch seconds, the unit DynamoDB TTL reads. */
  static final String EXPIRES_AT = "expires_at";
  static final String BLOCKED = "blocked";
  static final String REQUEST_COUNT = "request_count";
  static final String PROMPT_TOKENS = "prompt_tokens";
  static final String COMPLETION_TOKENS = "completion_tokens";
  static final String TOTAL_TOKENS = "total_tokens";
  static final String LAST_USED_AT = "last_used_at";

  private static final TypeReference<Map<String, Object>> METADATA_TYPE = new TypeReference<>() {};

  private KeyItems() {}

  static Map<String, AttributeValue> toItem(VirtualKey key) {
    var item = new HashMap<String, AttributeValue>();
    item.put(TOKEN_HASH, s(key.tokenHash()));
    item.put(KEY_ID, s(key.keyId()));
    item.put(KEY_NAME, s(key.keyName()));
    putIfPresent(item, KEY_ALIAS, key.keyAlias());
    item.put(MODELS, models(key.models()));
    putIfPresent(item, TEAM_ID, key.teamId());
    putIfPresent(item, USER_ID, key.userId());
    item.put(METADATA, metadata(key.metadata()));
    item.put(CREATED_AT, s(key.createdAt().toString()));
    item.put(UPDATED_AT, s(key.updatedAt().toString()));
    if (key.expiresAt() != null) {
      item.put(EXPIRES_AT, epochSeconds(key.expiresAt()));
    }
    item.put(BLOCKED, AttributeValue.fromBool(key.blocked()));
    item.put(REQUEST_COUNT, n(key.usage().requests()));
    item.put(PROMPT_TOKENS, n(key.usage().promptTokens()));
    item.put(COMPLETION_TOKENS, n(key.usage().completionTokens()));
    item.put(TOTAL_TOKENS, n(key.usage().totalTokens()));
    return item;
  }

  static VirtualKey fromItem(Map<String, AttributeValue> item) {
    return new VirtualKey(
        text(item, TOKEN_HASH),
        text(item, KEY_ID),
        text(item, KEY_NAME),
        text(item, KEY_ALIAS),
        item.containsKey(MODELS) ? item.get(MODELS).l().stream().map(AttributeValue::s).toList() : List.of(),
        text(item, TEAM_ID),
        text(item, USER_ID),
        readMetadata(text(item, METADATA)),
        instant(item, CREATED_AT),
        instant(item, UPDATED_AT),
        item.containsKey(EXPIRES_AT) ? Instant.ofEpochSecond(Long.parseLong(item.get(EXPIRES_AT).n())) : null,
        item.containsKey(BLOCKED) && Boolean.TRUE.equals(item.get(BLOCKED).bool()),
        new KeyUsage(
            number(item, REQUEST_COUNT),
            number(item, PROMPT_TOKENS),
            number(item, COMPLETION_TOKENS),
            number(item, TOTAL_TOKENS),
            instant(item, LAST_USED_AT)));
  }

  static AttributeValue s(String value) {
    return AttributeValue.fromS(value);
  }

  static AttributeValue n(long value) {
    return AttributeValue.fromN(Long.toString(value));
  }

  static AttributeValue epochSeconds(Instant instant) {
    return n(instant.getEpochSecond());
  }

  static AttributeValue models(List<String> models) {
    return AttributeValue.fromL(models.stream().map(AttributeValue::fromS).toList());
  }

  static AttributeValue metadata(Map<String, Object> metadata) {
    return s(Json.string(metadata));
  }

  private static void putIfPresent(Map<String, AttributeValue> item, String name, String value) {
    if (value != null) {
      item.put(name, s(value));
    }
  }

  private static String text(Map<String, AttributeValue> item, String name) {
    AttributeValue value = item.get(name);
    return value == null ? null : value.s();
  }

  private static long number(Map<String, AttributeValue> item, String name) {
    AttributeValue value = item.get(name);
    return value == null || value.n() == null ? 0 : Long.parseLong(value.n());
  }

  private static Instant instant(Map<String, AttributeValue> item, String name) {
    String value = text(item, name);
    return value == null ? null : Instant.parse(value);
  }

  private static Map<String, Object> readMetadata(String json) {
    if (json == null || json.isEmpty()) {
      return Map.of();
    }
    try {
      return Json.MAPPER.readValue(json, METADATA_TYPE);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}

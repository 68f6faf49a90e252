package aigw.core.keys.dynamodb;

import aigw.core.json.Json;
import aigw.core.keys.KeyRotation;
import aigw.core.keys.KeyUsage;
import aigw.core.limits.Limits;
import aigw.core.keys.VirtualKey;
import com.fasterxml.jackson.core.type.TypeReference;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/**
 * The keys table's item layout, attribute names as in LiteLLM's API. Four kinds of item share the
 * table, told apart by their partition key:
 *
 * <ul>
 *   <li>a key: {@code token_hash} = SHA-256 of its current value (64 hex characters), its settings;
 *   <li>a rotated-out value: the old hash, {@code rotated_to} = the key's next hash, {@code
 *       valid_until} = end of its grace period;
 *   <li>a key's usage: {@code usage#<key_id>}, the counters every proxied request adds to;
 *   <li>an alias guard: {@code alias#<alias>}, {@code alias_of} = the key's hash (aliases are unique).
 * </ul>
 *
 * {@code purge_at} (epoch seconds) is the table's TTL attribute: DynamoDB deletes rotated-out values
 * after their grace period (or after an older value's, while that one still leads through them), and expired keys (with their usage and alias) a retention period after
 * their expiry. Both stop working at the exact instant, whether or not TTL has run yet.
 */
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
  /** Epoch seconds. */
  static final String EXPIRES_AT = "expires_at";
  static final String BLOCKED = "blocked";

  // Rotation settings and state.
  static final String AUTO_ROTATE = "auto_rotate";
  static final String ROTATION_INTERVAL_SECONDS = "rotation_interval_seconds";
  static final String GRACE_PERIOD_SECONDS = "grace_period_seconds";
  static final String ROTATION_SECRET = "rotation_secret";
  /** Epoch seconds: the sort key of the {@link #ROTATION_DUE_INDEX}. */
  static final String KEY_ROTATION_AT = "key_rotation_at";
  /**
   * The due index's partition key, {@link #SCHEDULED}, present only on keys the schedule rotates:
   * the index holds those keys alone, so finding the due ones never reads the rest.
   */
  static final String ROTATION_SCHEDULE = "rotation_schedule";
  static final String SCHEDULED = "scheduled";
  static final String ROTATION_DUE_INDEX = "RotationDue";
  static final String LAST_ROTATION_AT = "last_rotation_at";
  static final String ROTATION_COUNT = "rotation_count";
  static final String PREVIOUS_KEY_VALID_UNTIL = "previous_key_valid_until";
  /** Epoch seconds: the latest end of any value rotated out of the key; their items are purged then. */
  static final String ROTATED_OUT_UNTIL = "rotated_out_until";
  static final String EARLIER_VALUES_REVOKED_AT = "earlier_values_revoked_at";

  // A rotated-out value.
  static final String ROTATED_TO = "rotated_to";
  static final String VALID_UNTIL = "valid_until";
  /** When the value was rotated out; a later rotation without grace revokes it if it is not after. */
  static final String ROTATED_AT = "rotated_at";

  // Usage items.
  static final String USAGE_PREFIX = "usage#";
  static final String REQUEST_COUNT = "request_count";
  static final String PROMPT_TOKENS = "prompt_tokens";
  static final String COMPLETION_TOKENS = "completion_tokens";
  static final String TOTAL_TOKENS = "total_tokens";
  static final String LAST_USED_AT = "last_used_at";
  /** Requests counted with estimated tokens (a stream cut off before the provider's usage). */
  static final String ESTIMATED_REQUEST_COUNT = "estimated_request_count";
  /** USD the key's requests cost, an exact decimal added to by each request (LiteLLM's {@code spend}). */
  static final String SPEND = "spend";

  // Limits (LiteLLM's names; aigw.core.limits.Limits), on the key item. Their state is in limits#<scope> items.
  static final String RPM_LIMIT = "rpm_limit";
  static final String TPM_LIMIT = "tpm_limit";
  static final String MAX_PARALLEL_REQUESTS = "max_parallel_requests";
  static final String MAX_BUDGET = "max_budget";
  static final String SOFT_BUDGET = "soft_budget";
  static final String BUDGET_DURATION = "budget_duration";

  // Alias guards.
  static final String ALIAS_GUARD_PREFIX = "alias#";
  static final String ALIAS_OF = "alias_of";

  /** The TTL attribute (template.yaml's TimeToLiveSpecification). */
  static final String PURGE_AT = "purge_at";
  /** How long an expired key stays listable (and extendable with /key/update) before TTL removes it. */
  static final Duration EXPIRED_KEY_RETENTION = Duration.ofDays(7);

  private static final TypeReference<Map<String, Object>> METADATA_TYPE = new TypeReference<>() {};

  private KeyItems() {}

  static String usageKey(String keyId) {
    return USAGE_PREFIX + keyId;
  }

  static String guardKey(String alias) {
    return ALIAS_GUARD_PREFIX + alias;
  }

  /** When DynamoDB may delete a key with this expiry and its companions; null for never. */
  static Instant purgeAt(Instant expiresAt) {
    return expiresAt == null ? null : expiresAt.plus(EXPIRED_KEY_RETENTION);
  }

  /**
   * A key's own item: its partition key is a hash (hex, no {@code #}). Every other item in the table
   * ({@code usage#}, {@code alias#}, a team's {@code team#}, any companion added later) has a {@code #}.
   */
  static boolean isKey(Map<String, AttributeValue> item) {
    String pk = item.get(TOKEN_HASH).s();
    return pk.indexOf('#') < 0 && !item.containsKey(ROTATED_TO);
  }

  static boolean isRotatedOut(Map<String, AttributeValue> item) {
    return item.containsKey(ROTATED_TO);
  }

  static boolean isUsage(Map<String, AttributeValue> item) {
    return item.get(TOKEN_HASH).s().startsWith(USAGE_PREFIX);
  }

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
      item.put(PURGE_AT, epochSeconds(purgeAt(key.expiresAt())));
    }
    item.put(BLOCKED, AttributeValue.fromBool(key.blocked()));
    putLimits(item, key.limits());
    item.putAll(rotationSettings(key.rotation()));
    KeyRotation rotation = key.rotation();
    if (rotation.lastRotatedAt() != null) {
      item.put(LAST_ROTATION_AT, s(rotation.lastRotatedAt().toString()));
    }
    if (rotation.count() > 0) {
      item.put(ROTATION_COUNT, n(rotation.count()));
    }
    if (rotation.previousKeyValidUntil() != null) {
      item.put(PREVIOUS_KEY_VALID_UNTIL, s(rotation.previousKeyValidUntil().toString()));
    }
    if (rotation.earlierValuesRevokedAt() != null) {
      item.put(EARLIER_VALUES_REVOKED_AT, s(rotation.earlierValuesRevokedAt().toString()));
    }
    if (rotation.rotatedOutUntil() != null) {
      item.put(ROTATED_OUT_UNTIL, epochSeconds(rotation.rotatedOutUntil()));
    }
    return item;
  }

  /** The rotation settings' attributes; absent ones are left out (and removed on update). */
  static Map<String, AttributeValue> rotationSettings(KeyRotation rotation) {
    var item = new HashMap<String, AttributeValue>();
    if (rotation.autoRotate()) {
      item.put(AUTO_ROTATE, AttributeValue.fromBool(true));
    }
    if (rotation.interval() != null) {
      item.put(ROTATION_INTERVAL_SECONDS, n(rotation.interval().toSeconds()));
    }
    if (rotation.gracePeriod() != null) {
      item.put(GRACE_PERIOD_SECONDS, n(rotation.gracePeriod().toSeconds()));
    }
    if (rotation.secretTarget() != null) {
      item.put(ROTATION_SECRET, s(rotation.secretTarget()));
    }
    if (rotation.nextRotationAt() != null) {
      item.put(KEY_ROTATION_AT, epochSeconds(rotation.nextRotationAt()));
      item.put(ROTATION_SCHEDULE, s(SCHEDULED));
    }
    return item;
  }

  static final List<String> ROTATION_SETTING_ATTRIBUTES =
      List.of(AUTO_ROTATE, ROTATION_INTERVAL_SECONDS, GRACE_PERIOD_SECONDS, ROTATION_SECRET, KEY_ROTATION_AT, ROTATION_SCHEDULE);

  /**
   * What is left of a key value after a rotation: a pointer to the key's new hash, valid until
   * {@code graceEnd}. It is purged at {@code purgeAt}, no earlier than its own end but later if an
   * older value still works through it.
   */
  static Map<String, AttributeValue> rotatedOutItem(
      VirtualKey old, String newTokenHash, Instant rotatedAt, Instant graceEnd, Instant purgeAt) {
    return Map.of(
        TOKEN_HASH, s(old.tokenHash()),
        KEY_ID, s(old.keyId()),
        KEY_NAME, s(old.keyName()),
        ROTATED_TO, s(newTokenHash),
        ROTATED_AT, s(rotatedAt.toString()),
        VALID_UNTIL, s(graceEnd.toString()),
        PURGE_AT, epochSeconds(purgeAt.isAfter(graceEnd) ? purgeAt : graceEnd));
  }

  static Map<String, AttributeValue> usageItem(VirtualKey key) {
    var item = new HashMap<String, AttributeValue>();
    item.put(TOKEN_HASH, s(usageKey(key.keyId())));
    item.put(KEY_ID, s(key.keyId()));
    item.put(REQUEST_COUNT, n(key.usage().requests()));
    item.put(PROMPT_TOKENS, n(key.usage().promptTokens()));
    item.put(COMPLETION_TOKENS, n(key.usage().completionTokens()));
    item.put(TOTAL_TOKENS, n(key.usage().totalTokens()));
    item.put(ESTIMATED_REQUEST_COUNT, n(key.usage().estimatedRequests()));
    item.put(SPEND, AttributeValue.fromN(key.usage().spend().toPlainString()));
    if (key.expiresAt() != null) {
      item.put(PURGE_AT, epochSeconds(purgeAt(key.expiresAt())));
    }
    return item;
  }

  static Map<String, AttributeValue> guardItem(String alias, String tokenHash, Instant expiresAt) {
    var item = new HashMap<String, AttributeValue>();
    item.put(TOKEN_HASH, s(guardKey(alias)));
    item.put(ALIAS_OF, s(tokenHash));
    if (expiresAt != null) {
      item.put(PURGE_AT, epochSeconds(purgeAt(expiresAt)));
    }
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
        epochInstant(item, EXPIRES_AT),
        item.containsKey(BLOCKED) && Boolean.TRUE.equals(item.get(BLOCKED).bool()),
        KeyUsage.NONE,
        new KeyRotation(
            item.containsKey(AUTO_ROTATE) && Boolean.TRUE.equals(item.get(AUTO_ROTATE).bool()),
            seconds(item, ROTATION_INTERVAL_SECONDS),
            seconds(item, GRACE_PERIOD_SECONDS),
            text(item, ROTATION_SECRET),
            epochInstant(item, KEY_ROTATION_AT),
            instant(item, LAST_ROTATION_AT),
            number(item, ROTATION_COUNT),
            instant(item, PREVIOUS_KEY_VALID_UNTIL),
            epochInstant(item, ROTATED_OUT_UNTIL),
            instant(item, EARLIER_VALUES_REVOKED_AT)),
        null,
        limits(item));
  }

  private static void putLimits(Map<String, AttributeValue> item, Limits limits) {
    if (limits.rpmLimit() != null) {
      item.put(RPM_LIMIT, n(limits.rpmLimit()));
    }
    if (limits.tpmLimit() != null) {
      item.put(TPM_LIMIT, n(limits.tpmLimit()));
    }
    if (limits.maxParallelRequests() != null) {
      item.put(MAX_PARALLEL_REQUESTS, n(limits.maxParallelRequests()));
    }
    if (limits.maxBudget() != null) {
      item.put(MAX_BUDGET, AttributeValue.fromN(limits.maxBudget().toPlainString()));
    }
    if (limits.softBudget() != null) {
      item.put(SOFT_BUDGET, AttributeValue.fromN(limits.softBudget().toPlainString()));
    }
    putIfPresent(item, BUDGET_DURATION, limits.budgetDuration());
  }

  private static Limits limits(Map<String, AttributeValue> item) {
    Long parallel = optionalNumber(item, MAX_PARALLEL_REQUESTS);
    return new Limits(
        optionalNumber(item, RPM_LIMIT),
        optionalNumber(item, TPM_LIMIT),
        parallel == null ? null : parallel.intValue(),
        optionalDecimal(item, MAX_BUDGET),
        optionalDecimal(item, SOFT_BUDGET),
        text(item, BUDGET_DURATION));
  }

  private static Long optionalNumber(Map<String, AttributeValue> item, String name) {
    AttributeValue value = item.get(name);
    return value == null || value.n() == null ? null : Long.parseLong(value.n());
  }

  /** A decimal setting; null when absent. */
  private static java.math.BigDecimal optionalDecimal(Map<String, AttributeValue> item, String name) {
    AttributeValue value = item.get(name);
    return value == null || value.n() == null ? null : new java.math.BigDecimal(value.n());
  }

  static KeyUsage usageFromItem(Map<String, AttributeValue> item) {
    return new KeyUsage(
        number(item, REQUEST_COUNT),
        number(item, PROMPT_TOKENS),
        number(item, COMPLETION_TOKENS),
        number(item, TOTAL_TOKENS),
        instant(item, LAST_USED_AT),
        number(item, ESTIMATED_REQUEST_COUNT),
        decimal(item, SPEND));
  }

  /** A decimal attribute as it is stored (DynamoDB numbers are exact decimals of up to 38 digits); 0 when absent. */
  private static java.math.BigDecimal decimal(Map<String, AttributeValue> item, String name) {
    AttributeValue value = item.get(name);
    return value == null || value.n() == null ? java.math.BigDecimal.ZERO : new java.math.BigDecimal(value.n());
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

  static String text(Map<String, AttributeValue> item, String name) {
    AttributeValue value = item.get(name);
    return value == null ? null : value.s();
  }

  /**
   * A counter as a long, saturated at the ends of its range: DynamoDB numbers have 38 digits, and a
   * counter that was ever pushed past a long (by data written before usage values were checked)
   * must not make every read of the key, or of the whole key list, fail.
   */
  private static long number(Map<String, AttributeValue> item, String name) {
    AttributeValue value = item.get(name);
    if (value == null || value.n() == null) {
      return 0;
    }
    try {
      return Long.parseLong(value.n());
    } catch (NumberFormatException beyondALong) {
      var exact = new java.math.BigDecimal(value.n());
      return exact.signum() < 0 ? Long.MIN_VALUE : Long.MAX_VALUE;
    }
  }

  private static Duration seconds(Map<String, AttributeValue> item, String name) {
    AttributeValue value = item.get(name);
    return value == null || value.n() == null ? null : Duration.ofSeconds(Long.parseLong(value.n()));
  }

  static Instant instant(Map<String, AttributeValue> item, String name) {
    String value = text(item, name);
    return value == null ? null : Instant.parse(value);
  }

  private static Instant epochInstant(Map<String, AttributeValue> item, String name) {
    AttributeValue value = item.get(name);
    return value == null || value.n() == null ? null : Instant.ofEpochSecond(Long.parseLong(value.n()));
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

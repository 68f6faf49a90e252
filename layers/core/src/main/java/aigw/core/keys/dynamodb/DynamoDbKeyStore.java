package aigw.core.keys.dynamodb;

import static aigw.core.keys.dynamodb.KeyItems.*;

import aigw.core.errors.ServiceUnavailable;
import aigw.core.keys.KeyChanges;
import aigw.core.keys.KeyStore;
import aigw.core.keys.VirtualKey;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.CancellationReason;
import software.amazon.awssdk.services.dynamodb.model.ConditionalCheckFailedException;
import software.amazon.awssdk.services.dynamodb.model.Delete;
import software.amazon.awssdk.services.dynamodb.model.ReturnValue;
import software.amazon.awssdk.services.dynamodb.model.TransactWriteItem;
import software.amazon.awssdk.services.dynamodb.model.TransactionCanceledException;

/** Virtual keys in one DynamoDB table, partition key {@code token_hash}, plus an alias index. */
public final class DynamoDbKeyStore implements KeyStore {
  /** TransactWriteItems takes at most 100 actions. */
  static final int MAX_DELETE_BATCH = 100;

  private final DynamoDbClient dynamo;
  private final String table;

  public DynamoDbKeyStore(DynamoDbClient dynamo, String table) {
    this.dynamo = dynamo;
    this.table = table;
  }

  public String table() {
    return table;
  }

  @Override
  public Optional<VirtualKey> findByHash(String tokenHash) {
    // Strongly consistent: a key works the moment /key/generate has answered, and a block is seen
    // by the next uncached read. It costs one more read unit than an eventual read, on cache misses only.
    var item = call(() -> dynamo.getItem(r -> r.tableName(table).key(keyOf(tokenHash)).consistentRead(true)).item());
    return item == null || item.isEmpty() ? Optional.empty() : Optional.of(fromItem(item));
  }

  @Override
  public void create(VirtualKey key) {
    if (key.keyAlias() != null && !hashesForAlias(key.keyAlias()).isEmpty()) {
      throw new KeyAlreadyExists("key_alias '" + key.keyAlias() + "' is already used by another key");
    }
    try {
      call(
          () ->
              dynamo.putItem(
                  r ->
                      r.tableName(table)
                          .item(toItem(key))
                          .conditionExpression("attribute_not_exists(" + TOKEN_HASH + ")")));
    } catch (ConditionalCheckFailedException e) {
      throw new KeyAlreadyExists("a key with this value already exists");
    }
  }

  @Override
  public VirtualKey update(String tokenHash, KeyChanges changes, Instant now) {
    if (changes.keyAlias().isPresent()) {
      var others = new ArrayList<>(hashesForAlias(changes.keyAlias().get()));
      others.remove(tokenHash);
      if (!others.isEmpty()) {
        throw new KeyAlreadyExists(
            "key_alias '" + changes.keyAlias().get() + "' is already used by another key");
      }
    }
    var set = new ArrayList<String>();
    var values = new HashMap<String, AttributeValue>();
    var names = new HashMap<String, String>();
    setIf(set, names, values, KEY_ALIAS, changes.keyAlias().map(KeyItems::s));
    setIf(set, names, values, MODELS, changes.models().map(KeyItems::models));
    setIf(set, names, values, TEAM_ID, changes.teamId().map(KeyItems::s));
    setIf(set, names, values, USER_ID, changes.userId().map(KeyItems::s));
    setIf(set, names, values, METADATA, changes.metadata().map(KeyItems::metadata));
    setIf(set, names, values, EXPIRES_AT, changes.expiresAt().map(KeyItems::epochSeconds));
    setIf(set, names, values, BLOCKED, changes.blocked().map(AttributeValue::fromBool));
    setIf(set, names, values, UPDATED_AT, Optional.of(s(now.toString())));
    names.put("#pk", TOKEN_HASH);
    try {
      var updated =
          call(
              () ->
                  dynamo.updateItem(
                      r ->
                          r.tableName(table)
                              .key(keyOf(tokenHash))
                              .updateExpression("SET " + String.join(", ", set))
                              .conditionExpression("attribute_exists(#pk)")
                              .expressionAttributeNames(names)
                              .expressionAttributeValues(values)
                              .returnValues(ReturnValue.ALL_NEW)));
      return fromItem(updated.attributes());
    } catch (ConditionalCheckFailedException e) {
      throw new KeyNotFound(List.of(tokenHash));
    }
  }

  @Override
  public void deleteAll(Collection<String> tokenHashes) {
    var hashes = List.copyOf(tokenHashes);
    if (hashes.isEmpty()) {
      return;
    }
    if (hashes.size() > MAX_DELETE_BATCH) {
      throw new IllegalArgumentException("at most " + MAX_DELETE_BATCH + " keys per delete");
    }
    var actions =
        hashes.stream()
            .map(
                hash ->
                    TransactWriteItem.builder()
                        .delete(
                            Delete.builder()
                                .tableName(table)
                                .key(keyOf(hash))
                                .conditionExpression("attribute_exists(#pk)")
                                .expressionAttributeNames(Map.of("#pk", TOKEN_HASH))
                                .build())
                        .build())
            .toList();
    try {
      call(() -> dynamo.transactWriteItems(r -> r.transactItems(actions)));
    } catch (TransactionCanceledException e) {
      // Reasons come back in request order; ConditionalCheckFailed marks the keys that do not exist.
      var missing = new ArrayList<String>();
      List<CancellationReason> reasons = e.cancellationReasons();
      for (int i = 0; i < reasons.size() && i < hashes.size(); i++) {
        if ("ConditionalCheckFailed".equals(reasons.get(i).code())) {
          missing.add(hashes.get(i));
        }
      }
      if (missing.isEmpty()) {
        throw new ServiceUnavailable("DynamoDB cancelled the delete; try again", e);
      }
      throw new KeyNotFound(missing);
    }
  }

  @Override
  public List<String> hashesForAlias(String keyAlias) {
    var response =
        call(
            () ->
                dynamo.query(
                    r ->
                        r.tableName(table)
                            .indexName(ALIAS_INDEX)
                            .keyConditionExpression("#alias = :alias")
                            .expressionAttributeNames(Map.of("#alias", KEY_ALIAS))
                            .expressionAttributeValues(Map.of(":alias", s(keyAlias)))));
    return response.items().stream().map(item -> item.get(TOKEN_HASH).s()).toList();
  }

  @Override
  public List<VirtualKey> listAll() {
    return call(
        () ->
            dynamo.scanPaginator(r -> r.tableName(table)).items().stream()
                .map(KeyItems::fromItem)
                .toList());
  }

  private static Map<String, AttributeValue> keyOf(String tokenHash) {
    return Map.of(TOKEN_HASH, s(tokenHash));
  }

  private static void setIf(
      List<String> set,
      Map<String, String> names,
      Map<String, AttributeValue> values,
      String attribute,
      Optional<AttributeValue> value) {
    value.ifPresent(
        v -> {
          names.put("#" + attribute, attribute);
          values.put(":" + attribute, v);
          set.add("#" + attribute + " = :" + attribute);
        });
  }

  /** Condition failures are answers; any other SDK failure means DynamoDB is unavailable. */
  static <T> T call(Supplier<T> request) {
    try {
      return request.get();
    } catch (ConditionalCheckFailedException | TransactionCanceledException e) {
      throw e;
    } catch (SdkException e) {
      throw new ServiceUnavailable("The key store (DynamoDB) is unavailable: " + e.getMessage(), e);
    }
  }
}

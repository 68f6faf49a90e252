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
import software.amazon.awssdk.services.dynamodb.model.Put;
import software.amazon.awssdk.services.dynamodb.model.ReturnValue;
import software.amazon.awssdk.services.dynamodb.model.TransactWriteItem;
import software.amazon.awssdk.services.dynamodb.model.TransactionCanceledException;
import software.amazon.awssdk.services.dynamodb.model.Update;

/**
 * Virtual keys in one DynamoDB table, partition key {@code token_hash}.
 *
 * <p>Aliases are unique, enforced by DynamoDB itself: each alias has a guard item in the same table
 * ({@code token_hash = "alias#<alias>"}, {@code alias_of = <key hash>}) written in the same
 * transaction as the key, with {@code attribute_not_exists}. Two concurrent {@code /key/generate}
 * calls with one alias cannot both succeed, and looking a key up by alias is one strongly
 * consistent GetItem. Guard keys never collide with key hashes, which are 64 hex characters.
 */
public final class DynamoDbKeyStore implements KeyStore {
  /** TransactWriteItems takes at most 100 actions; a key with an alias takes two. */
  public static final int MAX_DELETE_BATCH = 50;

  static final String ALIAS_GUARD_PREFIX = "alias#";
  static final String ALIAS_OF = "alias_of";

  private final DynamoDbClient dynamo;
  private final String table;

  public DynamoDbKeyStore(DynamoDbClient dynamo, String table) {
    this.dynamo = dynamo;
    this.table = table;
  }

  @Override
  public Optional<VirtualKey> findByHash(String tokenHash) {
    // Strongly consistent: a key works the moment /key/generate has answered, and a block is seen
    // by the next uncached read. It costs one more read unit than an eventual read, on cache misses only.
    return read(tokenHash).map(KeyItems::fromItem);
  }

  private Optional<Map<String, AttributeValue>> read(String partitionKey) {
    var item = call(() -> dynamo.getItem(r -> r.tableName(table).key(keyOf(partitionKey)).consistentRead(true)).item());
    return item == null || item.isEmpty() ? Optional.empty() : Optional.of(item);
  }

  @Override
  public void create(VirtualKey key) {
    var putKey =
        TransactWriteItem.builder()
            .put(Put.builder().tableName(table).item(toItem(key)).conditionExpression("attribute_not_exists(#pk)")
                .expressionAttributeNames(Map.of("#pk", TOKEN_HASH)).build())
            .build();
    if (key.keyAlias() == null) {
      try {
        call(() -> dynamo.transactWriteItems(r -> r.transactItems(putKey)));
      } catch (TransactionCanceledException e) {
        throw new KeyAlreadyExists("a key with this value already exists");
      }
      return;
    }
    try {
      call(() -> dynamo.transactWriteItems(r -> r.transactItems(putKey, putGuard(key.keyAlias(), key.tokenHash()))));
    } catch (TransactionCanceledException e) {
      if (failed(e, 0)) {
        throw new KeyAlreadyExists("a key with this value already exists");
      }
      throw aliasTaken(key.keyAlias());
    }
  }

  @Override
  public VirtualKey update(String tokenHash, KeyChanges changes, Instant now) {
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
    String expression = "SET " + String.join(", ", set);

    String oldAlias = null;
    String newAlias = changes.keyAlias().orElse(null);
    if (newAlias != null) {
      oldAlias = read(tokenHash).map(item -> item.get(KEY_ALIAS)).map(AttributeValue::s).orElse(null);
    }
    if (newAlias == null || newAlias.equals(oldAlias)) {
      try {
        var updated =
            call(
                () ->
                    dynamo.updateItem(
                        r ->
                            r.tableName(table)
                                .key(keyOf(tokenHash))
                                .updateExpression(expression)
                                .conditionExpression("attribute_exists(#pk)")
                                .expressionAttributeNames(names)
                                .expressionAttributeValues(values)
                                .returnValues(ReturnValue.ALL_NEW)));
        return fromItem(updated.attributes());
      } catch (ConditionalCheckFailedException e) {
        throw new KeyNotFound(List.of(tokenHash));
      }
    }

    // A new alias: claim its guard, release the old one and update the key, all or nothing. The
    // key's alias is checked unchanged since we read it, so concurrent renames cannot interleave.
    var condition = new StringBuilder("attribute_exists(#pk) AND ");
    if (oldAlias == null) {
      condition.append("attribute_not_exists(#").append(KEY_ALIAS).append(")");
    } else {
      condition.append("#").append(KEY_ALIAS).append(" = :oldAlias");
      values.put(":oldAlias", s(oldAlias));
    }
    var actions = new ArrayList<TransactWriteItem>();
    actions.add(
        TransactWriteItem.builder()
            .update(Update.builder().tableName(table).key(keyOf(tokenHash)).updateExpression(expression)
                .conditionExpression(condition.toString()).expressionAttributeNames(names).expressionAttributeValues(values).build())
            .build());
    actions.add(putGuard(newAlias, tokenHash));
    if (oldAlias != null) {
      actions.add(deleteGuard(oldAlias));
    }
    try {
      call(() -> dynamo.transactWriteItems(r -> r.transactItems(actions)));
    } catch (TransactionCanceledException e) {
      if (failed(e, 1)) {
        throw aliasTaken(newAlias);
      }
      if (read(tokenHash).isEmpty()) {
        throw new KeyNotFound(List.of(tokenHash));
      }
      throw new ServiceUnavailable("The key changed while it was being updated; try again", e);
    }
    return findByHash(tokenHash).orElseThrow(() -> new KeyNotFound(List.of(tokenHash)));
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
    var actions = new ArrayList<TransactWriteItem>();
    var missing = new ArrayList<String>();
    for (String hash : hashes) {
      var item = read(hash);
      if (item.isEmpty()) {
        missing.add(hash);
        continue;
      }
      var delete = Delete.builder().tableName(table).key(keyOf(hash)).conditionExpression("attribute_exists(#pk)")
          .expressionAttributeNames(Map.of("#pk", TOKEN_HASH));
      AttributeValue alias = item.get().get(KEY_ALIAS);
      if (alias != null) {
        // Delete only if the alias is still the one whose guard goes with it.
        delete.conditionExpression("attribute_exists(#pk) AND #alias = :alias")
            .expressionAttributeNames(Map.of("#pk", TOKEN_HASH, "#alias", KEY_ALIAS))
            .expressionAttributeValues(Map.of(":alias", alias));
        actions.add(TransactWriteItem.builder().delete(deleteGuard(alias.s()).delete()).build());
      }
      actions.add(TransactWriteItem.builder().delete(delete.build()).build());
    }
    if (!missing.isEmpty()) {
      throw new KeyNotFound(missing);
    }
    try {
      call(() -> dynamo.transactWriteItems(r -> r.transactItems(actions)));
    } catch (TransactionCanceledException e) {
      var gone = hashes.stream().filter(h -> read(h).isEmpty()).toList();
      if (!gone.isEmpty()) {
        throw new KeyNotFound(gone);
      }
      throw new ServiceUnavailable("A key changed while it was being deleted; nothing was deleted, try again", e);
    }
  }

  @Override
  public List<String> hashesForAlias(String keyAlias) {
    return read(ALIAS_GUARD_PREFIX + keyAlias).map(item -> List.of(item.get(ALIAS_OF).s())).orElse(List.of());
  }

  @Override
  public List<VirtualKey> listAll() {
    return call(
        () ->
            dynamo.scanPaginator(r -> r.tableName(table).consistentRead(true)).items().stream()
                .filter(item -> !item.get(TOKEN_HASH).s().startsWith(ALIAS_GUARD_PREFIX))
                .map(KeyItems::fromItem)
                .toList());
  }

  private TransactWriteItem putGuard(String alias, String tokenHash) {
    return TransactWriteItem.builder()
        .put(
            Put.builder()
                .tableName(table)
                .item(Map.of(TOKEN_HASH, s(ALIAS_GUARD_PREFIX + alias), ALIAS_OF, s(tokenHash)))
                .conditionExpression("attribute_not_exists(#pk)")
                .expressionAttributeNames(Map.of("#pk", TOKEN_HASH))
                .build())
        .build();
  }

  private TransactWriteItem deleteGuard(String alias) {
    return TransactWriteItem.builder()
        .delete(Delete.builder().tableName(table).key(keyOf(ALIAS_GUARD_PREFIX + alias)).build())
        .build();
  }

  /** Whether action {@code index} of a cancelled transaction failed its condition. */
  private static boolean failed(TransactionCanceledException e, int index) {
    List<CancellationReason> reasons = e.cancellationReasons();
    return reasons != null && reasons.size() > index && "ConditionalCheckFailed".equals(reasons.get(index).code());
  }

  private static KeyAlreadyExists aliasTaken(String alias) {
    return new KeyAlreadyExists("key_alias '" + alias + "' is already used by another key");
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

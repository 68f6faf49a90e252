package aigw.core.keys.dynamodb;

import static aigw.core.keys.dynamodb.KeyItems.*;

import aigw.core.errors.ServiceUnavailable;
import aigw.core.keys.KeyChanges;
import aigw.core.keys.KeyStore;
import aigw.core.keys.KeyUsage;
import aigw.core.keys.VirtualKey;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.CancellationReason;
import software.amazon.awssdk.services.dynamodb.model.ConditionalCheckFailedException;
import software.amazon.awssdk.services.dynamodb.model.Delete;
import software.amazon.awssdk.services.dynamodb.model.Put;
import software.amazon.awssdk.services.dynamodb.model.TransactWriteItem;
import software.amazon.awssdk.services.dynamodb.model.TransactionCanceledException;
import software.amazon.awssdk.services.dynamodb.model.Update;

/**
 * Virtual keys in one DynamoDB table, partition key {@code token_hash}; the item kinds are described
 * in {@link KeyItems}.
 *
 * <p>Every change that touches more than one item is one transaction, and every write to a key is
 * conditional on the key being as it was read ({@code updated_at} unchanged and not rotated out), so
 * concurrent admin calls and rotations cannot interleave:
 *
 * <ul>
 *   <li>Aliases are unique: each has a guard item written with {@code attribute_not_exists} in the
 *       same transaction as the key. Looking a key up by alias is one strongly consistent GetItem.
 *   <li>A rotation puts the key under its new hash and replaces the old item with a pointer to it,
 *       at once; of two rotations of one key, one wins and the other is told so.
 * </ul>
 */
public final class DynamoDbKeyStore implements KeyStore {
  /** TransactWriteItems takes at most 100 actions; deleting a key takes four (key, usage, limit state, alias guard). */
  public static final int MAX_DELETE_BATCH = 25;
  /** Rotations of one key within one grace period chain pointers; more hops than this is a broken chain. */
  static final int MAX_ROTATION_HOPS = 8;

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
    var item = read(tokenHash);
    Instant graceEnd = null;
    Instant rotatedAt = null;
    for (int hops = 0; item.isPresent() && isRotatedOut(item.get()); hops++) {
      if (hops == MAX_ROTATION_HOPS) {
        return Optional.empty();
      }
      if (graceEnd == null) {
        graceEnd = instant(item.get(), VALID_UNTIL); // the presented value's own end
        rotatedAt = instant(item.get(), ROTATED_AT);
      }
      item = read(item.get().get(ROTATED_TO).s());
    }
    if (item.isEmpty() || !isKey(item.get())) {
      return Optional.empty();
    }
    VirtualKey key = fromItem(item.get());
    if (graceEnd == null) {
      return Optional.of(key);
    }
    // A later rotation without grace revoked every value rotated out before it.
    Instant revoked = key.rotation().earlierValuesRevokedAt();
    if (revoked != null && (rotatedAt == null || !rotatedAt.isAfter(revoked)) && revoked.isBefore(graceEnd)) {
      graceEnd = revoked;
    }
    return Optional.of(key.withGraceEndsAt(graceEnd));
  }

  @Override
  public KeyUsage usageOf(String keyId) {
    return read(usageKey(keyId)).map(KeyItems::usageFromItem).orElse(KeyUsage.NONE);
  }

  private Optional<Map<String, AttributeValue>> read(String partitionKey) {
    var item = call(() -> dynamo.getItem(r -> r.tableName(table).key(keyOf(partitionKey)).consistentRead(true)).item());
    return item == null || item.isEmpty() ? Optional.empty() : Optional.of(item);
  }

  @Override
  public void create(VirtualKey key) {
    var actions = new ArrayList<TransactWriteItem>();
    actions.add(putIfAbsent(toItem(key)));
    actions.add(putIfAbsent(usageItem(key)));
    if (key.keyAlias() != null) {
      actions.add(putIfAbsent(guardItem(key.keyAlias(), key.tokenHash(), key.expiresAt())));
    }
    try {
      call(() -> dynamo.transactWriteItems(r -> r.transactItems(actions)));
    } catch (TransactionCanceledException e) {
      if (failed(e, 2)) {
        throw aliasTaken(key.keyAlias());
      }
      throw new KeyAlreadyExists("a key with this value already exists");
    }
  }

  @Override
  public VirtualKey update(String tokenHash, KeyChanges changes, Instant now) {
    VirtualKey current = readKey(tokenHash);
    VirtualKey updated = changes.applyTo(current, now);
    var actions = new ArrayList<TransactWriteItem>();
    actions.add(TransactWriteItem.builder().put(putUnchanged(toItem(updated), current)).build());
    actions.addAll(companionChanges(current, updated));
    write(actions, current, updated.keyAlias());
    return updated.withUsage(usageOf(current.keyId()));
  }

  @Override
  public VirtualKey rotate(
      VirtualKey current, String newTokenHash, String newKeyName, Instant graceEnd, KeyChanges changes, Instant now) {
    VirtualKey changed = changes.applyTo(current, now);
    VirtualKey rotated =
        new VirtualKey(newTokenHash, current.keyId(), newKeyName, changed.keyAlias(), changed.models(), changed.teamId(),
            changed.userId(), changed.metadata(), changed.createdAt(), now, changed.expiresAt(), changed.blocked(),
            KeyUsage.NONE, changed.rotation().rotatedAt(now, graceEnd), null, changed.limits());
    var actions = new ArrayList<TransactWriteItem>();
    actions.add(putIfAbsent(toItem(rotated)));
    actions.add(TransactWriteItem.builder().put(putUnchanged(rotatedOutItem(current, newTokenHash, now, graceEnd, rotated.rotation().rotatedOutUntil()), current)).build());
    actions.addAll(companionChanges(current, rotated));
    // Read before the commit: after it, a failed read would make the caller lose the new value.
    KeyUsage usage = usageOf(current.keyId());
    try {
      write(actions, current, rotated.keyAlias());
    } catch (TransactionCanceledException e) {
      if (failed(e, 0)) { // the new hash: an item exists there already
        throw new KeyAlreadyExists("a key with this value already exists");
      }
      // Another condition (the alias guard moved, the usage item is gone): the key changed meanwhile.
      throw new KeyChangedConcurrently("The key was changed by another call at the same time; read it again and retry.");
    } catch (ServiceUnavailable unknownOutcome) {
      // A timeout or lost answer: the transaction may have been applied. If the new item is there,
      // it was, and the caller must deliver the new value; otherwise nothing happened.
      boolean applied;
      try {
        applied = read(newTokenHash).map(item -> current.keyId().equals(text(item, KEY_ID))).orElse(false);
      } catch (ServiceUnavailable stillDown) {
        applied = false;
      }
      if (!applied) {
        throw unknownOutcome;
      }
    }
    return rotated.withUsage(usage);
  }

  /**
   * The alias guard and usage item follow the key: the guard points at its hash and both share its
   * purge time, so that TTL removes a key and its companions together.
   */
  private List<TransactWriteItem> companionChanges(VirtualKey before, VirtualKey after) {
    var actions = new ArrayList<TransactWriteItem>();
    boolean aliasChanged = !Objects.equals(before.keyAlias(), after.keyAlias());
    boolean hashChanged = !before.tokenHash().equals(after.tokenHash());
    boolean expiryChanged = !Objects.equals(before.expiresAt(), after.expiresAt());
    if (after.keyAlias() != null && (aliasChanged || hashChanged || expiryChanged)) {
      Put guard = Put.builder().tableName(table).item(guardItem(after.keyAlias(), after.tokenHash(), after.expiresAt())).build();
      if (aliasChanged) {
        guard = guard.toBuilder().conditionExpression("attribute_not_exists(#pk)").expressionAttributeNames(Map.of("#pk", TOKEN_HASH)).build();
      } else {
        guard = guard.toBuilder().conditionExpression("#of = :before").expressionAttributeNames(Map.of("#of", ALIAS_OF))
            .expressionAttributeValues(Map.of(":before", s(before.tokenHash()))).build();
      }
      actions.add(TransactWriteItem.builder().put(guard).build());
    }
    if (aliasChanged && before.keyAlias() != null) {
      actions.add(TransactWriteItem.builder().delete(Delete.builder().tableName(table).key(keyOf(guardKey(before.keyAlias()))).build()).build());
    }
    if (expiryChanged) {
      var update = Update.builder().tableName(table).key(keyOf(usageKey(after.keyId())));
      if (after.expiresAt() == null) {
        update.updateExpression("REMOVE #purge").expressionAttributeNames(Map.of("#purge", PURGE_AT));
      } else {
        update.updateExpression("SET #purge = :purge").expressionAttributeNames(Map.of("#purge", PURGE_AT))
            .expressionAttributeValues(Map.of(":purge", epochSeconds(purgeAt(after.expiresAt()))));
      }
      actions.add(TransactWriteItem.builder().update(update.build()).build());
    }
    return actions;
  }

  /**
   * Runs the actions; the first one writes the key. A cancelled transaction is explained: the new
   * alias is taken, the key is gone, or it changed since it was read.
   */
  private void write(List<TransactWriteItem> actions, VirtualKey current, String newAlias) {
    try {
      call(() -> dynamo.transactWriteItems(r -> r.transactItems(actions)));
    } catch (TransactionCanceledException e) {
      boolean aliasClaim = newAlias != null && !newAlias.equals(current.keyAlias());
      if (aliasClaim && e.cancellationReasons() != null) {
        for (int i = 0; i < actions.size(); i++) {
          Put put = actions.get(i).put();
          if (put != null && put.item().get(TOKEN_HASH).s().equals(guardKey(newAlias)) && failed(e, i)) {
            throw aliasTaken(newAlias);
          }
        }
      }
      var now = read(current.tokenHash());
      if (now.isEmpty()) {
        throw new KeyNotFound(List.of(current.tokenHash()));
      }
      if (!isKey(now.get()) || !Objects.equals(text(now.get(), UPDATED_AT), current.updatedAt().toString())) {
        throw new KeyChangedConcurrently("The key was changed or rotated by another call at the same time; read it again and retry.");
      }
      if (conflicted(e)) {
        // Another transaction on one of these items was still in flight: nothing was written.
        throw new KeyChangedConcurrently("The key is being changed or rotated by another call at the same time; read it again and retry.");
      }
      throw e; // e.g. the new hash exists already: the caller explains
    }
  }

  /** Puts {@code item} over the key only if it is still as {@code current} was read. */
  private Put putUnchanged(Map<String, AttributeValue> item, VirtualKey current) {
    return Put.builder()
        .tableName(table)
        .item(item)
        .conditionExpression("#updated = :seen AND attribute_not_exists(#rotated)")
        .expressionAttributeNames(Map.of("#updated", UPDATED_AT, "#rotated", ROTATED_TO))
        .expressionAttributeValues(Map.of(":seen", s(current.updatedAt().toString())))
        .build();
  }

  private TransactWriteItem putIfAbsent(Map<String, AttributeValue> item) {
    return TransactWriteItem.builder()
        .put(Put.builder().tableName(table).item(item).conditionExpression("attribute_not_exists(#pk)")
            .expressionAttributeNames(Map.of("#pk", TOKEN_HASH)).build())
        .build();
  }

  /** The key stored under exactly this hash (not through a rotated-out value). */
  private VirtualKey readKey(String tokenHash) {
    var item = read(tokenHash).orElseThrow(() -> new KeyNotFound(List.of(tokenHash)));
    if (!isKey(item)) {
      if (isRotatedOut(item)) {
        throw new KeyChangedConcurrently("The key was rotated; use its new value or its hash.");
      }
      throw new KeyNotFound(List.of(tokenHash));
    }
    return fromItem(item);
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
      if (item.isPresent() && isRotatedOut(item.get())) {
        throw new KeyChangedConcurrently("A key was rotated while it was being deleted; delete it by its new value, hash or alias.");
      }
      if (item.isEmpty() || !isKey(item.get())) {
        missing.add(hash);
        continue;
      }
      VirtualKey key = fromItem(item.get());
      // Delete only the key as read: its alias guard goes with it. Values rotated out of it point
      // at nothing from now on, and TTL removes them at the end of their grace period.
      actions.add(TransactWriteItem.builder().delete(Delete.builder().tableName(table).key(keyOf(hash))
          .conditionExpression("#updated = :seen").expressionAttributeNames(Map.of("#updated", UPDATED_AT))
          .expressionAttributeValues(Map.of(":seen", s(key.updatedAt().toString()))).build()).build());
      actions.add(TransactWriteItem.builder().delete(Delete.builder().tableName(table).key(keyOf(usageKey(key.keyId()))).build()).build());
      // Its limit state (windows, reservations in flight, budget period): nothing of the key's limits outlives it.
      actions.add(TransactWriteItem.builder().delete(Delete.builder().tableName(table)
          .key(keyOf(aigw.core.limits.LimitScope.keyItem(key.keyId()))).build()).build());
      if (key.keyAlias() != null) {
        actions.add(TransactWriteItem.builder().delete(Delete.builder().tableName(table).key(keyOf(guardKey(key.keyAlias()))).build()).build());
      }
    }
    if (!missing.isEmpty()) {
      throw new KeyNotFound(missing);
    }
    try {
      call(() -> dynamo.transactWriteItems(r -> r.transactItems(actions)));
    } catch (TransactionCanceledException e) {
      var now = hashes.stream().collect(Collectors.toMap(h -> h, this::read));
      if (now.values().stream().anyMatch(item -> item.isPresent() && isRotatedOut(item.get()))) {
        throw new KeyChangedConcurrently("A key was rotated while it was being deleted; delete it by its new value, hash or alias.");
      }
      var gone = hashes.stream().filter(h -> now.get(h).filter(KeyItems::isKey).isEmpty()).toList();
      if (!gone.isEmpty()) {
        throw new KeyNotFound(gone);
      }
      throw new KeyChangedConcurrently("A key changed while it was being deleted; nothing was deleted, try again.");
    }
  }

  @Override
  public List<String> hashesForAlias(String keyAlias) {
    return read(guardKey(keyAlias)).map(item -> List.of(item.get(ALIAS_OF).s())).orElse(List.of());
  }

  @Override
  public List<VirtualKey> listAll() {
    var items = call(() -> dynamo.scanPaginator(r -> r.tableName(table).consistentRead(true)).items().stream().toList());
    Map<String, KeyUsage> usage =
        items.stream().filter(KeyItems::isUsage).collect(Collectors.toMap(i -> i.get(KEY_ID).s(), KeyItems::usageFromItem, (a, b) -> a));
    return items.stream()
        .filter(KeyItems::isKey)
        .map(KeyItems::fromItem)
        .map(k -> k.withUsage(usage.getOrDefault(k.keyId(), KeyUsage.NONE)))
        .toList();
  }

  @Override
  public DuePage dueForRotation(Instant now, int limit, String after) {
    var due =
        call(
            () ->
                dynamo.query(
                    r -> {
                      r.tableName(table)
                          .indexName(ROTATION_DUE_INDEX)
                          .keyConditionExpression("#schedule = :scheduled AND #due <= :now")
                          .expressionAttributeNames(Map.of("#schedule", ROTATION_SCHEDULE, "#due", KEY_ROTATION_AT))
                          .expressionAttributeValues(Map.of(":scheduled", s(SCHEDULED), ":now", epochSeconds(now)))
                          .limit(limit);
                      if (after != null) {
                        r.exclusiveStartKey(startAfter(after));
                      }
                    }));
    // The index is eventually consistent: read each key again, strongly, and keep those still due.
    var keys = new ArrayList<VirtualKey>();
    for (var entry : due.items()) {
      read(entry.get(TOKEN_HASH).s())
          .filter(KeyItems::isKey)
          .map(KeyItems::fromItem)
          .filter(k -> k.rotation().nextRotationAt() != null && !k.rotation().nextRotationAt().isAfter(now))
          .ifPresent(keys::add);
    }
    var last = due.lastEvaluatedKey();
    String next = last == null || last.isEmpty() ? null : last.get(KEY_ROTATION_AT).n() + ":" + last.get(TOKEN_HASH).s();
    return new DuePage(keys, next);
  }

  /** A page position, {@code <key_rotation_at>:<token_hash>}, as the index's ExclusiveStartKey. */
  private static Map<String, AttributeValue> startAfter(String position) {
    int colon = position.indexOf(':');
    return Map.of(
        ROTATION_SCHEDULE, s(SCHEDULED),
        KEY_ROTATION_AT, AttributeValue.fromN(position.substring(0, colon)),
        TOKEN_HASH, s(position.substring(colon + 1)));
  }

  /** Whether DynamoDB cancelled the transaction because another one was writing the same items. */
  private static boolean conflicted(TransactionCanceledException e) {
    return e.cancellationReasons() != null
        && e.cancellationReasons().stream().anyMatch(r -> "TransactionConflict".equals(r.code()));
  }

  /** Whether action {@code index} of a cancelled transaction failed its condition. */
  private static boolean failed(TransactionCanceledException e, int index) {
    List<CancellationReason> reasons = e.cancellationReasons();
    return reasons != null && reasons.size() > index && "ConditionalCheckFailed".equals(reasons.get(index).code());
  }

  private static KeyAlreadyExists aliasTaken(String alias) {
    return new KeyAlreadyExists("key_alias '" + alias + "' is already used by another key");
  }

  private static Map<String, AttributeValue> keyOf(String partitionKey) {
    var key = new HashMap<String, AttributeValue>();
    key.put(TOKEN_HASH, s(partitionKey));
    return key;
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

package aigw.core.keys.dynamodb;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.keys.ApiKeys;
import aigw.core.keys.KeyChanges;
import aigw.core.keys.KeyStore;
import aigw.core.keys.KeyUsage;
import aigw.core.keys.VirtualKey;
import aigw.core.testing.LocalDynamo;
import aigw.core.usage.TokenUsage;
import aigw.core.usage.UsageDelta;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class DynamoDbKeyStoreTest {
  private static LocalDynamo dynamo;
  private static DynamoDbKeyStore store;
  private static DynamoDbUsageRecorder usage;
  private static final Instant NOW = Instant.parse("2026-03-01T10:00:00Z");

  @BeforeAll
  static void start() {
    dynamo = new LocalDynamo();
    store = new DynamoDbKeyStore(dynamo.client(), dynamo.keysTable());
    usage = new DynamoDbUsageRecorder(dynamo.client(), dynamo.keysTable());
  }

  @AfterAll
  static void stop() {
    dynamo.close();
  }

  private static VirtualKey newKey(String plaintext, String alias) {
    return new VirtualKey(
        ApiKeys.hash(plaintext), "id-" + alias, ApiKeys.mask(plaintext), alias, List.of("gpt-4o-mini"), "team-1", "user-1",
        Map.of("owner", "platform", "n", 3), NOW, NOW, NOW.plusSeconds(3600), false, null);
  }

  @Test
  void aKeyRoundTripsThroughDynamoDbWithoutItsPlaintext() {
    String plaintext = ApiKeys.generate();
    var key = newKey(plaintext, "round-trip");
    store.create(key);
    var found = store.findByHash(ApiKeys.hash(plaintext)).orElseThrow();
    assertThat(found).usingRecursiveComparison().isEqualTo(key);
    var items = dynamo.client().scan(r -> r.tableName(dynamo.keysTable())).items();
    assertThat(items.toString()).doesNotContain(plaintext);
  }

  @Test
  void aliasesAreUnique() {
    store.create(newKey(ApiKeys.generate(), "unique-alias"));
    assertThatThrownBy(() -> store.create(newKey(ApiKeys.generate(), "unique-alias")))
        .isInstanceOf(KeyStore.KeyAlreadyExists.class)
        .hasMessageContaining("unique-alias");
    assertThat(store.hashesForAlias("unique-alias")).hasSize(1);
  }

  @Test
  void concurrentCreatesWithOneAliasLetExactlyOneWin() throws Exception {
    var pool = Executors.newFixedThreadPool(8);
    var wins = new java.util.concurrent.atomic.AtomicInteger();
    var refused = new java.util.concurrent.atomic.AtomicInteger();
    for (int i = 0; i < 16; i++) {
      pool.submit(
          () -> {
            try {
              store.create(newKey(ApiKeys.generate(), "contested"));
              wins.incrementAndGet();
            } catch (KeyStore.KeyAlreadyExists e) {
              refused.incrementAndGet();
            }
          });
    }
    pool.shutdown();
    assertThat(pool.awaitTermination(60, TimeUnit.SECONDS)).isTrue();
    assertThat(wins).hasValue(1);
    assertThat(refused).hasValue(15);
    assertThat(store.listAll()).filteredOn(k -> "contested".equals(k.keyAlias())).hasSize(1);
  }

  @Test
  void renamingFreesTheOldAliasAndDeletingFreesTheNewOne() {
    String a = ApiKeys.generate();
    String b = ApiKeys.generate();
    store.create(newKey(a, "rename-from"));
    store.create(newKey(b, "rename-other"));
    var rename = KeyChanges.none();
    rename = new KeyChanges(Optional.of("rename-to"), rename.models(), rename.teamId(), rename.userId(), rename.metadata(), rename.expiresAt(), rename.blocked());
    assertThat(store.update(ApiKeys.hash(a), rename, NOW).keyAlias()).isEqualTo("rename-to");
    assertThat(store.hashesForAlias("rename-to")).containsExactly(ApiKeys.hash(a));
    assertThat(store.hashesForAlias("rename-from")).isEmpty();

    var takeOthers = new KeyChanges(Optional.of("rename-other"), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty());
    assertThatThrownBy(() -> store.update(ApiKeys.hash(a), takeOthers, NOW)).isInstanceOf(KeyStore.KeyAlreadyExists.class);
    assertThat(store.findByHash(ApiKeys.hash(a)).orElseThrow().keyAlias()).isEqualTo("rename-to"); // unchanged

    store.deleteAll(List.of(ApiKeys.hash(a)));
    assertThat(store.hashesForAlias("rename-to")).isEmpty();
    store.create(newKey(ApiKeys.generate(), "rename-to")); // free again
    assertThat(store.listAll()).allSatisfy(k -> assertThat(k.tokenHash()).hasSize(64)); // no guard items listed
  }

  @Test
  void updateChangesOnlyTheGivenFields() {
    String plaintext = ApiKeys.generate();
    store.create(newKey(plaintext, "to-update"));
    var changes =
        new KeyChanges(Optional.empty(), Optional.of(List.of("a", "b")), Optional.empty(), Optional.of("user-2"),
            Optional.empty(), Optional.empty(), Optional.of(true));
    var updated = store.update(ApiKeys.hash(plaintext), changes, NOW.plusSeconds(60));
    assertThat(updated.models()).containsExactly("a", "b");
    assertThat(updated.userId()).isEqualTo("user-2");
    assertThat(updated.blocked()).isTrue();
    assertThat(updated.teamId()).isEqualTo("team-1");
    assertThat(updated.metadata()).containsEntry("owner", "platform");
    assertThat(updated.updatedAt()).isEqualTo(NOW.plusSeconds(60));
    assertThatThrownBy(() -> store.update(ApiKeys.hash("sk-missing"), changes, NOW)).isInstanceOf(KeyStore.KeyNotFound.class);
  }

  @Test
  void deleteIsAllOrNothing() {
    String a = ApiKeys.generate();
    store.create(newKey(a, "del-a"));
    String missing = ApiKeys.hash("sk-never-created");
    assertThatThrownBy(() -> store.deleteAll(List.of(ApiKeys.hash(a), missing)))
        .isInstanceOfSatisfying(KeyStore.KeyNotFound.class, e -> assertThat(e.missing()).containsExactly(missing));
    assertThat(store.findByHash(ApiKeys.hash(a))).isPresent();
    store.deleteAll(List.of(ApiKeys.hash(a)));
    assertThat(store.findByHash(ApiKeys.hash(a))).isEmpty();
  }

  @Test
  void concurrentUsageUpdatesAreAtomic() throws Exception {
    String plaintext = ApiKeys.generate();
    var key = newKey(plaintext, "usage");
    store.create(key);
    var pool = Executors.newFixedThreadPool(8);
    for (int i = 0; i < 200; i++) {
      pool.submit(() -> usage.record(key.keyId(), UsageDelta.oneRequest(new TokenUsage(3, 4, 7), NOW.plusSeconds(5))));
    }
    pool.shutdown();
    assertThat(pool.awaitTermination(60, TimeUnit.SECONDS)).isTrue();
    var counted = store.usageOf(key.keyId());
    assertThat(counted.requests()).isEqualTo(200);
    assertThat(counted.promptTokens()).isEqualTo(600);
    assertThat(counted.completionTokens()).isEqualTo(800);
    assertThat(counted.totalTokens()).isEqualTo(1400);
    assertThat(counted.lastUsedAt()).isEqualTo(NOW.plusSeconds(5));
  }

  @Test
  void aCounterPushedBeyondALongIsReadSaturatedInsteadOfFailingEveryRead() {
    // Data written before provider usage was checked: 2 x Long.MAX_VALUE from a hostile upstream.
    String plaintext = ApiKeys.generate();
    var key = newKey(plaintext, "overflowed");
    store.create(key);
    usage.record(key.keyId(), UsageDelta.oneRequest(new TokenUsage(Long.MAX_VALUE, 0, Long.MAX_VALUE), NOW));
    usage.record(key.keyId(), UsageDelta.oneRequest(new TokenUsage(Long.MAX_VALUE, 0, Long.MAX_VALUE), NOW));
    var counted = store.usageOf(key.keyId());
    assertThat(counted.promptTokens()).isEqualTo(Long.MAX_VALUE);
    assertThat(counted.requests()).isEqualTo(2);
  }

  @Test
  void usageOfADeletedKeyDoesNotRecreateIt() {
    String plaintext = ApiKeys.generate();
    var key = newKey(plaintext, "deleted-meanwhile");
    store.create(key);
    store.deleteAll(List.of(key.tokenHash()));
    usage.record(key.keyId(), UsageDelta.oneRequest(TokenUsage.NONE, NOW));
    assertThat(store.usageOf(key.keyId())).isEqualTo(KeyUsage.NONE);
    assertThat(dynamo.client().scan(r -> r.tableName(dynamo.keysTable())).items().toString()).doesNotContain(key.keyId());
  }
}

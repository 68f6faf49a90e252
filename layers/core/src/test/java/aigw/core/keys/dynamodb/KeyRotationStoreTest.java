package aigw.core.keys.dynamodb;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.keys.ApiKeys;
import aigw.core.keys.KeyCache;
import aigw.core.keys.KeyChanges;
import aigw.core.keys.KeyRotation;
import aigw.core.keys.KeyStore;
import aigw.core.keys.VirtualKey;
import aigw.core.rotation.RotationEvent;
import aigw.core.rotation.VirtualKeyRotator;
import aigw.core.testing.LocalDynamo;
import aigw.core.testing.MutableClock;
import aigw.core.usage.TokenUsage;
import aigw.core.usage.UsageDelta;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/** Rotation in the DynamoDB key store, against DynamoDB Local: what a rotated key keeps, what its old value does, races. */
class KeyRotationStoreTest {
  private static final Instant NOW = Instant.parse("2026-03-01T10:00:00Z");
  private static final Duration DAY = Duration.ofDays(1);

  private LocalDynamo dynamo;
  private DynamoDbKeyStore store;
  private DynamoDbUsageRecorder usage;
  private MutableClock clock;

  @BeforeEach
  void start() {
    dynamo = new LocalDynamo();
    store = new DynamoDbKeyStore(dynamo.client(), dynamo.keysTable());
    usage = new DynamoDbUsageRecorder(dynamo.client(), dynamo.keysTable());
    clock = new MutableClock(NOW);
  }

  @AfterEach
  void stop() {
    dynamo.close();
  }

  // ---------------------------------------------------------------------------------------------
  // helpers

  private static KeyRotation schedule(Duration interval, Duration grace, Instant next) {
    return new KeyRotation(true, interval, grace, null, next, null, 0, null);
  }

  private VirtualKey create(String plaintext, String alias, Instant expiresAt, KeyRotation rotation) {
    var key =
        new VirtualKey(
            ApiKeys.hash(plaintext), UUID.randomUUID().toString(), ApiKeys.mask(plaintext), alias, List.of("gpt-4o-mini"),
            "team-1", "user-1", Map.of("owner", "platform"), NOW, NOW, expiresAt, false, null, rotation, null);
    store.create(key);
    return key;
  }

  private VirtualKey create(String plaintext, String alias) {
    return create(plaintext, alias, null, KeyRotation.NONE);
  }

  private void recordRequest(String keyId, long promptTokens) {
    usage.record(keyId, UsageDelta.oneRequest(new TokenUsage(promptTokens, 1, promptTokens + 1), clock.instant()));
  }

  private VirtualKey rotate(VirtualKey current, String newPlaintext, Instant graceEnd, Instant now) {
    return store.rotate(current, ApiKeys.hash(newPlaintext), ApiKeys.mask(newPlaintext), graceEnd, KeyChanges.none(), now);
  }

  private List<Map<String, AttributeValue>> items() {
    return dynamo.client().scanPaginator(r -> r.tableName(dynamo.keysTable()).consistentRead(true)).items().stream().toList();
  }

  private Map<String, AttributeValue> item(String partitionKey) {
    return dynamo.client()
        .getItem(r -> r.tableName(dynamo.keysTable()).key(Map.of("token_hash", AttributeValue.fromS(partitionKey))).consistentRead(true))
        .item();
  }

  /** The key rows (not pointers, usage or guards) that carry this key id. */
  private List<Map<String, AttributeValue>> keyRows(String keyId) {
    return items().stream()
        .filter(KeyItems::isKey)
        .filter(i -> keyId.equals(KeyItems.text(i, "key_id")))
        .toList();
  }

  private static Long purgeAt(Map<String, AttributeValue> item) {
    AttributeValue value = item.get("purge_at");
    return value == null ? null : Long.parseLong(value.n());
  }

  private VirtualKeyRotator rotator(RecordingEvents events) {
    return new VirtualKeyRotator(store, new KeyCache(store, clock, Duration.ZERO), null, VirtualKeyRotator.DEFAULT_SECRET_PREFIX, events, clock);
  }

  static final class RecordingEvents implements aigw.core.rotation.RotationEvents {
    final ConcurrentLinkedQueue<RotationEvent> events = new ConcurrentLinkedQueue<>();

    @Override
    public void publish(RotationEvent event) {
      events.add(event);
    }
  }

  /** Runs the tasks at the same moment on their own threads and returns what each did. */
  private static <T> List<Future<T>> allAtOnce(List<Callable<T>> tasks) throws InterruptedException {
    ExecutorService pool = Executors.newFixedThreadPool(tasks.size());
    var ready = new CountDownLatch(tasks.size());
    var go = new CountDownLatch(1);
    var futures = new ArrayList<Future<T>>();
    try {
      for (Callable<T> task : tasks) {
        futures.add(pool.submit(() -> {
          ready.countDown();
          go.await();
          return task.call();
        }));
      }
      ready.await();
      go.countDown();
      pool.shutdown();
      assertThat(pool.awaitTermination(60, TimeUnit.SECONDS)).as("all threads finished").isTrue();
      return futures;
    } finally {
      pool.shutdownNow();
    }
  }

  private static Throwable failureOf(Future<?> future) throws InterruptedException {
    try {
      future.get();
      return null;
    } catch (java.util.concurrent.ExecutionException e) {
      return e.getCause();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // what a rotation keeps

  @Test
  void rotationKeepsIdAliasSettingsAndUsageAndOnlyTheValueChanges() {
    String oldValue = ApiKeys.generate();
    String newValue = ApiKeys.generate();
    var key = create(oldValue, "billing-bot", NOW.plus(Duration.ofDays(90)), schedule(Duration.ofDays(30), Duration.ofHours(2), NOW.plus(Duration.ofDays(30))));
    recordRequest(key.keyId(), 10);
    recordRequest(key.keyId(), 10);

    Instant at = NOW.plus(Duration.ofDays(30));
    Instant graceEnd = at.plus(Duration.ofHours(2));
    var rotated = rotate(key, newValue, graceEnd, at);
    recordRequest(key.keyId(), 5); // a request in flight with the old value, counted after the rotation

    var current = store.findByHash(ApiKeys.hash(newValue)).orElseThrow();
    assertThat(current.keyId()).isEqualTo(key.keyId());
    assertThat(current.tokenHash()).isEqualTo(ApiKeys.hash(newValue));
    assertThat(current.keyName()).isEqualTo(ApiKeys.mask(newValue));
    assertThat(current.keyAlias()).isEqualTo("billing-bot");
    assertThat(current.models()).containsExactly("gpt-4o-mini");
    assertThat(current.teamId()).isEqualTo("team-1");
    assertThat(current.userId()).isEqualTo("user-1");
    assertThat(current.metadata()).isEqualTo(Map.of("owner", "platform"));
    assertThat(current.createdAt()).isEqualTo(NOW);
    assertThat(current.expiresAt()).isEqualTo(key.expiresAt());
    assertThat(current.graceEndsAt()).as("the current value has no grace end").isNull();
    assertThat(current.rotation().autoRotate()).isTrue();
    assertThat(current.rotation().interval()).isEqualTo(Duration.ofDays(30));
    assertThat(current.rotation().gracePeriod()).isEqualTo(Duration.ofHours(2));
    assertThat(current.rotation().count()).isEqualTo(1);
    assertThat(current.rotation().lastRotatedAt()).isEqualTo(at);
    assertThat(current.rotation().previousKeyValidUntil()).isEqualTo(graceEnd);
    assertThat(current.rotation().nextRotationAt()).as("next due moves by the interval").isEqualTo(at.plus(Duration.ofDays(30)));

    // The returned key is what was stored, with the usage recorded before the rotation.
    assertThat(rotated.tokenHash()).isEqualTo(current.tokenHash());
    assertThat(rotated.usage().requests()).isEqualTo(2);

    var old = store.findByHash(ApiKeys.hash(oldValue)).orElseThrow();
    assertThat(old.keyId()).isEqualTo(key.keyId());
    assertThat(old.tokenHash()).as("the old value opens the key under its new hash").isEqualTo(ApiKeys.hash(newValue));
    assertThat(old.graceEndsAt()).isEqualTo(graceEnd);
    assertThat(old.isRotatedOut(graceEnd.minusSeconds(1))).isFalse();
    assertThat(old.isRotatedOut(graceEnd)).isTrue();

    assertThat(store.hashesForAlias("billing-bot")).containsExactly(ApiKeys.hash(newValue));
    var use = store.usageOf(key.keyId());
    assertThat(use.requests()).as("usage before and after the rotation, by key id").isEqualTo(3);
    assertThat(use.promptTokens()).isEqualTo(25);
    assertThat(keyRows(key.keyId())).hasSize(1);
    assertThat(store.listAll()).filteredOn(k -> k.keyId().equals(key.keyId()))
        .singleElement()
        .satisfies(k -> {
          assertThat(k.tokenHash()).isEqualTo(ApiKeys.hash(newValue));
          assertThat(k.usage().requests()).isEqualTo(3);
        });
    assertThat(items().toString()).doesNotContain(oldValue).doesNotContain(newValue);
  }

  @Test
  void aSecondRotationWithinTheGracePeriodChainsAndEachOldValueKeepsItsOwnEnd() {
    String a = ApiKeys.generate();
    String b = ApiKeys.generate();
    String c = ApiKeys.generate();
    var key = create(a, "chained");
    Instant endA = NOW.plus(Duration.ofHours(1));
    var afterFirst = rotate(key, b, endA, NOW);
    Instant second = NOW.plus(Duration.ofMinutes(10));
    Instant endB = second.plus(Duration.ofHours(24));
    rotate(afterFirst, c, endB, second);

    var byA = store.findByHash(ApiKeys.hash(a)).orElseThrow();
    var byB = store.findByHash(ApiKeys.hash(b)).orElseThrow();
    var byC = store.findByHash(ApiKeys.hash(c)).orElseThrow();
    assertThat(List.of(byA, byB, byC)).allSatisfy(k -> {
      assertThat(k.keyId()).isEqualTo(key.keyId());
      assertThat(k.tokenHash()).isEqualTo(ApiKeys.hash(c));
    });
    assertThat(byA.graceEndsAt()).as("the oldest value ends at its own end, not the later one").isEqualTo(endA);
    assertThat(byB.graceEndsAt()).isEqualTo(endB);
    assertThat(byC.graceEndsAt()).isNull();
    assertThat(byA.isRotatedOut(endA.minusSeconds(1))).isFalse();
    assertThat(byA.isRotatedOut(endA)).isTrue();
    assertThat(byB.isRotatedOut(endA)).isFalse();
    assertThat(byC.rotation().count()).isEqualTo(2);
    assertThat(keyRows(key.keyId())).hasSize(1);
    assertThat(store.hashesForAlias("chained")).containsExactly(ApiKeys.hash(c));
  }

  @Test
  void aRotationWithoutGraceRevokesEveryEarlierValueAtOnce() {
    String a = ApiKeys.generate();
    String b = ApiKeys.generate();
    String c = ApiKeys.generate();
    String d = ApiKeys.generate();
    var key = create(a, "leaked");
    var k = rotate(key, b, NOW.plus(DAY), NOW); // a: a day of grace
    Instant leak = NOW.plus(Duration.ofMinutes(5));
    k = rotate(k, c, leak, leak); // after a leak: no grace, for b nor for a

    assertThat(store.findByHash(ApiKeys.hash(a)).orElseThrow().isRotatedOut(leak)).as("a, though its own end is a day away").isTrue();
    assertThat(store.findByHash(ApiKeys.hash(b)).orElseThrow().isRotatedOut(leak)).isTrue();
    assertThat(store.findByHash(ApiKeys.hash(c)).orElseThrow().graceEndsAt()).isNull();

    // A later rotation with grace gives the value it replaces its grace: the revocation is in the past.
    Instant later = leak.plus(Duration.ofMinutes(5));
    rotate(k, d, later.plus(Duration.ofHours(1)), later);
    assertThat(store.findByHash(ApiKeys.hash(c)).orElseThrow().isRotatedOut(later.plusSeconds(60))).isFalse();
    assertThat(store.findByHash(ApiKeys.hash(a)).orElseThrow().isRotatedOut(later)).isTrue();
  }

  /** Deletes what DynamoDB's TTL may delete at {@code now}: every item whose purge_at has passed. */
  private void runTtl(Instant now) {
    for (var item : items()) {
      Long purge = purgeAt(item);
      if (purge != null && purge <= now.getEpochSecond()) {
        dynamo.client().deleteItem(r -> r.tableName(dynamo.keysTable()).key(Map.of("token_hash", item.get("token_hash"))));
      }
    }
  }

  @Test
  void anOldValueKeepsWorkingUntilItsOwnEndEvenAfterTtlRemovedTheShorterLivedValuesAfterIt() {
    String a = ApiKeys.generate();
    String b = ApiKeys.generate();
    String c = ApiKeys.generate();
    String d = ApiKeys.generate();
    var key = create(a, "long-chain");
    Instant endA = NOW.plus(Duration.ofHours(1));
    var k = rotate(key, b, endA, NOW); // a works for an hour
    k = rotate(k, c, NOW.plus(Duration.ofMinutes(11)), NOW.plus(Duration.ofMinutes(10))); // b works for a minute
    k = rotate(k, d, NOW.plus(Duration.ofMinutes(21)), NOW.plus(Duration.ofMinutes(20))); // c works for a minute
    // Some of those rotations were updated in between: the chain's end survives an update.
    store.update(k.tokenHash(), KeyChanges.blocked(false), NOW.plus(Duration.ofMinutes(21)));

    Instant later = NOW.plus(Duration.ofMinutes(30));
    runTtl(later);
    var byA = store.findByHash(ApiKeys.hash(a));
    assertThat(byA).as("a's grace has not ended: TTL must not have cut its way to the key").isPresent();
    assertThat(byA.get().tokenHash()).isEqualTo(ApiKeys.hash(d));
    assertThat(byA.get().graceEndsAt()).isEqualTo(endA);
    assertThat(byA.get().isRotatedOut(later)).isFalse();
    for (String ended : List.of(b, c)) {
      assertThat(store.findByHash(ApiKeys.hash(ended)).map(x -> x.isRotatedOut(later)).orElse(true)).isTrue();
    }

    runTtl(endA);
    assertThat(store.findByHash(ApiKeys.hash(a)).map(x -> x.isRotatedOut(endA)).orElse(true)).isTrue();
    assertThat(items()).filteredOn(KeyItems::isRotatedOut).as("every rotated-out value purged by the end of the longest grace").isEmpty();
    assertThat(store.findByHash(ApiKeys.hash(d))).isPresent();
  }

  @Test
  void aRotatedOutValueCannotBeRotatedOrUpdatedAgain() {
    String a = ApiKeys.generate();
    var key = create(a, null);
    rotate(key, ApiKeys.generate(), NOW.plus(DAY), NOW);
    // The stale read of the key: rotating it again must not give the old value a second successor.
    assertThatThrownBy(() -> rotate(key, ApiKeys.generate(), NOW.plus(DAY), NOW.plusSeconds(1)))
        .isInstanceOf(KeyStore.KeyChangedConcurrently.class);
    assertThatThrownBy(() -> store.update(ApiKeys.hash(a), KeyChanges.blocked(true), NOW.plusSeconds(2)))
        .isInstanceOf(KeyStore.KeyChangedConcurrently.class);
    assertThat(keyRows(key.keyId())).hasSize(1);
    assertThat(store.findByHash(ApiKeys.hash(a)).orElseThrow().blocked()).isFalse();
  }

  // ---------------------------------------------------------------------------------------------
  // the schedule

  @Test
  void dueForRotationReturnsOnlyDueKeysThatAutoRotate() {
    var due = create(ApiKeys.generate(), "due", null, schedule(DAY, Duration.ofHours(1), NOW.minusSeconds(60)));
    var dueNow = create(ApiKeys.generate(), "due-now", null, schedule(DAY, Duration.ofHours(1), NOW));
    create(ApiKeys.generate(), "later", null, schedule(DAY, Duration.ofHours(1), NOW.plusSeconds(1)));
    create(ApiKeys.generate(), "manual-only", null, new KeyRotation(false, null, Duration.ofHours(1), null, null, null, 0, null));
    create(ApiKeys.generate(), "plain");
    var switchedOff = create(ApiKeys.generate(), "switched-off", null, schedule(DAY, Duration.ofHours(1), NOW.minusSeconds(60)));
    store.update(switchedOff.tokenHash(),
        new KeyChanges(Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(),
            Optional.empty(), Optional.of(new KeyRotation(false, null, null, null, null, null, 0, null))),
        NOW.plusMillis(1));

    assertThat(store.dueForRotation(NOW, 25)).extracting(VirtualKey::keyAlias).containsExactlyInAnyOrder("due", "due-now");

    var rotated = rotate(store.findByHash(due.tokenHash()).orElseThrow(), ApiKeys.generate(), NOW.plus(Duration.ofHours(1)), NOW);
    assertThat(rotated.rotation().nextRotationAt()).isEqualTo(NOW.plus(DAY));
    assertThat(store.dueForRotation(NOW, 25)).extracting(VirtualKey::keyAlias).containsExactly("due-now");
    assertThat(store.dueForRotation(NOW.plus(DAY).minusSeconds(1), 25)).extracting(VirtualKey::keyAlias)
        .containsExactlyInAnyOrder("due-now", "later");
    assertThat(store.dueForRotation(NOW.plus(DAY), 25))
        .extracting(VirtualKey::keyAlias)
        .containsExactlyInAnyOrder("due", "due-now", "later");
    assertThat(store.dueForRotation(NOW.plus(DAY), 25)).filteredOn(k -> k.keyAlias().equals("due"))
        .singleElement()
        .satisfies(k -> assertThat(k.tokenHash()).as("due under its new hash").isEqualTo(rotated.tokenHash()));
    assertThat(dueNow.keyId()).isNotNull();
  }

  // ---------------------------------------------------------------------------------------------
  // races

  @Test
  void ofEightConcurrentRotationsOfOneKeyExactlyOneSucceeds() throws Exception {
    String oldValue = ApiKeys.generate();
    var key = create(oldValue, "contested-rotation");
    var read = store.findByHash(key.tokenHash()).orElseThrow();
    var newValues = new ArrayList<String>();
    var tasks = new ArrayList<Callable<VirtualKey>>();
    for (int i = 0; i < 8; i++) {
      String value = ApiKeys.generate();
      newValues.add(value);
      tasks.add(() -> rotate(read, value, NOW.plus(DAY), NOW.plusSeconds(1)));
    }
    var results = allAtOnce(tasks);

    var winners = new ArrayList<VirtualKey>();
    var losers = new ArrayList<Throwable>();
    for (var result : results) {
      Throwable failure = failureOf(result);
      if (failure == null) {
        winners.add(result.get());
      } else {
        losers.add(failure);
      }
    }
    assertThat(winners).hasSize(1);
    assertThat(losers).hasSize(7).allSatisfy(e -> assertThat(e).isInstanceOf(KeyStore.KeyChangedConcurrently.class));
    String winnerHash = winners.get(0).tokenHash();
    assertThat(keyRows(key.keyId())).singleElement().satisfies(row -> assertThat(KeyItems.text(row, "token_hash")).isEqualTo(winnerHash));
    assertThat(item(key.tokenHash()).get("rotated_to").s()).isEqualTo(winnerHash);
    assertThat(store.findByHash(key.tokenHash()).orElseThrow().tokenHash()).isEqualTo(winnerHash);
    long openingValues = newValues.stream().filter(v -> store.findByHash(ApiKeys.hash(v)).isPresent()).count();
    assertThat(openingValues).as("only the winner's new value opens the key").isEqualTo(1);
    assertThat(store.hashesForAlias("contested-rotation")).containsExactly(winnerHash);
    assertThat(store.findByHash(winnerHash).orElseThrow().rotation().count()).isEqualTo(1);
  }

  @Test
  void twoScheduledRunsAtOnceRotateEachDueKeyExactlyOnce() throws Exception {
    var ids = new ArrayList<String>();
    for (int i = 0; i < 6; i++) {
      ids.add(create(ApiKeys.generate(), "scheduled-" + i, null, schedule(DAY, Duration.ofHours(1), NOW.minusSeconds(i))).keyId());
    }
    var events = new RecordingEvents();
    var first = rotator(events);
    var second = rotator(events);
    List<Callable<VirtualKeyRotator.RunResult>> runs = List.of(first::rotateDue, second::rotateDue);
    var results = allAtOnce(runs);

    int rotated = 0;
    int failed = 0;
    for (var result : results) {
      assertThat(failureOf(result)).isNull();
      rotated += result.get().rotated();
      failed += result.get().failed();
    }
    assertThat(failed).as("no run failed a key").isZero();
    assertThat(rotated).as("rotations over both runs").isEqualTo(6);
    assertThat(events.events).hasSize(6);
    assertThat(events.events.stream().map(RotationEvent::keyId).collect(Collectors.toSet())).containsExactlyInAnyOrderElementsOf(ids);
    assertThat(events.events).allSatisfy(e -> {
      assertThat(e.trigger()).isEqualTo("schedule");
      assertThat(e.rotationCount()).isEqualTo(1);
      assertThat(e.previousKeyValidUntil()).isEqualTo(NOW.plus(Duration.ofHours(1)));
      assertThat(e.nextRotationAt()).isEqualTo(NOW.plus(DAY));
    });
    for (String id : ids) {
      assertThat(keyRows(id)).hasSize(1);
      assertThat(KeyItems.fromItem(keyRows(id).get(0)).rotation().count()).isEqualTo(1);
    }
    assertThat(store.dueForRotation(NOW, 25)).isEmpty();
    assertThat(first.rotateDue()).isEqualTo(new VirtualKeyRotator.RunResult(0, 0, 0, 0));
  }

  @Test
  void oneScheduledRunRotatesMoreDueKeysThanOnePage() {
    int count = 2 * 25 + 3; // VirtualKeyRotator reads the due index 25 keys at a time
    for (int i = 0; i < count; i++) {
      create(ApiKeys.generate(), "page-" + i, null, schedule(DAY, Duration.ofHours(1), NOW.minusSeconds(i)));
    }
    create(ApiKeys.generate(), "not-yet", null, schedule(DAY, Duration.ofHours(1), NOW.plusSeconds(1)));
    var events = new RecordingEvents();

    assertThat(rotator(events).rotateDue()).isEqualTo(new VirtualKeyRotator.RunResult(count, 0, 0, 0));

    assertThat(events.events).hasSize(count);
    assertThat(events.events.stream().map(RotationEvent::keyAlias).distinct().count()).isEqualTo(count);
    assertThat(events.events).noneMatch(e -> e.keyAlias().equals("not-yet"));
    assertThat(store.dueForRotation(NOW, 25)).isEmpty();
  }

  @Test
  void anUpdateRacingARotationNeverResurrectsTheOldRow() throws Exception {
    for (int round = 0; round < 10; round++) {
      String oldValue = ApiKeys.generate();
      String newValue = ApiKeys.generate();
      var key = create(oldValue, "raced-" + round);
      var read = store.findByHash(key.tokenHash()).orElseThrow();
      var metadata = new KeyChanges(Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(),
          Optional.of(Map.<String, Object>of("updated", true)), Optional.empty(), Optional.empty());
      List<Callable<Object>> both =
          List.of(
              () -> rotate(read, newValue, NOW.plus(DAY), NOW.plusSeconds(2)),
              () -> store.update(key.tokenHash(), metadata, NOW.plusSeconds(1)));
      var results = allAtOnce(both);
      Throwable rotateFailure = failureOf(results.get(0));
      Throwable updateFailure = failureOf(results.get(1));

      // Exactly one of them wins, and the loser is told it lost the race.
      assertThat(rotateFailure == null ^ updateFailure == null).as("round %d: rotate %s, update %s", round, rotateFailure, updateFailure).isTrue();
      for (Throwable failure : new Throwable[] {rotateFailure, updateFailure}) {
        if (failure != null) {
          assertThat(failure).isInstanceOf(KeyStore.KeyChangedConcurrently.class);
        }
      }
      assertThat(keyRows(key.keyId())).as("round %d: one row for the key", round).hasSize(1);
      if (rotateFailure == null) {
        assertThat(KeyItems.isRotatedOut(item(key.tokenHash()))).as("round %d: the old hash stays a pointer", round).isTrue();
        assertThat(store.findByHash(key.tokenHash()).orElseThrow().tokenHash()).isEqualTo(ApiKeys.hash(newValue));
        assertThat(store.hashesForAlias("raced-" + round)).containsExactly(ApiKeys.hash(newValue));
      } else {
        assertThat(store.findByHash(key.tokenHash()).orElseThrow().metadata()).containsEntry("updated", true);
        assertThat(store.findByHash(ApiKeys.hash(newValue))).isEmpty();
      }
    }
  }

  @Test
  void keysThatFailToRotateDoNotHoldUpTheKeysDueAfterThem() {
    // 30 keys due first whose rotations all fail, more than one page of the due index, then 5 more.
    for (int i = 0; i < 30; i++) {
      create(ApiKeys.generate(), "failing-" + i, null, schedule(DAY, Duration.ofHours(1), NOW.minusSeconds(100 + i)));
    }
    for (int i = 0; i < 5; i++) {
      create(ApiKeys.generate(), "later-" + i, null, schedule(DAY, Duration.ofHours(1), NOW.minusSeconds(i)));
    }
    var conflicting = new ConflictingDynamo(dynamo.client());
    conflicting.conflicts.set(30); // the first 30 rotation transactions are cancelled
    var racing = new DynamoDbKeyStore(conflicting, dynamo.keysTable());
    var events = new RecordingEvents();
    var run = new VirtualKeyRotator(racing, new KeyCache(racing, clock, Duration.ZERO), null, VirtualKeyRotator.DEFAULT_SECRET_PREFIX,
        events, clock).rotateDue();

    assertThat(run.rotated()).isEqualTo(5);
    assertThat(events.events).extracting(RotationEvent::keyAlias).allMatch(a -> a.startsWith("later-"));
    assertThat(store.dueForRotation(NOW, 100)).hasSize(30).allMatch(k -> k.keyAlias().startsWith("failing-")); // due next run
  }

  @Test
  void aRunOutOfTimeStartsNoFurtherRotationAndLeavesTheKeysDue() {
    for (int i = 0; i < 3; i++) {
      create(ApiKeys.generate(), "budget-" + i, null, schedule(DAY, Duration.ofHours(1), NOW.minusSeconds(60 + i)));
    }
    var events = new RecordingEvents();
    var calls = new java.util.concurrent.atomic.AtomicInteger();
    var run = rotator(events).rotateDue(() -> calls.incrementAndGet() <= 1); // time for one rotation only

    assertThat(run.rotated()).isEqualTo(1);
    assertThat(events.events).hasSize(1);
    assertThat(store.dueForRotation(NOW, 25)).hasSize(2);
  }

  @Test
  void blockedAndExpiredKeysAreNotRotated() {
    var blocked = create(ApiKeys.generate(), "blocked-due", null, schedule(DAY, Duration.ofHours(1), NOW.minusSeconds(60)));
    store.update(blocked.tokenHash(), KeyChanges.blocked(true), NOW.minusSeconds(30));
    create(ApiKeys.generate(), "expired-due", NOW.minusSeconds(1), schedule(DAY, Duration.ofHours(1), NOW.minusSeconds(60)));
    create(ApiKeys.generate(), "live-due", null, schedule(DAY, Duration.ofHours(1), NOW.minusSeconds(60)));
    var events = new RecordingEvents();

    assertThat(rotator(events).rotateDue()).isEqualTo(new VirtualKeyRotator.RunResult(1, 0, 0, 2));
    assertThat(events.events).extracting(RotationEvent::keyAlias).containsExactly("live-due");
  }

  @Test
  void aTransactionConflictIsReportedAsAConcurrentChangeNotAsATakenValue() {
    var conflicting = new ConflictingDynamo(dynamo.client());
    var racing = new DynamoDbKeyStore(conflicting, dynamo.keysTable());
    String oldValue = ApiKeys.generate();
    String newValue = ApiKeys.generate();
    var key = create(oldValue, "conflicted");

    // Another transaction on the key is still in flight: DynamoDB cancels this one, nothing is written.
    conflicting.conflicts.set(1);
    assertThatThrownBy(() -> racing.rotate(key, ApiKeys.hash(newValue), ApiKeys.mask(newValue), NOW.plus(DAY), KeyChanges.none(), NOW))
        .isInstanceOf(KeyStore.KeyChangedConcurrently.class);
    conflicting.conflicts.set(1);
    assertThatThrownBy(() -> racing.update(key.tokenHash(), KeyChanges.blocked(true), NOW.plusSeconds(1)))
        .isInstanceOf(KeyStore.KeyChangedConcurrently.class);
    assertThat(store.findByHash(key.tokenHash()).orElseThrow().graceEndsAt()).isNull();
    assertThat(store.findByHash(ApiKeys.hash(newValue))).isEmpty();

    // Read again and retried, both go through.
    var rotated = racing.rotate(store.findByHash(key.tokenHash()).orElseThrow(), ApiKeys.hash(newValue), ApiKeys.mask(newValue),
        NOW.plus(DAY), KeyChanges.none(), NOW);
    assertThat(racing.update(rotated.tokenHash(), KeyChanges.blocked(true), NOW.plusSeconds(1)).blocked()).isTrue();
  }

  // ---------------------------------------------------------------------------------------------
  // delete and TTL

  @Test
  void deletingARotatedKeyRemovesItsRowUsageAndAliasAndItsOldValueOpensNothing() {
    String oldValue = ApiKeys.generate();
    String newValue = ApiKeys.generate();
    var key = create(oldValue, "to-delete");
    recordRequest(key.keyId(), 3);
    rotate(key, newValue, NOW.plus(DAY), NOW);
    // The store deletes keys by their current hash: a rotated-out value means the key moved since the
    // caller resolved it (the admin API resolves values first), so nothing is deleted and it is told so.
    assertThatThrownBy(() -> store.deleteAll(List.of(ApiKeys.hash(oldValue)))).isInstanceOf(KeyStore.KeyChangedConcurrently.class);
    assertThat(keyRows(key.keyId())).hasSize(1);

    store.deleteAll(List.of(ApiKeys.hash(newValue)));

    assertThat(keyRows(key.keyId())).isEmpty();
    assertThat(item("usage#" + key.keyId())).isEmpty();
    assertThat(item("alias#to-delete")).isEmpty();
    assertThat(store.findByHash(ApiKeys.hash(newValue))).isEmpty();
    assertThat(store.findByHash(ApiKeys.hash(oldValue))).as("the pointer leads nowhere").isEmpty();
    recordRequest(key.keyId(), 1); // a request in flight when the key was deleted
    assertThat(item("usage#" + key.keyId())).as("usage of a deleted key is not recreated").isEmpty();
    store.create(new VirtualKey(ApiKeys.hash(ApiKeys.generate()), UUID.randomUUID().toString(), "sk-...x", "to-delete",
        List.of(), null, null, Map.of(), NOW, NOW, null, false, null)); // the alias is free again
  }

  @Test
  void purgeAtIsTheGraceEndForRotatedOutValuesAndExpiryPlusSevenDaysForExpiringKeys() {
    Instant expires = NOW.plus(Duration.ofDays(30));
    long keyPurge = expires.plus(Duration.ofDays(7)).getEpochSecond();
    String oldValue = ApiKeys.generate();
    String newValue = ApiKeys.generate();
    var key = create(oldValue, "expiring", expires, KeyRotation.NONE);
    assertThat(purgeAt(item(key.tokenHash()))).isEqualTo(keyPurge);
    assertThat(purgeAt(item("usage#" + key.keyId()))).isEqualTo(keyPurge);
    assertThat(purgeAt(item("alias#expiring"))).isEqualTo(keyPurge);

    Instant graceEnd = NOW.plus(Duration.ofHours(6));
    rotate(key, newValue, graceEnd, NOW);
    assertThat(purgeAt(item(key.tokenHash()))).as("rotated-out value").isEqualTo(graceEnd.getEpochSecond());
    assertThat(purgeAt(item(ApiKeys.hash(newValue)))).isEqualTo(keyPurge);
    assertThat(purgeAt(item("usage#" + key.keyId()))).isEqualTo(keyPurge);
    assertThat(purgeAt(item("alias#expiring"))).isEqualTo(keyPurge);

    // A rotation that extends the expiry (regenerate with a duration) moves all companions' purge time.
    Instant extended = NOW.plus(Duration.ofDays(60));
    long extendedPurge = extended.plus(Duration.ofDays(7)).getEpochSecond();
    String third = ApiKeys.generate();
    var extend = new KeyChanges(Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(),
        Optional.of(extended), Optional.empty());
    store.rotate(store.findByHash(ApiKeys.hash(newValue)).orElseThrow(), ApiKeys.hash(third), ApiKeys.mask(third),
        NOW.plus(Duration.ofHours(7)), extend, NOW.plusSeconds(1));
    assertThat(purgeAt(item(ApiKeys.hash(third)))).isEqualTo(extendedPurge);
    assertThat(purgeAt(item("usage#" + key.keyId()))).isEqualTo(extendedPurge);
    assertThat(purgeAt(item("alias#expiring"))).isEqualTo(extendedPurge);
    assertThat(purgeAt(item(ApiKeys.hash(newValue)))).isEqualTo(NOW.plus(Duration.ofHours(7)).getEpochSecond());

    // A key that never expires is never purged: neither it nor its companions carry purge_at.
    var forever = create(ApiKeys.generate(), "forever");
    assertThat(purgeAt(item(forever.tokenHash()))).isNull();
    assertThat(purgeAt(item("usage#" + forever.keyId()))).isNull();
    assertThat(purgeAt(item("alias#forever"))).isNull();
  }
}

package aigw.core.keys;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.testing.MutableClock;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class KeyCacheTest {
  /** A store that counts reads, standing in for DynamoDB. */
  static class CountingStore implements KeyStore {
    final Map<String, VirtualKey> keys = new ConcurrentHashMap<>();
    final AtomicInteger reads = new AtomicInteger();

    @Override
    public Optional<VirtualKey> findByHash(String tokenHash) {
      reads.incrementAndGet();
      return Optional.ofNullable(keys.get(tokenHash));
    }

    @Override
    public void create(VirtualKey key) {
      keys.put(key.tokenHash(), key);
    }

    @Override
    public VirtualKey update(String tokenHash, KeyChanges changes, Instant now) {
      var updated = changes.applyTo(keys.get(tokenHash), now);
      keys.put(tokenHash, updated);
      return updated;
    }

    @Override
    public void deleteAll(Collection<String> tokenHashes) {
      tokenHashes.forEach(keys::remove);
    }

    @Override
    public List<String> hashesForAlias(String keyAlias) {
      return List.of();
    }

    @Override
    public List<VirtualKey> listAll() {
      return List.copyOf(keys.values());
    }

    @Override
    public KeyUsage usageOf(String keyId) {
      return KeyUsage.NONE;
    }

    @Override
    public VirtualKey rotate(VirtualKey current, String newTokenHash, String newKeyName, Instant graceEnd, KeyChanges changes, Instant now) {
      throw new UnsupportedOperationException("not used by the cache");
    }

    @Override
    public DuePage dueForRotation(Instant now, int limit, String after) {
      return new DuePage(List.of(), null);
    }
  }

  private final MutableClock clock = MutableClock.at("2026-01-01T00:00:00Z");
  private final CountingStore store = new CountingStore();
  private final KeyCache cache = new KeyCache(store, clock, Duration.ofSeconds(5));

  private VirtualKey key(String hash) {
    var now = clock.instant();
    return new VirtualKey(hash, "id", "sk-...", null, List.of(), null, null, Map.of(), now, now, null, false, null);
  }

  @Test
  void aHotKeyCostsOneReadPerTtl() {
    store.create(key("h1"));
    for (int i = 0; i < 100; i++) {
      assertThat(cache.find("h1")).isPresent();
    }
    assertThat(store.reads).hasValue(1);
    clock.advance(Duration.ofSeconds(5));
    assertThat(cache.find("h1")).isPresent();
    assertThat(store.reads).hasValue(2);
  }

  @Test
  void aBlockedKeyIsSeenBlockedWithinTheTtl() {
    store.create(key("h1"));
    cache.find("h1");
    store.update("h1", KeyChanges.blocked(true), clock.instant());
    assertThat(cache.find("h1").orElseThrow().blocked()).isFalse(); // still cached
    clock.advance(Duration.ofMillis(5001));
    assertThat(cache.find("h1").orElseThrow().blocked()).isTrue();
  }

  @Test
  void unknownKeysAreNotCachedSoANewKeyWorksAtOnce() {
    assertThat(cache.find("h2")).isEmpty();
    store.create(key("h2"));
    assertThat(cache.find("h2")).isPresent();
  }

  private VirtualKey key(String hash, String keyId) {
    var now = clock.instant();
    return new VirtualKey(hash, keyId, "sk-...", null, List.of(), null, null, Map.of(), now, now, null, false, null);
  }

  @Test
  void evictKeyDropsTheEntryOfEveryValueOfThatKeyAndNoOther() {
    store.create(key("current", "k1"));
    store.keys.put("rotated-out", key("current", "k1").withGraceEndsAt(clock.instant().plusSeconds(3600)));
    store.create(key("other", "k2"));
    cache.find("current");
    cache.find("rotated-out");
    cache.find("other");
    int reads = store.reads.get();

    cache.evictKey("k1");

    cache.find("current");
    cache.find("rotated-out");
    assertThat(store.reads.get()).as("both values of k1 read again").isEqualTo(reads + 2);
    cache.find("other");
    assertThat(store.reads.get()).as("k2 still cached").isEqualTo(reads + 2);
  }

  @Test
  void aLookupThatReadTheStoreBeforeAnEvictionDoesNotCacheWhatItRead() {
    // The read returns the key as it was; an admin change and its eviction happen before the put.
    var racing = new CountingStore() {
      @Override
      public Optional<VirtualKey> findByHash(String tokenHash) {
        Optional<VirtualKey> before = super.findByHash(tokenHash);
        if (reads.get() == 1) {
          keys.put(tokenHash, keys.get(tokenHash).withUsage(KeyUsage.NONE)); // stand-in for the change
          raceCache[0].evictKey("id");
        }
        return before;
      }
    };
    var raced = new KeyCache(racing, clock, Duration.ofSeconds(5));
    raceCache[0] = raced;
    racing.create(key("h1"));

    raced.find("h1");
    raced.find("h1");

    assertThat(racing.reads).as("the second lookup read the store again").hasValue(2);
  }

  private final KeyCache[] raceCache = new KeyCache[1];

  @Test
  void invalidateDropsTheCachedCopy() {
    store.create(key("h1"));
    cache.find("h1");
    store.deleteAll(List.of("h1"));
    cache.invalidate("h1");
    assertThat(cache.find("h1")).isEmpty();
  }
}

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
  static final class CountingStore implements KeyStore {
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

  @Test
  void invalidateDropsTheCachedCopy() {
    store.create(key("h1"));
    cache.find("h1");
    store.deleteAll(List.of("h1"));
    cache.invalidate("h1");
    assertThat(cache.find("h1")).isEmpty();
  }
}

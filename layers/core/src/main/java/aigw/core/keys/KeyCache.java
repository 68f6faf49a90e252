package aigw.core.keys;

import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Per-container cache of key lookups, so a hot key costs no DynamoDB read. Its TTL is the longest a
 * revoked, blocked or changed key keeps its old behaviour in a container that already saw it
 * (AIGW_KEY_CACHE_TTL_SECONDS, default 5 s). Unknown keys are not cached: a key created a moment
 * ago must work at once.
 */
public final class KeyCache {
  /** Bound on entries; when reached the cache starts over rather than growing without limit. */
  static final int MAX_ENTRIES = 10_000;

  private record Entry(VirtualKey key, long expiresAtMillis) {}

  private final KeyStore store;
  private final Clock clock;
  private final long ttlMillis;
  private final ConcurrentHashMap<String, Entry> perContainerCache = new ConcurrentHashMap<>();

  public KeyCache(KeyStore store, Clock clock, Duration ttl) {
    this.store = store;
    this.clock = clock;
    this.ttlMillis = ttl.toMillis();
  }

  public Optional<VirtualKey> find(String tokenHash) {
    long now = clock.millis();
    Entry entry = perContainerCache.get(tokenHash);
    if (entry != null && now < entry.expiresAtMillis()) {
      return Optional.of(entry.key());
    }
    Optional<VirtualKey> found = store.findByHash(tokenHash);
    if (found.isPresent() && ttlMillis > 0) {
      if (perContainerCache.size() >= MAX_ENTRIES) {
        perContainerCache.clear();
      }
      perContainerCache.put(tokenHash, new Entry(found.get(), now + ttlMillis));
    } else {
      perContainerCache.remove(tokenHash);
    }
    return found;
  }

  /** Drops a key after an admin change, so this container sees the change at once. */
  public void invalidate(String tokenHash) {
    perContainerCache.remove(tokenHash);
  }

  public Duration ttl() {
    return Duration.ofMillis(ttlMillis);
  }
}

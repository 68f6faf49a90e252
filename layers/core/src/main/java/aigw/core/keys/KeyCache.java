package aigw.core.keys;

import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Per-container cache of key lookups, so a hot key costs no DynamoDB read. Its TTL is the longest a
 * revoked, blocked or changed key keeps its old behaviour in <em>another</em> container that already
 * saw it (AIGW_KEY_CACHE_TTL_SECONDS, default 5 s). In the container that made the change it takes
 * effect at once: every admin change calls {@link #evictKey(String)}. Unknown keys are not cached: a
 * key created a moment ago must work at once.
 */
public final class KeyCache {
  /** Bound on entries; when reached the cache starts over rather than growing without limit. */
  static final int MAX_ENTRIES = 10_000;

  private record Entry(VirtualKey key, long expiresAtMillis) {}

  private final KeyStore store;
  private final Clock clock;
  private final long ttlMillis;
  private final ConcurrentHashMap<String, Entry> perContainerCache = new ConcurrentHashMap<>();
  /**
   * Counts evictions. A lookup that read the store before an eviction must not put what it read
   * afterwards: it may be the key as it was before the change that caused the eviction.
   */
  private final AtomicLong evictions = new AtomicLong();

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
    long evictionsBefore = evictions.get();
    Optional<VirtualKey> found = store.findByHash(tokenHash);
    if (found.isPresent() && ttlMillis > 0) {
      if (perContainerCache.size() >= MAX_ENTRIES) {
        perContainerCache.clear();
      }
      perContainerCache.put(tokenHash, new Entry(found.get(), now + ttlMillis));
      if (evictions.get() != evictionsBefore) {
        // An admin change raced this read: what was read may predate it. Not cached; the next
        // lookup reads again.
        perContainerCache.remove(tokenHash);
      }
    } else {
      perContainerCache.remove(tokenHash);
    }
    return found;
  }

  /**
   * Drops every cached entry of the key {@code keyId}: the one under its current value and the ones
   * under values rotated out of it (still in their grace period, or revoked). Called after every
   * admin change of the key (update, block, unblock, delete, rotation), so that in this container no
   * value of the key keeps its old behaviour. Walks the cache: admin changes are rare, lookups are not.
   */
  public void evictKey(String keyId) {
    evictions.incrementAndGet();
    perContainerCache.values().removeIf(entry -> entry.key().keyId().equals(keyId));
  }

  /** Drops the entry of one value; for a hash that opens no key (or as well as {@link #evictKey}). */
  public void invalidate(String tokenHash) {
    evictions.incrementAndGet();
    perContainerCache.remove(tokenHash);
  }

  public Duration ttl() {
    return Duration.ofMillis(ttlMillis);
  }
}

package aigw.core.teams;

import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Per-container cache of teams, so a request by a key in a hot team costs no DynamoDB read. Its TTL
 * is the key cache's (AIGW_KEY_CACHE_TTL_SECONDS, default 5 s): the longest a blocked, deleted or
 * changed team keeps its old behaviour in <em>another</em> container that already read it. In the
 * container that made the change it holds at once: every team change calls {@link #evict(String)}.
 * Unknown teams are not cached, as unknown keys are not ({@code aigw.core.keys.KeyCache}).
 */
public final class TeamCache {
  /** Bound on entries; when reached the cache starts over rather than growing without limit. */
  static final int MAX_ENTRIES = 10_000;

  private record Entry(Team team, long expiresAtMillis) {}

  private final TeamStore store;
  private final Clock clock;
  private final long ttlMillis;
  private final ConcurrentHashMap<String, Entry> perContainerCache = new ConcurrentHashMap<>();
  /** A read that an eviction overtook must not put what it read: it may predate the change. */
  private final AtomicLong evictions = new AtomicLong();

  public TeamCache(TeamStore store, Clock clock, Duration ttl) {
    this.store = store;
    this.clock = clock;
    this.ttlMillis = ttl.toMillis();
  }

  public Optional<Team> find(String teamId) {
    long now = clock.millis();
    Entry entry = perContainerCache.get(teamId);
    if (entry != null && now < entry.expiresAtMillis()) {
      return Optional.of(entry.team());
    }
    long evictionsBefore = evictions.get();
    Optional<Team> found = store.find(teamId);
    if (found.isPresent() && ttlMillis > 0) {
      if (perContainerCache.size() >= MAX_ENTRIES) {
        perContainerCache.clear();
      }
      perContainerCache.put(teamId, new Entry(found.get(), now + ttlMillis));
      if (evictions.get() != evictionsBefore) {
        perContainerCache.remove(teamId); // an admin change raced this read
      }
    } else {
      perContainerCache.remove(teamId);
    }
    return found;
  }

  /** Drops the team's entry; called after every change of the team (update, block, unblock, delete). */
  public void evict(String teamId) {
    evictions.incrementAndGet();
    perContainerCache.remove(teamId);
  }
}

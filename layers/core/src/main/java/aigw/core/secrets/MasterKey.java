package aigw.core.secrets;

import aigw.core.keys.ApiKeys;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.logging.Logger;

/**
 * Checks a presented key against the master key in constant time. The secret's SHA-256 is cached
 * for {@code ttl}; when a presented key does not match, the secret is read again at most once per
 * {@code recheckInterval}, so a rotated master key works within seconds without a restart and a
 * stream of wrong keys cannot hammer Secrets Manager.
 *
 * <p>After a rotation the key it replaced (AWSPREVIOUS) is accepted too, until {@code grace} after
 * the moment the new key became current. That moment comes from the secret itself (the current
 * version's creation time), not from when this container noticed, so every container stops
 * accepting the old key at the same instant, checked on every comparison rather than at the next
 * re-read.
 *
 * <p>A Secrets Manager outage keeps the cached key working for {@link SecretSource#MAX_STALENESS}
 * (1 h) after its last successful read; after that the key is not compared until a read succeeds
 * again, and callers get 503.
 */
public final class MasterKey {
  private static final Logger LOG = Logger.getLogger(MasterKey.class.getName());

  private final SecretSource source;
  private final Clock clock;
  private final long ttlMillis;
  private final long recheckMillis;
  private final Duration grace;

  /** What was read, as digests; replaced as a whole so a reader never sees half of a refresh. */
  private record Cached(byte[] current, byte[] previous, long previousUntilMillis, long readAtMillis, long confirmedAtMillis) {
    boolean accepts(byte[] candidate, long now) {
      boolean matchesCurrent = MessageDigest.isEqual(current, candidate);
      boolean matchesPrevious = previous != null && MessageDigest.isEqual(previous, candidate) && now < previousUntilMillis;
      return matchesCurrent | matchesPrevious; // both compared every time: no timing hint of which
    }

    /** Whether an accepted candidate is the previous key (asked only once it was accepted). */
    boolean isPrevious(byte[] candidate) {
      return !MessageDigest.isEqual(current, candidate);
    }

    /** The same values, last tried at {@code now} (a failed read): confirmedAtMillis stays. */
    Cached readAt(long now) {
      return new Cached(current, previous, previousUntilMillis, now, confirmedAtMillis);
    }
  }

  private volatile Cached cached;

  /** Without a grace period: only the current key is accepted. */
  public MasterKey(SecretSource source, Clock clock, Duration ttl, Duration recheckInterval) {
    this(source, clock, ttl, recheckInterval, Duration.ZERO);
  }

  /** @param grace how long after a rotation the previous key still works (AIGW_MASTER_KEY_GRACE_SECONDS); zero for none */
  public MasterKey(SecretSource source, Clock clock, Duration ttl, Duration recheckInterval, Duration grace) {
    this.source = source;
    this.clock = clock;
    this.ttlMillis = ttl.toMillis();
    this.recheckMillis = recheckInterval.toMillis();
    this.grace = grace;
  }

  /** Reads the secret now; a deployment with no readable secret must not start. A no-op if none is {@link #held}. */
  public MasterKey load() {
    if (held()) {
      refresh(clock.millis());
    }
    return this;
  }

  /** False over {@link SecretSource#NOT_HELD}: this function knows no master key and matches none. */
  public boolean held() {
    return source.held();
  }

  /**
   * Whether {@code presented} is the current master key as last read, without reading the secret:
   * false when none is held, none has been read yet, or what was read is past its TTL (then {@link
   * #matches} decides, and reads). The key a rotation replaced is left to {@link #matches} too, which
   * re-checks its grace.
   */
  public boolean matchesAsLastRead(String presented) {
    return presented != null && !presented.isEmpty() && digestMatchesAsLastRead(ApiKeys.sha256(presented));
  }

  /**
   * As {@link #matchesAsLastRead(String)}, for a presented non-empty key's SHA-256 ({@link
   * ApiKeys#sha256}), which a model route also needs to look the key up: hashed once a request.
   */
  public boolean digestMatchesAsLastRead(byte[] presentedSha256) {
    Cached seen = cached;
    if (seen == null || !held()) {
      return false;
    }
    long now = clock.millis();
    if (now - seen.readAtMillis() >= ttlMillis || now - seen.confirmedAtMillis() >= SecretSource.MAX_STALENESS.toMillis()) {
      return false;
    }
    return MessageDigest.isEqual(seen.current(), presentedSha256);
  }

  public boolean matches(String presented) {
    if (presented == null || presented.isEmpty() || !held()) {
      return false;
    }
    byte[] candidate = ApiKeys.sha256(presented);
    long now = clock.millis();
    Cached seen = cached;
    if (seen == null) {
      seen = refresh(now);
    } else if (now - seen.confirmedAtMillis() >= SecretSource.MAX_STALENESS.toMillis()) {
      seen = refreshOrRefuse(seen, now);
    } else if (now - seen.readAtMillis() >= ttlMillis) {
      seen = refreshKeepingOld(now);
    }
    if (seen.accepts(candidate, now)) {
      // The previous key is re-read at most every recheck interval, not every TTL: after a leak the
      // operator removes its AWSPREVIOUS label (docs/operations.md, "A leaked master key"), and its
      // grace period must end within seconds, not minutes. Only callers of the previous key, during
      // its grace period, cause these reads.
      if (seen.isPrevious(candidate) && now - seen.readAtMillis() >= recheckMillis) {
        return refreshKeepingOld(now).accepts(candidate, now);
      }
      return true;
    }
    if (now - seen.readAtMillis() >= recheckMillis) {
      return refreshKeepingOld(now).accepts(candidate, now); // perhaps the secret was rotated since we cached it
    }
    return false;
  }

  /** A Secrets Manager outage must not lock the admin out: keep the last value and retry later. */
  private Cached refreshKeepingOld(long now) {
    try {
      return refresh(now);
    } catch (SecretSource.SecretUnavailable e) {
      LOG.warning("Could not re-read the master key (" + e.getMessage() + "); keeping the cached one.");
      Cached kept = cached.readAt(now);
      cached = kept;
      return kept;
    }
  }

  /**
   * The cached key has not been confirmed for {@link SecretSource#MAX_STALENESS}: read it again (at
   * most once per recheck interval), and refuse to compare against it when that fails.
   *
   * @throws SecretSource.SecretUnavailable when the secret still cannot be read (503 for the caller)
   */
  private Cached refreshOrRefuse(Cached seen, long now) {
    if (now - seen.readAtMillis() >= recheckMillis) {
      try {
        return refresh(now);
      } catch (SecretSource.SecretUnavailable e) {
        cached = seen.readAt(now);
        throw stale(seen, e.getMessage());
      }
    }
    throw stale(seen, "not retried before the recheck interval");
  }

  private SecretSource.SecretUnavailable stale(Cached seen, String why) {
    return new SecretSource.SecretUnavailable(
        source.describe() + " could not be read since " + Instant.ofEpochMilli(seen.confirmedAtMillis())
            + ", longer than the " + SecretSource.MAX_STALENESS.toMinutes() + " min a cached master key is used unconfirmed (" + why + ")",
        null);
  }

  /**
   * For readiness checks: reads the secret unless it was read within the recheck interval, so an
   * unauthenticated health probe cannot drive Secrets Manager calls. Throws {@link
   * SecretSource.SecretUnavailable} when it cannot be read.
   */
  public void check() {
    if (!held()) {
      return;
    }
    long now = clock.millis();
    Cached seen = cached;
    if (seen == null || now - seen.readAtMillis() >= recheckMillis) {
      refresh(now);
    }
  }

  public String describe() {
    return source.describe();
  }

  /**
   * Makes the next comparison read the secret again. Called after a SnapStart restore: the value
   * read at init may be days old by then, and rotated since.
   */
  public void expire() {
    Cached seen = cached;
    if (seen != null) {
      cached = seen.readAt(Long.MIN_VALUE / 2);
    }
  }

  private synchronized Cached refresh(long now) {
    boolean wantPrevious = !grace.isZero() && !grace.isNegative();
    SecretSource.Versions read = source.readVersions(wantPrevious ? Instant.ofEpochMilli(now).minus(grace) : null);
    if (read.current() == null || read.current().isBlank()) {
      throw new SecretSource.SecretUnavailable("the master key in " + source.describe() + " is empty", null);
    }
    byte[] current = ApiKeys.sha256(read.current());
    byte[] previous = null;
    long previousUntil = 0;
    if (wantPrevious && read.previous() != null && !read.previous().isBlank() && read.currentSince() != null) {
      previous = ApiKeys.sha256(read.previous());
      previousUntil = read.currentSince().plus(grace).toEpochMilli();
    }
    Cached before = cached;
    if (before != null && !MessageDigest.isEqual(before.current(), current)) {
      LOG.info("The master key changed in " + source.describe() + "; using the new one"
          + (previous != null && now < previousUntil ? ", and the previous one until " + Instant.ofEpochMilli(previousUntil) : "")
          + ".");
    }
    Cached fresh = new Cached(current, previous, previousUntil, now, now);
    cached = fresh;
    return fresh;
  }
}

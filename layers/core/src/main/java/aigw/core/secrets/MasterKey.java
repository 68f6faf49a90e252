package aigw.core.secrets;

import aigw.core.keys.ApiKeys;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.logging.Logger;

/**
 * Checks a presented key against the master key in constant time. The secret's SHA-256 is cached
 * for {@code ttl}; when a presented key does not match, the secret is read again at most once per
 * {@code recheckInterval}, so a rotated master key works within seconds without a restart and a
 * stream of wrong keys cannot hammer Secrets Manager.
 */
public final class MasterKey {
  private static final Logger LOG = Logger.getLogger(MasterKey.class.getName());

  private final SecretSource source;
  private final Clock clock;
  private final long ttlMillis;
  private final long recheckMillis;

  private volatile byte[] digest;
  private volatile long readAtMillis;

  public MasterKey(SecretSource source, Clock clock, Duration ttl, Duration recheckInterval) {
    this.source = source;
    this.clock = clock;
    this.ttlMillis = ttl.toMillis();
    this.recheckMillis = recheckInterval.toMillis();
  }

  /** Reads the secret now; a deployment with no readable secret must not start. */
  public MasterKey load() {
    refresh(clock.millis());
    return this;
  }

  public boolean matches(String presented) {
    if (presented == null || presented.isEmpty()) {
      return false;
    }
    byte[] candidate = ApiKeys.sha256(presented);
    long now = clock.millis();
    if (digest == null) {
      refresh(now);
    } else if (now - readAtMillis >= ttlMillis) {
      refreshKeepingOld(now);
    }
    if (MessageDigest.isEqual(digest, candidate)) {
      return true;
    }
    if (now - readAtMillis >= recheckMillis) {
      refreshKeepingOld(now); // perhaps the secret was rotated since we cached it
      return MessageDigest.isEqual(digest, candidate);
    }
    return false;
  }

  /** A Secrets Manager outage must not lock the admin out: keep the last value and retry later. */
  private void refreshKeepingOld(long now) {
    try {
      refresh(now);
    } catch (SecretSource.SecretUnavailable e) {
      LOG.warning("Could not re-read the master key (" + e.getMessage() + "); keeping the cached one.");
      readAtMillis = now;
    }
  }

  /**
   * For readiness checks: reads the secret unless it was read within the recheck interval, so an
   * unauthenticated health probe cannot drive Secrets Manager calls. Throws {@link
   * SecretSource.SecretUnavailable} when it cannot be read.
   */
  public void check() {
    long now = clock.millis();
    if (digest == null || now - readAtMillis >= recheckMillis) {
      refresh(now);
    }
  }

  public String describe() {
    return source.describe();
  }

  private synchronized void refresh(long now) {
    String value = source.read();
    if (value == null || value.isBlank()) {
      throw new SecretSource.SecretUnavailable("the master key in " + source.describe() + " is empty", null);
    }
    byte[] fresh = ApiKeys.sha256(value);
    if (digest != null && !MessageDigest.isEqual(digest, fresh)) {
      LOG.info("The master key changed in " + source.describe() + "; using the new one.");
    }
    digest = fresh;
    readAtMillis = now;
  }
}

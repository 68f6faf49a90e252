package aigw.core.keys;

import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;

/**
 * A key's rotation settings and state. Rotation replaces the key material and nothing else: the
 * key id, alias, settings and usage stay.
 *
 * @param autoRotate whether the schedule rotates this key (LiteLLM's {@code auto_rotate})
 * @param interval time between scheduled rotations (LiteLLM's {@code rotation_interval}); null
 *     when the key does not rotate on a schedule
 * @param gracePeriod how long the previous key keeps working after a scheduled rotation; null
 *     means {@link #DEFAULT_GRACE_PERIOD}
 * @param secretTarget Secrets Manager secret that receives each new key; null for none
 * @param nextRotationAt when the schedule rotates the key next (LiteLLM's {@code key_rotation_at})
 * @param lastRotatedAt when it was last rotated (LiteLLM's {@code last_rotation_at})
 * @param count rotations so far (LiteLLM's {@code rotation_count})
 * @param previousKeyValidUntil end of the last rotation's grace period: the previous key works
 *     until then
 * @param rotatedOutUntil the latest end of any value rotated out of this key (an older value can
 *     outlive a later one rotated out with a shorter grace): the rotated-out items chained to the
 *     key are kept until then, so that TTL never cuts an older value's way to the key
 * @param earlierValuesRevokedAt set by a rotation without grace period: every value rotated out of
 *     the key at or before this instant stops working from it, whatever its own grace end (the
 *     answer to a leak is a rotation that leaves no old value working)
 */
public record KeyRotation(
    boolean autoRotate,
    Duration interval,
    Duration gracePeriod,
    String secretTarget,
    Instant nextRotationAt,
    Instant lastRotatedAt,
    long count,
    Instant previousKeyValidUntil,
    Instant rotatedOutUntil,
    Instant earlierValuesRevokedAt) {

  /** The and LiteLLM's usual grace: a day for every client to pick up the new key. */
  public static final Duration DEFAULT_GRACE_PERIOD = Duration.ofHours(24);

  public static final KeyRotation NONE = new KeyRotation(false, null, null, null, null, null, 0, null);

  public KeyRotation(
      boolean autoRotate,
      Duration interval,
      Duration gracePeriod,
      String secretTarget,
      Instant nextRotationAt,
      Instant lastRotatedAt,
      long count,
      Instant previousKeyValidUntil) {
    this(autoRotate, interval, gracePeriod, secretTarget, nextRotationAt, lastRotatedAt, count, previousKeyValidUntil, null, null);
  }


  public Duration effectiveGracePeriod() {
    return gracePeriod == null ? DEFAULT_GRACE_PERIOD : gracePeriod;
  }

  /** The state after a rotation at {@code now} whose previous key works until {@code graceEnd}. */
  public KeyRotation rotatedAt(Instant now, Instant graceEnd) {
    // Whole seconds, as the keys table stores the due time: the time shown is the one stored.
    Instant next = autoRotate && interval != null ? now.plus(interval).truncatedTo(ChronoUnit.SECONDS) : null;
    Instant chainEnd = rotatedOutUntil != null && rotatedOutUntil.isAfter(graceEnd) ? rotatedOutUntil : graceEnd;
    // No grace: nothing rotated out of this key so far may keep working either.
    Instant revoked = graceEnd.isAfter(now) ? earlierValuesRevokedAt : now;
    return new KeyRotation(
        autoRotate, interval, gracePeriod, secretTarget, next, now.truncatedTo(ChronoUnit.SECONDS), count + 1, graceEnd, chainEnd, revoked);
  }

  /** The next due time for these settings, counted from the last rotation or else from {@code since}. */
  public static Instant nextDue(boolean autoRotate, Duration interval, Instant lastRotatedAt, Instant since) {
    if (!autoRotate || interval == null) {
      return null;
    }
    return (lastRotatedAt == null ? since : lastRotatedAt).plus(interval);
  }
}

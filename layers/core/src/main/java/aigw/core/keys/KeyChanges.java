package aigw.core.keys;

import aigw.core.limits.Limits;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The fields a {@code /key/update}, {@code /key/block} or {@code /key/unblock} changes; an empty
 * Optional leaves the stored value as it is.
 *
 * @param rotation new rotation settings (auto_rotate, interval, grace period, secret target and
 *     the next due time they give); the rotation history (last rotation, count) never changes here
 * @param limits the key's new limits, whole ({@code aigw.core.limits.LimitFields} merges a request's fields into the current ones)
 */
public record KeyChanges(
    Optional<String> keyAlias,
    Optional<List<String>> models,
    Optional<String> teamId,
    Optional<String> userId,
    Optional<Map<String, Object>> metadata,
    Optional<Instant> expiresAt,
    Optional<Boolean> blocked,
    Optional<KeyRotation> rotation,
    Optional<Limits> limits) {

  public KeyChanges(
      Optional<String> keyAlias,
      Optional<List<String>> models,
      Optional<String> teamId,
      Optional<String> userId,
      Optional<Map<String, Object>> metadata,
      Optional<Instant> expiresAt,
      Optional<Boolean> blocked,
      Optional<KeyRotation> rotation) {
    this(keyAlias, models, teamId, userId, metadata, expiresAt, blocked, rotation, Optional.empty());
  }

  public KeyChanges(
      Optional<String> keyAlias,
      Optional<List<String>> models,
      Optional<String> teamId,
      Optional<String> userId,
      Optional<Map<String, Object>> metadata,
      Optional<Instant> expiresAt,
      Optional<Boolean> blocked) {
    this(keyAlias, models, teamId, userId, metadata, expiresAt, blocked, Optional.empty());
  }

  public static KeyChanges none() {
    return new KeyChanges(
        Optional.empty(),
        Optional.empty(),
        Optional.empty(),
        Optional.empty(),
        Optional.empty(),
        Optional.empty(),
        Optional.empty(),
        Optional.empty(),
        Optional.empty());
  }

  public static KeyChanges blocked(boolean blocked) {
    return none().withBlocked(blocked);
  }

  public KeyChanges withBlocked(boolean value) {
    return new KeyChanges(keyAlias, models, teamId, userId, metadata, expiresAt, Optional.of(value), rotation, limits);
  }

  public boolean isEmpty() {
    return equals(none());
  }

  public VirtualKey applyTo(VirtualKey key, Instant now) {
    return new VirtualKey(
        key.tokenHash(),
        key.keyId(),
        key.keyName(),
        keyAlias.orElse(key.keyAlias()),
        models.orElse(key.models()),
        teamId.orElse(key.teamId()),
        userId.orElse(key.userId()),
        metadata.orElse(key.metadata()),
        key.createdAt(),
        now,
        expiresAt.orElse(key.expiresAt()),
        blocked.orElse(key.blocked()),
        key.usage(),
        rotation.map(r -> mergeSettings(key.rotation(), r)).orElse(key.rotation()),
        key.graceEndsAt(),
        limits.orElse(key.limits()));
  }

  /** Settings from {@code settings}, history from {@code current}. */
  static KeyRotation mergeSettings(KeyRotation current, KeyRotation settings) {
    return new KeyRotation(
        settings.autoRotate(),
        settings.interval(),
        settings.gracePeriod(),
        settings.secretTarget(),
        settings.nextRotationAt(),
        current.lastRotatedAt(),
        current.count(),
        current.previousKeyValidUntil(),
        current.rotatedOutUntil(),
        current.earlierValuesRevokedAt());
  }
}

package aigw.core.keys;

import aigw.core.limits.Limits;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * A virtual key as stored: everything but the key itself, of which only the SHA-256 is kept.
 *
 * @param tokenHash SHA-256 of the key, hex: the table's partition key
 * @param keyId stable id of this key; it survives rotation, the hash does not
 * @param keyName the display form, {@code sk-...abcd}
 * @param models the models this key may call, by name or pattern ({@link aigw.core.config.ModelAccess}); empty means all
 * @param expiresAt null when the key never expires
 * @param rotation rotation settings and state
 * @param graceEndsAt set only when the key was looked up by a previous key value, after a
 *     rotation: the instant that value stops working. Null for the current key value.
 * @param limits rpm/tpm limits, max_parallel_requests and budget ({@link Limits#NONE}: none)
 */
public record VirtualKey(
    String tokenHash,
    String keyId,
    String keyName,
    String keyAlias,
    List<String> models,
    String teamId,
    String userId,
    Map<String, Object> metadata,
    Instant createdAt,
    Instant updatedAt,
    Instant expiresAt,
    boolean blocked,
    KeyUsage usage,
    KeyRotation rotation,
    Instant graceEndsAt,
    Limits limits) {

  public VirtualKey {
    models = models == null ? List.of() : List.copyOf(models);
    metadata = metadata == null ? Map.of() : metadata;
    usage = usage == null ? KeyUsage.NONE : usage;
    rotation = rotation == null ? KeyRotation.NONE : rotation;
    limits = limits == null ? Limits.NONE : limits;
  }

  /** A key without limits. */
  public VirtualKey(
      String tokenHash,
      String keyId,
      String keyName,
      String keyAlias,
      List<String> models,
      String teamId,
      String userId,
      Map<String, Object> metadata,
      Instant createdAt,
      Instant updatedAt,
      Instant expiresAt,
      boolean blocked,
      KeyUsage usage,
      KeyRotation rotation,
      Instant graceEndsAt) {
    this(tokenHash, keyId, keyName, keyAlias, models, teamId, userId, metadata, createdAt, updatedAt, expiresAt, blocked,
        usage, rotation, graceEndsAt, Limits.NONE);
  }

  /** A key that has never been rotated. */
  public VirtualKey(
      String tokenHash,
      String keyId,
      String keyName,
      String keyAlias,
      List<String> models,
      String teamId,
      String userId,
      Map<String, Object> metadata,
      Instant createdAt,
      Instant updatedAt,
      Instant expiresAt,
      boolean blocked,
      KeyUsage usage) {
    this(tokenHash, keyId, keyName, keyAlias, models, teamId, userId, metadata, createdAt, updatedAt, expiresAt, blocked,
        usage, KeyRotation.NONE, null);
  }

  public VirtualKey withUsage(KeyUsage value) {
    return new VirtualKey(tokenHash, keyId, keyName, keyAlias, models, teamId, userId, metadata, createdAt, updatedAt,
        expiresAt, blocked, value, rotation, graceEndsAt, limits);
  }

  public VirtualKey withRotation(KeyRotation value) {
    return new VirtualKey(tokenHash, keyId, keyName, keyAlias, models, teamId, userId, metadata, createdAt, updatedAt,
        expiresAt, blocked, usage, value, graceEndsAt, limits);
  }

  /** This key as found through a previous key value that works until {@code end}. */
  public VirtualKey withGraceEndsAt(Instant end) {
    return new VirtualKey(tokenHash, keyId, keyName, keyAlias, models, teamId, userId, metadata, createdAt, updatedAt,
        expiresAt, blocked, usage, rotation, end, limits);
  }

  public VirtualKey withLimits(Limits value) {
    return new VirtualKey(tokenHash, keyId, keyName, keyAlias, models, teamId, userId, metadata, createdAt, updatedAt,
        expiresAt, blocked, usage, rotation, graceEndsAt, value);
  }

  /** Whether the presented value was rotated out and its grace period is over. */
  public boolean isRotatedOut(Instant now) {
    return graceEndsAt != null && !now.isBefore(graceEndsAt);
  }

  public boolean isExpired(Instant now) {
    return expiresAt != null && !now.isBefore(expiresAt);
  }

  /** Whether the key works at {@code now}: neither blocked nor expired. */
  public boolean isUsable(Instant now) {
    return !blocked && !isExpired(now);
  }
}

package aigw.core.keys;

import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Optional;

/**
 * Where virtual keys live. A key's usage counters are kept apart from its settings, by key id, so
 * that a rotation (which gives the key a new hash) never races the usage writes of requests in
 * flight.
 */
public interface KeyStore {
  /**
   * The key this hash opens, without its usage: one GetItem for a current key value. A value
   * replaced by a rotation leads to the key it was rotated to, marked with the end of its grace
   * period ({@link VirtualKey#graceEndsAt()}).
   */
  Optional<VirtualKey> findByHash(String tokenHash);

  /** The key's usage counters (one GetItem); zero when none were recorded. */
  KeyUsage usageOf(String keyId);

  /** Creates the key; throws {@link KeyAlreadyExists} if the hash or the alias is taken. */
  void create(VirtualKey key);

  /** Applies the changes and returns the key as stored; throws {@link KeyNotFound} if it is gone. */
  VirtualKey update(String tokenHash, KeyChanges changes, Instant now);

  /** Deletes all the keys or none; throws {@link KeyNotFound} naming the missing ones. */
  void deleteAll(Collection<String> tokenHashes);

  /** The hashes of the keys with this alias (at most one, since aliases are unique). */
  List<String> hashesForAlias(String keyAlias);

  /** Every key with its usage; for the admin listing, which filters and pages in memory. */
  List<VirtualKey> listAll();

  /**
   * Gives {@code current} a new key value in one transaction: the key moves to {@code newTokenHash}
   * with its id, alias, settings (plus {@code changes}) and usage; the old value keeps opening it
   * until {@code graceEnd}. Throws {@link KeyChangedConcurrently} if the key was rotated or
   * changed since {@code current} was read, so two rotations of one key cannot both happen.
   */
  VirtualKey rotate(VirtualKey current, String newTokenHash, String newKeyName, Instant graceEnd, KeyChanges changes, Instant now);

  /**
   * One page of the keys whose scheduled rotation is due at {@code now}, from an index on the due
   * time, oldest due first: up to {@code limit} index entries from after {@code after} (a previous
   * page's {@link DuePage#next()}, or null for the first page).
   */
  DuePage dueForRotation(Instant now, int limit, String after);

  /** The first page of {@link #dueForRotation(Instant, int, String)}'s keys. */
  default List<VirtualKey> dueForRotation(Instant now, int limit) {
    return dueForRotation(now, limit, null).keys();
  }

  /**
   * @param keys the due keys of this page, read again strongly (fewer than the limit when some
   *     index entries were out of date)
   * @param next where the next page starts; null when this was the last
   */
  record DuePage(List<VirtualKey> keys, String next) {}

  /** Thrown when a key changed between reading it and writing it; read it again and retry. */
  final class KeyChangedConcurrently extends RuntimeException {
    public KeyChangedConcurrently(String message) {
      super(message, null, false, false);
    }
  }

  /** Thrown when a key to create collides with an existing hash or alias. */
  final class KeyAlreadyExists extends RuntimeException {
    public KeyAlreadyExists(String message) {
      super(message, null, false, false);
    }
  }

  /** Thrown when keys to change or delete do not exist. */
  final class KeyNotFound extends RuntimeException {
    private final List<String> missing;

    public KeyNotFound(List<String> missing) {
      super("no such key: " + missing, null, false, false);
      this.missing = List.copyOf(missing);
    }

    public List<String> missing() {
      return missing;
    }
  }
}

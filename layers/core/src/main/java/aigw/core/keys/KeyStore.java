package aigw.core.keys;

import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Optional;

/** Where virtual keys live. Every method is one round trip at most, except {@link #listAll}. */
public interface KeyStore {
  /** One GetItem by hash. */
  Optional<VirtualKey> findByHash(String tokenHash);

  /** Creates the key; throws {@link KeyAlreadyExists} if the hash or the alias is taken. */
  void create(VirtualKey key);

  /** Applies the changes and returns the key as stored; throws {@link KeyNotFound} if it is gone. */
  VirtualKey update(String tokenHash, KeyChanges changes, Instant now);

  /** Deletes all the keys or none; throws {@link KeyNotFound} naming the missing ones. */
  void deleteAll(Collection<String> tokenHashes);

  /** The hashes of the keys with this alias (at most one, since aliases are unique). */
  List<String> hashesForAlias(String keyAlias);

  /** Every key; for the admin listing, which filters and pages in memory. */
  List<VirtualKey> listAll();

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

package aigw.core.keys;

import aigw.core.errors.BadRequest;
import aigw.core.errors.Conflict;
import aigw.core.errors.NotFound;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * The admin's writes to the keys: each reaches the store before it returns, drops the key from
 * this container's cache, and turns the store's failures ({@link KeyStore.KeyNotFound}, {@link
 * KeyStore.KeyAlreadyExists}, {@link KeyStore.KeyChangedConcurrently}) into the admin API's errors,
 * here and only here. A key is named by a <em>reference</em>: its value, a value rotated out of
 * it (which names the key it was rotated to), or its stored hash (as {@code /key/list} gives it).
 */
public final class KeyAdmin {
  /** Attempts of a change that meets concurrent changes of the same key, before 409. */
  private static final int CHANGE_ATTEMPTS = 3;

  private final KeyStore store;
  private final KeyCache cache;
  private final int maxDeleteBatch;

  /** @param maxDeleteBatch most keys one delete takes: the store deletes them in one transaction */
  public KeyAdmin(KeyStore store, KeyCache cache, int maxDeleteBatch) {
    this.store = store;
    this.cache = cache;
    this.maxDeleteBatch = maxDeleteBatch;
  }

  /** The key a reference names, as stored now. @throws NotFound ({@code key}) when none */
  public VirtualKey resolve(String reference) {
    return store.findByHash(hashOf(reference)).orElseThrow(() -> keyNotFound(reference));
  }

  /** Stores a new key. @throws BadRequest ({@code key_alias} or {@code key}) when its alias or value is taken */
  public void create(VirtualKey key) {
    try {
      store.create(key);
    } catch (KeyStore.KeyAlreadyExists e) {
      throw new BadRequest(e.getMessage() + ".", key.keyAlias() != null && e.getMessage().contains("key_alias") ? "key_alias" : "key");
    }
  }

  /**
   * Applies the changes to the key {@code reference} names. A key changed or rotated by a
   * concurrent call is read again and changed once more (field changes apply to the key as it is
   * now), up to {@value #CHANGE_ATTEMPTS} times.
   *
   * @param changesFor the changes, from the key as read (rotation settings depend on it)
   * @return the key as stored after the change
   * @throws NotFound when the key does not exist; BadRequest ({@code key_alias}) when the new alias
   *     is taken; Conflict when concurrent changes won every attempt
   */
  public VirtualKey change(String reference, Function<VirtualKey, KeyChanges> changesFor, Instant now) {
    for (int attempt = 1; ; attempt++) {
      VirtualKey current = resolve(reference);
      try {
        VirtualKey updated = store.update(current.tokenHash(), changesFor.apply(current), now);
        // Every value of the key, including ones in their grace period: the change holds for all.
        cache.evictKey(current.keyId());
        return updated;
      } catch (KeyStore.KeyNotFound e) {
        throw keyNotFound(reference);
      } catch (KeyStore.KeyAlreadyExists e) {
        throw new BadRequest(e.getMessage() + ".", "key_alias");
      } catch (KeyStore.KeyChangedConcurrently e) {
        if (attempt == CHANGE_ATTEMPTS) {
          throw new Conflict(e.getMessage(), "key");
        }
      }
    }
  }

  /**
   * Deletes, in one transaction, the keys {@code references} name and every key with one of {@code
   * aliases}: all of them or none.
   *
   * @return the keys deleted, as read before the delete (a value rotated out of a key deletes that key)
   * @throws NotFound ({@code key_aliases} or {@code keys}) when an alias or a key names nothing;
   *     BadRequest ({@code keys}) over {@code maxDeleteBatch} keys; Conflict when a key changed meanwhile
   */
  public List<VirtualKey> delete(List<String> references, List<String> aliases) {
    var hashes = new LinkedHashSet<String>();
    var named = new LinkedHashMap<String, String>(); // hash -> how the caller named it
    var found = new LinkedHashMap<String, VirtualKey>(); // hash -> the key, as read before the delete
    for (String key : references) {
      // A value rotated out of a key names that key; an unknown one is reported below, by its own hash.
      Optional<VirtualKey> current = store.findByHash(hashOf(key));
      String hash = current.map(VirtualKey::tokenHash).orElse(hashOf(key));
      current.ifPresent(k -> found.put(hash, k));
      hashes.add(hash);
      named.putIfAbsent(hash, key);
    }
    var missingAliases = new ArrayList<String>();
    for (String alias : aliases) {
      List<String> aliased = store.hashesForAlias(alias);
      if (aliased.isEmpty()) {
        missingAliases.add(alias);
      }
      for (String hash : aliased) {
        hashes.add(hash);
        named.putIfAbsent(hash, alias);
      }
    }
    if (!missingAliases.isEmpty()) {
      throw new NotFound("No key has the alias " + String.join(", ", missingAliases) + "; nothing was deleted.", "key_aliases");
    }
    if (hashes.size() > maxDeleteBatch) {
      throw new BadRequest("At most " + maxDeleteBatch + " keys can be deleted per call (one transaction).", "keys");
    }
    for (String hash : hashes) {
      if (!found.containsKey(hash)) { // named by alias
        store.findByHash(hash).ifPresent(k -> found.put(hash, k));
      }
    }
    try {
      store.deleteAll(hashes);
    } catch (KeyStore.KeyNotFound e) {
      var missing = e.missing().stream().map(h -> ApiKeys.isHash(named.get(h)) ? h : ApiKeys.mask(named.get(h))).toList();
      throw new NotFound("No such key: " + String.join(", ", missing) + "; nothing was deleted.", "keys");
    } catch (KeyStore.KeyChangedConcurrently e) {
      throw new Conflict(e.getMessage() + " Nothing was deleted.", "keys");
    }
    hashes.forEach(cache::invalidate);
    found.values().forEach(k -> cache.evictKey(k.keyId())); // and the values rotated out of them
    return List.copyOf(found.values());
  }

  /** The hash a reference names: a stored hash as it is, a value hashed. */
  public static String hashOf(String reference) {
    return ApiKeys.isHash(reference) ? reference : ApiKeys.hash(reference);
  }

  /** "Key not found", naming the key by its hash or its masked value, never the value itself. */
  public static NotFound keyNotFound(String reference) {
    String shown = ApiKeys.isHash(reference) ? reference : ApiKeys.mask(reference);
    return new NotFound("Key not found: " + shown + ".", "key");
  }
}

package aigw.core;

import aigw.core.keys.KeyChanges;
import aigw.core.keys.KeyStore;
import aigw.core.keys.KeyUsage;
import aigw.core.keys.VirtualKey;
import aigw.core.usage.WriteBehindUsageRecorder;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Optional;

/**
 * The key store as this process sees it: what returns usage counters ({@link #usageOf}, {@link
 * #listAll}, and {@link #update} and {@link #rotate}, which answer the key with its usage) first writes the usage this process has handed over and not yet written, so {@code
 * /key/info} right after an answer counts it where the admin routes share the proxy's {@link
 * Gateway} (the local gateway). On AWS the admin function holds no usage of its own; a proxy
 * container's usage is written within its invocation, tens of milliseconds after the answer.
 * Everything else is the store's, unchanged.
 */
final class UsageFlushingKeyStore implements KeyStore {
  private final KeyStore store;
  private final WriteBehindUsageRecorder usage;

  UsageFlushingKeyStore(KeyStore store, WriteBehindUsageRecorder usage) {
    this.store = store;
    this.usage = usage;
  }

  @Override
  public KeyUsage usageOf(String keyId) {
    usage.flush(keyId);
    return store.usageOf(keyId);
  }

  @Override
  public List<VirtualKey> listAll() {
    usage.flush();
    return store.listAll();
  }

  @Override
  public Optional<VirtualKey> findByHash(String tokenHash) {
    return store.findByHash(tokenHash);
  }

  @Override
  public void create(VirtualKey key) {
    store.create(key);
  }

  @Override
  public VirtualKey update(String tokenHash, KeyChanges changes, Instant now) {
    usage.flush(); // the key as stored comes back with its usage; its id is not known before
    return store.update(tokenHash, changes, now);
  }

  @Override
  public void deleteAll(Collection<String> tokenHashes) {
    store.deleteAll(tokenHashes);
  }

  @Override
  public List<String> hashesForAlias(String keyAlias) {
    return store.hashesForAlias(keyAlias);
  }

  @Override
  public VirtualKey rotate(VirtualKey current, String newTokenHash, String newKeyName, Instant graceEnd, KeyChanges changes, Instant now) {
    usage.flush(current.keyId()); // the rotated key comes back with its usage
    return store.rotate(current, newTokenHash, newKeyName, graceEnd, changes, now);
  }

  @Override
  public DuePage dueForRotation(Instant now, int limit, String after) {
    return store.dueForRotation(now, limit, after);
  }
}

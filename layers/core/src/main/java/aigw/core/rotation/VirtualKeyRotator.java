package aigw.core.rotation;

import aigw.core.aws.AwsClients;
import aigw.core.errors.ServiceUnavailable;
import aigw.core.keys.ApiKeys;
import aigw.core.keys.KeyCache;
import aigw.core.keys.KeyChanges;
import aigw.core.keys.KeyStore;
import aigw.core.keys.VirtualKey;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.logging.Logger;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.services.secretsmanager.SecretsManagerClient;
import software.amazon.awssdk.services.secretsmanager.model.InvalidRequestException;
import software.amazon.awssdk.services.secretsmanager.model.ResourceExistsException;
import software.amazon.awssdk.services.secretsmanager.model.ResourceNotFoundException;

/**
 * Rotates virtual keys: on demand ({@code /key/regenerate}) and on their schedule. A rotation gives
 * the key a new value and keeps everything else (id, alias, settings, usage); the previous value
 * works until the end of the grace period. After the new value is stored it goes where it can be
 * picked up, and the rotation is announced as a {@link RotationEvent}:
 *
 * <ul>
 *   <li>to the key's secret target ({@code rotation_secret}), if it has one;
 *   <li>otherwise, for a scheduled rotation (nobody is there to see a response), to a secret of
 *       its own, {@code <prefix>pending/<key_id>}, that {@code POST /key/retrieve} reads once and
 *       deletes. The key is never kept in the keys table, not even encrypted. The same happens when
 *       writing to the secret target fails, so the new key is not lost.
 * </ul>
 */
public final class VirtualKeyRotator {
  private static final Logger LOG = Logger.getLogger(VirtualKeyRotator.class.getName());
  /** Keys read from the due index per query. */
  static final int PAGE_SIZE = 25;
  /**
   * Each Secrets Manager call is bounded, and so is the whole rotation: the key is stored before
   * it is delivered, so a function timeout in between would lose the only copy of the new value.
   * Two attempts of at most 3 s, plus PutEvents' 1 s connect and 3 s read, stay well inside the
   * admin function's timeout.
   */
  private static final int SECRET_WRITE_ATTEMPTS = 2;

  private static final Duration SECRETS_CALL_TIMEOUT = Duration.ofSeconds(3);
  private static final java.util.regex.Pattern SECRET_NAME = java.util.regex.Pattern.compile("[A-Za-z0-9/_+=.@-]{1,512}");
  public static final String SCHEDULE = "schedule";
  public static final String MANUAL = "manual";

  /** How long an expired key can still be extended: as long as the keys table keeps it (KeyItems.EXPIRED_KEY_RETENTION). */
  static final Duration EXPIRED_KEY_EXTENDABLE = Duration.ofDays(7);

  /** Secret targets must be named under this prefix: the functions may write only there (template.yaml). */
  public static final String DEFAULT_SECRET_PREFIX = "aigw/keys/";

  private final KeyStore store;
  private final KeyCache cache;
  private final SecretsManagerClient secrets;
  private final String secretPrefix;
  private final RotationEvents events;
  private final Clock clock;

  /**
   * @param secrets where secret targets are written; null when this deployment has none, and then
   *     keys cannot name a secret target
   * @param secretPrefix the name prefix every secret target must have
   */
  public VirtualKeyRotator(
      KeyStore store, KeyCache cache, SecretsManagerClient secrets, String secretPrefix, RotationEvents events, Clock clock) {
    this.store = store;
    this.cache = cache;
    this.secrets = secrets;
    this.secretPrefix = secretPrefix;
    this.events = events;
    this.clock = clock;
  }

  /**
   * Lambda's wiring: Secrets Manager and EventBridge from the standard chains, the secret prefix
   * from AIGW_KEY_SECRET_PREFIX.
   */
  public static VirtualKeyRotator fromEnvironment(KeyStore store, KeyCache cache, Clock clock, Map<String, String> env) {
    String prefix = env.getOrDefault("AIGW_KEY_SECRET_PREFIX", DEFAULT_SECRET_PREFIX);
    return new VirtualKeyRotator(
        store,
        cache,
        AwsClients.secretsManager(),
        prefix == null || prefix.isBlank() ? DEFAULT_SECRET_PREFIX : prefix.trim(),
        EventBridgeRotationEvents.fromEnvironment(
            UrlConnectionHttpClient.builder().connectionTimeout(Duration.ofSeconds(1)).socketTimeout(Duration.ofSeconds(3)).build(),
            env),
        clock);
  }

  /**
   * Why {@code secretId} cannot be a secret target, or null if it can: it must be a name (or an
   * ARN of a secret named) under the prefix, which is all the functions may write.
   */
  public String refuseSecretTarget(String secretId) {
    if (secrets == null) {
      return "this deployment has no Secrets Manager to write keys to";
    }
    String name = secretId;
    if (secretId.startsWith("arn:")) {
      int at = secretId.indexOf(":secret:");
      name = at < 0 ? "" : secretId.substring(at + ":secret:".length());
    }
    if (!name.startsWith(secretPrefix) || name.length() == secretPrefix.length()) {
      return "the secret's name must start with '" + secretPrefix + "' (the functions may write only there)";
    }
    if (name.startsWith(secretPrefix + "pending/")) {
      return "'" + secretPrefix + "pending/' holds the values waiting for /key/retrieve";
    }
    if (!SECRET_NAME.matcher(name).matches() || name.contains("..")) {
      // Secrets Manager's own rule; checked here so that a bad name fails now, not at each rotation.
      return "a secret name has 1 to 512 of the characters A-Z a-z 0-9 / _ + = . @ -";
    }
    return null;
  }

  /** Writes a new key's first value to its secret target; false (and logged) if that failed. */
  public boolean deliverFirstValue(VirtualKey key, String value) {
    String target = key.rotation().secretTarget();
    return target == null || writeToSecret(target, value, key);
  }

  /**
   * @param key the new key value ({@code sk-...}), shown to the caller once; never stored
   * @param rotated the key as stored after the rotation
   * @param deliveryFailed writing to the secret target failed
   * @param heldForRetrieval the new key waits in its pending secret for {@code POST /key/retrieve}
   */
  public record Rotation(String key, VirtualKey rotated, boolean deliveryFailed, boolean heldForRetrieval) {}

  /** What one scheduled run did. */
  public record RunResult(int rotated, int alreadyRotated, int failed, int skipped) {}

  /**
   * Rotates {@code current} now. Throws {@link KeyStore.KeyChangedConcurrently} if another call
   * rotated or changed it since it was read.
   *
   * @param newKey the new value, or null to generate one
   * @param gracePeriod how long the previous value keeps working; zero stops it at once
   */
  public Rotation rotate(VirtualKey current, String newKey, Duration gracePeriod, KeyChanges changes, String trigger) {
    Instant now = clock.instant();
    String value = newKey == null ? ApiKeys.generate() : newKey;
    // Whole seconds, like every time the key table shows: the end shown is the end enforced.
    // Without grace that is a moment ago: the old value stops at once.
    Instant graceEnd = now.plus(gracePeriod).truncatedTo(ChronoUnit.SECONDS);
    VirtualKey rotated = store.rotate(current, ApiKeys.hash(value), ApiKeys.mask(value), graceEnd, changes, now);
    // Every cached value of the key: the one replaced, and earlier ones a rotation without grace revokes.
    cache.evictKey(current.keyId());
    LOG.info("Rotated key " + current.keyName() + " -> " + rotated.keyName() + " (key_id " + rotated.keyId() + ", "
        + trigger + "); the previous key works until " + graceEnd);
    boolean deliveryFailed = false;
    String target = rotated.rotation().secretTarget();
    if (target != null) {
      deliveryFailed = !writeToSecret(target, value, rotated);
    }
    // A value the previous scheduled rotation left for /key/retrieve opens nothing any more.
    discardHeldValue(rotated.keyId(), rotated.rotation().count() - 1);
    // A manual rotation answers with the key; a scheduled one has no one to answer.
    boolean held = (deliveryFailed || target == null) && SCHEDULE.equals(trigger) && holdForRetrieval(rotated, value);
    events.publish(
        new RotationEvent(rotated.keyId(), rotated.keyAlias(), rotated.keyName(), current.keyName(), rotated.rotation().lastRotatedAt(), graceEnd,
            rotated.rotation().nextRotationAt(), rotated.rotation().count(), trigger, target, deliveryFailed, held));
    return new Rotation(value, rotated, deliveryFailed, held);
  }

  /**
   * The schedule's run: rotates every key that is due, each once, walking the due index page by
   * page. A key another run rotated in the meantime is counted and skipped; a key that fails is
   * logged and left due, for the next run. Blocked and expired keys are not rotated: nobody can use
   * their new value, and each rotation would write a secret and send an event.
   */
  public RunResult rotateDue() {
    return rotateDue(() -> true);
  }

  /**
   * As {@link #rotateDue()}, starting another rotation only while {@code timeLeft} says there is
   * time to finish it (the function's remaining time): a rotation cut short by the function's
   * timeout after its commit would lose its new value. The keys left stay due for the next run.
   */
  public RunResult rotateDue(BooleanSupplier timeLeft) {
    int rotated = 0;
    int alreadyRotated = 0;
    int failed = 0;
    int skipped = 0;
    Instant now = clock.instant();
    String after = null;
    do {
      KeyStore.DuePage page = store.dueForRotation(now, PAGE_SIZE, after);
      for (VirtualKey key : page.keys()) {
        if (!timeLeft.getAsBoolean()) {
          LOG.warning("Scheduled rotation: out of time; the keys still due are left for the next run");
          return new RunResult(rotated, alreadyRotated, failed, skipped);
        }
        if (!key.isUsable(clock.instant())) {
          discardHeldValueOfPurgedKey(key);
          skipped++;
          continue;
        }
        try {
          rotate(key, null, key.rotation().effectiveGracePeriod(), KeyChanges.none(), SCHEDULE);
          rotated++;
        } catch (KeyStore.KeyChangedConcurrently | KeyStore.KeyNotFound e) {
          alreadyRotated++;
        } catch (RuntimeException e) {
          failed++;
          LOG.warning("Could not rotate key " + key.keyName() + " (key_id " + key.keyId() + "): " + e.getMessage());
        }
      }
      after = page.next();
    } while (after != null);
    if (rotated + alreadyRotated + failed + skipped > 0) {
      LOG.info("Scheduled rotation: " + rotated + " rotated, " + alreadyRotated + " already rotated by another run, "
          + failed + " failed, " + skipped + " blocked or expired (not rotated)");
    }
    return new RunResult(rotated, alreadyRotated, failed, skipped);
  }

  /**
   * The secret where a scheduled rotation leaves the new value of a key for one retrieval: one per
   * rotation ({@code rotation_count}), so a new one never waits for the deletion of the last.
   */
  public String retrievalSecret(String keyId, long rotationCount) {
    return secretPrefix + "pending/" + keyId + "/" + rotationCount;
  }

  private boolean holdForRetrieval(VirtualKey rotated, String value) {
    if (secrets == null) {
      LOG.warning("Key " + rotated.keyName() + " (key_id " + rotated.keyId() + ") was rotated, but this deployment has no"
          + " Secrets Manager to keep its new value for /key/retrieve; regenerate it to get a value.");
      return false;
    }
    String name = retrievalSecret(rotated.keyId(), rotated.rotation().count());
    try {
      try {
        secrets.createSecret(r -> r.name(name).secretString(value)
            .description("aigw: the new value of key " + rotated.keyName() + ", deleted when POST /key/retrieve reads it")
            .overrideConfiguration(o -> o.apiCallTimeout(SECRETS_CALL_TIMEOUT)));
      } catch (ResourceExistsException earlierOneNotRetrieved) {
        secrets.putSecretValue(r -> r.secretId(name).secretString(value)
            .overrideConfiguration(o -> o.apiCallTimeout(SECRETS_CALL_TIMEOUT))); // the newest value is the one that works
      }
      return true;
    } catch (SdkException e) {
      LOG.severe("Could not keep the new value of key " + rotated.keyName() + " (key_id " + rotated.keyId() + ") in " + name
          + ": " + e.getMessage() + ". The previous key works until " + rotated.rotation().previousKeyValidUntil()
          + "; regenerate the key before then.");
      return false;
    }
  }

  /**
   * The new key a scheduled rotation left for {@code key}, once: read, then deleted, and only
   * returned once the delete succeeded, so no second call can read it. Empty when there is none.
   */
  public Optional<String> retrieveOnce(VirtualKey key) {
    if (secrets == null) {
      return Optional.empty();
    }
    String name = retrievalSecret(key.keyId(), key.rotation().count());
    String value;
    try {
      try {
        value = secrets.getSecretValue(r -> r.secretId(name)).secretString();
      } catch (ResourceNotFoundException | InvalidRequestException noneOrBeingDeleted) {
        return Optional.empty(); // a secret being deleted answers InvalidRequestException
      }
      try {
        secrets.deleteSecret(r -> r.secretId(name).forceDeleteWithoutRecovery(true));
      } catch (ResourceNotFoundException | InvalidRequestException retrievedConcurrently) {
        return Optional.empty();
      }
    } catch (SdkException e) {
      throw new ServiceUnavailable("Secrets Manager is unavailable: " + e.getMessage(), e);
    }
    LOG.info("The new value of key " + key.keyName() + " (key_id " + key.keyId() + ") was retrieved; " + name + " is deleted");
    return Optional.of(value);
  }

  /**
   * Deletes the value a scheduled rotation left for this key's rotation {@code rotationCount}, if
   * any: the key was deleted, or rotated again, and the value opens nothing any more. Best effort.
   */
  public void discardHeldValue(String keyId, long rotationCount) {
    if (secrets == null || rotationCount < 1) {
      return;
    }
    String name = retrievalSecret(keyId, rotationCount);
    try {
      secrets.deleteSecret(r -> r.secretId(name).forceDeleteWithoutRecovery(true)
          .overrideConfiguration(o -> o.apiCallTimeout(SECRETS_CALL_TIMEOUT)));
    } catch (ResourceNotFoundException | InvalidRequestException nothingWaiting) {
      // the usual case
    } catch (SdkException e) {
      LOG.warning("Could not delete " + name + ", an outdated value of key_id " + keyId + ": " + e.getMessage());
    }
  }

  /**
   * A key that expired more than {@link #EXPIRED_KEY_EXTENDABLE} ago can no longer be
   * extended and is about to be purged: the value a scheduled rotation left for it opens nothing,
   * and its secret would cost $0.40 a month forever. Within that window it is kept, as an extended
   * key needs it. (A key purged before it is next due is not seen here; docs/operations.md says how
   * to find what such keys leave.)
   */
  private void discardHeldValueOfPurgedKey(VirtualKey key) {
    if (key.expiresAt() != null && !clock.instant().isBefore(key.expiresAt().plus(EXPIRED_KEY_EXTENDABLE))) {
      discardHeldValue(key.keyId(), key.rotation().count());
    }
  }

  /** The rotation is already stored; the write is retried, and a failure is reported, not thrown. */
  private boolean writeToSecret(String secretId, String value, VirtualKey rotated) {
    for (int attempt = 1; ; attempt++) {
      try {
        secrets.putSecretValue(
            r -> r.secretId(secretId).secretString(value).overrideConfiguration(o -> o.apiCallTimeout(SECRETS_CALL_TIMEOUT)));
        return true;
      } catch (SdkException e) {
        if (attempt == SECRET_WRITE_ATTEMPTS) {
          LOG.severe("Could not write the value of key " + rotated.keyName() + " (key_id " + rotated.keyId()
              + ") to secret " + secretId + ": " + e.getMessage()
              + (rotated.rotation().previousKeyValidUntil() == null ? "" : ". The previous key works until "
                  + rotated.rotation().previousKeyValidUntil() + "; regenerate the key before then."));
          return false;
        }
        try {
          Thread.sleep(200L * attempt);
        } catch (InterruptedException interrupted) {
          Thread.currentThread().interrupt();
          return false;
        }
      }
    }
  }
}

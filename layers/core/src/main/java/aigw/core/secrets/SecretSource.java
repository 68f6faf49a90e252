package aigw.core.secrets;

import java.time.Instant;

/** Where the master key comes from. Implementations read it; {@link MasterKey} caches and compares. */
public interface SecretSource {
  /**
   * How long a secret read before (the master key, the provider credentials) is still used while
   * Secrets Manager cannot be read again: an outage must not take the gateway down at once, but a
   * value that cannot be confirmed (perhaps rotated or revoked since) must not be trusted without
   * end. Past it, a call that needs the secret gets 503 {@code service_unavailable}, until a read
   * succeeds. Counted from the last successful read, not from the TTL's re-read.
   */
  java.time.Duration MAX_STALENESS = java.time.Duration.ofHours(1);

  /** Reads the current value; throws {@link SecretUnavailable} if it cannot. */
  String read();

  /**
   * Reads the current value, when it became current, and the value it replaced if that happened
   * after {@code previousWantedIfRotatedAfter} (null: the previous value is not wanted). Sources
   * without versions have no previous value and no rotation time.
   */
  default Versions readVersions(Instant previousWantedIfRotatedAfter) {
    return new Versions(read(), null, null);
  }

  /** For log lines: where the secret lives, never what it is. */
  String describe();

  /**
   * Whether there is a secret at all. False only for {@link #NOT_HELD}: a {@link MasterKey} over
   * it matches no key and never reads anything.
   */
  default boolean held() {
    return true;
  }

  /**
   * No master key: for the proxy function on AWS while master-key model calls are off
   * (AIGW_ALLOW_MASTER_KEY_FOR_MODELS, the template's AllowMasterKeyForModels), whose role is then
   * not granted the master key secret at all (issue 15, finding 8). The master key is then an
   * unknown key on the model routes (401), like any other string that is not a virtual key.
   */
  SecretSource NOT_HELD = new SecretSource() {
    @Override
    public String read() {
      throw new SecretUnavailable("this function holds no master key", null);
    }

    @Override
    public String describe() {
      return "no master key (this function is not granted it)";
    }

    @Override
    public boolean held() {
      return false;
    }
  };

  /**
   * @param current the value in use (AWSCURRENT)
   * @param currentSince when it became current, or null if unknown
   * @param previous the value it replaced (AWSPREVIOUS), or null if none or not wanted
   */
  record Versions(String current, Instant currentSince, String previous) {
    @Override
    public String toString() { // never the values
      return "Versions[currentSince=" + currentSince + ", previous=" + (previous != null) + "]";
    }
  }

  /** Thrown when the secret cannot be read or is empty. */
  final class SecretUnavailable extends RuntimeException {
    public SecretUnavailable(String message, Throwable cause) {
      super(message, cause);
    }
  }
}

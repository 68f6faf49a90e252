package aigw.core.usage;

/**
 * Writes usage for a key. {@link #record} returns only once the write is durable: the client is told
 * about a request only after its usage is stored.
 */
public interface UsageRecorder {
  /** @param keyId the key's stable id: its usage survives rotations */
  void record(String keyId, UsageDelta delta);
}

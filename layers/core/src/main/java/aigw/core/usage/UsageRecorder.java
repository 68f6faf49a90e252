package aigw.core.usage;

/**
 * Takes usage for a key. A store ({@code DynamoDbUsageRecorder}, {@link DurableUsageRecorder})
 * returns once the write is durable; the gateway's recorder ({@link WriteBehindUsageRecorder})
 * returns once the delta is handed over, and writes it after the answer (flushed within the Lambda
 * invocation, or at the local gateway's stop), so the client never waits for the store.
 */
public interface UsageRecorder {
  /** @param keyId the key's stable id: its usage survives rotations */
  void record(String keyId, UsageDelta delta);
}

package aigw.core.usage;

/**
 * Where usage that could not be written to the key store is kept until it can be, so a key's
 * counters end up whole after an outage of the store.
 *
 * <p>Two kinds: {@link FileUsageJournal} (the local gateway: an append-only file in the data
 * directory, replayed at start and periodically) and {@link LoggedUsageJournal} (Lambda: a
 * structured log record in CloudWatch Logs, replayed by an operator; a container's {@code /tmp} is
 * lost when Lambda recycles it). See docs/operations.md, "Usage kept during a DynamoDB outage".
 */
public interface UsageJournal {
  /**
   * Keeps one delta durably: when this returns, the delta survives a crash of this process.
   *
   * @throws RuntimeException when it cannot be kept (the caller then fails the request as before)
   */
  void keep(String keyId, UsageDelta delta);

  /**
   * Writes the kept deltas through {@code store} and forgets those written. Stops at the first
   * failure (the store is still down) and keeps the rest for the next replay.
   *
   * @return how many kept records were written
   */
  int replay(UsageRecorder store);

  /** Where the journal keeps records, for logs. */
  String describe();
}

package aigw.core.spend;

/**
 * Spend logs that accept a record in memory and write it later, off the caller's path: what the
 * gateway's runtimes flush and wait on. DynamoDB's logs table on Lambda and with {@code --aws}
 * ({@code DynamoDbLogs}); a SQLite file in the local gateway ({@code aigw.local.SqliteSpendLogs}).
 * Whatever the store, a record accepted by {@link #record} is never lost: it is written by the next
 * {@link #flush} at the latest.
 */
public interface WriteBehindSpendLogs extends SpendLogs {
  /**
   * Writes every record accepted before this call and returns when that is done (the admin API
   * calls it before a read, so a read right after a call shows it; the runtimes at shutdown).
   *
   * @throws aigw.core.errors.ServiceUnavailable when records could not be written (they stay
   *     accepted, for the next flush)
   */
  void flush();

  /**
   * The periodic write of a long-running process (the local gateway, every second): starts writing
   * what waits without waiting for it when a writer of the store's own is busy, so the periodic
   * caller never spends long here.
   */
  void flushPartialBatch();

  /**
   * For the transport, after a model call's answer is sent and before it reads that connection's
   * next request: waits while the records waiting to be written are near the store's bound, so
   * traffic faster than the store slows between calls, not inside them.
   */
  void awaitRoomAfterAnswer();

  /**
   * Forgets the records accepted and not yet written (SnapStart's priming request).
   *
   * @return how many were forgotten
   */
  int discardPending();
}

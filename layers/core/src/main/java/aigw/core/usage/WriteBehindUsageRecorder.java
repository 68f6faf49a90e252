package aigw.core.usage;

import aigw.core.errors.ServiceUnavailable;
import java.time.Duration;

/**
 * Usage off the client's critical path, never lost: {@link #record} hands the delta over and
 * returns at once; a {@link WriteBehind} merges each key's deltas (group commit) and writes them
 * through a {@link DurableUsageRecorder} (DynamoDB, else the journal).
 *
 * <p>Who writes: on Lambda nobody in the background (no thread runs between invocations, none is in
 * a SnapStart snapshot): the runtime calls {@link #flush} after the response was sent and before it
 * asks for the next invocation ({@code StreamingRuntime}; {@code ProxyHandler.handleRequest} before
 * it returns). Locally, {@link #startWriters} threads write continuously, and {@link #close} flushes
 * at shutdown. docs/architecture.md, request flow step 8.
 */
public final class WriteBehindUsageRecorder implements UsageRecorder {
  /**
   * Requests whose usage may wait unwritten before {@link #record} waits (back-pressure). Also the
   * most a {@code kill -9} of the local gateway can lose. On Lambda a flush follows each invocation.
   */
  public static final int DEFAULT_MAX_BACKLOG = 1024;
  /** How long writer threads wait after a write that neither DynamoDB nor the journal took. */
  static final Duration RETRY_PAUSE = Duration.ofSeconds(1);

  private final WriteBehind<String, UsageDelta> queue;
  private final DurableUsageRecorder durable;
  private final UsageJournal lastResort = new LoggedUsageJournal();

  public WriteBehindUsageRecorder(DurableUsageRecorder durable, int maxBacklog) {
    this.durable = durable;
    this.queue = new WriteBehind<>("usage", UsageDelta::plus, durable::record, maxBacklog, RETRY_PAUSE);
  }

  /**
   * Hands the delta over; returns at once unless {@link #DEFAULT_MAX_BACKLOG}-many wait unwritten.
   *
   * @throws ServiceUnavailable when the backlog is full and neither DynamoDB nor the journal takes
   *     usage: the request is refused (503) rather than answered uncounted
   */
  @Override
  public void record(String keyId, UsageDelta delta) {
    try {
      queue.submit(keyId, delta);
    } catch (WriteBehind.Unavailable full) {
      throw new ServiceUnavailable("Usage cannot be recorded: " + full.getMessage(), full.getCause());
    }
  }

  /** Writes (or journals) everything handed over before this call; false if some of it is still queued. */
  public boolean flush() {
    return queue.flush();
  }

  /** As {@link #flush()}, for one key: so a read of its counters in this process sees its own requests. */
  public boolean flush(String keyId) {
    return queue.flush(keyId);
  }

  /**
   * Takes the merged usage of up to {@code max} keys, not being written already, for one
   * transaction with other writes ({@link WrittenTogether}); {@code asItem} makes a key's delta
   * the transaction's update. Ended not written, it goes back to be written here as usual; ended
   * refused (a key's update written alone, which DynamoDB refused after the SDK's retries), it goes
   * to the journal at once, as the same write made here would after a second refusal.
   */
  public WrittenTogether takeTogether(java.util.function.BiFunction<String, UsageDelta, software.amazon.awssdk.services.dynamodb.model.TransactWriteItem> asItem,
      int max) {
    if (max < 1) {
      return WrittenTogether.NOTHING;
    }
    var taken = queue.take(delta -> true, max);
    java.util.List<software.amazon.awssdk.services.dynamodb.model.TransactWriteItem> items;
    try {
      items = taken.stream().map(one -> asItem.apply(one.key(), one.delta())).toList();
    } catch (RuntimeException cannot) {
      taken.forEach(one -> one.end(false)); // written one by one instead
      throw cannot;
    }
    return new WrittenTogether() {
      @Override
      public java.util.List<software.amazon.awssdk.services.dynamodb.model.TransactWriteItem> items() {
        return items;
      }

      @Override
      public void end(boolean written) {
        taken.forEach(one -> one.end(written));
      }

      @Override
      public void endRefused(RuntimeException refused) {
        for (var one : taken) {
          boolean kept;
          try {
            durable.keepRefused(one.key(), one.delta(), refused);
            kept = true;
          } catch (RuntimeException journalRefused) {
            kept = false; // back to the queue, whose own writer tries both again (and keeps it in memory meanwhile)
          }
          one.end(kept);
        }
      }
    };
  }

  /** Usage handed over and not yet written. */
  public int backlog() {
    return queue.backlog();
  }

  /** Background writers (the local gateway); Lambda has none. */
  public void startWriters(int count) {
    queue.startWriters(count);
  }

  /** Forgets what is not written yet (SnapStart: priming's usage must not reach the table); returns how many requests. */
  public int discardPending() {
    return queue.discardPending();
  }

  /**
   * At shutdown: the last flush; usage that even that could not write or journal goes to the log as
   * {@code aigw_unwritten_usage} records (docs/operations.md replays them), not lost silently.
   */
  public boolean close() {
    return queue.close(lastResort::keep);
  }
}

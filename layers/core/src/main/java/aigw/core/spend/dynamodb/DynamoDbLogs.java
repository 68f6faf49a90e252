package aigw.core.spend.dynamodb;

import aigw.core.audit.AuditEvent;
import aigw.core.audit.AuditLog;
import aigw.core.audit.AuditLogReader;
import aigw.core.errors.ServiceUnavailable;
import aigw.core.spend.SpendLogEntry;
import aigw.core.spend.SpendLogReader;
import aigw.core.spend.WriteBehindSpendLogs;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import java.util.logging.Logger;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.BatchWriteItemResponse;
import software.amazon.awssdk.services.dynamodb.model.PutRequest;
import software.amazon.awssdk.services.dynamodb.model.QueryRequest;
import software.amazon.awssdk.services.dynamodb.model.QueryResponse;
import software.amazon.awssdk.services.dynamodb.model.WriteRequest;

/**
 * The spend logs and the audit log in one DynamoDB table ({@link LogItems}), and their read side.
 *
 * <p><b>Spend records</b> are accepted into memory by {@link #record(SpendLogEntry)} (no DynamoDB
 * call on the caller's path) and written with BatchWriteItem, 25 items a call: a background writer
 * writes each full batch, {@link #flush()} the rest. One writer at a time (DynamoDB Local takes no
 * more rows a second from several). The rows waiting are bounded ({@link #MAX_BACKLOG}): when calls
 * bring rows faster than the table takes them, {@code record} makes its caller wait (no lock held,
 * never writing itself) until a writer takes rows, at most {@link #MAX_WAIT_FOR_ROOM}; so the table
 * sets the pace of the calls and the heap stays flat. Items DynamoDB
 * returns as {@code UnprocessedItems} (throttling, a partition busy) are sent again with exponential
 * backoff and jitter, as DynamoDB's documentation of BatchWriteItem asks; items still refused after
 * {@link #MAX_ATTEMPTS} attempts, or when the call fails after the SDK's own retries, go to the
 * {@link LogJournal} and are replayed later. So an accepted record is written to the table or kept
 * in the journal once {@code flush()} returns: Lambda calls it before its invocation ends, the local
 * gateway at shutdown (and {@link #flushPartialBatch()} every second).
 *
 * <p><b>Audit events</b> are rare and must be on record before the admin is told the action is
 * done: {@link #record(AuditEvent)} writes one PutItem at once, and keeps the item in the journal
 * when DynamoDB refuses it (503 only if the journal cannot keep it either).
 *
 * <p><b>Reads</b> are Queries, never Scans: by key on the table ({@code pk = key#<id>}), by team on
 * the {@code ByTeam} index, all records on the {@code ByDay} index one day partition at a time;
 * each within the date range on the sort key (the start time in epoch milliseconds). Newest first.
 * Costs per page: docs/architecture.md, "Spend and audit logs".
 */
public final class DynamoDbLogs implements WriteBehindSpendLogs, AuditLog, SpendLogReader, AuditLogReader {
  private static final Logger LOG = Logger.getLogger(DynamoDbLogs.class.getName());
  /** BatchWriteItem's limit: at most 25 put or delete requests a call. */
  public static final int BATCH = 25;
  /** Attempts of one batch, the first included, before its unprocessed items go to the journal. */
  static final int MAX_ATTEMPTS = 8;
  static final Duration FIRST_BACKOFF = Duration.ofMillis(50);
  static final Duration MAX_BACKOFF = Duration.ofSeconds(2);
  /**
   * Accepted spend rows that may wait for a writer (about 2 KB of heap each, so about 4 MB; about a
   * second of writing on DynamoDB Local). At the bound {@link #record} makes its caller wait for
   * room: calls arriving faster than the table takes their rows slow to the table's pace instead of
   * filling the heap (a soak at 3,000 requests/s held 88,000 rows, 2 GB, after 75 s).
   */
  public static final int MAX_BACKLOG = 2_000;
  /**
   * The longest a {@link #record} waits for room. Past it the row is accepted over the bound (and
   * logged): a table and journal that are both down, or a write that hangs, must not hold a call
   * for long. In normal overload a wait lasts until the next batch is taken (milliseconds).
   */
  public static final Duration MAX_WAIT_FOR_ROOM = Duration.ofSeconds(5);
  /** How long the background writer pauses after a batch it could neither write nor keep. */
  static final Duration STUCK_WRITER_PAUSE = Duration.ofSeconds(1);
  /** Items a Query may evaluate at once (DynamoDB also stops at 1 MB). */
  private static final int MAX_QUERY_LIMIT = 1000;

  /** Waits between attempts; tests pass one that does not sleep. */
  public interface Sleeper {
    void sleep(Duration duration) throws InterruptedException;
  }

  private final DynamoDbClient dynamo;
  private final String table;
  private final Duration retention;
  private final LogJournal journal;
  private final Sleeper sleeper;
  private final SecureRandom random = new SecureRandom();
  /** The accepted rows no writer has taken yet, oldest first; guarded by {@link #queue}. */
  private final ArrayDeque<Map<String, AttributeValue>> pending = new ArrayDeque<>();
  private final ReentrantLock queue = new ReentrantLock();
  /** Signalled whenever a writer takes rows: callers waiting for room below the bound look again. */
  private final Condition room = queue.newCondition();
  /**
   * Held by whoever writes rows (one batch of the background writer, a {@link #flush}, a {@link
   * #takeTogether} from taking to ending): one writer at a time, and a flush waits for what is in
   * flight. Fair, so a flush gets it between two of the background writer's batches.
   */
  private final ReentrantLock writing = new ReentrantLock(true);
  /** Whether the background writer of full batches runs (see {@link #record}). */
  private final AtomicBoolean batchWriterRunning = new AtomicBoolean();
  private final int maxBacklog;
  private final Duration maxWait;
  /** A wait for room ran out: callers stop waiting until a batch is written or kept again. */
  private volatile boolean writersStuck;
  /** Whether accepting over the bound has been logged since the backlog was last under half its bound; guarded by {@link #queue}. */
  private boolean overBoundLogged;
  /** Rows written or kept in the journal so far; changed only under the write lock. */
  private volatile long rowsDone;

  /**
   * @param retention how long a record is kept: its {@code purge_at} is its time plus this
   */
  public DynamoDbLogs(DynamoDbClient dynamo, String table, Duration retention, LogJournal journal) {
    this(dynamo, table, retention, journal, duration -> Thread.sleep(duration));
  }

  public DynamoDbLogs(DynamoDbClient dynamo, String table, Duration retention, LogJournal journal, Sleeper sleeper) {
    this(dynamo, table, retention, journal, sleeper, MAX_BACKLOG, MAX_WAIT_FOR_ROOM);
  }

  /**
   * @param maxBacklog rows that may wait for a writer before {@link #record} makes its caller wait
   * @param maxWait the longest one such wait
   */
  DynamoDbLogs(DynamoDbClient dynamo, String table, Duration retention, LogJournal journal, Sleeper sleeper, int maxBacklog, Duration maxWait) {
    if (maxBacklog < BATCH) {
      throw new IllegalArgumentException("the backlog bound must hold a batch (" + BATCH + "), got " + maxBacklog);
    }
    this.maxBacklog = maxBacklog;
    this.maxWait = maxWait;
    this.dynamo = dynamo;
    this.table = table;
    this.retention = retention;
    this.journal = journal;
    this.sleeper = sleeper;
  }

  public Duration retention() {
    return retention;
  }

  // --- writes ---

  @Override
  public void record(SpendLogEntry entry) {
    var item = LogItems.spendItem(entry, retention);
    boolean full;
    queue.lock();
    try {
      if (pending.size() >= maxBacklog && !writing.isHeldByCurrentThread()) {
        awaitFewerThan(maxBacklog);
      }
      pending.add(item);
      full = pending.size() >= BATCH;
    } finally {
      queue.unlock();
    }
    if (full) {
      startBatchWriter();
    }
  }

  /**
   * For the transport, after a model call's answer is sent and before it reads that connection's
   * next request: when the backlog is past three quarters of its bound, waits (as {@link #record}
   * does at the bound, at most {@link #MAX_WAIT_FOR_ROOM}) until the writer has brought it under.
   * So under sustained overload the clients are slowed between their calls, not inside them, and
   * {@code record} itself, which runs before the answer (CallAccounting), need not wait: the rows a
   * server's workers add between two checks (one each) stay under the bound.
   */
  @Override
  public void awaitRoomAfterAnswer() {
    int easeBelow = maxBacklog - maxBacklog / 4;
    if (writing.isHeldByCurrentThread()) {
      return;
    }
    queue.lock();
    try {
      if (pending.size() >= easeBelow) {
        awaitFewerThan(easeBelow);
      }
    } finally {
      queue.unlock();
    }
  }

  /**
   * The backlog is at {@code limit}: the table takes rows more slowly than calls bring them. Waits (the
   * queue lock released while waiting, never the write lock) until a writer takes rows, so the
   * calls slow to the pace of the table instead of filling the heap; the caller never writes
   * itself (a caller that wrote for others that keep adding waited past its client's timeout).
   * Bounded: after {@link #maxWait} with no room, or while the writers have stopped making progress
   * (the table and the journal both refusing, or a call hanging), the row is accepted over the
   * bound and that is logged once, so a dead table never holds a call for long. Queue lock held.
   */
  private void awaitFewerThan(int limit) {
    if (writersStuck) {
      return; // waiting gains nothing until a writer has written or kept something again
    }
    startBatchWriter(); // the one that would bring room may have just stopped (see batchWriterLoop)
    long doneBefore = rowsDone;
    long left = maxWait.toNanos();
    try {
      while (pending.size() >= limit && !writersStuck) {
        if (left <= 0) {
          boolean noneDone = rowsDone == doneBefore;
          if (noneDone) {
            writersStuck = true; // cleared by the next batch written or kept
            room.signalAll(); // the other waiters stop waiting too
          }
          if (!overBoundLogged) {
            overBoundLogged = true;
            LOG.warning("Spend-log rows waited " + maxWait + " beyond their bound of " + maxBacklog + " ("
                + (noneDone ? "none was written: neither the logs table nor " + journal.describe() + " takes them"
                    : "some were written, and other calls took the room")
                + "); rows are accepted over the bound, in memory, until the writer catches up");
          }
          return;
        }
        left = room.awaitNanos(left);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // accepted all the same: the call is served, its row is not lost
    }
  }

  /**
   * Starts the background writer of full batches unless it runs: off the callers' path (they are
   * serving model calls, CallAccounting), one batch at a time, as {@link #batchWriterLoop}.
   */
  private void startBatchWriter() {
    if (batchWriterRunning.compareAndSet(false, true)) {
      Thread.ofVirtual().name("aigw-spend-log-batch").start(this::batchWriterLoop);
    }
  }

  /**
   * Writes full batches while 25 rows or more wait, taking the write lock for each batch only, so a
   * {@link #flush} gets its turn between two batches (the lock is fair) instead of waiting while
   * calls keep adding. One writer: DynamoDB Local runs every write through one SQLite thread, and
   * two or four concurrent BatchWriteItem calls took no more rows a second than one
   * (docs/architecture.md, "Spend and audit logs").
   */
  private void batchWriterLoop() {
    try {
      while (true) {
        while (writeOneBatch(BATCH)) {
          // next batch
        }
        batchWriterRunning.set(false);
        // A record that filled a batch while this writer was finishing saw it running and started
        // none: look once more, or that batch (and the callers waiting for room) would wait for the
        // next flush.
        if (pendingCount() < BATCH || !batchWriterRunning.compareAndSet(false, true)) {
          return;
        }
      }
    } catch (ServiceUnavailable heldForNextFlush) {
      // Already logged; the rows are back in memory. A pause before this writer gives its turn up,
      // so a table and journal that are both down are not asked again for every new record.
      try {
        Thread.sleep(STUCK_WRITER_PAUSE);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      batchWriterRunning.set(false);
    } catch (RuntimeException | Error unexpected) {
      batchWriterRunning.set(false);
      throw unexpected;
    }
  }

  /**
   * Writes every record accepted before this call: to the table, or, for what DynamoDB still
   * refuses, to the journal; returns when that is done. That includes rows a background batch or a
   * {@link #takeTogether} caller holds at the time: this waits for them (the write lock). Rows
   * accepted while it runs are left to the background writer and the next flush, so a flush under
   * sustained traffic ends (it writes at most the backlog it found, {@link #MAX_BACKLOG} rows).
   *
   * @throws ServiceUnavailable when rows could be neither written nor kept in the journal (they stay
   *     in memory for the next flush)
   */
  @Override
  public void flush() {
    writing.lock();
    try {
      int accepted = pendingCount(); // no row is in flight while the lock is ours: all are here
      for (int taken = 0; taken < accepted; ) {
        int batch = writeBatchHeld(BATCH, 1);
        if (batch == 0) {
          return; // discarded meanwhile
        }
        taken += batch;
      }
    } finally {
      writing.unlock();
    }
  }

  /**
   * The periodic write of a long-running process (the local gateway, every second): the rows of a
   * batch not yet full, which the background writer leaves, go now; a full batch is left to that
   * writer (started if it is not running), and nothing is done while another writer holds the
   * lock. So the periodic caller never spends long here, even when the table is slower than the
   * traffic; {@link #flush} at shutdown writes whatever is left.
   *
   * @throws ServiceUnavailable when the rows could be neither written nor kept in the journal (they
   *     stay in memory for the next try)
   */
  @Override
  public void flushPartialBatch() {
    if (pendingCount() >= BATCH) {
      startBatchWriter();
      return;
    }
    if (!writing.tryLock()) {
      return;
    }
    try {
      writeBatchHeld(BATCH, 1);
    } finally {
      writing.unlock();
    }
  }

  /**
   * Takes up to {@code max} accepted spend records, oldest first, as puts for one transaction with
   * the usage and the limit settlements ({@link aigw.core.usage.WrittenTogether}): on Lambda the
   * one record of the invocation rides in the one write after the answer. Until they are ended a
   * {@link #flush} waits for them; ended not written, they go back in front, for the usual
   * BatchWriteItem (and the journal). Nothing is taken while a batch is being written. The write
   * lock is held from taking to ending, by the calling thread (the one that calls {@code end}).
   */
  public aigw.core.usage.WrittenTogether takeTogether(int max) {
    if (max < 1 || !writing.tryLock()) {
      return aigw.core.usage.WrittenTogether.NOTHING;
    }
    List<Map<String, AttributeValue>> taken;
    try {
      taken = take(max, 1);
    } catch (RuntimeException | Error e) {
      writing.unlock();
      throw e;
    }
    if (taken.isEmpty()) {
      writing.unlock();
      return aigw.core.usage.WrittenTogether.NOTHING;
    }
    var items = taken.stream()
        .map(item -> software.amazon.awssdk.services.dynamodb.model.TransactWriteItem.builder().put(p -> p.tableName(table).item(item)).build())
        .toList();
    return new aigw.core.usage.WrittenTogether() {
      private boolean ended;

      @Override
      public List<software.amazon.awssdk.services.dynamodb.model.TransactWriteItem> items() {
        return items;
      }

      @Override
      public void end(boolean written) {
        if (ended) {
          throw new IllegalStateException("ended twice");
        }
        ended = true;
        try {
          if (written) {
            rowsDone += taken.size();
            writersStuck = false;
          } else {
            putBack(taken);
          }
        } finally {
          writing.unlock();
        }
      }
    };
  }

  /**
   * Forgets the spend records accepted and not yet written: SnapStart's priming request must not
   * leave a record that every restored environment would write.
   *
   * @return how many were forgotten
   */
  @Override
  public int discardPending() {
    queue.lock();
    try {
      int count = pending.size();
      pending.clear();
      room.signalAll();
      return count;
    } finally {
      queue.unlock();
    }
  }

  /** How many accepted spend records wait for a writer (for tests and the shutdown log line); at most {@link #MAX_BACKLOG} but for bounded waits that ran out. */
  public int pendingCount() {
    queue.lock();
    try {
      return pending.size();
    } finally {
      queue.unlock();
    }
  }

  /**
   * Takes the write lock and writes one batch if at least {@code atLeast} rows wait.
   *
   * @return whether a batch was written (or kept)
   */
  private boolean writeOneBatch(int atLeast) {
    writing.lock();
    try {
      return writeBatchHeld(BATCH, atLeast) > 0;
    } finally {
      writing.unlock();
    }
  }

  /** Takes up to {@code max} rows if at least {@code atLeast} wait, and writes or keeps them. Write lock held. */
  private int writeBatchHeld(int max, int atLeast) {
    List<Map<String, AttributeValue>> batch = take(max, atLeast);
    if (!batch.isEmpty()) {
      keep(writeBatch(batch));
      rowsDone += batch.size(); // the write lock is held: no other writer adds at the same time
      writersStuck = false; // written or kept: the writers move again
    }
    return batch.size();
  }

  /** Up to {@code max} rows, oldest first, if at least {@code atLeast} wait; waiters for room are woken at once. */
  private List<Map<String, AttributeValue>> take(int max, int atLeast) {
    queue.lock();
    try {
      if (pending.size() < atLeast) {
        return List.of();
      }
      var taken = new ArrayList<Map<String, AttributeValue>>(Math.min(max, pending.size()));
      while (taken.size() < max && !pending.isEmpty()) {
        taken.add(pending.poll());
      }
      if (pending.size() < maxBacklog / 2) {
        overBoundLogged = false; // caught up: a next time over the bound is logged again
      }
      room.signalAll();
      return taken;
    } finally {
      queue.unlock();
    }
  }

  /** Puts rows not written back in front, in their order (they may briefly take the backlog over its bound). */
  private void putBack(List<Map<String, AttributeValue>> rows) {
    queue.lock();
    try {
      for (int i = rows.size() - 1; i >= 0; i--) {
        pending.addFirst(rows.get(i));
      }
    } finally {
      queue.unlock();
    }
  }

  /**
   * Keeps refused items in the journal. If even that fails, they go back to memory for the next
   * flush (never dropped) and the flush fails: the caller learns that records are at risk.
   */
  private void keep(List<Map<String, AttributeValue>> refused) {
    for (int i = 0; i < refused.size(); i++) {
      try {
        journal.keep(refused.get(i));
      } catch (RuntimeException journalFailed) {
        List<Map<String, AttributeValue>> back = refused.subList(i, refused.size());
        putBack(back);
        LOG.severe(back.size() + " spend log item(s) could be neither written nor kept in " + journal.describe() + " ("
            + journalFailed.getMessage() + "); held in memory for the next flush");
        throw new ServiceUnavailable("The logs table and the log journal (" + journal.describe() + ") are unavailable.", journalFailed);
      }
    }
  }

  /**
   * Writes up to 25 items, sending DynamoDB's unprocessed items again with backoff.
   *
   * @return the items not written (empty when all were)
   */
  List<Map<String, AttributeValue>> writeBatch(List<Map<String, AttributeValue>> items) {
    List<WriteRequest> remaining = new ArrayList<>(items.size());
    for (Map<String, AttributeValue> item : items) {
      remaining.add(WriteRequest.builder().putRequest(PutRequest.builder().item(item).build()).build());
    }
    for (int attempt = 1; ; attempt++) {
      BatchWriteItemResponse response;
      try {
        final List<WriteRequest> requests = remaining;
        response = dynamo.batchWriteItem(b -> b.requestItems(Map.of(table, requests)));
      } catch (SdkException failed) { // after the SDK's own retries
        LOG.warning("Writing " + remaining.size() + " log item(s) failed (" + failed.getMessage() + "); keeping them in " + journal.describe());
        return items(remaining);
      }
      remaining = response.unprocessedItems().getOrDefault(table, List.of());
      if (remaining.isEmpty()) {
        return List.of();
      }
      if (attempt >= MAX_ATTEMPTS) {
        LOG.warning(remaining.size() + " log item(s) still unprocessed after " + attempt + " attempts; keeping them in " + journal.describe());
        return items(remaining);
      }
      try {
        sleeper.sleep(backoff(attempt));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return items(remaining);
      }
    }
  }

  /** Exponential, capped, with full jitter: a random wait up to 50 ms, 100 ms, … 2 s. */
  private Duration backoff(int attempt) {
    long ceiling = Math.min(MAX_BACKOFF.toMillis(), FIRST_BACKOFF.toMillis() << Math.min(attempt - 1, 20));
    return Duration.ofMillis(ceiling / 2 + random.nextLong(ceiling / 2 + 1));
  }

  private static List<Map<String, AttributeValue>> items(List<WriteRequest> requests) {
    return requests.stream().map(r -> r.putRequest().item()).toList();
  }

  @Override
  public void record(AuditEvent event) {
    var item = LogItems.auditItem(event, HexFormat.of().formatHex(randomBytes()), retention);
    try {
      dynamo.putItem(b -> b.tableName(table).item(item));
    } catch (SdkException failed) {
      try {
        journal.keep(item);
      } catch (RuntimeException journalFailed) {
        throw new ServiceUnavailable("The audit log (DynamoDB) is unavailable: " + failed.getMessage(), failed);
      }
      LOG.warning("Audit event " + event.action() + " kept in " + journal.describe() + " to replay: " + failed.getMessage());
    }
  }

  private byte[] randomBytes() {
    byte[] bytes = new byte[6];
    random.nextBytes(bytes);
    return bytes;
  }

  /** Writes what the journal kept (locally; on Lambda the log is replayed by an operator). */
  public int replayKept() {
    return journal.replay(items -> {
      List<Map<String, AttributeValue>> refused = writeBatch(items);
      if (!refused.isEmpty()) {
        throw new ServiceUnavailable(refused.size() + " kept log item(s) refused again", null);
      }
    });
  }

  // --- reads ---

  @Override
  public SpendLogReader.Page page(SpendLogReader.Query query) {
    Function<String, QueryRequest.Builder> partition;
    List<String> partitions;
    Map<String, String> filter = new LinkedHashMap<>();
    if (query.keyId() != null) {
      partitions = List.of(LogItems.keyPartition(query.keyId()));
      partition = pk -> QueryRequest.builder().tableName(table).keyConditionExpression("#p = :p AND #s BETWEEN :lo AND :hi")
          .expressionAttributeNames(names(LogItems.PK));
      if (query.teamId() != null) {
        filter.put(LogItems.TEAM_PK, LogItems.teamPartition(query.teamId()));
      }
    } else if (query.teamId() != null) {
      partitions = List.of(LogItems.teamPartition(query.teamId()));
      partition = pk -> QueryRequest.builder().tableName(table).indexName(LogItems.BY_TEAM)
          .keyConditionExpression("#p = :p AND #s BETWEEN :lo AND :hi").expressionAttributeNames(names(LogItems.TEAM_PK));
    } else {
      partitions = days(LogItems.SPEND_DAY_PREFIX, query.from(), upper(query.to(), query.after()));
      partition = pk -> QueryRequest.builder().tableName(table).indexName(LogItems.BY_DAY)
          .keyConditionExpression("#p = :p AND #s BETWEEN :lo AND :hi").expressionAttributeNames(names(LogItems.DAY_PK));
    }
    var found = read(partitions, partition, filter, query.from(), query.to(), query.limit(), query.after());
    return new SpendLogReader.Page(found.items().stream().map(LogItems::spendEntry).toList(), found.next());
  }

  @Override
  public AuditLogReader.Page page(AuditLogReader.Query query) {
    Function<String, QueryRequest.Builder> partition;
    List<String> partitions;
    if (query.objectId() != null) {
      partitions = List.of(LogItems.auditPartition(query.objectId()));
      partition = pk -> QueryRequest.builder().tableName(table).keyConditionExpression("#p = :p AND #s BETWEEN :lo AND :hi")
          .expressionAttributeNames(names(LogItems.PK));
    } else {
      partitions = days(LogItems.AUDIT_DAY_PREFIX, query.from(), upper(query.to(), query.after()));
      partition = pk -> QueryRequest.builder().tableName(table).indexName(LogItems.BY_DAY)
          .keyConditionExpression("#p = :p AND #s BETWEEN :lo AND :hi").expressionAttributeNames(names(LogItems.DAY_PK));
    }
    Map<String, String> filter = new LinkedHashMap<>();
    if (query.action() != null) {
      filter.put("a", query.action());
    }
    if (query.objectType() != null) {
      filter.put("ot", query.objectType());
    }
    var found = read(partitions, partition, filter, query.from(), query.to(), query.limit(), query.after());
    return new AuditLogReader.Page(found.items().stream().map(LogItems::auditEvent).toList(), found.next());
  }

  private static Map<String, String> names(String partitionAttribute) {
    var names = new LinkedHashMap<String, String>();
    names.put("#p", partitionAttribute);
    names.put("#s", LogItems.SK);
    return names;
  }

  private static Instant upper(Instant to, String after) {
    if (after != null) {
      Instant cursor = LogItems.timeOf(after);
      return cursor.isBefore(to) ? cursor : to;
    }
    return to;
  }

  /** The day partitions from the newest day down to the oldest. */
  private static List<String> days(String prefix, Instant from, Instant to) {
    var days = new ArrayList<String>();
    LocalDate first = LocalDate.parse(LogItems.day(from));
    for (LocalDate day = LocalDate.parse(LogItems.day(to)); !day.isBefore(first); day = day.minusDays(1)) {
      days.add(prefix + day);
    }
    return days;
  }

  private record Found(List<Map<String, AttributeValue>> items, String next) {}

  /**
   * Reads up to {@code limit} items, newest first, from the partitions in turn, between {@code from}
   * and {@code to} (inclusive, to the millisecond) and before {@code after} when given.
   */
  private Found read(List<String> partitions, Function<String, QueryRequest.Builder> partition, Map<String, String> filter,
      Instant from, Instant to, int limit, String after) {
    // Sort keys are "<13 digits>#<id>": the bare 13 digits sort before every key of that millisecond.
    String lo = String.format("%013d", from.toEpochMilli());
    String hi = String.format("%013d", to.toEpochMilli() + 1);
    if (after != null && after.compareTo(hi) < 0) {
      hi = after; // inclusive in BETWEEN: the item equal to it is skipped below
    }
    var items = new ArrayList<Map<String, AttributeValue>>();
    if (lo.compareTo(hi) > 0) {
      return new Found(items, null); // an empty range (BETWEEN refuses a lower bound above the upper)
    }
    for (String pk : partitions) {
      Map<String, AttributeValue> start = null;
      do {
        var values = new LinkedHashMap<String, AttributeValue>();
        values.put(":p", AttributeValue.fromS(pk));
        values.put(":lo", AttributeValue.fromS(lo));
        values.put(":hi", AttributeValue.fromS(hi));
        QueryRequest.Builder request = partition.apply(pk);
        var names = new LinkedHashMap<>(request.build().expressionAttributeNames());
        if (!filter.isEmpty()) {
          var conditions = new ArrayList<String>();
          int i = 0;
          for (var condition : filter.entrySet()) {
            names.put("#f" + i, condition.getKey());
            values.put(":f" + i, AttributeValue.fromS(condition.getValue()));
            conditions.add("#f" + i + " = :f" + i);
            i++;
          }
          request.filterExpression(String.join(" AND ", conditions));
        }
        QueryResponse response;
        try {
          response = dynamo.query(request.expressionAttributeNames(names).expressionAttributeValues(values)
              .scanIndexForward(false).limit(Math.min(MAX_QUERY_LIMIT, limit - items.size() + 1)).exclusiveStartKey(start).build());
        } catch (SdkException e) {
          throw new ServiceUnavailable("The logs table (DynamoDB) is unavailable: " + e.getMessage(), e);
        }
        for (Map<String, AttributeValue> item : response.items()) {
          if (after != null && item.get(LogItems.SK).s().equals(after)) {
            continue;
          }
          items.add(item);
          if (items.size() == limit) {
            return new Found(items, item.get(LogItems.SK).s());
          }
        }
        start = response.hasLastEvaluatedKey() && !response.lastEvaluatedKey().isEmpty() ? response.lastEvaluatedKey() : null;
      } while (start != null);
    }
    return new Found(items, null);
  }
}

package aigw.core.spend.dynamodb;

import aigw.core.audit.AuditEvent;
import aigw.core.audit.AuditLog;
import aigw.core.audit.AuditLogReader;
import aigw.core.errors.ServiceUnavailable;
import aigw.core.spend.SpendLogEntry;
import aigw.core.spend.SpendLogReader;
import aigw.core.spend.SpendLogs;
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
 * call on the way) and written by {@link #flush()} with BatchWriteItem, 25 items a call; the
 * recording thread writes at once whenever 25 are waiting, so memory stays bounded. Items DynamoDB
 * returns as {@code UnprocessedItems} (throttling, a partition busy) are sent again with exponential
 * backoff and jitter, as DynamoDB's documentation of BatchWriteItem asks; items still refused after
 * {@link #MAX_ATTEMPTS} attempts, or when the call fails after the SDK's own retries, go to the
 * {@link LogJournal} and are replayed later. So an accepted record is written to the table or kept
 * in the journal once {@code flush()} returns: Lambda calls it before its invocation ends, the local
 * gateway periodically and at shutdown.
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
public final class DynamoDbLogs implements SpendLogs, AuditLog, SpendLogReader, AuditLogReader {
  private static final Logger LOG = Logger.getLogger(DynamoDbLogs.class.getName());
  /** BatchWriteItem's limit: at most 25 put or delete requests a call. */
  public static final int BATCH = 25;
  /** Attempts of one batch, the first included, before its unprocessed items go to the journal. */
  static final int MAX_ATTEMPTS = 8;
  static final Duration FIRST_BACKOFF = Duration.ofMillis(50);
  static final Duration MAX_BACKOFF = Duration.ofSeconds(2);
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
  private final ArrayDeque<Map<String, AttributeValue>> pending = new ArrayDeque<>(); // guarded by itself
  private final ReentrantLock writing = new ReentrantLock();
  /** Whether a full batch is being written in the background already (see {@link #record}). */
  private final java.util.concurrent.atomic.AtomicBoolean batchWriteScheduled = new java.util.concurrent.atomic.AtomicBoolean();

  /**
   * @param retention how long a record is kept: its {@code purge_at} is its time plus this
   */
  public DynamoDbLogs(DynamoDbClient dynamo, String table, Duration retention, LogJournal journal) {
    this(dynamo, table, retention, journal, duration -> Thread.sleep(duration));
  }

  public DynamoDbLogs(DynamoDbClient dynamo, String table, Duration retention, LogJournal journal, Sleeper sleeper) {
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
    boolean full;
    synchronized (pending) {
      pending.add(LogItems.spendItem(entry, retention));
      full = pending.size() >= BATCH;
    }
    if (full && batchWriteScheduled.compareAndSet(false, true)) {
      // Off the caller's path: the caller is serving a model call (CallAccounting), and a
      // BatchWriteItem of 25 items is not its client's to wait for. One writer at a time; records
      // that arrive meanwhile wait for it, the next full batch, or the next flush.
      Thread.ofVirtual().name("aigw-spend-log-batch").start(() -> {
        try {
          writePending(true);
        } catch (ServiceUnavailable heldForNextFlush) {
          // already logged; the records wait in memory for the next flush
        } finally {
          batchWriteScheduled.set(false);
        }
      });
    }
  }

  /**
   * Writes every record accepted so far: to the table, or, for what DynamoDB still refuses, to the
   * journal. Returns when that is done; concurrent callers wait for the write in progress.
   */
  public void flush() {
    writePending(false);
  }

  /**
   * Takes up to {@code max} accepted spend records, oldest first, as puts for one transaction with
   * the usage and the limit settlements ({@link aigw.core.usage.WrittenTogether}): on Lambda the
   * one record of the invocation rides in the one write after the answer. Until they are ended a
   * {@link #flush} waits for them; ended not written, they go back in front, for the usual
   * BatchWriteItem (and the journal). Nothing is taken while a batch is being written.
   */
  public aigw.core.usage.WrittenTogether takeTogether(int max) {
    if (max < 1 || !writing.tryLock()) {
      return aigw.core.usage.WrittenTogether.NOTHING;
    }
    var taken = new ArrayList<Map<String, AttributeValue>>();
    synchronized (pending) {
      while (taken.size() < max && !pending.isEmpty()) {
        taken.add(pending.poll());
      }
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
          if (!written) {
            synchronized (pending) {
              for (int i = taken.size() - 1; i >= 0; i--) {
                pending.addFirst(taken.get(i));
              }
            }
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
  public int discardPending() {
    synchronized (pending) {
      int count = pending.size();
      pending.clear();
      return count;
    }
  }

  /** How many accepted spend records are not written yet (for tests and the shutdown log line). */
  public int pendingCount() {
    synchronized (pending) {
      return pending.size();
    }
  }

  private void writePending(boolean fullBatchesOnly) {
    writing.lock();
    try {
      while (true) {
        List<Map<String, AttributeValue>> batch = new ArrayList<>(BATCH);
        synchronized (pending) {
          if (pending.isEmpty() || (fullBatchesOnly && pending.size() < BATCH)) {
            return;
          }
          while (batch.size() < BATCH && !pending.isEmpty()) {
            batch.add(pending.poll());
          }
        }
        keep(writeBatch(batch));
      }
    } finally {
      writing.unlock();
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
        synchronized (pending) {
          for (int j = back.size() - 1; j >= 0; j--) {
            pending.addFirst(back.get(j));
          }
        }
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

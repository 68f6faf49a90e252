package aigw.core.spend.dynamodb;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.spend.SpendLogEntry;
import aigw.core.testing.LocalDynamo;
import aigw.core.testing.Logs;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.BatchWriteItemRequest;
import software.amazon.awssdk.services.dynamodb.model.PutRequest;
import software.amazon.awssdk.services.dynamodb.model.WriteRequest;

/**
 * The spend-log backlog when calls bring rows faster than the logs table takes them: bounded, every
 * row written once, callers slowed and never stuck (DynamoDB Local behind a stand-in that takes a
 * set number of batches a second, or none).
 */
class DynamoDbLogsBacklogTest {
  private static final Instant DAY_1 = Instant.parse("2026-11-01T10:00:00Z");
  private static final Duration RETENTION = Duration.ofDays(30);
  private static final int BOUND = 100;
  /** Long beside any batch here: a wait that runs out in these tests is a fault, not a slow table. */
  private static final Duration NO_TIMEOUT = Duration.ofSeconds(60);

  private final LocalDynamo dynamo = new LocalDynamo();
  @TempDir Path dataDir;
  /** Rows sent in BatchWriteItem calls that DynamoDB Local accepted. */
  private final AtomicInteger batchedRows = new AtomicInteger();
  private final ExecutorService threads = Executors.newCachedThreadPool();

  @AfterEach
  void close() {
    threads.shutdownNow();
    dynamo.close();
  }

  private DynamoDbLogs logs(DynamoDbClient client, LogJournal journal, Duration maxWait) {
    return new DynamoDbLogs(client, dynamo.logsTable(), RETENTION, journal, wait -> {}, BOUND, maxWait);
  }

  private FileLogJournal fileJournal() {
    return new FileLogJournal(dataDir.resolve(FileLogJournal.FILE_NAME));
  }

  /** DynamoDB Local taking one BatchWriteItem per {@code pause}: 25 rows per pause at most. */
  private DynamoDbClient slowTable(Duration pause) {
    return DynamoDbLogsTest.intercepting(dynamo.client(), request -> {
      if (request instanceof BatchWriteItemRequest batch) {
        sleep(pause);
        var written = dynamo.client().batchWriteItem(batch);
        batchedRows.addAndGet(batch.requestItems().get(dynamo.logsTable()).size()
            - written.unprocessedItems().getOrDefault(dynamo.logsTable(), List.of()).size());
        return written;
      }
      return null;
    });
  }

  private static void sleep(Duration pause) {
    try {
      Thread.sleep(pause);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw SdkClientException.create("interrupted");
    }
  }

  private static SpendLogEntry call(String requestId) {
    return new SpendLogEntry(requestId, "key-a", "alias-a", "team-a", "gpt-4o-mini", "openai/gpt-4o-mini",
        10, 5, 15, new BigDecimal("0.000123"), 200, 321, false, DAY_1);
  }

  private int rowsInTable() {
    int count = 0;
    for (var page : dynamo.client().scanPaginator(b -> b.tableName(dynamo.logsTable()).select("COUNT"))) {
      count += page.count();
    }
    return count;
  }

  private boolean inTable(String requestId) {
    var item = LogItems.spendItem(call(requestId), RETENTION);
    return dynamo.client().getItem(b -> b.tableName(dynamo.logsTable())
        .key(Map.of(LogItems.PK, item.get(LogItems.PK), LogItems.SK, item.get(LogItems.SK)))).hasItem();
  }

  private static final int PRODUCERS = 8;
  private static final int ROWS_EACH = 250;

  /**
   * {@link #PRODUCERS} threads each recording {@link #ROWS_EACH} calls, then a flush.
   *
   * @param afterAnswer whether each call then waits as the local server does after an answer
   * @return the most rows seen waiting for a writer
   */
  private int produce(DynamoDbLogs logs, String prefix, boolean afterAnswer) throws Exception {
    var mostWaiting = new AtomicInteger();
    var work = new ArrayList<Future<?>>();
    for (int p = 0; p < PRODUCERS; p++) {
      int producer = p;
      work.add(threads.submit(() -> {
        for (int i = 0; i < ROWS_EACH; i++) {
          logs.record(call(prefix + producer + "-" + i)); // before the answer (CallAccounting)
          mostWaiting.accumulateAndGet(logs.pendingCount(), Math::max);
          if (afterAnswer) {
            logs.awaitRoomAfterAnswer();
          }
        }
      }));
    }
    for (Future<?> done : work) {
      done.get(60, TimeUnit.SECONDS);
    }
    logs.flush();
    return mostWaiting.get();
  }

  @Test
  void callsFasterThanTheTableWaitAtTheBoundAndEveryRowIsWrittenOnce() throws Exception {
    var logs = logs(slowTable(Duration.ofMillis(2)), fileJournal(), NO_TIMEOUT); // at most 12,500 rows/s

    int mostWaiting = produce(logs, "p", false);

    assertThat(mostWaiting).as("rows waiting for a writer, at most").isLessThanOrEqualTo(BOUND);
    assertThat(batchedRows.get()).as("each row sent once").isEqualTo(PRODUCERS * ROWS_EACH);
    assertThat(rowsInTable()).isEqualTo(PRODUCERS * ROWS_EACH);
    assertThat(logs.pendingCount()).isZero();
  }

  @Test
  void callersWaitingAfterTheirAnswersKeepTheBacklogUnderTheBoundSoRecordItselfNeverWaits() throws Exception {
    var logs = logs(slowTable(Duration.ofMillis(2)), fileJournal(), NO_TIMEOUT);

    int mostWaiting = produce(logs, "a", true);

    // record waits only at the bound; the waits after the answers start at three quarters of it,
    // so with one row per caller between two checks the bound is never reached.
    assertThat(mostWaiting).as("rows waiting for a writer, at most").isLessThanOrEqualTo(BOUND - BOUND / 4 + PRODUCERS);
    assertThat(rowsInTable()).isEqualTo(PRODUCERS * ROWS_EACH);
  }

  @Test
  void aFlushUnderSustainedTrafficWritesWhatCameBeforeItAndReturns() throws Exception {
    var logs = logs(slowTable(Duration.ofMillis(5)), fileJournal(), NO_TIMEOUT);
    var stop = new AtomicBoolean();
    var sequence = new AtomicLong();
    var work = new ArrayList<Future<?>>();
    for (int p = 0; p < 4; p++) {
      work.add(threads.submit(() -> {
        while (!stop.get() && sequence.get() < 200_000) { // bounded even if a flush never ended
          logs.record(call("busy-" + sequence.incrementAndGet()));
        }
      }));
    }
    while (sequence.get() < 500) {
      Thread.sleep(5);
    }
    logs.record(call("before-the-flush"));
    try {
      CompletableFuture.runAsync(logs::flush, threads).get(20, TimeUnit.SECONDS); // flushing everything ever added would not end
      assertThat(stop.get()).as("calls still coming").isFalse();
      assertThat(inTable("before-the-flush")).as("written once flush returned").isTrue();
    } finally {
      stop.set(true);
      for (Future<?> done : work) {
        done.get(60, TimeUnit.SECONDS);
      }
    }
    logs.flush();
    assertThat(batchedRows.get()).isEqualTo(sequence.get() + 1);
  }

  @Test
  void thePeriodicWriteTakesABatchNotYetFullAndLeavesFullOnesToTheWriter() throws Exception {
    var release = new CountDownLatch(1);
    var calls = new AtomicInteger();
    var hanging = DynamoDbLogsTest.intercepting(dynamo.client(), request -> {
      if (request instanceof BatchWriteItemRequest && calls.incrementAndGet() > 1) {
        try {
          release.await(); // every batch after the first: a table slower than the traffic
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      return null;
    });
    var logs = logs(hanging, fileJournal(), NO_TIMEOUT);
    for (int i = 0; i < 10; i++) {
      logs.record(call("small-" + i));
    }
    logs.flushPartialBatch();
    assertThat(rowsInTable()).as("a batch not yet full, written by the periodic write").isEqualTo(10);

    for (int i = 0; i < 60; i++) {
      logs.record(call("busy-" + i)); // the background writer takes a batch and hangs in it
    }
    CompletableFuture.runAsync(logs::flushPartialBatch, threads).get(5, TimeUnit.SECONDS); // flush() would wait for the hung batch
    release.countDown();
    logs.flush();
    assertThat(rowsInTable()).isEqualTo(70);
  }

  @Test
  void aFlushWaitsForRowsTakenTogetherUntilTheyAreEnded() throws Exception {
    var logs = logs(dynamo.client(), fileJournal(), NO_TIMEOUT);
    for (int i = 0; i < 5; i++) {
      logs.record(call("r" + i));
    }
    var taken = new CountDownLatch(1);
    var end = new CountDownLatch(1);
    var taker = threads.submit(() -> {
      var together = logs.takeTogether(100);
      assertThat(together.items()).hasSize(5);
      taken.countDown();
      end.await();
      together.end(false); // the transaction failed: the rows go back for the flush
      return null;
    });
    taken.await();
    var flush = CompletableFuture.runAsync(logs::flush, threads);
    Thread.sleep(300);
    assertThat(flush).as("flush waits for the rows taken together").isNotDone();
    end.countDown();
    flush.get(10, TimeUnit.SECONDS);
    taker.get();
    assertThat(rowsInTable()).isEqualTo(5);
  }

  @Test
  void recordFlushAndTakeTogetherFromManyThreadsFinishWithEveryRowWrittenOnce() throws Exception {
    var logs = logs(slowTable(Duration.ofMillis(1)), fileJournal(), NO_TIMEOUT);
    var writtenTogether = new AtomicInteger();
    var recorders = new ArrayList<Future<?>>();
    int perRecorder = 200;
    for (int r = 0; r < 10; r++) {
      int recorder = r;
      recorders.add(threads.submit(() -> {
        for (int i = 0; i < perRecorder; i++) {
          logs.record(call("c" + recorder + "-" + i));
        }
      }));
    }
    var stop = new AtomicBoolean();
    var others = new ArrayList<Future<?>>();
    for (int f = 0; f < 3; f++) {
      others.add(threads.submit(() -> {
        while (!stop.get()) {
          logs.flush();
          Thread.sleep(2);
        }
        return null;
      }));
    }
    for (int t = 0; t < 3; t++) {
      others.add(threads.submit(() -> {
        var random = ThreadLocalRandom.current();
        while (!stop.get()) {
          var together = logs.takeTogether(1 + random.nextInt(DynamoDbLogs.BATCH));
          boolean written = random.nextBoolean();
          if (written && !together.items().isEmpty()) { // the one transaction after an answer, here one batch
            var puts = together.items().stream()
                .map(item -> WriteRequest.builder().putRequest(PutRequest.builder().item(item.put().item()).build()).build())
                .toList();
            assertThat(dynamo.client().batchWriteItem(b -> b.requestItems(Map.of(dynamo.logsTable(), puts))).unprocessedItems()).isEmpty();
            writtenTogether.addAndGet(puts.size());
          }
          together.end(written);
          Thread.sleep(1);
        }
        return null;
      }));
    }
    for (Future<?> done : recorders) {
      done.get(60, TimeUnit.SECONDS); // a deadlock shows here
    }
    stop.set(true);
    for (Future<?> done : others) {
      done.get(60, TimeUnit.SECONDS);
    }
    logs.flush();

    int rows = 10 * perRecorder;
    assertThat(batchedRows.get() + writtenTogether.get()).as("each row written once").isEqualTo(rows);
    assertThat(rowsInTable()).isEqualTo(rows);
    assertThat(logs.pendingCount()).isZero();
  }

  @Test
  void withTheTableAndTheJournalDownRecordReturnsAfterABoundedWaitAndHoldsTheRows() throws Exception {
    var down = DynamoDbLogsTest.intercepting(dynamo.client(), request -> {
      if (request instanceof BatchWriteItemRequest) {
        throw SdkClientException.create("Unable to execute HTTP request: Connection refused");
      }
      return null;
    });
    var journalDown = new LogJournal() {
      @Override
      public void keep(Map<String, AttributeValue> item) {
        throw new IllegalStateException("No space left on device");
      }

      @Override
      public int replay(Writer writer) {
        return 0;
      }

      @Override
      public String describe() {
        return "the log journal";
      }
    };
    Duration maxWait = Duration.ofMillis(300);
    var logs = logs(down, journalDown, maxWait);
    int rows = 4 * 150;
    long started = System.nanoTime();
    List<LogRecord> logged = Logs.of(DynamoDbLogs.class.getName(), () -> {
      var work = new ArrayList<Future<?>>();
      for (int p = 0; p < 4; p++) {
        int producer = p;
        work.add(threads.submit(() -> {
          for (int i = 0; i < 150; i++) {
            logs.record(call("d" + producer + "-" + i));
          }
        }));
      }
      for (Future<?> done : work) {
        done.get(30, TimeUnit.SECONDS);
      }
    });
    Duration took = Duration.ofNanos(System.nanoTime() - started);

    assertThat(took).as("one bounded wait, then no more").isGreaterThanOrEqualTo(maxWait).isLessThan(Duration.ofSeconds(10));
    assertThat(logs.pendingCount()).as("nothing dropped: held in memory").isEqualTo(rows);
    assertThat(logged.stream().map(LogRecord::getMessage).filter(m -> m.contains("over the bound"))).hasSize(1);
  }

  @Test
  void aWriteThatHangsHoldsNoCallerLongerThanTheBoundedWait() throws Exception {
    var release = new CountDownLatch(1);
    var hanging = DynamoDbLogsTest.intercepting(dynamo.client(), request -> {
      if (request instanceof BatchWriteItemRequest) {
        try {
          release.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      return null; // then written
    });
    var logs = logs(hanging, fileJournal(), Duration.ofMillis(200));
    var recording = threads.submit(() -> {
      for (int i = 0; i < 3 * BOUND; i++) {
        logs.record(call("h" + i));
      }
    });
    recording.get(10, TimeUnit.SECONDS); // the writer holds the write lock meanwhile: no caller needs it
    release.countDown();
    logs.flush();
    assertThat(rowsInTable()).isEqualTo(3 * BOUND);
  }
}

package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.spend.SpendLogReadContract;
import aigw.core.spend.SpendLogReader;
import com.almworks.sqlite4java.SQLiteConnection;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The local gateway's spend logs in SQLite: the shared read contract, then what only this store does. */
class SqliteSpendLogsTest extends SpendLogReadContract {
  private static final Duration RETENTION = Duration.ofDays(30);
  @TempDir Path dir;
  private final List<SqliteSpendLogs> opened = new ArrayList<>();
  private SqliteSpendLogs last;

  @AfterEach
  void closeAll() {
    opened.forEach(SqliteSpendLogs::close);
  }

  private SqliteSpendLogs open(Path file) {
    return open(file, Clock.systemUTC(), SqliteSpendLogs.MAX_BACKLOG, SqliteSpendLogs.IN_MEMORY_MAX_ROWS);
  }

  private SqliteSpendLogs open(Path file, Clock clock, int maxBacklog, int maxRows) {
    last = SqliteSpendLogs.open(file, RETENTION, clock, maxBacklog, maxRows, Duration.ofSeconds(30));
    opened.add(last);
    return last;
  }

  @Override
  protected Store emptyStore() {
    var store = open(dir.resolve(SqliteSpendLogs.FILE_NAME));
    return new Store(store, store);
  }

  @Override
  protected int pendingCount() {
    return last.pendingCount();
  }

  private static List<String> all(SqliteSpendLogs store, Instant from, Instant to) {
    var seen = new ArrayList<String>();
    String after = null;
    do {
      var page = store.page(new SpendLogReader.Query(null, null, from, to, 1000, after));
      seen.addAll(ids(page));
      after = page.next();
    } while (after != null);
    return seen;
  }

  @Test
  void rowsAcceptedBeforeANormalCloseAreInTheFileAtTheNextOpen() {
    Path file = dir.resolve(SqliteSpendLogs.FILE_NAME);
    var store = open(file);
    Instant start = Instant.now().minusSeconds(60); // within the retention: kept at the next open
    for (int i = 0; i < 1000; i++) {
      store.record(call("r" + i, "key-a", null, start.plusMillis(i)));
    }
    store.close(); // no flush before: close writes what was accepted
    assertThat(store.transactions()).as("1,000 rows in a few transactions, not 1,000").isLessThanOrEqualTo(10);
    assertThat(Files.exists(file)).isTrue();
    var reopened = open(file);
    assertThat(all(reopened, start, start.plusSeconds(1))).hasSize(1000).startsWith("r999", "r998").endsWith("r0");
  }

  @Test
  void anInMemoryStoreKeepsNothingAfterCloseAndDropsItsOldestRowsPastItsCap() throws Exception {
    var store = open(null, Clock.systemUTC(), SqliteSpendLogs.MAX_BACKLOG, 1000);
    for (int i = 0; i < 2500; i++) {
      store.record(call(String.format("r%04d", i), "key-a", null, DAY_1.plusMillis(i)));
      if (i % 300 == 0) {
        store.flush();
      }
    }
    store.flush();
    List<String> kept = all(store, DAY_1, DAY_1.plusSeconds(10));
    assertThat(kept.size()).as("at most the cap").isBetween(800, 1000);
    assertThat(kept.get(0)).as("the newest are kept").isEqualTo("r2499");
    assertThat(kept).doesNotContain("r0000", "r1000");
    assertThat(Files.list(dir)).as("nothing written to disk").isEmpty();
  }

  @Test
  void rowsPastTheirRetentionAreDeletedAtOpenAndPeriodically() throws Exception {
    Path file = dir.resolve(SqliteSpendLogs.FILE_NAME);
    var now = new java.util.concurrent.atomic.AtomicReference<>(DAY_1.plus(Duration.ofDays(40)));
    Clock clock = new Clock() {
      @Override
      public Instant instant() {
        return now.get();
      }

      @Override
      public java.time.ZoneId getZone() {
        return ZoneOffset.UTC;
      }

      @Override
      public Clock withZone(java.time.ZoneId zone) {
        return this;
      }
    };
    var store = open(file, clock, SqliteSpendLogs.MAX_BACKLOG, SqliteSpendLogs.IN_MEMORY_MAX_ROWS);
    store.record(call("expired", "key-a", null, DAY_1)); // 40 days ago: purge_at = start + 30 days, passed
    store.record(call("day-15", "key-a", null, DAY_1.plus(Duration.ofDays(15)))); // expires in 5 days
    store.record(call("recent", "key-a", null, DAY_1.plus(Duration.ofDays(39))));
    store.close();

    var reopened = open(file, clock, SqliteSpendLogs.MAX_BACKLOG, SqliteSpendLogs.IN_MEMORY_MAX_ROWS);
    Instant from = DAY_1.minus(Duration.ofDays(1));
    Instant to = now.get();
    assertThat(all(reopened, from, to)).as("deleted at open").containsExactly("recent", "day-15");

    now.set(now.get().plus(Duration.ofDays(6))); // day-15 passes its purge time
    now.set(now.get().plus(SqliteSpendLogs.PURGE_INTERVAL)); // and the periodic purge is due
    all(reopened, from, to); // wakes the writer, which purges after the read
    assertThat(all(reopened, from, now.get())).as("deleted by the periodic purge").containsExactly("recent");
  }

  @Test
  void producersFasterThanTheStoreWaitAtTheBoundAndNoRowIsLost() throws Exception {
    int bound = 400;
    var store = open(dir.resolve(SqliteSpendLogs.FILE_NAME), Clock.systemUTC(), bound, SqliteSpendLogs.IN_MEMORY_MAX_ROWS);
    var release = new CountDownLatch(1);
    var held = new CountDownLatch(1);
    // The writer held busy (as a stalled disk would): rows can only pile up.
    Thread holder = Thread.ofPlatform().start(() -> store.onOwner(() -> {
      held.countDown();
      return release.await(30, TimeUnit.SECONDS);
    }));
    assertThat(held.await(10, TimeUnit.SECONDS)).isTrue();
    int producers = 4;
    int each = 500;
    var recorded = new AtomicInteger();
    var threads = new ArrayList<Thread>();
    for (int p = 0; p < producers; p++) {
      int producer = p;
      threads.add(Thread.ofPlatform().start(() -> {
        for (int i = 0; i < each; i++) {
          store.record(call("p" + producer + "-" + i, "key-a", null, DAY_1.plusMillis(i)));
          recorded.incrementAndGet();
        }
      }));
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (recorded.get() < bound && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    Thread.sleep(200); // the producers had time to go past the bound, if they could
    assertThat(recorded.get()).as("accepted up to the bound, then the producers wait").isEqualTo(bound);
    assertThat(store.pendingCount()).isEqualTo(bound);
    var afterAnswer = Thread.ofPlatform().start(store::awaitRoomAfterAnswer);
    afterAnswer.join(200);
    assertThat(afterAnswer.isAlive()).as("an answered call waits while the backlog is past 3/4 of its bound").isTrue();

    release.countDown();
    holder.join();
    for (Thread thread : threads) {
      thread.join(TimeUnit.SECONDS.toMillis(30));
    }
    afterAnswer.join(TimeUnit.SECONDS.toMillis(10));
    assertThat(afterAnswer.isAlive()).isFalse();
    store.flush();
    assertThat(recorded.get()).isEqualTo(producers * each);
    assertThat(store.page(new SpendLogReader.Query("key-a", null, DAY_1, DAY_1.plusSeconds(1), 1000, null)).entries().size()
        + store.page(new SpendLogReader.Query("key-a", null, DAY_1, DAY_1.plusSeconds(1), 1000,
            store.page(new SpendLogReader.Query("key-a", null, DAY_1, DAY_1.plusSeconds(1), 1000, null)).next())).entries().size())
        .isEqualTo(producers * each);
  }

  @Test
  void aWriteThatFailsKeepsItsRowsForTheNextAndTheFlushSays503() throws Exception {
    var store = open(dir.resolve(SqliteSpendLogs.FILE_NAME));
    store.record(call("before", "key-a", null, DAY_1));
    store.flush();
    // Another connection holds the write lock (an exclusive transaction): the store's next write fails with "database is locked".
    NativeSqlite.load();
    var other = new SQLiteConnection(dir.resolve(SqliteSpendLogs.FILE_NAME).toFile()).open(false);
    other.exec("BEGIN EXCLUSIVE");
    store.record(call("during", "key-a", null, DAY_1.plusSeconds(1)));
    assertThatThrownBy(store::flush).isInstanceOf(aigw.core.errors.ServiceUnavailable.class).hasMessageContaining("kept in memory");
    other.exec("ROLLBACK");
    other.dispose();
    store.flush(); // written by the next transaction
    assertThat(ids(store.page(new SpendLogReader.Query("key-a", null, DAY_1, DAY_1.plusSeconds(5), 10, null)))).containsExactly("during", "before");
  }

  @Test
  void aStopWhileTheFileCannotBeWrittenEndsAndSaysWhatWasNotKept() throws Exception {
    var store = open(dir.resolve(SqliteSpendLogs.FILE_NAME));
    NativeSqlite.load();
    var other = new SQLiteConnection(dir.resolve(SqliteSpendLogs.FILE_NAME).toFile()).open(false);
    other.exec("BEGIN EXCLUSIVE");
    try {
      store.record(call("unwritable", "key-a", null, DAY_1));
      var logged = new java.util.concurrent.atomic.AtomicReference<List<String>>();
      var closer = Thread.ofPlatform().start(() -> logged.set(aigw.core.testing.Logs.messages(SqliteSpendLogs.class, store::close)));
      closer.join(TimeUnit.SECONDS.toMillis(20));
      assertThat(closer.isAlive()).as("a stop never hangs on a file it cannot write").isFalse();
      assertThat(logged.get()).anyMatch(message -> message.contains("1 spend-log row(s)") && message.contains("were not kept"));
    } finally {
      other.exec("ROLLBACK");
      other.dispose();
    }
  }

  @Test
  void aRecordAcceptedReturnsWithoutWaitingForTheDatabase() throws Exception {
    var store = open(dir.resolve(SqliteSpendLogs.FILE_NAME));
    var release = new CountDownLatch(1);
    var held = new CountDownLatch(1);
    Thread holder = Thread.ofPlatform().start(() -> store.onOwner(() -> {
      held.countDown();
      return release.await(30, TimeUnit.SECONDS);
    }));
    assertThat(held.await(10, TimeUnit.SECONDS)).isTrue();
    for (int i = 0; i < 1000; i++) {
      store.record(call("r" + i, "key-a", null, DAY_1.plusMillis(i))); // the writer is busy: these only go to memory
    }
    assertThat(store.pendingCount()).isEqualTo(1000);
    release.countDown();
    holder.join();
    store.flush();
    assertThat(store.pendingCount()).isZero();
  }

  // --- a damaged file, a writer that keeps failing, what a client is told ---

  /**
   * A store of 5,000 rows, closed, copied, and the copy damaged as a reviewer did: 2,000 random
   * bytes every 16 KB from offset 8,192 (the header left valid, so it opens).
   */
  private Path damagedCopy(String name) throws Exception {
    Path source = Files.createDirectories(dir.resolve("source-" + name)).resolve(SqliteSpendLogs.FILE_NAME);
    var store = open(source);
    Instant start = Instant.now().minus(Duration.ofHours(2));
    for (int i = 0; i < 5000; i++) {
      store.record(call(String.format("old-%04d", i), "key-a", i % 2 == 0 ? "team-a" : null, start.plusMillis(i)));
    }
    store.close();
    Path damaged = Files.createDirectories(dir.resolve(name)).resolve(SqliteSpendLogs.FILE_NAME);
    Files.copy(source, damaged);
    var random = new java.util.Random(42);
    try (var raf = new java.io.RandomAccessFile(damaged.toFile(), "rw")) {
      assertThat(raf.length()).as("a file of many pages").isGreaterThan(200_000);
      byte[] noise = new byte[2000];
      for (long offset = 8192; offset < raf.length(); offset += 16 * 1024) {
        random.nextBytes(noise);
        raf.seek(offset);
        raf.write(noise);
      }
    }
    return damaged;
  }

  private static List<String> setAside(Path damaged) throws Exception {
    try (var files = Files.list(damaged.getParent())) {
      return files.map(f -> f.getFileName().toString()).filter(n -> n.startsWith(SqliteSpendLogs.FILE_NAME + ".corrupt-")).toList();
    }
  }

  @Test
  void aDamagedFileFoundByAWriteIsSetAsideAndTheRowsGoToAFreshOne() throws Exception {
    Path damaged = damagedCopy("write");
    long damagedSize = Files.size(damaged);
    var logged = aigw.core.testing.Logs.of(SqliteSpendLogs.class, () -> {
      var store = open(damaged);
      Instant now = Instant.now();
      for (int i = 0; i < 300; i++) { // more than one transaction's worth: the writer's own drain meets the damage too
        store.record(call(String.format("new-%03d", i), "key-b", null, now.minusMillis(300 - i)));
      }
      store.flush(); // before: 503, every write failing with "database disk image is malformed"
      var page = store.page(new SpendLogReader.Query("key-b", null, now.minusSeconds(10), now, 1000, null));
      assertThat(ids(page)).as("every new row kept, in the fresh file").hasSize(300).startsWith("new-299").endsWith("new-000");
      store.close();
    });
    List<String> aside = setAside(damaged);
    assertThat(aside).as("the damaged file is set aside, never deleted").hasSize(1);
    assertThat(aside.get(0)).matches("spend-logs\\.db\\.corrupt-\\d{8}T\\d{6}Z");
    assertThat(Files.size(damaged.resolveSibling(aside.get(0)))).isGreaterThanOrEqualTo(damagedSize);
    var severe = logged.stream().filter(r -> r.getLevel() == java.util.logging.Level.SEVERE).map(java.util.logging.LogRecord::getMessage).toList();
    assertThat(severe).as("said once, with what to do").hasSize(1);
    assertThat(severe.get(0)).contains("is damaged", aside.get(0), ".recover", "backup").doesNotContain("INSERT");
    var reopened = open(damaged);
    assertThat(ids(reopened.page(new SpendLogReader.Query("key-b", null, Instant.now().minusSeconds(60), Instant.now(), 1000, null))))
        .as("the fresh file is the store's file from now on").hasSize(300);
  }

  @Test
  void aDamagedFileFoundByAReadIsSetAsideAndTheReadAnswersFromTheFreshOne() throws Exception {
    Path damaged = damagedCopy("read");
    var store = open(damaged);
    Instant now = Instant.now();
    // Every row of the damaged file in range: the read walks its pages and meets the damage.
    var page = store.page(new SpendLogReader.Query(null, null, now.minus(Duration.ofHours(3)), now, 10_000, null));
    assertThat(page.entries()).as("before: 503 on every read; now the fresh, empty file answers").isEmpty();
    assertThat(setAside(damaged)).hasSize(1);
    store.record(call("after", "key-b", null, now));
    store.flush();
    assertThat(ids(store.page(new SpendLogReader.Query("key-b", null, now.minusSeconds(1), now, 10, null)))).containsExactly("after");
  }

  @Test
  void aFileThatIsNotADatabaseIsRefusedAtStartWithWhatToDo() throws Exception {
    Path file = dir.resolve(SqliteSpendLogs.FILE_NAME);
    byte[] noise = new byte[64 * 1024];
    new java.util.Random(7).nextBytes(noise);
    Files.write(file, noise);
    assertThatThrownBy(() -> open(file))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("not a database")
        .hasMessageContaining("move it aside")
        .hasMessageContaining("restore it from a backup")
        .hasMessageNotContaining("DB[");
    assertThat(Files.readAllBytes(file)).as("left as it was").isEqualTo(noise);
  }

  @Test
  void whileWritesFailCallersStopWaitingForRoomAndTheLogSaysWhyOnce() throws Exception {
    int bound = 40;
    Path file = dir.resolve(SqliteSpendLogs.FILE_NAME);
    last = SqliteSpendLogs.open(file, RETENTION, Clock.systemUTC(), bound, SqliteSpendLogs.IN_MEMORY_MAX_ROWS, Duration.ofSeconds(5));
    opened.add(last);
    var store = last;
    NativeSqlite.load();
    var other = new SQLiteConnection(file.toFile()).open(false);
    other.exec("BEGIN EXCLUSIVE"); // every write of the store fails ("database is locked"), as on a full disk
    List<java.util.logging.LogRecord> logged;
    try {
      logged = aigw.core.testing.Logs.of(SqliteSpendLogs.class, () -> {
        for (int i = 0; i < 35; i++) { // past 3/4 of the bound
          store.record(call("r" + i, "key-a", null, DAY_1.plusMillis(i)));
        }
        assertThatThrownBy(store::flush).isInstanceOf(aigw.core.errors.ServiceUnavailable.class); // a transaction failed
        // Before: each caller waited for the writer's next try (1 s later), which failed again, and so
        // on up to 5 s: a keep-alive connection served about one call a second.
        long began = System.nanoTime();
        for (int caller = 0; caller < 3; caller++) {
          store.awaitRoomAfterAnswer();
        }
        assertThat(Duration.ofNanos(System.nanoTime() - began)).as("callers do not wait for a writer that fails")
            .isLessThan(Duration.ofMillis(500));
      });
    } finally {
      other.exec("ROLLBACK");
      other.dispose();
    }
    var warnings = logged.stream().filter(r -> r.getLevel() == java.util.logging.Level.WARNING).map(java.util.logging.LogRecord::getMessage).toList();
    assertThat(warnings).filteredOn(m -> m.contains("held in memory")).as("said once, with why").hasSize(1)
        .allMatch(m -> m.contains("cannot be written") && m.contains("database is locked"));
    assertThat(warnings).as("a failed write is said in a short line, without the SQL").allMatch(m -> !m.contains("INSERT") && !m.contains("DB["));

    store.flush(); // a transaction succeeds again: the bound is back to normal
    var release = new CountDownLatch(1);
    var held = new CountDownLatch(1);
    Thread holder = Thread.ofPlatform().start(() -> store.onOwner(() -> {
      held.countDown();
      return release.await(30, TimeUnit.SECONDS); // a healthy but slow disk
    }));
    assertThat(held.await(10, TimeUnit.SECONDS)).isTrue();
    for (int i = 0; i < 35; i++) {
      store.record(call("s" + i, "key-a", null, DAY_1.plusSeconds(1).plusMillis(i)));
    }
    var afterAnswer = Thread.ofPlatform().start(store::awaitRoomAfterAnswer);
    afterAnswer.join(300);
    assertThat(afterAnswer.isAlive()).as("once writes succeed, an answered call waits for room again").isTrue();
    release.countDown();
    holder.join();
    afterAnswer.join(TimeUnit.SECONDS.toMillis(10));
    assertThat(afterAnswer.isAlive()).isFalse();
  }

  @Test
  void aReadThatFailsAnswers503WithoutThePathOrTheSql() {
    var store = open(dir.resolve(SqliteSpendLogs.FILE_NAME));
    // A real SQLite failure on the owning thread, with the SQL and codes sqlite4java puts in its message.
    assertThatThrownBy(() -> store.onOwner(() -> {
          NativeSqlite.load();
          var probe = new SQLiteConnection(dir.resolve("absent-dir").resolve("x.db").toFile());
          probe.openReadonly(); // SQLITE_CANTOPEN, its message naming the file
          return null;
        }))
        .isInstanceOf(aigw.core.errors.ServiceUnavailable.class)
        .hasMessage("The spend-log database cannot be read; see the gateway's log.");
  }
}

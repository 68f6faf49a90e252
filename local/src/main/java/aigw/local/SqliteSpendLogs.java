package aigw.local;

import aigw.core.errors.ServiceUnavailable;
import aigw.core.spend.SpendLogEntry;
import aigw.core.spend.SpendLogReader;
import aigw.core.spend.WriteBehindSpendLogs;
import aigw.core.spend.dynamodb.LogItems;
import com.almworks.sqlite4java.SQLiteConnection;
import com.almworks.sqlite4java.SQLiteConstants;
import com.almworks.sqlite4java.SQLiteException;
import com.almworks.sqlite4java.SQLiteStatement;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Logger;

/**
 * The local gateway's spend logs (LiteLLM's spend logs, one row per model call) in a SQLite database
 * of their own, through sqlite4java: the native library DynamoDB Local already ships and loads. On
 * Lambda and with {@code --aws} they stay in DynamoDB's logs table ({@code DynamoDbLogs}); audit
 * events stay there in every mode (rare, written before the admin is told).
 *
 * <p><b>Why not DynamoDB Local's table.</b> DynamoDB Local spends about 500 µs of CPU on each row
 * (a put into the table and its two indexes through its Java layer over SQLite), so it took about
 * 2,000 rows a second in memory and 500 file-backed, and the local gateway was paced to that. Here a
 * row is one insert into one table and two indexes in a transaction that holds every row waiting:
 * a few µs a row (docs/architecture.md, "Spend and audit logs", has the measured figures).
 *
 * <p><b>Writes.</b> {@link #record} only adds the row to memory (no I/O on the caller's thread). One
 * thread of this store owns the connection (sqlite4java confines a connection to the thread that
 * opened it) and writes everything waiting in one transaction with prepared statements: as soon as
 * {@link #DRAIN_AT} rows wait, at the periodic {@link #flushPartialBatch} (every second locally), at
 * {@link #flush}, and at {@link #close}. The rows waiting are bounded ({@link #MAX_BACKLOG}):
 * {@code record} and, before it, {@link #awaitRoomAfterAnswer} make a caller wait for room, at most
 * {@link #MAX_WAIT_FOR_ROOM}, as the logs table's writer does. A transaction that fails (disk full)
 * puts its rows back in front, to be written by the next one; {@code flush} then fails with 503, and
 * callers stop waiting for room (rows go over the bound, in memory) until a transaction succeeds, as
 * they do once a whole wait passed with no row written (the {@code writersStuck} of {@code
 * DynamoDbLogs}): waiting then only slowed every answer, to about one a second per connection, for
 * nothing. Said once, at WARNING; a failing write is logged when it starts, then once a minute.
 *
 * <p><b>A damaged file.</b> When SQLite says the file is damaged (SQLITE_CORRUPT, SQLITE_NOTADB) to a
 * write, a read or the purge, the file (with its {@code -wal} and {@code -shm}) is moved aside to
 * {@code spend-logs.db.corrupt-<UTC time>}, never deleted, a fresh database opened in its place and
 * the work done again there: the rows waiting are kept, and the log says once (SEVERE) how to get the
 * old rows back ({@code sqlite3 ... .recover}) or restore a backup. Without it every write and read
 * failed until someone stopped the gateway. A file that is not a database at all when the store
 * opens is refused (the start stops, saying what to do): it may be another file put there by
 * mistake, so it is left alone. The client of {@code /spend/logs} gets a short 503; the path, the
 * SQL and SQLite's codes go to the log only.
 *
 * <p><b>Durability</b> (file-backed: {@code DATA-DIR/spend-logs.db}, WAL journal, synchronous=NORMAL).
 * A normal stop writes every accepted row ({@link #close} flushes). A crash of the process loses the
 * rows accepted since the last write (at most about a second's worth, or {@link #DRAIN_AT} rows):
 * the same as before, when they waited in memory for DynamoDB Local's writer. A committed
 * transaction survives a crash of the process (it is in the WAL file); a power loss or an operating
 * system crash may also undo the last transactions not yet synced to disk (with synchronous=NORMAL
 * SQLite syncs the WAL at checkpoints, not at each commit) but never corrupts the file: DynamoDB
 * Local's own SQLite file gave no stronger promise for rows that had not reached it. What matters
 * for money, the key's spend and its limits, is in the keys table, not here: a lost spend-log row
 * loses the row's detail, never the key's total.
 *
 * <p><b>In memory</b> ({@code --in-memory}): nothing is kept after exit, and at most {@link
 * #IN_MEMORY_MAX_ROWS} rows are held: past that the oldest tenth is dropped, so a long benchmark
 * holds a bounded amount of memory (about 330 bytes a row with its indexes: about 65 MB).
 *
 * <p><b>Retention.</b> Each row's purge time is its start time plus the logs retention
 * ({@code AIGW_LOGS_RETENTION_DAYS}, as the table's {@code purge_at}); rows past it are deleted at
 * start and every {@link #PURGE_INTERVAL}, as DynamoDB's TTL deletes them on AWS.
 *
 * <p><b>Reads</b> have {@code DynamoDbLogs}' semantics (the shared contract,
 * {@code SpendLogReadContract}): by key, by team, by key in a team, or all; [from, to] inclusive
 * on the start time to the millisecond; newest first; {@code next} is the last row's sort key
 * ({@code <start ms, 13 digits>#<request id>}, the same cursor form as the table's, which the admin
 * API checks), null when no row follows. One index per shape: by key, by team, and the table
 * itself ordered by time for all. They run on the owning thread, between two writes.
 */
public final class SqliteSpendLogs implements WriteBehindSpendLogs, SpendLogReader, AutoCloseable {
  private static final Logger LOG = Logger.getLogger(SqliteSpendLogs.class.getName());
  /** The database's name in the data directory (beside DynamoDB Local's {@code dynamodb-local.db}). */
  public static final String FILE_NAME = "spend-logs.db";
  /**
   * Accepted rows that may wait for the writer (about 200 bytes of heap each: 2 MB). Far above what
   * a second brings at the gateway's rates: the bound matters only when the disk stalls.
   */
  public static final int MAX_BACKLOG = 10_000;
  /** The longest a caller waits for room; past it the row is accepted over the bound (and logged), as in {@code DynamoDbLogs}. */
  public static final Duration MAX_WAIT_FOR_ROOM = Duration.ofSeconds(5);
  /** Rows waiting that start a write before the periodic one: one transaction amortises over them. */
  public static final int DRAIN_AT = 256;
  /** The most rows the in-memory database holds; past it the oldest tenth is dropped. */
  public static final int IN_MEMORY_MAX_ROWS = 200_000;
  /** How often rows past their retention are deleted (also once at start). */
  public static final Duration PURGE_INTERVAL = Duration.ofMinutes(10);
  /** The pause after a transaction that failed, before the rows are tried again. */
  static final Duration FAILED_WRITE_PAUSE = Duration.ofSeconds(1);
  /** How often a failure that lasts (writes, reads) is logged again. */
  static final Duration FAILURE_LOG_INTERVAL = Duration.ofMinutes(1);
  /** The time in the name of a damaged file set aside: {@code spend-logs.db.corrupt-20261205T201500Z}. */
  private static final java.time.format.DateTimeFormatter CORRUPT_STAMP =
      java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(java.time.ZoneOffset.UTC);
  /** The key id stored for calls made without a virtual key (the key id is part of the primary key, never null). */
  private static final String NO_KEY = "-";

  private static final String COLUMNS =
      "start_ms, request_id, key_id, team_id, key_alias, model, deployment, prompt_tokens, completion_tokens, total_tokens, cost, status,"
          + " latency_ms, estimated";
  private static final String INSERT =
      "INSERT OR REPLACE INTO spend_logs (" + COLUMNS + ", purge_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

  private final Path file;
  private final Duration retention;
  private final Clock clock;
  private final int maxBacklog;
  private final int maxRows;
  private final Duration maxWait;

  private final ReentrantLock lock = new ReentrantLock();
  /** Signalled to the owning thread: rows, a task, a flush or the close wait. */
  private final Condition work = lock.newCondition();
  /** Signalled by the owning thread: rows taken (room), rows written, a write failed. */
  private final Condition progress = lock.newCondition();
  /** Accepted rows not taken by the writer yet, oldest first; guarded by {@link #lock}. */
  private final ArrayDeque<SpendLogEntry> pending = new ArrayDeque<>();
  /** Work for the owning thread (reads, the move of old rows); guarded by {@link #lock}. */
  private final ArrayDeque<FutureTask<?>> tasks = new ArrayDeque<>();
  /** Rows accepted and rows written (or discarded) so far: a flush waits until written reaches what was accepted; guarded by {@link #lock}. */
  private long accepted;
  private long written;
  /** Failed transactions so far: a flush that sees one more fails rather than wait; guarded by {@link #lock}. */
  private long failures;
  private boolean drainAsked;
  private boolean closing;
  private boolean overBoundLogged;
  /**
   * Callers stop waiting for room ({@link #awaitFewerThan}) until a transaction succeeds again: set
   * when a transaction fails or a wait ran out with no row written, as {@code DynamoDbLogs}'
   * {@code writersStuck}; guarded by {@link #lock}.
   */
  private boolean writerStuck;
  /** Why the last transaction failed (short: SQLite's code and text, no SQL), or null after one succeeded; guarded by {@link #lock}. */
  private String lastWriteFailure;
  /** Whether callers' no longer waiting has been logged since the writer last wrote; guarded by {@link #lock}. */
  private boolean stuckLogged;
  /** Transactions that wrote spend rows (the benchmark's writes-per-request figure). */
  private final AtomicLong transactions = new AtomicLong();
  /** When a failed read is next logged ({@link System#nanoTime}): one line a minute, whichever thread reads. */
  private final AtomicLong nextReadFailureLogAt = new AtomicLong(System.nanoTime());
  private final Thread owner;
  /** Done when the rows kept elsewhere have moved in ({@link #moveInBackground}); reads wait for it. */
  private volatile CompletableFuture<Void> movedIn = CompletableFuture.completedFuture(null);

  // Owned by the owning thread only.
  private SQLiteConnection db;
  /** Failed transactions in a row (the log says the first, then one line a minute); 0 after one succeeded. */
  private long failuresInARow;
  private long nextFailureLogAt;
  /** Rows in the in-memory database (for its cap); not kept for a file. */
  private long rowCount;
  private long nextPurge;

  private SqliteSpendLogs(Path file, Duration retention, Clock clock, int maxBacklog, int maxRows, Duration maxWait) {
    this.file = file;
    this.retention = retention;
    this.clock = clock;
    this.maxBacklog = maxBacklog;
    this.maxRows = maxRows;
    this.maxWait = maxWait;
    var opened = new CompletableFuture<Void>();
    this.owner = Thread.ofPlatform().daemon().name("aigw-spend-sqlite").start(() -> run(opened));
    try {
      opened.get();
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      String advice = isCorruption(cause)
          ? ". The file is damaged or is not a SQLite database: move it aside (mv " + file + " " + file
              + ".bad, with its -wal and -shm files if any) to start with an empty spend log, or restore it from a backup;"
              + " if it is a damaged spend log, `sqlite3 " + file + ".bad .recover` gets back what it still holds"
              + " (docs/operations.md, \"A damaged file\")"
          : "";
      throw new IllegalStateException("cannot open the spend-log database " + describe() + ": " + shortReason(cause) + advice, cause);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while opening the spend-log database", e);
    }
  }

  /**
   * Opens (creating it if needed) the spend-log database and deletes the rows past their retention.
   *
   * @param file the database file, or null for an in-memory database (nothing kept after {@link #close})
   * @param retention how long a row is kept after its start time
   * @throws IllegalStateException when the file cannot be opened (not a database, no permission)
   */
  public static SqliteSpendLogs open(Path file, Duration retention) {
    return new SqliteSpendLogs(file, retention, Clock.systemUTC(), MAX_BACKLOG, IN_MEMORY_MAX_ROWS, MAX_WAIT_FOR_ROOM);
  }

  /** As {@link #open}, with a clock, the backlog bound, the in-memory row cap and the longest wait for room (tests). */
  static SqliteSpendLogs open(Path file, Duration retention, Clock clock, int maxBacklog, int maxRows, Duration maxWait) {
    return new SqliteSpendLogs(file, retention, clock, maxBacklog, maxRows, maxWait);
  }

  /** Where the rows are: the file, or "memory". */
  public String describe() {
    return file == null ? "an in-memory SQLite database" : file.toString();
  }

  /** Transactions that wrote spend rows since this store opened: what a row costs in writes, amortised. */
  public long transactions() {
    return transactions.get();
  }

  // --- writes ---

  @Override
  public void record(SpendLogEntry entry) {
    // Checked here, on the caller's thread: a row the table refuses would come back at every write.
    java.util.Objects.requireNonNull(entry.requestId(), "requestId");
    java.util.Objects.requireNonNull(entry.startTime(), "startTime");
    lock.lock();
    try {
      if (pending.size() >= maxBacklog && Thread.currentThread() != owner) {
        awaitFewerThan(maxBacklog);
      }
      pending.add(entry);
      accepted++;
      if (pending.size() >= DRAIN_AT) {
        work.signal();
      }
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void awaitRoomAfterAnswer() {
    int easeBelow = maxBacklog - maxBacklog / 4;
    lock.lock();
    try {
      if (pending.size() >= easeBelow && Thread.currentThread() != owner) {
        awaitFewerThan(easeBelow);
      }
    } finally {
      lock.unlock();
    }
  }

  /** Waits (the lock released) until fewer than {@code limit} rows wait, at most {@link #maxWait}; then the row is accepted all the same. Lock held. */
  private void awaitFewerThan(int limit) {
    drainAsked = true;
    work.signal();
    if (writerStuck) {
      logStuckOnce();
      return; // waiting gains nothing until a transaction succeeds again
    }
    long writtenBefore = written;
    long left = maxWait.toNanos();
    try {
      while (pending.size() >= limit && !closing) {
        if (writerStuck) {
          logStuckOnce();
          return;
        }
        if (left <= 0) {
          if (written == writtenBefore) {
            writerStuck = true; // nothing written in a whole wait: cleared by the next transaction that succeeds
            progress.signalAll(); // the other waiters stop waiting too
            logStuckOnce();
            return;
          }
          if (!overBoundLogged) {
            overBoundLogged = true;
            LOG.warning("Spend-log rows waited " + maxWait + " beyond their bound of " + maxBacklog + " for " + describe()
                + "; rows are accepted over the bound, in memory, until the writer catches up");
          }
          return;
        }
        left = progress.awaitNanos(left);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // accepted all the same: the call is served, its row is not lost
    }
  }

  /**
   * Says once (again only after a transaction succeeded) that callers no longer wait for room, and
   * why: without it a gateway that slowed to a wait per answer, then stopped waiting, tells nothing.
   * Lock held.
   */
  private void logStuckOnce() {
    if (stuckLogged) {
      return;
    }
    stuckLogged = true;
    LOG.warning(pending.size() + " spend-log row(s) are held in memory because the spend-log database " + describe() + " cannot be written ("
        + (lastWriteFailure != null ? lastWriteFailure : "no transaction ended within " + maxWait)
        + "); calls no longer wait for room (bound " + maxBacklog + ") until a write succeeds; the rows are written then, or lost if the"
        + " process ends first");
  }

  /**
   * Writes every row accepted before this call and returns when they are in the database.
   *
   * @throws ServiceUnavailable when a transaction failed meanwhile (the rows stay accepted, for the next write)
   */
  @Override
  public void flush() {
    if (Thread.currentThread() == owner) {
      throw new IllegalStateException("flush from the store's own thread");
    }
    lock.lock();
    try {
      long target = accepted;
      long failuresBefore = failures;
      while (written < target) {
        if (failures != failuresBefore) {
          throw new ServiceUnavailable("The spend-log database cannot be written; the records are kept in memory. See the gateway's log.", null);
        }
        if (!owner.isAlive()) {
          throw new ServiceUnavailable("The spend-log database is closed; " + (target - written) + " record(s) were not written.", null);
        }
        drainAsked = true;
        work.signal();
        progress.await(1, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      lock.unlock();
    }
  }

  /** Asks the owning thread to write what waits, and returns at once. */
  @Override
  public void flushPartialBatch() {
    lock.lock();
    try {
      if (!pending.isEmpty()) {
        drainAsked = true;
        work.signal();
      }
    } finally {
      lock.unlock();
    }
  }

  @Override
  public int discardPending() {
    lock.lock();
    try {
      int count = pending.size();
      pending.clear();
      written += count; // nothing for a flush to wait for
      progress.signalAll();
      return count;
    } finally {
      lock.unlock();
    }
  }

  /** How many accepted rows wait for the writer (tests). */
  int pendingCount() {
    lock.lock();
    try {
      return pending.size();
    } finally {
      lock.unlock();
    }
  }

  /** Writes what is accepted, then closes the database; rows recorded afterwards are not kept. Idempotent. */
  @Override
  public void close() {
    movedIn.join(); // a move in progress ends first (it writes through this store)
    if (owner.isAlive()) {
      try {
        flush();
      } catch (RuntimeException e) {
        LOG.severe("The last spend-log rows could not be written to " + describe() + ": " + e.getMessage());
      }
    }
    lock.lock();
    try {
      closing = true;
      work.signal();
    } finally {
      lock.unlock();
    }
    try {
      owner.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    int left = pendingCount();
    if (left > 0) {
      LOG.severe(left + " spend-log row(s) could not be written to " + describe() + " before it closed and were not kept");
    }
  }

  // --- the owning thread ---

  private void run(CompletableFuture<Void> opened) {
    try {
      db = openDatabase();
      recovering(() -> {
        purgeExpired();
        return null;
      });
    } catch (SQLiteException | RuntimeException e) {
      if (db != null) {
        db.dispose();
      }
      opened.completeExceptionally(e);
      return;
    }
    opened.complete(null);
    try {
      while (true) {
        List<FutureTask<?>> toRun;
        List<SpendLogEntry> rows;
        boolean stop;
        lock.lock();
        try {
          while (!closing && tasks.isEmpty() && (pending.isEmpty() || (!drainAsked && pending.size() < DRAIN_AT))) {
            long untilPurge = nextPurge - clock.millis();
            if (untilPurge <= 0) {
              break;
            }
            work.await(untilPurge, TimeUnit.MILLISECONDS);
          }
          toRun = new ArrayList<>(tasks);
          tasks.clear();
          rows = new ArrayList<>(pending);
          pending.clear();
          drainAsked = false;
          stop = closing;
          if (pending.size() < maxBacklog / 2) {
            overBoundLogged = false;
          }
          progress.signalAll(); // room for the callers waiting
        } finally {
          lock.unlock();
        }
        toRun.forEach(FutureTask::run);
        if (!rows.isEmpty()) {
          writeOrPutBack(rows);
        }
        if (clock.millis() >= nextPurge) {
          purgeExpiredLogged();
        }
        if (stop) {
          return; // close flushed first; what a last failed try left is logged by close as not kept
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      if (db != null) {
        db.dispose(); // null only when a damaged file could not be opened again
      }
      lock.lock();
      try {
        tasks.forEach(task -> task.cancel(false));
        tasks.clear();
        progress.signalAll();
      } finally {
        lock.unlock();
      }
    }
  }

  private SQLiteConnection openDatabase() throws SQLiteException {
    NativeSqlite.load();
    var connection = file == null ? new SQLiteConnection() : new SQLiteConnection(file.toFile());
    connection.open(true);
    db = connection;
    // Measured per row (docs/architecture.md): SQLite's default 1-KB pages took a third more CPU
    // for a file than 4-KB ones (set before the file's first table; a file keeps its size), and the
    // statement journal each insert opens (a row written into three B-trees may have to be undone
    // alone) went to a temporary file, three write calls a row: kept in memory, the file-backed
    // store went from about 60 to about 18 µs of CPU a row.
    connection.exec("PRAGMA page_size=4096");
    connection.exec("PRAGMA temp_store=MEMORY");
    if (file != null) {
      connection.exec("PRAGMA journal_mode=WAL");
      connection.exec("PRAGMA synchronous=NORMAL");
    }
    connection.exec("""
        CREATE TABLE IF NOT EXISTS spend_logs (
          start_ms INTEGER NOT NULL,
          request_id TEXT NOT NULL,
          key_id TEXT NOT NULL,
          team_id TEXT,
          key_alias TEXT,
          model TEXT,
          deployment TEXT,
          prompt_tokens INTEGER NOT NULL,
          completion_tokens INTEGER NOT NULL,
          total_tokens INTEGER NOT NULL,
          cost TEXT NOT NULL,
          status INTEGER NOT NULL,
          latency_ms INTEGER NOT NULL,
          estimated INTEGER NOT NULL,
          purge_at INTEGER NOT NULL,
          PRIMARY KEY (start_ms, request_id, key_id)
        ) WITHOUT ROWID""");
    connection.exec("CREATE INDEX IF NOT EXISTS spend_logs_by_key ON spend_logs (key_id, start_ms, request_id)");
    connection.exec("CREATE INDEX IF NOT EXISTS spend_logs_by_team ON spend_logs (team_id, start_ms, request_id) WHERE team_id IS NOT NULL");
    connection.exec("CREATE INDEX IF NOT EXISTS spend_logs_by_purge_time ON spend_logs (purge_at)");
    rowCount = file == null ? 0 : -1; // counted in memory only (the cap); a count of a large file would slow the start
    return connection;
  }

  private long countRows() throws SQLiteException {
    SQLiteStatement count = db.prepare("SELECT count(*) FROM spend_logs", true);
    try {
      count.step();
      return count.columnLong(0);
    } finally {
      count.reset();
    }
  }

  /**
   * One transaction for the rows; on failure they go back in front, for the next one, and callers
   * stop waiting for room until a transaction succeeds (a file found damaged is set aside first and
   * the rows go to a fresh one: {@link #recovering}). The failure is logged when it starts, then at
   * most once a minute while it lasts, in a line of its own (SQLite's code and text, never the SQL).
   */
  private void writeOrPutBack(List<SpendLogEntry> rows) throws InterruptedException {
    try {
      recovering(() -> {
        insert(rows, null);
        return null;
      });
      lock.lock();
      try {
        written += rows.size();
        writerStuck = false;
        stuckLogged = false;
        lastWriteFailure = null;
        progress.signalAll();
      } finally {
        lock.unlock();
      }
      if (failuresInARow > 0) {
        LOG.info("Spend-log rows are written to " + describe() + " again, after " + failuresInARow + " failed transaction(s)");
        failuresInARow = 0;
      }
    } catch (SQLiteException | RuntimeException e) {
      String reason = shortReason(e);
      failuresInARow++;
      long now = System.nanoTime();
      if (failuresInARow == 1 || now - nextFailureLogAt >= 0) {
        nextFailureLogAt = now + FAILURE_LOG_INTERVAL.toNanos();
        LOG.warning("Writing " + rows.size() + " spend-log row(s) to " + describe() + " failed (" + reason + "); kept in memory, tried again every "
            + FAILED_WRITE_PAUSE.toSeconds() + " s" + (failuresInARow > 1 ? " (" + failuresInARow + " failed transactions in a row)" : "")
            + "; said again at most once a minute while it lasts");
      }
      lock.lock();
      try {
        for (int i = rows.size() - 1; i >= 0; i--) {
          pending.addFirst(rows.get(i));
        }
        failures++;
        writerStuck = true; // callers stop waiting for room until a transaction succeeds
        lastWriteFailure = reason;
        progress.signalAll();
      } finally {
        lock.unlock();
      }
      Thread.sleep(FAILED_WRITE_PAUSE.toMillis());
    }
  }

  /** Work on the database that may find it damaged. */
  @FunctionalInterface
  private interface DatabaseJob<T> {
    T run() throws SQLiteException;
  }

  /**
   * Runs {@code job}; when SQLite says the file is damaged (SQLITE_CORRUPT, SQLITE_NOTADB), sets it
   * aside ({@link #setAsideAndReopen}), opens a fresh one and runs {@code job} again there. A file
   * that a write or a read finds damaged fails every write and read after it: the rows arriving
   * would only pile up in memory, and /spend/logs answer 503, until someone stopped the gateway.
   * Owning thread only.
   */
  private <T> T recovering(DatabaseJob<T> job) throws SQLiteException {
    try {
      return job.run();
    } catch (SQLiteException e) {
      if (file == null || !isCorruption(e)) {
        throw e;
      }
      setAsideAndReopen(e);
      return job.run();
    }
  }

  /**
   * Whether SQLite says the database file is damaged or not a database: SQLITE_CORRUPT (11) or
   * SQLITE_NOTADB (26), compared on the primary code (sqlite4java may give an extended one, such as
   * SQLITE_CORRUPT_VTAB, 267; https://www.sqlite.org/rescode.html).
   */
  static boolean isCorruption(Throwable e) {
    return e instanceof SQLiteException sqlite
        && (sqlite.getBaseErrorCode() == SQLiteConstants.SQLITE_CORRUPT || sqlite.getBaseErrorCode() == SQLiteConstants.SQLITE_NOTADB);
  }

  /**
   * SQLite's code and its own text for a failure, without the SQL and the connection's details
   * sqlite4java puts in its message ({@code [11] DB[2] step() [SELECT ...]DB[2][C] [database disk
   * image is malformed]} becomes {@code SQLite error 11: database disk image is malformed}; {@code [26] DB[2] exec()
   * file is encrypted or is not a database} becomes {@code SQLite error 26: file is encrypted or is not a database}).
   */
  static String shortReason(Throwable e) {
    if (e instanceof SQLiteException sqlite) {
      String message = String.valueOf(sqlite.getMessage());
      int open = message.lastIndexOf('[');
      // "[26] DB[2] exec() file is encrypted or is not a database": SQLite's text after the call's name.
      String text = open >= 0 && message.endsWith("]")
          ? message.substring(open + 1, message.length() - 1)
          : message.replaceFirst("^\\[-?\\d+\\]\\s*(DB\\[\\d+\\]\\s*)?(\\w+\\(\\)\\s*)?", "");
      if (text.contains("[") || text.length() > 200) {
        text = ""; // not the form expected: the code alone, rather than SQL
      }
      return "SQLite error " + sqlite.getErrorCode() + (text.isEmpty() ? "" : ": " + text);
    }
    return String.valueOf(e);
  }

  /**
   * Closes the damaged database, renames it (and its {@code -wal} and {@code -shm} files, so that
   * {@code sqlite3} opens it with its last transactions) to {@code spend-logs.db.corrupt-<UTC time>}
   * beside it, never deleting it, says so once (SEVERE, with what to do), and opens a fresh database
   * in its place. When the file cannot be moved, the damaged one is opened again and the failure
   * stays what it is (logged).
   */
  private void setAsideAndReopen(SQLiteException damage) throws SQLiteException {
    db.dispose();
    db = null;
    String stamp = CORRUPT_STAMP.format(clock.instant());
    Path aside = file.resolveSibling(file.getFileName() + ".corrupt-" + stamp);
    for (int n = 2; Files.exists(aside); n++) {
      aside = file.resolveSibling(file.getFileName() + ".corrupt-" + stamp + "-" + n);
    }
    try {
      Files.move(file, aside);
      for (String suffix : List.of("-wal", "-shm")) {
        Path companion = file.resolveSibling(file.getFileName() + suffix);
        if (Files.exists(companion)) {
          Files.move(companion, aside.resolveSibling(aside.getFileName() + suffix));
        }
      }
    } catch (java.io.IOException e) {
      LOG.severe("The spend-log database " + file + " is damaged (" + shortReason(damage) + ") and could not be moved aside (" + e
          + "); stop the gateway, move it aside or restore it from a backup, and start again");
      openDatabase();
      throw damage;
    }
    LOG.severe("The spend-log database " + file + " is damaged (" + shortReason(damage) + "): it was moved aside to " + aside
        + " and a fresh, empty one opened in its place; new spend-log rows go there. The rows of the damaged file no longer show in"
        + " /spend/logs; to get back what it still holds, stop the gateway, `sqlite3 " + aside + " .recover > recovered.sql`"
        + " and copy the rows in (docs/operations.md, \"A damaged file\"), or restore " + file.getFileName()
        + " from a backup. Nothing is deleted.");
    openDatabase();
  }

  /**
   * Inserts rows in one transaction (a row already there, same start, request id and key, is
   * replaced: moving rows twice leaves them once).
   *
   * @param purgeAt each row's purge time in epoch seconds, or null for start + retention
   */
  private void insert(List<SpendLogEntry> rows, long[] purgeAt) throws SQLiteException {
    db.exec("BEGIN");
    boolean committed = false;
    try {
      SQLiteStatement insert = db.prepare(INSERT, true);
      try {
        for (int i = 0; i < rows.size(); i++) {
          SpendLogEntry row = rows.get(i);
          insert.bind(1, row.startTime().toEpochMilli());
          insert.bind(2, row.requestId());
          insert.bind(3, row.keyId() == null ? NO_KEY : row.keyId());
          bindText(insert, 4, row.teamId());
          bindText(insert, 5, row.keyAlias());
          bindText(insert, 6, row.model());
          bindText(insert, 7, row.deployment());
          insert.bind(8, row.promptTokens());
          insert.bind(9, row.completionTokens());
          insert.bind(10, row.totalTokens());
          insert.bind(11, (row.cost() == null ? BigDecimal.ZERO : row.cost()).toPlainString());
          insert.bind(12, row.status());
          insert.bind(13, row.latencyMillis());
          insert.bind(14, row.estimated() ? 1 : 0);
          insert.bind(15, purgeAt == null ? row.startTime().plus(retention).getEpochSecond() : purgeAt[i]);
          insert.step();
          insert.reset(true);
        }
      } finally {
        insert.reset(true);
      }
      rowCount += rows.size();
      if (file == null && rowCount > maxRows) {
        dropOldest();
      }
      db.exec("COMMIT");
      committed = true;
      transactions.incrementAndGet();
    } finally {
      if (!committed) {
        try {
          db.exec("ROLLBACK");
        } catch (SQLiteException ignored) {
          // the failure that brought us here is the one reported
        }
        rowCount = file == null ? countRows() : -1;
      }
    }
  }

  /** In memory only: drops the oldest rows down to nine tenths of the cap (by start time, the table's order). */
  private void dropOldest() throws SQLiteException {
    rowCount = countRows(); // a replaced row counted twice above
    long excess = rowCount - (maxRows - maxRows / 10);
    if (rowCount <= maxRows || excess <= 0) {
      return;
    }
    SQLiteStatement drop = db.prepare(
        "DELETE FROM spend_logs WHERE start_ms < (SELECT start_ms FROM spend_logs ORDER BY start_ms LIMIT 1 OFFSET ?)", true);
    try {
      drop.bind(1, excess);
      drop.step();
    } finally {
      drop.reset(true);
    }
    rowCount = countRows();
  }

  private static void bindText(SQLiteStatement statement, int index, String value) throws SQLiteException {
    if (value == null || value.isEmpty()) {
      statement.bindNull(index); // as the table, which keeps no empty text: read back as null
    } else {
      statement.bind(index, value);
    }
  }

  private void purgeExpiredLogged() {
    try {
      recovering(() -> {
        purgeExpired();
        return null;
      });
    } catch (SQLiteException e) {
      LOG.warning("Deleting spend-log rows past their retention from " + describe() + " failed (tried again in " + PURGE_INTERVAL + "): "
          + e.getMessage());
      nextPurge = clock.millis() + PURGE_INTERVAL.toMillis();
    }
  }

  /** Deletes the rows whose purge time has passed (start + retention). */
  private void purgeExpired() throws SQLiteException {
    nextPurge = clock.millis() + PURGE_INTERVAL.toMillis();
    SQLiteStatement purge = db.prepare("DELETE FROM spend_logs WHERE purge_at <= ?", true);
    int deleted;
    try {
      purge.bind(1, clock.instant().getEpochSecond());
      purge.step();
      deleted = db.getChanges();
    } finally {
      purge.reset(true);
    }
    if (deleted > 0) {
      rowCount = file == null ? countRows() : -1;
      LOG.info("Deleted " + deleted + " spend-log row(s) past their retention of " + retention.toDays() + " day(s) from " + describe());
    }
  }

  /** Runs {@code job} on the owning thread, between two writes, and returns its result (tests hold the writer with it). */
  <T> T onOwner(Callable<T> job) {
    if (Thread.currentThread() == owner) {
      try {
        return job.call();
      } catch (Exception e) {
        throw unavailable(e);
      }
    }
    var task = new FutureTask<>(job);
    lock.lock();
    try {
      if (closing || !owner.isAlive()) {
        throw new ServiceUnavailable("The spend-log database is closed.", null);
      }
      tasks.add(task);
      work.signal();
    } finally {
      lock.unlock();
    }
    try {
      return task.get();
    } catch (ExecutionException e) {
      throw unavailable(e.getCause());
    } catch (java.util.concurrent.CancellationException e) {
      throw new ServiceUnavailable("The spend-log database closed during the read.", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ServiceUnavailable("Interrupted while reading the spend logs.", e);
    }
  }

  /**
   * A database failure is the client's 503, in a few words (the admin client gets neither the file's
   * path nor the SQL nor the driver's codes); the detail goes to the log, at most once a minute. Any
   * other exception is a fault and stays what it is.
   */
  private RuntimeException unavailable(Throwable cause) {
    if (cause instanceof RuntimeException runtime) {
      return runtime;
    }
    if (cause instanceof Error error) {
      throw error;
    }
    long now = System.nanoTime();
    long due = nextReadFailureLogAt.get();
    if (now - due >= 0 && nextReadFailureLogAt.compareAndSet(due, now + FAILURE_LOG_INTERVAL.toNanos())) {
      LOG.warning("Reading the spend logs from " + describe() + " failed (" + shortReason(cause) + "); /spend/logs answers 503"
          + " (said again at most once a minute while it lasts)");
    }
    return new ServiceUnavailable("The spend-log database cannot be read; see the gateway's log.", cause);
  }

  // --- moving rows in ---

  /**
   * Writes rows kept elsewhere (an earlier version's rows in DynamoDB Local's logs table), each with
   * its own purge time, in one transaction on the owning thread; returns when they are committed.
   *
   * @param purgeAt each row's purge time in epoch seconds, as the table kept it
   */
  void insertKept(List<SpendLogEntry> rows, long[] purgeAt) {
    if (rows.isEmpty()) {
      return;
    }
    onOwner(() -> {
      insert(rows, purgeAt);
      return null;
    });
  }

  /**
   * Runs {@code move} (the rows an earlier version kept elsewhere, written here with {@link
   * #insertKept}) on a thread of its own, off the start's critical path; reads wait until it is done,
   * so they never miss a row that is on its way. A move that fails is logged and reads go on without
   * it (the next start moves the rest).
   */
  void moveInBackground(String what, Runnable move) {
    var done = new CompletableFuture<Void>();
    movedIn = done;
    Thread.ofPlatform().daemon().name("aigw-spend-move").start(() -> {
      try {
        move.run();
      } catch (RuntimeException e) {
        LOG.warning("Moving " + what + " into " + describe() + " failed (the next start tries again): " + e.getMessage());
      } finally {
        done.complete(null);
      }
    });
  }

  // --- reads ---

  @Override
  public Page page(Query query) {
    movedIn.join();
    return onOwner(() -> recovering(() -> read(query)));
  }

  private Page read(Query query) throws SQLiteException {
    var sql = new StringBuilder("SELECT ").append(COLUMNS).append(" FROM spend_logs WHERE ");
    var texts = new ArrayList<Object>();
    if (query.keyId() != null) {
      sql.append("key_id = ? AND ");
      texts.add(query.keyId());
    }
    if (query.teamId() != null) {
      sql.append("team_id = ? AND ");
      texts.add(query.teamId());
    }
    String after = query.after();
    long to = query.to().toEpochMilli();
    if (after != null && !LogItems.isSortKey(after)) {
      throw new IllegalArgumentException("not a spend-log cursor: " + after); // the admin API checks it first (LogQueries.cursor)
    }
    long afterMillis = after == null ? Long.MAX_VALUE : Long.parseLong(after.substring(0, 13));
    // The cursor's time bounds the range itself, so the index seeks to it (a page deep in a
    // million rows read in 0.3 ms); the rows of that very millisecond are then told apart by id.
    sql.append("start_ms BETWEEN ? AND ?");
    texts.add(query.from().toEpochMilli());
    texts.add(Math.min(to, afterMillis));
    if (after != null) {
      sql.append(" AND (start_ms < ? OR request_id < ?)");
      texts.add(afterMillis);
      texts.add(after.substring(14));
    }
    sql.append(" ORDER BY start_ms DESC, request_id DESC LIMIT ?");
    texts.add((long) query.limit() + 1); // one more: whether a next page exists
    SQLiteStatement select = db.prepare(sql.toString(), true);
    var entries = new ArrayList<SpendLogEntry>(Math.min(query.limit(), 1000));
    boolean more = false;
    try {
      for (int i = 0; i < texts.size(); i++) {
        if (texts.get(i) instanceof Long number) {
          select.bind(i + 1, number);
        } else {
          select.bind(i + 1, (String) texts.get(i));
        }
      }
      while (select.step()) {
        if (entries.size() == query.limit()) {
          more = true;
          break;
        }
        entries.add(entry(select));
      }
    } finally {
      select.reset(true);
    }
    String next = null;
    if (more) {
      SpendLogEntry last = entries.get(entries.size() - 1);
      next = String.format("%013d#%s", last.startTime().toEpochMilli(), last.requestId());
    }
    return new Page(entries, next);
  }

  private static SpendLogEntry entry(SQLiteStatement row) throws SQLiteException {
    String keyId = row.columnString(2);
    return new SpendLogEntry(
        row.columnString(1),
        NO_KEY.equals(keyId) ? null : keyId,
        row.columnString(4),
        row.columnString(3),
        row.columnString(5),
        row.columnString(6),
        row.columnLong(7),
        row.columnLong(8),
        row.columnLong(9),
        new BigDecimal(row.columnString(10)),
        row.columnInt(11),
        row.columnLong(12),
        row.columnInt(13) != 0,
        Instant.ofEpochMilli(row.columnLong(0)));
  }
}

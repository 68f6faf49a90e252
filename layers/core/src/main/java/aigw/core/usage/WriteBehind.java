package aigw.core.usage;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BiConsumer;
import java.util.function.BinaryOperator;
import java.util.logging.Logger;

/**
 * Takes writes off the caller's path without losing them: {@link #submit} hands a delta over and
 * returns; the deltas of one key are merged (group commit) and written by whoever drains the queue:
 * background writer threads ({@link #startWriters}, the local gateway) or the caller of {@link
 * #flush} (on Lambda the runtime, after the response was sent and before it asks for the next
 * invocation, so the write is done inside the invocation). Usage, and any other accounting that is
 * a sum per key (spend logs: a list per table), can ride on it.
 *
 * <p>What it guarantees:
 *
 * <ul>
 *   <li><b>One write in flight per key</b>: what a key gathers while its write is in flight goes
 *       out in its next write, so writes of one key never race (and a {@code last_used_at} never
 *       goes back). Writes of different keys may run at once, one per writer.
 *   <li><b>Back-pressure, never a drop</b>: at most {@code maxBacklog} submitted items wait to be
 *       written. A {@link #submit} beyond that waits; while it waits it writes a ready key itself,
 *       so a queue without writer threads cannot deadlock (the caller runs the write).
 *   <li><b>A failed write is kept, not lost</b>: the {@link Writer} makes a delta durable or throws
 *       (the usage writer keeps what DynamoDB refuses in its journal, and throws only when the
 *       journal cannot keep it either). A thrown write puts its delta back in front of what the
 *       key gathered since; writer threads try again after {@code retryPause}, a flush at once.
 *       While the last write failed and the backlog is full, {@link #submit} throws {@link
 *       Unavailable} instead of waiting for a store that is not coming back.
 *   <li><b>{@link #flush}</b>: every delta submitted before the call has been written (or kept by
 *       the writer) when it returns true; false says some write failed and its delta is back in
 *       the queue.
 * </ul>
 *
 * <p>Memory: one entry per key with something to write, removed when its write ends.
 *
 * @param <K> what a write goes to (a key id)
 * @param <D> what is written: deltas that {@code merge} adds up
 */
public final class WriteBehind<K, D> {
  private static final Logger LOG = Logger.getLogger(WriteBehind.class.getName());

  /** Makes one merged delta durable, or throws: then the delta is put back and written later. */
  @FunctionalInterface
  public interface Writer<K, D> {
    void write(K key, D delta);
  }

  /** Thrown by {@link #submit} when the backlog is full and the last write failed: nothing can take the delta. */
  public static final class Unavailable extends RuntimeException {
    Unavailable(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** The deltas one write carries, and whether that write has ended. Guarded by {@link #lock}. */
  private static final class Batch<D> {
    D total;
    int items;
    boolean done;
    boolean failed;
  }

  /** One key: what it gathers for its next write, and its write in flight. Guarded by {@link #lock}. */
  private static final class Lane<D> {
    Batch<D> open;
    Batch<D> writing;
    boolean queued;
  }

  private final String name;
  private final BinaryOperator<D> merge;
  private final Writer<K, D> writer;
  private final int maxBacklog;
  private final long retryPauseNanos;
  private final ReentrantLock lock = new ReentrantLock();
  /** Signalled whenever a delta arrives or a write ends. */
  private final Condition changed = lock.newCondition();
  private final Map<K, Lane<D>> lanes = new HashMap<>();
  /** Keys with an open batch and no write in flight, oldest first. May hold stale entries; checked when taken. */
  private final ArrayDeque<K> ready = new ArrayDeque<>();
  private final List<Thread> writers = new ArrayList<>();
  /** Items submitted and not yet written. */
  private int backlog;
  /** The last write's failure; null once a write succeeds. */
  private RuntimeException lastFailure;
  private long retryAtNanos;
  private boolean stopping;

  /**
   * @param name for logs and thread names, e.g. {@code usage}
   * @param merge adds two deltas of one key (associative; the older one first)
   * @param maxBacklog how many submitted items may wait unwritten before {@link #submit} waits
   * @param retryPause how long writer threads wait after a failed write before the next
   */
  public WriteBehind(String name, BinaryOperator<D> merge, Writer<K, D> writer, int maxBacklog, java.time.Duration retryPause) {
    if (maxBacklog < 1) {
      throw new IllegalArgumentException("maxBacklog must be at least 1");
    }
    this.name = name;
    this.merge = merge;
    this.writer = writer;
    this.maxBacklog = maxBacklog;
    this.retryPauseNanos = retryPause.toNanos();
  }

  /**
   * Hands {@code delta} over and returns, unless the backlog is full: then it writes a ready key
   * itself or waits for a write to end (back-pressure).
   *
   * @throws Unavailable when the backlog is full and the last write failed
   */
  public void submit(K key, D delta) {
    lock.lock();
    try {
      while (backlog >= maxBacklog) {
        if (lastFailure != null) {
          throw new Unavailable(name + " cannot be kept: " + backlog + " waiting and the last write failed: " + lastFailure.getMessage(), lastFailure);
        }
        if (!writeNextReady()) {
          changed.awaitUninterruptibly();
        }
      }
      Lane<D> lane = lanes.computeIfAbsent(key, k -> new Lane<>());
      if (lane.open == null) {
        lane.open = new Batch<>();
        lane.open.total = delta;
      } else {
        lane.open.total = merge.apply(lane.open.total, delta);
      }
      lane.open.items++;
      backlog++;
      markReady(key, lane);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Writes (here, or by waiting for writers) everything submitted before this call.
   *
   * @return true when all of it was written; false when a write failed (its delta is queued again)
   */
  public boolean flush() {
    lock.lock();
    try {
      List<Map.Entry<K, Batch<D>>> awaited = new ArrayList<>();
      lanes.forEach((key, lane) -> awaitBoth(awaited, key, lane));
      return drain(awaited);
    } finally {
      lock.unlock();
    }
  }

  /** As {@link #flush()}, for one key only: what it was given before this call. */
  public boolean flush(K key) {
    lock.lock();
    try {
      List<Map.Entry<K, Batch<D>>> awaited = new ArrayList<>();
      Lane<D> lane = lanes.get(key);
      if (lane != null) {
        awaitBoth(awaited, key, lane);
      }
      return drain(awaited);
    } finally {
      lock.unlock();
    }
  }

  /** How many submitted items are not written yet. */
  public int backlog() {
    lock.lock();
    try {
      return backlog;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Forgets every delta not yet being written, and returns how many items that was. For SnapStart:
   * what priming submitted must not be restored into every environment and written by each.
   */
  public int discardPending() {
    lock.lock();
    try {
      int discarded = 0;
      for (var it = lanes.values().iterator(); it.hasNext(); ) {
        Lane<D> lane = it.next();
        if (lane.open != null) {
          discarded += lane.open.items;
          lane.open.done = true;
          lane.open = null;
        }
        if (lane.writing == null) {
          it.remove();
        }
      }
      backlog -= discarded;
      ready.clear();
      changed.signalAll();
      return discarded;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Starts {@code count} background writers (daemon platform threads: a shutdown still writes,
   * through {@link #close}). Call once.
   */
  public void startWriters(int count) {
    ThreadFactory threads = Thread.ofPlatform().daemon().name("aigw-" + name + "-writer-", 1).factory();
    lock.lock();
    try {
      if (!writers.isEmpty() || stopping) {
        throw new IllegalStateException(name + " writers already started or stopped");
      }
      for (int i = 0; i < count; i++) {
        Thread thread = threads.newThread(this::writeUntilStopped);
        writers.add(thread);
        thread.start();
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * Stops the writers after a last {@link #flush}; what even that could not write goes to {@code
   * unwritten} (a last resort: the log), so it is not lost silently. Submitting after this still
   * works (the caller or a flush then writes).
   *
   * @return true when everything was written
   */
  public boolean close(BiConsumer<K, D> unwritten) {
    boolean written = flush();
    List<Thread> stopped;
    lock.lock();
    try {
      stopping = true;
      stopped = List.copyOf(writers);
      writers.clear();
      changed.signalAll();
      if (!written) {
        lanes.forEach((key, lane) -> {
          if (lane.open != null) {
            unwritten.accept(key, lane.open.total);
          }
        });
      }
    } finally {
      lock.unlock();
    }
    for (Thread thread : stopped) {
      try { // a writer ends its write in flight, if any, then sees stopping
        thread.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    return written;
  }

  private void awaitBoth(List<Map.Entry<K, Batch<D>>> awaited, K key, Lane<D> lane) {
    if (lane.writing != null) {
      awaited.add(Map.entry(key, lane.writing));
    }
    if (lane.open != null) {
      awaited.add(Map.entry(key, lane.open));
    }
  }

  /** Waits for each batch to be written, writing it here when it is its key's turn. Lock held. */
  private boolean drain(List<Map.Entry<K, Batch<D>>> awaited) {
    boolean allWritten = true;
    for (var entry : awaited) {
      Batch<D> batch = entry.getValue();
      while (!batch.done) {
        Lane<D> lane = lanes.get(entry.getKey());
        if (lane != null && lane.open == batch && lane.writing == null) {
          write(entry.getKey(), lane);
        } else {
          changed.awaitUninterruptibly();
        }
      }
      allWritten &= !batch.failed;
    }
    return allWritten;
  }

  private void writeUntilStopped() {
    lock.lock();
    try {
      while (!stopping) {
        long pause = lastFailure == null ? 0 : retryAtNanos - System.nanoTime();
        if (pause > 0) {
          changed.await(pause, TimeUnit.NANOSECONDS);
        } else if (!writeNextReady()) {
          changed.await();
        }
      }
    } catch (InterruptedException stop) {
      Thread.currentThread().interrupt();
    } finally {
      lock.unlock();
    }
  }

  /** Writes the oldest ready key, if any. Lock held. */
  private boolean writeNextReady() {
    K key;
    while ((key = ready.poll()) != null) {
      Lane<D> lane = lanes.get(key);
      if (lane != null) {
        lane.queued = false;
        if (lane.open != null && lane.writing == null) {
          write(key, lane);
          return true;
        }
      }
    }
    return false;
  }

  /** Writes the lane's open batch, without the lock while the writer runs. Lock held. */
  private void write(K key, Lane<D> lane) {
    Batch<D> batch = lane.open;
    lane.open = null;
    lane.writing = batch;
    RuntimeException failure = null;
    lock.unlock();
    try {
      writer.write(key, batch.total);
    } catch (RuntimeException e) {
      failure = e;
    } finally {
      lock.lock();
    }
    if (failure != null) {
      lastFailure = failure;
      retryAtNanos = System.nanoTime() + retryPauseNanos;
      LOG.warning("Writing " + name + " of " + key + " (" + batch.items + " item(s)) failed; kept in memory to retry: " + failure.getMessage());
    }
    ended(key, lane, batch, failure == null);
  }

  /** Ends the lane's write in flight: done, or put back ahead of what the key gathered since. Lock held. */
  private void ended(K key, Lane<D> lane, Batch<D> batch, boolean written) {
    lane.writing = null;
    batch.done = true;
    if (written) {
      backlog -= batch.items;
      lastFailure = null;
    } else {
      // Put back, ahead of what the key gathered since; it stays in the backlog.
      batch.failed = true;
      if (lane.open == null) {
        lane.open = new Batch<>();
        lane.open.total = batch.total;
      } else {
        lane.open.total = merge.apply(batch.total, lane.open.total);
      }
      lane.open.items += batch.items;
    }
    if (lane.open != null) {
      markReady(key, lane);
    } else {
      lanes.remove(key, lane);
    }
    changed.signalAll();
  }

  /**
   * One key's merged delta taken out to be written by someone else, together with other writes
   * (one DynamoDB transaction for the usage, the limit settlements and the spend logs of a
   * flush: {@link AfterAnswerWrites}). Its key has a write in flight until {@link #end}.
   */
  public final class Taken {
    private final K key;
    private final Lane<D> lane;
    private final Batch<D> batch;
    private boolean ended;

    private Taken(K key, Lane<D> lane, Batch<D> batch) {
      this.key = key;
      this.lane = lane;
      this.batch = batch;
    }

    public K key() {
      return key;
    }

    public D delta() {
      return batch.total;
    }

    /**
     * @param written true: the delta is durable; false: it goes back to the queue, ahead of what
     *     the key gathered since, for the queue's own writer (no failure is recorded: the caller
     *     falls back to that writer at once)
     */
    public void end(boolean written) {
      lock.lock();
      try {
        if (ended) {
          throw new IllegalStateException("ended twice");
        }
        ended = true;
        ended(key, lane, batch, written); // its lane stays in the map while its write is in flight
      } finally {
        lock.unlock();
      }
    }
  }

  /**
   * Takes up to {@code max} keys' merged deltas that {@code eligible} accepts and that have no
   * write in flight, oldest ready first, for a write done elsewhere; each must be {@link
   * Taken#end ended}. Meanwhile a {@link #flush} waits for them like for a write in flight.
   */
  public List<Taken> take(java.util.function.Predicate<D> eligible, int max) {
    lock.lock();
    try {
      var taken = new ArrayList<Taken>();
      try {
        for (var entry : lanes.entrySet()) {
          if (taken.size() >= max) {
            break;
          }
          Lane<D> lane = entry.getValue();
          if (lane.open != null && lane.writing == null && eligible.test(lane.open.total)) {
            Batch<D> batch = lane.open;
            lane.open = null;
            lane.writing = batch;
            taken.add(new Taken(entry.getKey(), lane, batch));
          }
        }
      } catch (RuntimeException failed) {
        for (Taken one : taken) { // back as they were: nothing may stay in flight without a writer
          one.ended = true;
          one.lane.writing = null;
          one.lane.open = one.batch;
          markReady(one.key, one.lane);
        }
        throw failed;
      }
      return taken;
    } finally {
      lock.unlock();
    }
  }

  /** Queues the key for a writer when it has something to write and no write in flight. Lock held. */
  private void markReady(K key, Lane<D> lane) {
    if (lane.writing == null && lane.open != null && !lane.queued) {
      lane.queued = true;
      ready.add(key);
    }
    changed.signalAll();
  }
}

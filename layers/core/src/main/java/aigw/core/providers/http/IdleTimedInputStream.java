package aigw.core.providers.http;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A provider's streamed body whose every read must return within {@code idle}: the JDK client's
 * request timeout ends once the headers arrive, so without this a provider that stops sending in the
 * middle of a stream would hold the call (and the client) forever. When a read waits too long, the
 * stream is closed from a timer thread (the JDK's body stream then ends its blocked read and cancels
 * the exchange) and the read fails with {@link IdleTimeout}.
 */
final class IdleTimedInputStream extends FilterInputStream {
  /**
   * One daemon timer thread for every stream of the process, created on first use (so never inside
   * a SnapStart snapshot before a stream ran); a cancelled timer is removed at once.
   */
  static final class Timer {
    static final ScheduledThreadPoolExecutor INSTANCE = create();

    private static ScheduledThreadPoolExecutor create() {
      var timer =
          new ScheduledThreadPoolExecutor(
              1,
              task -> {
                var thread = new Thread(task, "aigw-upstream-idle-timer");
                thread.setDaemon(true);
                return thread;
              });
      timer.setRemoveOnCancelPolicy(true);
      return timer;
    }
  }

  /** Watches scheduled by every stream of the process, first or again ({@link #watch}): what a stream costs the timer. */
  static final java.util.concurrent.atomic.LongAdder WATCHES_SCHEDULED = new java.util.concurrent.atomic.LongAdder();

  /** {@link #readingSince} while no read is waiting. */
  private static final long NOT_READING = Long.MIN_VALUE;

  private final Duration idle;
  private final long idleNanos;
  private volatile boolean timedOut;
  /** {@link System#nanoTime()} when the read in progress began; {@link #NOT_READING} between reads. */
  private volatile long readingSince = NOT_READING;
  /** Whether a {@link #watch} is scheduled; set by whoever schedules one (compare-and-set), cleared when it lapses. */
  private final AtomicBoolean watching = new AtomicBoolean();
  private volatile boolean ended;
  /** The watch last scheduled, cancelled when the body ends or closes (so the timer holds no finished stream). */
  private volatile java.util.concurrent.ScheduledFuture<?> scheduled;
  /** Bytes returned by reads so far; read and written by the reading thread only. */
  private long bytesRead;

  IdleTimedInputStream(InputStream in, Duration idle) {
    super(in);
    this.idle = idle;
    this.idleNanos = idle.toNanos();
  }

  @Override
  public int read() throws IOException {
    started();
    try {
      int read = checked(super.read());
      if (read >= 0) {
        bytesRead++;
      }
      return read;
    } catch (IOException e) {
      throw timedOut ? idleTimeout() : e;
    } finally {
      readingSince = NOT_READING;
    }
  }

  @Override
  public int read(byte[] buffer, int offset, int length) throws IOException {
    if (length == 0) {
      return 0; // InputStream's contract: nothing read, nothing waited for (readNBytes ends with one)
    }
    started();
    try {
      int read = checked(super.read(buffer, offset, length));
      if (read < 0) {
        stopWatching(); // the body's end: nothing more to watch
      } else {
        bytesRead += read;
      }
      return read;
    } catch (IOException e) {
      throw timedOut ? idleTimeout() : e;
    } finally {
      readingSince = NOT_READING;
    }
  }

  /** The body's bytes the reader has taken so far (what a broken-off answer had sent of itself). */
  long bytesRead() {
    return bytesRead;
  }

  @Override
  public void close() throws IOException {
    stopWatching();
    super.close();
  }

  /**
   * As {@link #close()}, for a body whose reader has all it needs: a {@link StreamedBody} is left to
   * read its own end, so that its connection is kept ({@link StreamedBody#closeAtEnd}).
   */
  void closeAtEnd(long bytes, Duration grace) throws IOException {
    if (in instanceof StreamedBody streamed) {
      stopWatching();
      streamed.closeAtEnd(bytes, grace);
    } else {
      close();
    }
  }

  /**
   * Ends the watch now rather than when it would next fire: a watch holds this stream (and the
   * JDK's body buffers behind it) for up to {@code idle}, the request timeout, so at thousands of
   * answers a second the timer's queue held every answer of the last ten minutes.
   */
  private void stopWatching() {
    ended = true;
    var watch = scheduled;
    if (watch != null) {
      watch.cancel(false); // removed from the timer's queue at once (setRemoveOnCancelPolicy)
    }
  }

  /**
   * Marks a read as waiting and makes sure a watch is scheduled. The watch is not scheduled and
   * cancelled per read: that cost two locked operations on the timer's queue and a wake-up of its
   * thread for every read, i.e. every chunk of a stream. One watch per stream instead looks every
   * {@code idle} and reschedules itself while reads keep coming. A read of bytes already in ({@link
   * InputStream#available()} above 0: it cannot wait) schedules none, since scheduling wakes the
   * timer's thread: the first read of a stream, handed over with its first bytes in, does not pay it
   * on the stream's time to first byte.
   */
  private void started() throws IOException {
    readingSince = System.nanoTime();
    if (!watching.get() && in.available() == 0) {
      arm(idleNanos);
    }
  }

  private void arm(long delayNanos) {
    if (!ended && watching.compareAndSet(false, true)) {
      schedule(delayNanos);
    }
  }

  /**
   * On the timer: a read waiting for {@code idle} or more is ended ({@link #expire}); one waiting
   * less is looked at again when it would reach {@code idle}. With no read waiting, the watch
   * lapses, and the next read schedules a new one. The lapse clears {@link #watching} before it
   * looks at {@link #readingSince} again, and a read sets {@link #readingSince} before it looks at
   * {@link #watching}, so a read that starts meanwhile is never left unwatched.
   */
  private void watch() {
    while (!ended) {
      long since = readingSince;
      if (since != NOT_READING) {
        long waited = System.nanoTime() - since;
        if (waited >= idleNanos) {
          expire();
          return;
        }
        schedule(idleNanos - waited);
        return;
      }
      watching.set(false);
      if (readingSince == NOT_READING || !watching.compareAndSet(false, true)) {
        return;
      }
      // a read began while this watch was lapsing, and no other watch took it: look again
    }
    watching.set(false);
  }

  private void schedule(long delayNanos) {
    WATCHES_SCHEDULED.increment();
    var watch = Timer.INSTANCE.schedule(this::watch, delayNanos, TimeUnit.NANOSECONDS);
    scheduled = watch;
    if (ended) {
      watch.cancel(false); // the body ended while this was being scheduled
    }
  }

  private void expire() {
    timedOut = true;
    try {
      in.close();
    } catch (IOException ignored) {
      // the blocked read ends either way
    }
  }

  /** A read that ended because the timer closed the stream is a timeout, not the end of the body. */
  private int checked(int result) throws IOException {
    if (timedOut) {
      throw idleTimeout();
    }
    return result;
  }

  private IdleTimeout idleTimeout() {
    return new IdleTimeout("no byte within " + UpstreamHttp.seconds(idle) + " s");
  }
}

package aigw.core.providers.http;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

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
  private static final class Timer {
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

  private final Duration idle;
  private volatile boolean timedOut;

  IdleTimedInputStream(InputStream in, Duration idle) {
    super(in);
    this.idle = idle;
  }

  @Override
  public int read() throws IOException {
    ScheduledFuture<?> alarm = arm();
    try {
      return checked(super.read());
    } catch (IOException e) {
      throw timedOut ? idleTimeout() : e;
    } finally {
      alarm.cancel(false);
    }
  }

  @Override
  public int read(byte[] buffer, int offset, int length) throws IOException {
    ScheduledFuture<?> alarm = arm();
    try {
      return checked(super.read(buffer, offset, length));
    } catch (IOException e) {
      throw timedOut ? idleTimeout() : e;
    } finally {
      alarm.cancel(false);
    }
  }

  private ScheduledFuture<?> arm() {
    return Timer.INSTANCE.schedule(this::expire, idle.toMillis(), TimeUnit.MILLISECONDS);
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

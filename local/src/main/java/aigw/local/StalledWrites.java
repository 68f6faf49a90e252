package aigw.local;

import java.io.IOException;
import java.io.OutputStream;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The local server's write timeout: a write to a client that has waited longer than the timeout is
 * ended by interrupting the thread that waits in it. The JDK server writes through a blocking
 * {@link java.nio.channels.SocketChannel}, an interruptible channel: the interrupt closes the
 * channel and the write throws ({@code ClosedByInterruptException}), so a client that stops reading
 * frees its worker thread within the timeout (plus one check period) instead of holding it forever.
 *
 * <p>Only a write in progress counts: the time an answer spends waiting for its model between two
 * events does not, so a long stream to a client that keeps reading is never cut. The JDK server's
 * own {@code sun.net.httpserver.maxRspTime} would bound the whole answer, streams included, which is
 * why it is not used.
 */
final class StalledWrites implements AutoCloseable {
  private final Duration timeout;
  private final long timeoutNanos;
  private final Set<Guarded> writing = ConcurrentHashMap.newKeySet();
  private final ScheduledExecutorService checker;

  StalledWrites(Duration timeout) {
    this.timeout = timeout;
    this.timeoutNanos = timeout.toNanos();
    this.checker = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("aigw-http-write-timeout").daemon(true).factory());
    long period = Math.max(10, Math.min(250, timeout.toMillis() / 4));
    checker.scheduleAtFixedRate(this::check, period, period, TimeUnit.MILLISECONDS);
  }

  /** {@code out} with each of its writes, flushes and its close bounded by the timeout. */
  OutputStream guard(OutputStream out) {
    return new Guarded(out);
  }

  /** Runs one write ({@code sendResponseHeaders}, say) under the timeout. */
  void write(IoAction action) throws IOException {
    var guarded = new Guarded(OutputStream.nullOutputStream());
    guarded.run(action);
  }

  interface IoAction {
    void run() throws IOException;
  }

  private void check() {
    long now = System.nanoTime();
    for (Guarded guarded : writing) {
      guarded.interruptIfStalled(now);
    }
  }

  @Override
  public void close() {
    checker.shutdownNow();
  }

  /**
   * Thrown instead of the write's own failure once the timeout ended it; the connection is closed
   * (the handler rethrows it, and the JDK server closes the connection of a handler that throws).
   */
  static final class ClientStalled extends IOException {
    ClientStalled(String message, Throwable cause) {
      super(message, cause);
    }
  }

  private final class Guarded extends OutputStream {
    private final OutputStream out;
    private Thread writer; // the thread in a write now, or null; guarded by this
    private long since;
    private boolean timedOut;

    Guarded(OutputStream out) {
      this.out = out;
    }

    @Override
    public void write(int b) throws IOException {
      run(() -> out.write(b));
    }

    @Override
    public void write(byte[] bytes, int offset, int length) throws IOException {
      run(() -> out.write(bytes, offset, length));
    }

    @Override
    public void flush() throws IOException {
      run(out::flush);
    }

    @Override
    public void close() throws IOException {
      run(out::close);
    }

    void run(IoAction action) throws IOException {
      synchronized (this) {
        if (timedOut) {
          throw new ClientStalled("the client read nothing for " + timeout.toSeconds() + " s", null);
        }
        writer = Thread.currentThread();
        since = System.nanoTime();
      }
      writing.add(this);
      IOException failure = null;
      try {
        action.run();
      } catch (IOException e) {
        failure = e;
      } finally {
        writing.remove(this);
        boolean stalled;
        synchronized (this) {
          writer = null; // from here on no interrupt can be sent to this thread
          stalled = timedOut;
        }
        if (stalled) {
          Thread.interrupted(); // delivered after the write returned: it must not reach the next task
        }
        if (stalled) {
          throw new ClientStalled("the client read nothing for " + timeout.toSeconds() + " s", failure);
        }
      }
      if (failure != null) {
        throw failure;
      }
    }

    synchronized void interruptIfStalled(long now) {
      if (writer != null && !timedOut && now - since > timeoutNanos) {
        timedOut = true;
        writer.interrupt();
      }
    }
  }
}

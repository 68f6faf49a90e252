package aigw.local;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.logging.LogManager;
import java.util.logging.Logger;

/**
 * The JDK's {@link LogManager}, except that its own shutdown hook does not close the log handlers
 * before the gateway's stop hook has finished: what the gateway logs while it stops (spend rows or
 * usage that could not be written, that it stopped) reaches the log.
 *
 * <p>Why: the LogManager's constructor registers a shutdown hook (JDK 9 to 25: {@code LogManager$Cleaner},
 * thread "Logging-Cleaner") that marks the handlers shut down for good and calls {@link #reset()},
 * which closes and removes every handler. The JVM runs shutdown hooks concurrently, in no order
 * ({@link Runtime#addShutdownHook}), so on SIGTERM or Ctrl-C the gateway's stop hook usually logs into
 * a logging system with no handlers left, and its lines vanish. Here, while {@link #holdUntilStopped()}
 * holds, a {@code reset()} during the JVM's shutdown waits until the hold is released (at most
 * {@link #LONGEST_HOLD}), then closes the handlers as the JDK does (which flushes them).
 *
 * <p>Installed by {@link Main#installStopLogging()}, the first thing main does: the JDK reads the
 * {@code java.util.logging.manager} system property once, when something first uses logging. Not
 * from a static method here: calling one initialises this class's superclass, LogManager, which
 * reads the property before the method could set it. A manager the user chose with that property
 * is kept (then nothing is held).
 */
public final class StopLogging extends LogManager {
  /** The system property the JDK reads, once, when something first uses logging. */
  static final String MANAGER_PROPERTY = "java.util.logging.manager";
  /** Seconds: longer than a stop takes (the relaunching parent gives its child 30 s), short of hanging the JVM's exit. */
  static final long LONGEST_HOLD = 60;

  private volatile CountDownLatch held;

  /** Public and without parameters: the JDK creates it from the system property. */
  public StopLogging() {}

  /**
   * Keeps the log handlers open through the JVM's shutdown until the returned release runs (the stop
   * hook's last step). Does nothing when another LogManager is in place.
   */
  static Runnable holdUntilStopped() {
    // The root logger's handlers are created on first use, and the JDK's hook forbids creating them
    // once shutdown began: create them now, so a stop that is the first to log still has them.
    Logger.getLogger("").getHandlers();
    if (!(LogManager.getLogManager() instanceof StopLogging manager)) {
      return () -> {};
    }
    var latch = new CountDownLatch(1);
    manager.held = latch;
    return latch::countDown;
  }

  /** As the JDK's, but during the JVM's shutdown it first waits for the gateway's stop (see the class). */
  @Override
  public void reset() {
    CountDownLatch latch = held;
    if (latch != null && shuttingDown()) {
      try {
        latch.await(LONGEST_HOLD, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    super.reset(); // closes the handlers, which flushes them
  }

  /** Whether the JVM runs its shutdown hooks (documented: adding or removing one then throws). */
  private static boolean shuttingDown() {
    try {
      Runtime.getRuntime().removeShutdownHook(new Thread());
      return false;
    } catch (IllegalStateException e) {
      return true;
    }
  }
}

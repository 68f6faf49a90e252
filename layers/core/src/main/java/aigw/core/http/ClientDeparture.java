package aigw.core.http;

import java.util.concurrent.atomic.AtomicReference;

/**
 * Whether the client of the request a thread serves has closed its connection, as the transport
 * that holds the connection sees it, and what is cancelled when it does: the provider call the
 * request is waiting on (registered with {@link #whileWaiting}).
 *
 * <p>A transport that sees its clients' connections while it answers them (the local server) opens
 * one on the thread that runs each request ({@link #open}), for as long as the request runs and its
 * answer is written, and calls {@link #left} from whatever thread notices that the client went
 * away. A provider transport ({@code UpstreamHttp}) registers how to end the exchange it is waiting
 * on; {@link #left} runs it, so that the waiting thread wakes at once instead of at the provider's
 * answer or its timeout, and the request's worker and limits are freed. A thread with no scope
 * (a Lambda invocation: API Gateway holds the client's connection and does not say when it closes)
 * registers nothing and never sees a departure.
 *
 * <p>One provider exchange at a time per request (a request's calls are made one after another):
 * a registration replaces an earlier one still open.
 */
public final class ClientDeparture implements AutoCloseable {
  private static final ThreadLocal<ClientDeparture> CURRENT = new ThreadLocal<>();
  /** In {@link #cancel} once the client left: a later registration runs at once. */
  private static final Runnable LEFT = () -> {};

  /** What ends the exchange the request now waits on; null for none; {@link #LEFT} after the departure. */
  private final AtomicReference<Runnable> cancel = new AtomicReference<>();
  private volatile boolean left;

  private ClientDeparture() {}

  /** A registration, closed when the exchange it cancels has ended. */
  @FunctionalInterface
  public interface Registration extends AutoCloseable {
    Registration NONE = () -> {};

    @Override
    void close();
  }

  /** Opens the scope of the request this thread now serves; close it (same thread) when its answer is written. */
  public static ClientDeparture open() {
    var departure = new ClientDeparture();
    CURRENT.set(departure);
    return departure;
  }

  /**
   * The client closed its connection: runs the registered cancellation, once, on the calling
   * thread (which must be allowed to block briefly: closing a connection). Any thread, any time;
   * later calls do nothing.
   */
  public void left() {
    left = true;
    Runnable registered = cancel.getAndSet(LEFT);
    if (registered != null && registered != LEFT) {
      registered.run();
    }
  }

  /**
   * A scope made on the transport's thread before the request is handed to the thread that runs it,
   * so that the transport can watch the client from then on; that thread opens it ({@link
   * #openOnThisThread}). A departure seen before it is opened is kept: the request then finds its
   * client gone at its first provider call.
   */
  public static ClientDeparture unopened() {
    return new ClientDeparture();
  }

  /** Opens this scope on the calling thread, as {@link #open} does; close it (same thread) when the answer is written. */
  public ClientDeparture openOnThisThread() {
    CURRENT.set(this);
    return this;
  }

  /** Whether {@link #left} was called. */
  public boolean hasLeft() {
    return left;
  }

  @Override
  public void close() {
    if (CURRENT.get() == this) {
      CURRENT.remove();
    }
    cancel.set(LEFT); // nothing registered after the request may be run by a late departure
  }

  /** Whether the client of the request this thread serves has closed its connection; false where nobody watches. */
  public static boolean clientLeft() {
    ClientDeparture current = CURRENT.get();
    return current != null && current.left;
  }

  /**
   * Runs {@code cancel} when the client of the request this thread serves closes its connection,
   * until the returned registration is closed; at once (on this thread) when it has already. Does
   * nothing on a thread with no scope.
   *
   * @param cancel ends the exchange being waited on (must not block for long: it runs on the thread
   *     that noticed the departure)
   */
  public static Registration whileWaiting(Runnable cancel) {
    ClientDeparture current = CURRENT.get();
    if (current == null) {
      return Registration.NONE;
    }
    while (true) {
      Runnable before = current.cancel.get();
      if (before == LEFT) {
        if (current.left) {
          cancel.run();
        }
        return Registration.NONE;
      }
      if (current.cancel.compareAndSet(before, cancel)) {
        return () -> current.cancel.compareAndSet(cancel, null);
      }
    }
  }
}

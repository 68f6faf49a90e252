package aigw.core.providers.http;

import aigw.core.errors.ServiceUnavailable;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The bytes of whole provider answers that all requests of a process may hold at once (issue 15:
 * 64 local workers, each reading up to the 64 MiB bound of one answer, could hold 4 GiB). A
 * transport that serves many requests at once (the local server) opens a {@link Scope} on the
 * thread that runs each request, for as long as the request runs and its answer is written; every
 * whole answer {@link UpstreamHttp} reads on that thread takes its bytes from the budget as they
 * arrive, and they are given back when the scope closes. An answer the budget cannot take is not
 * read further: the client gets 503 with {@code Retry-After}, and the call is not sent again (it ran;
 * {@link ServiceUnavailable#gatewayBusy}). A thread with no scope (a Lambda invocation: one request per
 * process) reads within the one-answer bound only.
 *
 * <p>Counted are the bytes read; the copies made while a body is translated come and go within the
 * request and are covered by the bound's margin. Streamed answers are not held whole (each event is
 * bounded, {@link ServerSentEvents#MAX_EVENT_BYTES}) and take nothing.
 */
public final class AnswerBudget {
  /** How much of an answer is read, and taken from the budget, at a time. */
  static final int PIECE_BYTES = 64 * 1024;

  private static final ThreadLocal<Scope> CURRENT = new ThreadLocal<>();

  private final long max;
  private final AtomicLong held = new AtomicLong();

  /** @param max the answer bytes all scopes together may hold; at least 1 */
  public AnswerBudget(long max) {
    if (max < 1) {
      throw new IllegalArgumentException("the answer budget must be at least 1 byte, got " + max);
    }
    this.max = max;
  }

  /** Bytes held now by every open scope. */
  public long held() {
    return held.get();
  }

  public long max() {
    return max;
  }

  /** Opens the current thread's scope for one request; close it (try-with-resources) when the request's answer is sent. */
  public Scope open() {
    var scope = new Scope();
    CURRENT.set(scope);
    return scope;
  }

  /** One request's share of the budget, on the thread that runs it. */
  public final class Scope implements AutoCloseable {
    private long taken;

    private boolean take(long bytes) {
      while (true) {
        long now = held.get();
        if (now + bytes > max) {
          return false;
        }
        if (held.compareAndSet(now, now + bytes)) {
          taken += bytes;
          return true;
        }
      }
    }

    AnswerBudget budget() {
      return AnswerBudget.this;
    }

    /** Gives back what the request took and leaves the thread. */
    @Override
    public void close() {
      held.addAndGet(-taken);
      taken = 0;
      if (CURRENT.get() == this) {
        CURRENT.remove();
      }
    }
  }

  /**
   * Reads {@code in} to its end or to {@code limit + 1} bytes (so that the caller sees an answer over
   * its bound), taking each piece from the current thread's scope, if one is open.
   *
   * @param what the answer's description for the 503 ("the provider of 'm' at host:port")
   * @throws ServiceUnavailable (503, {@link ServiceUnavailable#gatewayBusy}) when the budget cannot take the next piece
   */
  static byte[] read(InputStream in, int limit, String what) throws IOException {
    return read(in, -1, limit, what);
  }

  /**
   * As above, for an answer that declares its length ({@code Content-Length}; -1: none). One of at
   * most {@link #PIECE_BYTES} within the limit, the common answer of a few hundred bytes, is read
   * into one array of that size: the general read gathers 16 KiB buffers and copies them together.
   */
  static byte[] read(InputStream in, long declared, int limit, String what) throws IOException {
    Scope scope = CURRENT.get();
    var whole = new ByteArrayOutputStream();
    if (declared >= 0 && declared <= Math.min(limit, PIECE_BYTES)) {
      byte[] sized = new byte[(int) declared];
      int read = in.readNBytes(sized, 0, sized.length);
      take(scope, read, what);
      if (read < sized.length) {
        return java.util.Arrays.copyOf(sized, read);
      }
      // HTTP/1.1 frames the body by its Content-Length, so its end comes next; a server that sends
      // more (possible over HTTP/2) is read on below as without a length, up to the limit.
      int next = in.read();
      if (next < 0) {
        return sized;
      }
      take(scope, 1, what);
      whole.writeBytes(sized);
      whole.write(next);
    } else if (scope == null) {
      return in.readNBytes(limit + 1);
    }
    long wanted = limit + 1L;
    while (whole.size() < wanted) {
      byte[] piece = in.readNBytes((int) Math.min(PIECE_BYTES, wanted - whole.size()));
      if (piece.length == 0) {
        break;
      }
      take(scope, piece.length, what);
      whole.writeBytes(piece);
    }
    return whole.toByteArray();
  }

  /** Takes {@code bytes} from the thread's scope (none open: nothing to take), or throws the 503. */
  /**
   * Takes {@code bytes} of an answer already read whole (by the HTTP client: at most {@link
   * #PIECE_BYTES}) from the budget of the thread's scope, if one is open.
   *
   * @throws ServiceUnavailable (503) when the budget cannot take them
   */
  static void hold(long bytes, String what) {
    take(CURRENT.get(), bytes, what);
  }

  private static void take(Scope scope, long bytes, String what) {
    if (scope != null && !scope.take(bytes)) {
      AnswerBudget budget = scope.budget();
      throw ServiceUnavailable.gatewayBusy("The gateway is holding " + budget.held() + " bytes of provider answers, its bound"
          + " (AIGW_HTTP_MAX_BUFFERED_ANSWER_BYTES, " + budget.max + "), and could not take the answer of " + what
          + "; try again shortly.");
    }
  }
}

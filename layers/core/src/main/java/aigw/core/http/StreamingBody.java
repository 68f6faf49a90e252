package aigw.core.http;

import java.io.IOException;
import java.io.OutputStream;

/**
 * A response body produced while it is sent, such as a Server-Sent Events stream
 * (https://html.spec.whatwg.org/multipage/server-sent-events.html): the writer flushes {@code out}
 * before it waits for its source, so the client sees every event the body has at once (the
 * proxy's relays write the events that arrived together and flush them once).
 *
 * <p>Every transport hands it an {@link OutputStream}: the local server its chunked response body,
 * the Lambda streaming runtime the chunked body of its response to the Runtime API, a buffering
 * adapter (API Gateway's buffered mode, tests) a byte array.
 */
@FunctionalInterface // writeTo; endBeforeTimeLimit and firstEventInHand have defaults
public interface StreamingBody {
  /**
   * Writes the whole body and returns when it is complete; must not close {@code out}.
   *
   * @throws IOException when {@code out} fails: the client went away. The body must then end the
   *     work it stands for (the upstream call) and still account for it before it rethrows.
   */
  void writeTo(OutputStream out) throws IOException;

  /**
   * Called from another thread while {@link #writeTo} runs, when the transport is about to be
   * stopped by force: on Lambda, shortly before the invocation reaches the function's timeout
   * ({@code aigw.core.lambda.StreamingRuntime}). The body should then end its work as on any
   * failure of its source (close the upstream call, so that a {@code writeTo} blocked waiting on
   * it returns), account for it, end its output with an error the client can read, and let {@code
   * writeTo} return normally. Must not block and may be called at any point of the body, also
   * after it ended.
   *
   * <p>The default does nothing: the body then runs on until the platform stops it, without an
   * end the client can read.
   */
  default void endBeforeTimeLimit() {}

  /**
   * Whether the body already holds its first event, so that {@link #writeTo} writes and flushes it
   * without waiting on anything (the gateway's relays await the provider's first chunk before they
   * are returned, so that a failure before it is still an error status). A transport may then send
   * the status and headers together with that first flush, in one write, instead of in a write of
   * their own before the body runs: one write and one wait less before the client's first byte.
   * A body that says true must flush (even nothing) before it waits for anything.
   *
   * <p>The default, false: the status and headers are sent before the body runs, so that a client
   * knows at once that its answer is a stream.
   */
  default boolean firstEventInHand() {
    return false;
  }
}

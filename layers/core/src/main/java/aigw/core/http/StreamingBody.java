package aigw.core.http;

import java.io.IOException;
import java.io.OutputStream;

/**
 * A response body produced while it is sent, such as a Server-Sent Events stream
 * (https://html.spec.whatwg.org/multipage/server-sent-events.html): the writer flushes {@code out}
 * after each event so the client sees it at once.
 *
 * <p>Every transport hands it an {@link OutputStream}: the local server its chunked response body,
 * the Lambda streaming runtime the chunked body of its response to the Runtime API, a buffering
 * adapter (API Gateway's buffered mode, tests) a byte array.
 */
@FunctionalInterface
public interface StreamingBody {
  /**
   * Writes the whole body and returns when it is complete; must not close {@code out}.
   *
   * @throws IOException when {@code out} fails: the client went away. The body must then end the
   *     work it stands for (the upstream call) and still account for it before it rethrows.
   */
  void writeTo(OutputStream out) throws IOException;
}

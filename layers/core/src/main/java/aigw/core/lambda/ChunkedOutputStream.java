package aigw.core.lambda;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * An HTTP/1.1 chunked request body (RFC 9112 section 7.1) that sends one chunk per {@link #flush}:
 * a {@code StreamingBody} flushes before it waits for more, so each event reaches the Runtime API,
 * and from there the client, as soon as it is written (events that arrived together, in one chunk). Bytes written without a flush are sent as one
 * chunk when {@link #BUFFER_BYTES} are gathered.
 *
 * <p>{@link #finish} ends the body, with trailer fields if given (RFC 9112 section 7.1.2); closing
 * the stream does not end it (the {@code StreamingBody} contract: the body's writer never closes).
 */
final class ChunkedOutputStream extends OutputStream {
  static final int BUFFER_BYTES = 8192;
  private static final byte[] CRLF = {'\r', '\n'};

  private final OutputStream socket;
  private final byte[] buffer = new byte[BUFFER_BYTES];
  private int buffered;
  private boolean finished;

  ChunkedOutputStream(OutputStream socket) {
    this.socket = socket;
  }

  @Override
  public void write(int b) throws IOException {
    write(new byte[] {(byte) b}, 0, 1);
  }

  @Override
  public void write(byte[] bytes, int offset, int length) throws IOException {
    if (finished) {
      throw new IOException("the response body has ended");
    }
    while (length > 0) {
      int taken = Math.min(length, buffer.length - buffered);
      System.arraycopy(bytes, offset, buffer, buffered, taken);
      buffered += taken;
      offset += taken;
      length -= taken;
      if (buffered == buffer.length) {
        sendChunk();
      }
    }
  }

  /** Sends what was written since the last flush as one chunk, and pushes it onto the wire. */
  @Override
  public void flush() throws IOException {
    if (finished) {
      return;
    }
    sendChunk();
    socket.flush();
  }

  /** Does not end the body: see {@link #finish}. */
  @Override
  public void close() {}

  /**
   * Sends what is left, the last (empty) chunk and the trailer fields, and ends the body.
   *
   * @param trailers complete field lines without their CRLF, e.g. {@code "Name: value"}; may be empty
   */
  void finish(String... trailers) throws IOException {
    if (finished) {
      return;
    }
    sendChunk();
    finished = true;
    socket.write(ascii("0\r\n"));
    for (String trailer : trailers) {
      socket.write(ascii(trailer));
      socket.write(CRLF);
    }
    socket.write(CRLF);
    socket.flush();
  }

  private void sendChunk() throws IOException {
    if (buffered == 0) {
      return; // a zero-size chunk would end the body
    }
    socket.write(ascii(Integer.toHexString(buffered)));
    socket.write(CRLF);
    socket.write(buffer, 0, buffered);
    socket.write(CRLF);
    buffered = 0;
  }

  private static byte[] ascii(String text) {
    return text.getBytes(StandardCharsets.US_ASCII);
  }
}

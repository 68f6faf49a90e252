package aigw.local;

import java.nio.ByteBuffer;
import java.util.EnumSet;
import java.util.Set;
import org.eclipse.jetty.http.BadMessageException;
import org.eclipse.jetty.http.HttpCompliance;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpParser;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.internal.HttpConnection;
import org.eclipse.jetty.util.BufferUtil;

/**
 * HTTP/1.1 connections whose framing lines (request line, header fields, chunk sizes, the line
 * after a chunk, trailers) must end in CRLF: a bare LF is answered 400 (issue 15). RFC 9112 section
 * 2.2 lets a recipient accept a bare LF, and Jetty 12.0.14 does; but a proxy in front that reads the
 * same bytes differently (one that ends lines only at CRLF) would frame requests differently, the
 * root of request smuggling. Jetty 12.0.16 added {@code HttpCompliance.Violation.LF_HEADER_TERMINATION}
 * and {@code LF_CHUNK_TERMINATION} for this (jetty/jetty.project pull request 12564); the Jetty in
 * this jar is DynamoDB Local's, 12.0.14, so the parser here enforces it itself: while Jetty parses
 * framing, it is given one line at a time, and a line whose LF has no CR before it is refused before
 * Jetty reads it. Bodies (a {@code Content-Length}'s bytes, a chunk's data) are given whole.
 *
 * <p>An {@code Expect} other than {@code 100-continue} is refused with 417 ({@code ExpectationChecked}).
 *
 * <p>The parser also tells when it reads the first byte of a request ({@code requestStarts}), the
 * moment from which {@link LocalServer.HeaderDeadlines} times the request's headers.
 */
final class CrlfOnlyHttp extends HttpConnectionFactory {
  /** The parser states in which Jetty reads framing lines; in the others it reads a body's bytes. */
  private static final Set<HttpParser.State> FRAMING = EnumSet.of(
      HttpParser.State.START, HttpParser.State.METHOD, HttpParser.State.SPACE1, HttpParser.State.URI, HttpParser.State.SPACE2,
      HttpParser.State.REQUEST_VERSION, HttpParser.State.HEADER, HttpParser.State.CHUNKED_CONTENT, HttpParser.State.CHUNK_SIZE,
      HttpParser.State.CHUNK_PARAMS, HttpParser.State.TRAILER);

  /** What a client is told (the server's 400 message adds it to "not valid HTTP/1.1"). */
  static final String BARE_LF = "A line ends in a bare LF; HTTP/1.1 lines end in CRLF";

  private final java.util.function.Consumer<Connection> requestStarts;

  /** @param requestStarts told, on Jetty's reading thread, when a connection's parser reads the first byte of a request */
  CrlfOnlyHttp(HttpConfiguration configuration, java.util.function.Consumer<Connection> requestStarts) {
    super(configuration);
    this.requestStarts = requestStarts;
  }

  @Override
  public Connection newConnection(Connector connector, EndPoint endPoint) {
    var connection = new CrlfOnlyConnection(getHttpConfiguration(), connector, endPoint);
    // Set here, not passed to the parser: Jetty's constructor makes the parser, before any field of ours is set.
    ((CrlfOnlyParser) connection.getParser()).requestStarted = () -> requestStarts.accept(connection);
    connection.setUseInputDirectByteBuffers(isUseInputDirectByteBuffers());
    connection.setUseOutputDirectByteBuffers(isUseOutputDirectByteBuffers());
    return configure(connection, connector, endPoint);
  }

  /** Jetty's connection with {@link CrlfOnlyParser} as its parser. */
  private static final class CrlfOnlyConnection extends HttpConnection {
    /**
     * The connection's own request handler: Jetty's constructor makes it ({@link #newRequestHandler})
     * just before it asks for the parser, which must report to the same one (Jetty reads its failure).
     * No initializer, so that the value set during the super constructor stays.
     */
    private RequestHandler handler;

    CrlfOnlyConnection(HttpConfiguration configuration, Connector connector, EndPoint endPoint) {
      super(configuration, connector, endPoint);
    }

    @Override
    protected RequestHandler newRequestHandler() {
      handler = new ExpectationChecked();
      return handler;
    }

    /**
     * Jetty's handler, refusing an {@code Expect} with any expectation but {@code 100-continue} with
     * 417 (RFC 9110 section 10.1.1: the only expectation defined; a server MAY answer others 417).
     * Jetty 12.0.14 notices such a field too, but refuses it from inside its header handling, which
     * then fails to write the answer and closes the connection with none (jetty/jetty.project issue
     * 13583, fixed after this version by throwing instead): thrown here, from the parser's callback,
     * the refusal takes the path of any malformed request and is answered in the error envelope.
     */
    private final class ExpectationChecked extends RequestHandler {
      @Override
      public void parsedHeader(HttpField field) {
        if (field.getHeader() == HttpHeader.EXPECT && !only100Continue(field.getValue())) {
          throw new BadMessageException(417, null);
        }
        super.parsedHeader(field);
      }
    }

    @Override
    protected HttpParser newHttpParser(HttpCompliance compliance) {
      var parser = new CrlfOnlyParser(handler, getHttpConfiguration().getRequestHeaderSize(), compliance);
      parser.setHeaderCacheSize(getHttpConfiguration().getHeaderCacheSize());
      parser.setHeaderCacheCaseSensitive(getHttpConfiguration().isHeaderCacheCaseSensitive());
      return parser;
    }
  }

  /** Whether an {@code Expect} value lists no expectation but {@code 100-continue} (case-insensitive, RFC 9110 section 10.1.1). */
  static boolean only100Continue(String value) {
    if (value == null) {
      return true;
    }
    for (String expectation : value.split(",")) {
      String token = expectation.strip();
      if (!token.isEmpty() && !token.equalsIgnoreCase("100-continue")) {
        return false;
      }
    }
    return true;
  }

  /**
   * Jetty's parser, given framing one line at a time once the line's ending is checked, and a
   * chunk's data exactly (Jetty reads the CRLF after a chunk's data in the same step as the data, so
   * the data is given alone and the line after it is checked like any other).
   */
  static final class CrlfOnlyParser extends HttpParser {
    /** The last byte Jetty consumed in an earlier call: a CR there may end a line whose LF comes in the next buffer. */
    private byte lastConsumed;
    /** The start of the framing line being read (enough of it for a chunk size, 16 hex digits), across buffers. */
    private final StringBuilder line = new StringBuilder();
    /** The start of the last whole framing line read. */
    private String lastLine = "";
    /** Bytes of the current chunk's data not yet given to Jetty. */
    private long chunkLeft;
    /** Run when a byte is read in the state before a request ({@link State#START}): its first (or a blank line before it). */
    Runnable requestStarted = () -> {};

    CrlfOnlyParser(RequestHandler handler, int maxHeaderBytes, HttpCompliance compliance) {
      super(handler, maxHeaderBytes, compliance);
    }

    @Override
    public boolean parseNext(ByteBuffer buffer) {
      if (getState() == State.START && buffer.hasRemaining()) {
        requestStarted.run();
      }
      while (buffer.hasRemaining()) {
        State state = getState();
        int start = buffer.position();
        int limit = buffer.limit();
        boolean data = state == State.CHUNK && chunkLeft > 0;
        if (data) {
          buffer.limit((int) Math.min(limit, start + chunkLeft));
        } else if (FRAMING.contains(state) || state == State.CHUNK) { // CHUNK with no data left: the CRLF after it
          int lineFeed = indexOfLineFeed(buffer);
          if (lineFeed >= 0) {
            byte before = lineFeed > start ? buffer.get(lineFeed - 1) : lastConsumed;
            if (before != '\r') {
              // As Jetty's parser does with a request it refuses: the rest is dropped, the handler
              // answers 400 (through the server's error handler) and the connection closes.
              BufferUtil.clear(buffer);
              badMessage(new BadMessageException(400, BARE_LF));
              return false;
            }
            buffer.limit(lineFeed + 1);
          }
        } else {
          break; // a body of known length, or the end of the message: Jetty's own
        }
        boolean handled = super.parseNext(buffer);
        if (buffer.limit() == 0) {
          // Jetty refused the request (431 for headers over the size, 400...) and cleared the
          // buffer: it stays empty. Restoring the limit here would hand the refused bytes back from
          // the buffer's start, and Jetty would read them as a new request and answer that instead
          // (an "Unsupported Version" 400 for a header overflow, depending on where a read ended).
          return handled;
        }
        buffer.limit(limit);
        consumed(buffer, start, data);
        if (handled || buffer.position() == start) {
          return handled;
        }
      }
      int start = buffer.position();
      boolean handled = super.parseNext(buffer);
      consumed(buffer, start, false);
      return handled;
    }

    /** Notes what Jetty consumed from {@code start} (a chunk's {@code data} or not): the last byte, the line so far, what is left of a chunk. */
    private void consumed(ByteBuffer buffer, int start, boolean data) {
      int end = buffer.position();
      if (end > start) {
        lastConsumed = buffer.get(end - 1);
      }
      if (data) {
        chunkLeft -= end - start;
        return;
      }
      for (int at = start; at < end; at++) {
        byte b = buffer.get(at);
        if (b == '\n') {
          lastLine = line.toString();
          line.setLength(0);
        } else if (line.length() < 32) {
          line.append((char) (b & 0xff));
        }
      }
      if (getState() == State.CHUNK && chunkLeft <= 0) {
        chunkLeft = chunkSize(lastLine);
      }
    }

    /** The size a chunk-size line announced (RFC 9112 section 7.1: hex digits, then extensions); Jetty has checked it. */
    private static long chunkSize(CharSequence line) {
      long size = 0;
      for (int at = 0; at < line.length(); at++) {
        int digit = Character.digit(line.charAt(at), 16);
        if (digit < 0) {
          break;
        }
        size = size * 16 + digit;
      }
      return size;
    }

    private static int indexOfLineFeed(ByteBuffer buffer) {
      for (int at = buffer.position(); at < buffer.limit(); at++) {
        if (buffer.get(at) == '\n') {
          return at;
        }
      }
      return -1;
    }
  }
}

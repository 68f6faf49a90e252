package aigw.core.providers.http;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/**
 * Reads Server-Sent Events from a byte stream, as the WHATWG parsing rules say
 * (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
 * lines end in CRLF, LF or CR; {@code :} starts a comment; {@code data} lines accumulate; a blank
 * line dispatches the event when it has data; an event cut off by the end of the stream is dropped.
 * Fields other than {@code event} and {@code data} ({@code id}, {@code retry}) are read and ignored.
 * A byte order mark at the start of the stream is skipped, as the rules say.
 */
public final class ServerSentEvents {
  /** No provider sends a line near this; a longer one is a broken or hostile upstream. */
  static final int MAX_LINE_BYTES = 8 * 1024 * 1024;

  /**
   * The most {@code data:} bytes one event may hold, all its lines together: the same 8 MiB as a
   * line, because an event is one chunk the gateway must hold whole (and parse) before passing it
   * on, and no chunk a provider really sends comes near it (a chunk is a few tokens; a whole
   * answer relayed as one chunk is bounded the same way). Without it, data lines with no blank line
   * between them accumulate without end.
   */
  static final int MAX_EVENT_BYTES = 8 * 1024 * 1024;

  /** A line or an event over its bound: the stream is ended; the message says which and how large. */
  public static final class TooLarge extends IOException {
    TooLarge(String what) {
      super(what);
    }
  }

  private final InputStream in;
  /**
   * What was read from {@code in} and not yet parsed: {@code buffer[position..limit)}. Read in
   * blocks of this size (one idle timer per refill, see {@code IdleTimedInputStream}), and parsed
   * from here so that {@link #nextIfInHand} knows which bytes have arrived without asking {@code in}
   * byte by byte.
   */
  private final byte[] buffer = new byte[8192];
  private int position;
  private int limit;
  /** The line being read, without its end: {@code line[0..lineBytes)}; grown as needed up to {@link #MAX_LINE_BYTES}. */
  private byte[] line = new byte[256];
  private int lineBytes; // the size in bytes of the line read so far
  private boolean lineOpen; // part of a line is in {@link #line}: a poll stopped in it, the next read goes on with it
  private boolean skipLineFeed; // the previous line ended in CR: a following LF belongs to it
  private boolean started; // past the first bytes, where a UTF-8 byte order mark may stand
  // The event being read; kept between calls, since a poll may stop in the middle of it.
  private String event;
  private String data; // the first data line's value, while it is the only one
  private StringBuilder lines; // the data lines joined, from the second one on
  private long dataBytes;

  public ServerSentEvents(InputStream in) {
    this.in = in;
  }

  /**
   * The next event, or null at the end of the stream. A line's field and value are read from its
   * bytes, and only the value is decoded: one string per {@code data:} line, and none more for an
   * event of one such line (every OpenAI chunk), since this runs once per streamed chunk.
   */
  public ServerSentEvent next() throws IOException {
    return read(true);
  }

  /**
   * The next event if all of it has arrived, read without waiting ({@code in.available()} says
   * what has); else null, and what was read of it is kept for the next call. Null also at the end
   * of the stream, which only {@link #next} tells: so that a reader that holds output back while
   * the provider is still sending (the relay, which writes the events that are in and flushes them
   * once before it would wait) never holds it while this waits.
   */
  public ServerSentEvent nextIfInHand() throws IOException {
    return read(false);
  }

  private ServerSentEvent read(boolean wait) throws IOException {
    while (true) {
      int read = readLine(wait);
      if (read != LINE) {
        return null; // the end of the stream (an event cut off by it is dropped), or not all of the event is in
      }
      if (lineBytes == 0) {
        ServerSentEvent dispatched = lines != null ? new ServerSentEvent(event, lines.toString())
            : data != null ? new ServerSentEvent(event, data) : null;
        event = null; // an event without data is not dispatched
        if (dispatched != null) {
          data = null;
          lines = null;
          dataBytes = 0;
          return dispatched;
        }
        continue;
      }
      if (startsWith(DATA)) {
        dataBytes += lineBytes + 1; // the line and the \n joining it: bytes read, not characters
        if (dataBytes > MAX_EVENT_BYTES) {
          throw new TooLarge("a stream event of more than " + MAX_EVENT_BYTES + " bytes (its data lines together)");
        }
      }
      if (line[0] == ':') {
        continue; // a comment (providers send them as keep-alives)
      }
      int colon = indexOf(':');
      int fieldEnd = colon < 0 ? lineBytes : colon;
      boolean isData = fieldEnd == DATA.length && startsWith(DATA);
      boolean isEvent = fieldEnd == EVENT.length && startsWith(EVENT);
      if (!isData && !isEvent) {
        continue; // id, retry and unknown fields
      }
      int valueStart = colon < 0 ? lineBytes : colon + 1 < lineBytes && line[colon + 1] == ' ' ? colon + 2 : colon + 1;
      String value = new String(line, valueStart, lineBytes - valueStart, StandardCharsets.UTF_8);
      if (isEvent) {
        event = value;
      } else if (data == null && lines == null) {
        data = value;
      } else {
        if (lines == null) {
          lines = new StringBuilder(data);
          data = null;
        }
        lines.append('\n').append(value);
      }
    }
  }

  private static final byte[] DATA = "data".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] EVENT = "event".getBytes(StandardCharsets.US_ASCII);

  private boolean startsWith(byte[] prefix) {
    return lineBytes >= prefix.length && java.util.Arrays.equals(line, 0, prefix.length, prefix, 0, prefix.length);
  }

  private int indexOf(char c) {
    for (int i = 0; i < lineBytes; i++) {
      if (line[i] == c) {
        return i;
      }
    }
    return -1;
  }

  private static final int LINE = 1;
  private static final int END = -1;
  private static final int NOT_IN = 0;

  /**
   * Reads the next line into {@link #line}: {@link #LINE}, or {@link #END} at the end of the stream
   * (a last line without its end is a line); without {@code wait}, {@link #NOT_IN} when the bytes
   * that would go on with it have not arrived.
   */
  private int readLine(boolean wait) throws IOException {
    if (!started) {
      if (!byteOrderMarkSkipped(wait)) {
        return NOT_IN;
      }
      started = true;
    }
    if (!lineOpen) {
      lineBytes = 0;
      lineOpen = true;
    }
    while (true) {
      if (position == limit && !fill(wait)) {
        if (!wait) {
          return NOT_IN;
        }
        lineOpen = false;
        return lineBytes > 0 ? LINE : END;
      }
      byte b = buffer[position++];
      if (skipLineFeed) {
        skipLineFeed = false;
        if (b == '\n') {
          continue;
        }
      }
      if (b == '\n') {
        lineOpen = false;
        return LINE;
      }
      if (b == '\r') {
        skipLineFeed = true;
        lineOpen = false;
        return LINE;
      }
      if (lineBytes >= MAX_LINE_BYTES) {
        throw new TooLarge("a line of more than " + MAX_LINE_BYTES + " bytes in its event stream");
      }
      if (lineBytes == line.length) {
        line = java.util.Arrays.copyOf(line, (int) Math.min((long) line.length * 2, MAX_LINE_BYTES));
      }
      line[lineBytes++] = b;
    }
  }

  /**
   * Reads the next block into the (used up) buffer: false at the end of the stream, or, without
   * {@code wait}, when no byte has arrived ({@code in.available()} is 0: a read would wait).
   */
  private boolean fill(boolean wait) throws IOException {
    if (!wait && in.available() <= 0) {
      return false;
    }
    int read = in.read(buffer, 0, buffer.length);
    if (read <= 0) {
      return false;
    }
    position = 0;
    limit = read;
    return true;
  }

  private static final byte[] BYTE_ORDER_MARK = {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF};

  /**
   * Skips a UTF-8 byte order mark (EF BB BF) at the start of the stream, reading until its first
   * bytes show there is none; anything else is left to read. False, without {@code wait}, when the
   * bytes that would tell have not arrived.
   */
  private boolean byteOrderMarkSkipped(boolean wait) throws IOException {
    // Only at the start: position is 0 and the buffer holds the stream's first bytes.
    while (limit < BYTE_ORDER_MARK.length && java.util.Arrays.equals(buffer, 0, limit, BYTE_ORDER_MARK, 0, limit)) {
      if (!wait && in.available() <= 0) {
        return false;
      }
      int read = in.read(buffer, limit, buffer.length - limit);
      if (read <= 0) {
        return true; // the stream ended within its first bytes: what came is read as it is
      }
      limit += read;
    }
    if (limit >= BYTE_ORDER_MARK.length && java.util.Arrays.equals(buffer, 0, BYTE_ORDER_MARK.length, BYTE_ORDER_MARK, 0, BYTE_ORDER_MARK.length)) {
      position = BYTE_ORDER_MARK.length;
    }
    return true;
  }
}

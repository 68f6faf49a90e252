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
  /** The line being read, without its end: {@code line[0..lineBytes)}; grown as needed up to {@link #MAX_LINE_BYTES}. */
  private byte[] line = new byte[256];
  private int lineBytes; // the size in bytes of the line readLine last read
  private boolean skipLineFeed; // the previous line ended in CR: a following LF belongs to it
  private boolean started; // past the first bytes, where a UTF-8 byte order mark may stand

  public ServerSentEvents(InputStream in) {
    // Read byte by byte below: a buffer in front keeps that cheap (and one idle timer per refill).
    this.in = in instanceof java.io.BufferedInputStream ? in : new java.io.BufferedInputStream(in, 8192);
  }

  /**
   * The next event, or null at the end of the stream. A line's field and value are read from its
   * bytes, and only the value is decoded: one string per {@code data:} line, and none more for an
   * event of one such line (every OpenAI chunk), since this runs once per streamed chunk.
   */
  public ServerSentEvent next() throws IOException {
    String event = null;
    String data = null; // the first data line's value, while it is the only one
    StringBuilder lines = null; // the data lines joined, from the second one on
    long dataBytes = 0;
    while (readLine()) {
      if (lineBytes == 0) {
        if (lines != null) {
          return new ServerSentEvent(event, lines.toString());
        }
        if (data != null) {
          return new ServerSentEvent(event, data);
        }
        event = null; // an event without data is not dispatched
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
    return null;
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

  /** Reads the next line into {@link #line}; false at the end of the stream (a last line without its end is a line). */
  private boolean readLine() throws IOException {
    if (!started) {
      started = true;
      skipByteOrderMark();
    }
    lineBytes = 0;
    int b;
    while ((b = in.read()) != -1) {
      if (skipLineFeed) {
        skipLineFeed = false;
        if (b == '\n') {
          continue;
        }
      }
      if (b == '\n') {
        return true;
      }
      if (b == '\r') {
        skipLineFeed = true;
        return true;
      }
      if (lineBytes >= MAX_LINE_BYTES) {
        throw new TooLarge("a line of more than " + MAX_LINE_BYTES + " bytes in its event stream");
      }
      if (lineBytes == line.length) {
        line = java.util.Arrays.copyOf(line, (int) Math.min((long) line.length * 2, MAX_LINE_BYTES));
      }
      line[lineBytes++] = (byte) b;
    }
    return lineBytes > 0;
  }

  /** Skips a UTF-8 byte order mark (EF BB BF) at the start of the stream; anything else is left to read. */
  private void skipByteOrderMark() throws IOException {
    in.mark(3);
    if (in.read() != 0xEF || in.read() != 0xBB || in.read() != 0xBF) {
      in.reset();
    }
  }
}

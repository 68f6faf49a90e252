package aigw.core.providers.http;

import java.io.ByteArrayOutputStream;
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
  private final ByteArrayOutputStream line = new ByteArrayOutputStream(256);
  private int lineBytes; // the size in bytes of the line readLine last returned
  private boolean skipLineFeed; // the previous line ended in CR: a following LF belongs to it
  private boolean started; // past the first bytes, where a UTF-8 byte order mark may stand

  public ServerSentEvents(InputStream in) {
    // Read byte by byte below: a buffer in front keeps that cheap (and one idle timer per refill).
    this.in = in instanceof java.io.BufferedInputStream ? in : new java.io.BufferedInputStream(in, 8192);
  }

  /** The next event, or null at the end of the stream. */
  public ServerSentEvent next() throws IOException {
    String event = null;
    StringBuilder data = null;
    long dataBytes = 0;
    String text;
    while ((text = readLine()) != null) {
      if (text.isEmpty()) {
        if (data != null) {
          return new ServerSentEvent(event, data.toString());
        }
        event = null; // an event without data is not dispatched
        continue;
      }
      if (text.startsWith("data")) {
        dataBytes += lineBytes + 1; // the line and the \n joining it: bytes read, not characters
        if (dataBytes > MAX_EVENT_BYTES) {
          throw new TooLarge("a stream event of more than " + MAX_EVENT_BYTES + " bytes (its data lines together)");
        }
      }
      if (text.charAt(0) == ':') {
        continue; // a comment (providers send them as keep-alives)
      }
      int colon = text.indexOf(':');
      String field = colon < 0 ? text : text.substring(0, colon);
      String value = colon < 0 ? "" : text.substring(colon + 1);
      if (value.startsWith(" ")) {
        value = value.substring(1);
      }
      switch (field) {
        case "data" -> data = data == null ? new StringBuilder(value) : data.append('\n').append(value);
        case "event" -> event = value;
        default -> {} // id, retry and unknown fields
      }
    }
    return null;
  }

  private String readLine() throws IOException {
    if (!started) {
      started = true;
      skipByteOrderMark();
    }
    line.reset();
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
        lineBytes = line.size();
        return line.toString(StandardCharsets.UTF_8);
      }
      if (b == '\r') {
        skipLineFeed = true;
        lineBytes = line.size();
        return line.toString(StandardCharsets.UTF_8);
      }
      if (line.size() >= MAX_LINE_BYTES) {
        throw new TooLarge("a line of more than " + MAX_LINE_BYTES + " bytes in its event stream");
      }
      line.write(b);
    }
    lineBytes = line.size();
    return line.size() == 0 ? null : line.toString(StandardCharsets.UTF_8); // a last line without its end
  }

  /** Skips a UTF-8 byte order mark (EF BB BF) at the start of the stream; anything else is left to read. */
  private void skipByteOrderMark() throws IOException {
    in.mark(3);
    if (in.read() != 0xEF || in.read() != 0xBB || in.read() != 0xBF) {
      in.reset();
    }
  }
}

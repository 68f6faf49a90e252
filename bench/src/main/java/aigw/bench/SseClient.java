package aigw.bench;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * A minimal HTTP/1.1 client on one kept-alive connection that times a server-sent-events answer as
 * it arrives: when the first {@code data:} line is complete and when the body ends.
 *
 * <p>Why not the JDK HttpClient: at 1 connection its own cost per streamed answer (about 0.5 ms on
 * a 2-core machine, still falling after thousands of calls) is as large as the target being
 * measured; like wrk, this client costs next to nothing, so the difference between floor and
 * gateway is the gateway's. It reads what a gateway may send (chunked, {@code Content-Length}, or
 * until the connection closes) and reconnects when the server closes.
 */
final class SseClient implements AutoCloseable {
  /**
   * One answer.
   *
   * @param firstDataNanos from writing the request to the end of the first {@code data:} line; -1 if none
   * @param totalNanos from writing the request to the end of the body
   * @param events {@code data:} lines before {@code data: [DONE]}
   * @param head the first bytes of the body, to show when the answer is not a stream
   * @param firstBodyByteNanos from writing the request to the first byte of the body; -1 if none (for
   *     a binary stream such as Bedrock's event stream, which has no {@code data:} lines)
   */
  record Answer(int status, String contentType, long firstDataNanos, long totalNanos, int events, boolean done, String head,
      long firstBodyByteNanos) {}

  private final URI uri;
  private final byte[] requestHead;
  private Socket socket;
  private InputStream in;
  private OutputStream out;

  SseClient(URI uri, String authorization) {
    this.uri = uri;
    var head = new StringBuilder()
        .append("POST ").append(uri.getRawPath()).append(uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery()).append(" HTTP/1.1\r\n")
        .append("Host: ").append(uri.getHost()).append(':').append(uri.getPort()).append("\r\n")
        .append("Content-Type: application/json\r\n")
        .append("Accept: text/event-stream\r\n");
    if (authorization != null) {
      head.append("Authorization: ").append(authorization).append("\r\n");
    }
    requestHead = head.toString().getBytes(StandardCharsets.US_ASCII);
  }

  Answer post(byte[] body) throws IOException {
    if (socket == null) {
      socket = new Socket(uri.getHost(), uri.getPort());
      socket.setTcpNoDelay(true);
      socket.setSoTimeout(30_000);
      in = new BufferedInputStream(socket.getInputStream(), 16 * 1024);
      out = socket.getOutputStream();
    }
    var request = new ByteArrayOutputStream(requestHead.length + body.length + 32);
    request.writeBytes(requestHead);
    request.writeBytes(("Content-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
    request.writeBytes(body);

    long start = System.nanoTime();
    out.write(request.toByteArray()); // one write: headers and body in one segment
    out.flush();

    String statusLine = line();
    int status = Integer.parseInt(statusLine.split(" ", 3)[1]);
    String contentType = "(none)";
    long contentLength = -1;
    boolean chunked = false;
    boolean close = false;
    for (String header = line(); !header.isEmpty(); header = line()) {
      int colon = header.indexOf(':');
      String name = header.substring(0, colon).trim().toLowerCase(Locale.ROOT);
      String value = header.substring(colon + 1).trim();
      switch (name) {
        case "content-type" -> contentType = value;
        case "content-length" -> contentLength = Long.parseLong(value);
        case "transfer-encoding" -> chunked = value.toLowerCase(Locale.ROOT).contains("chunked");
        case "connection" -> close = value.equalsIgnoreCase("close");
        default -> {}
      }
    }

    var events = new EventScanner(start);
    if (chunked) {
      for (long size = Long.parseLong(line().split(";", 2)[0].trim(), 16); size > 0; size = Long.parseLong(line().split(";", 2)[0].trim(), 16)) {
        events.feed(in, size);
        line(); // the CRLF after each chunk
      }
      while (!line().isEmpty()) {} // trailers
    } else if (contentLength >= 0) {
      events.feed(in, contentLength);
    } else {
      events.feed(in, Long.MAX_VALUE);
      close = true;
    }
    long total = System.nanoTime() - start;
    if (close) {
      close();
    }
    return new Answer(status, contentType, events.firstData, total, events.count, events.done, events.head(), events.firstByte);
  }

  /** Scans the body for SSE lines as bytes arrive; keeps its first bytes for a report. */
  private static final class EventScanner {
    private final long start;
    private final ByteArrayOutputStream current = new ByteArrayOutputStream();
    private final ByteArrayOutputStream head = new ByteArrayOutputStream();
    long firstData = -1;
    long firstByte = -1;
    int count;
    boolean done;

    EventScanner(long start) {
      this.start = start;
    }

    void feed(InputStream in, long size) throws IOException {
      for (long i = 0; i < size; i++) {
        int b = in.read();
        if (b < 0) {
          if (size == Long.MAX_VALUE) {
            return;
          }
          throw new EOFException("the body ended early");
        }
        if (firstByte < 0) {
          firstByte = System.nanoTime() - start;
        }
        if (head.size() < 300) {
          head.write(b);
        }
        if (b != '\n') {
          current.write(b);
          continue;
        }
        String line = current.toString(StandardCharsets.UTF_8).strip();
        current.reset();
        if (!line.startsWith("data:") || done) {
          continue;
        }
        if (line.substring(5).strip().equals("[DONE]")) {
          done = true;
        } else if (count++ == 0) {
          firstData = System.nanoTime() - start;
        }
      }
    }

    String head() {
      String text = head.toString(StandardCharsets.UTF_8).replace('\n', ' ').strip();
      return text.isEmpty() ? "(empty body)" : text;
    }
  }

  private String line() throws IOException {
    var bytes = new ByteArrayOutputStream(64);
    for (int b = in.read(); b != '\n'; b = in.read()) {
      if (b < 0) {
        throw new EOFException("the connection closed in the middle of an answer");
      }
      if (b != '\r') {
        bytes.write(b);
      }
    }
    return bytes.toString(StandardCharsets.ISO_8859_1);
  }

  @Override
  public void close() throws IOException {
    if (socket != null) {
      socket.close();
      socket = null;
    }
  }
}

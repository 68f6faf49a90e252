package aigw.local;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/** Reads HTTP/1.1 answers off a raw socket, for tests that write requests byte by byte. */
final class RawHttp {
  private RawHttp() {}

  /** An answer's status line and headers, through the blank line; an {@link IOException} if the connection closes first. */
  static String readHead(InputStream in) throws IOException {
    var head = new ByteArrayOutputStream();
    while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) {
        throw new IOException("the connection closed after: " + head);
      }
      head.write(b);
    }
    return head.toString(StandardCharsets.ISO_8859_1);
  }

  /** One answer with a Content-Length: its head and its body, read to the body's last byte. */
  static String readAnswer(InputStream in) throws IOException {
    String head = readHead(in);
    int length = Integer.parseInt(head.replaceAll("(?is).*\r\ncontent-length: *(\\d+).*", "$1"));
    return head + new String(in.readNBytes(length), StandardCharsets.UTF_8);
  }
}

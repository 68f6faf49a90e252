package aigw.core.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A loopback provider stand-in for streams, driven step by step by the test: it answers each request
 * only when told, sends each event when told (so a test can hold the last one and check what the
 * client already received), can die in the middle (the socket closed without the end of the chunked
 * body), and tells whether the client closed its connection. Plain HTTP/1.1 over a socket, so that
 * every byte and every close is the test's to decide; one request per connection.
 *
 * <pre>{@code
 * try (var upstream = StreamingUpstream.start()) {
 *   // point a deployment at upstream.baseUrl() (ends in /v1), send a request, then:
 *   var exchange = upstream.awaitRequest();
 *   exchange.startStream();
 *   exchange.sendEvent("{\"choices\":[...]}");
 *   exchange.sendEvent("[DONE]");
 *   exchange.finish();
 * }
 * }</pre>
 */
public final class StreamingUpstream implements AutoCloseable {
  private static final Duration WAIT = Duration.ofSeconds(10);

  private final ServerSocket server;
  private final BlockingQueue<Exchange> exchanges = new LinkedBlockingQueue<>();
  private final Thread acceptor;

  private StreamingUpstream(ServerSocket server) {
    this.server = server;
    this.acceptor = Thread.ofPlatform().daemon().name("streaming-upstream").start(this::acceptAll);
  }

  public static StreamingUpstream start() {
    try {
      return new StreamingUpstream(new ServerSocket(0, 50, InetAddress.getLoopbackAddress()));
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The OpenAI-style base URL, e.g. {@code http://127.0.0.1:40123/v1}. */
  public String baseUrl() {
    return "http://127.0.0.1:" + server.getLocalPort() + "/v1";
  }

  /** The next request that arrived (waiting up to 10 s for it). */
  public Exchange awaitRequest() {
    try {
      Exchange next = exchanges.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
      if (next == null) {
        throw new AssertionError("no request reached the upstream within " + WAIT);
      }
      return next;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  /** True when no further request arrived within {@code wait}. */
  public boolean noRequestWithin(Duration wait) throws InterruptedException {
    return exchanges.poll(wait.toMillis(), TimeUnit.MILLISECONDS) == null;
  }

  private void acceptAll() {
    while (!server.isClosed()) {
      try {
        Socket socket = server.accept();
        exchanges.add(Exchange.read(socket));
      } catch (IOException closedOrBroken) {
        // closed: the loop ends; a broken request: ignored
      }
    }
  }

  @Override
  public void close() {
    try {
      server.close();
      acceptor.join(1000);
    } catch (IOException | InterruptedException ignored) {
      // best effort for a test stand-in
    }
  }

  /** One request and its answer, written when the test says so. */
  public static final class Exchange {
    private final Socket socket;
    private final OutputStream out;
    private final String requestLine;
    private final Map<String, String> headers;
    private final byte[] body;
    private final CountDownLatch clientClosed = new CountDownLatch(1);

    private Exchange(Socket socket, String requestLine, Map<String, String> headers, byte[] body) throws IOException {
      this.socket = socket;
      this.out = socket.getOutputStream();
      this.requestLine = requestLine;
      this.headers = headers;
      this.body = body;
      InputStream in = socket.getInputStream();
      // The whole request was read: the next thing the client's side of the socket can do is close.
      Thread.ofPlatform().daemon().name("streaming-upstream-watch").start(() -> {
        try {
          while (in.read() != -1) {
            // a client sends nothing more on a one-request connection
          }
        } catch (IOException resetOrClosed) {
          // counts as closed
        }
        clientClosed.countDown();
      });
    }

    static Exchange read(Socket socket) throws IOException {
      InputStream in = socket.getInputStream();
      String requestLine = line(in);
      var headers = new LinkedHashMap<String, String>();
      String header;
      while (!(header = line(in)).isEmpty()) {
        int colon = header.indexOf(':');
        headers.put(header.substring(0, colon).trim().toLowerCase(Locale.ROOT), header.substring(colon + 1).trim());
      }
      int length = Integer.parseInt(headers.getOrDefault("content-length", "0"));
      return new Exchange(socket, requestLine, headers, in.readNBytes(length));
    }

    private static String line(InputStream in) throws IOException {
      var line = new ByteArrayOutputStream();
      int b;
      while ((b = in.read()) != -1 && b != '\n') {
        if (b != '\r') {
          line.write(b);
        }
      }
      return line.toString(StandardCharsets.ISO_8859_1);
    }

    /** e.g. {@code POST /v1/chat/completions HTTP/1.1} */
    public String requestLine() {
      return requestLine;
    }

    /** A request header (name in any case), or null. */
    public String header(String name) {
      return headers.get(name.toLowerCase(Locale.ROOT));
    }

    public String body() {
      return new String(body, StandardCharsets.UTF_8);
    }

    /** Answers 200 with {@code text/event-stream} and a chunked body; events follow. */
    public void startStream() {
      write(("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
          .getBytes(StandardCharsets.ISO_8859_1));
    }

    /** Answers a whole response ({@code Content-Type: application/json}) and closes. */
    public void respond(int status, Map<String, String> extraHeaders, String json) {
      byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
      var head = new StringBuilder("HTTP/1.1 " + status + " Status\r\nContent-Type: application/json\r\nContent-Length: " + bytes.length + "\r\nConnection: close\r\n");
      extraHeaders.forEach((name, value) -> head.append(name).append(": ").append(value).append("\r\n"));
      write(head.append("\r\n").toString().getBytes(StandardCharsets.ISO_8859_1));
      write(bytes);
      closeQuietly();
    }

    /** Sends {@code data: <data>} and a blank line, as one chunk. */
    public void sendEvent(String data) {
      sendRaw("data: " + data + "\n\n");
    }

    /** Sends {@code text} as one chunk of the body. */
    public void sendRaw(String text) {
      byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
      write((Integer.toHexString(bytes.length) + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
      write(bytes);
      write("\r\n".getBytes(StandardCharsets.ISO_8859_1));
    }

    /**
     * Ends the chunked body properly and closes. The client may already have closed: a gateway
     * stops reading at {@code [DONE]} and ends the call, which can come before this last chunk.
     */
    public void finish() {
      try {
        out.write("0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
      } catch (IOException clientDoneAlready) {
        // nothing was lost: the body's events were all written before
      }
      closeQuietly();
    }

    /** The provider closes its connection (FIN, not a reset) in the middle of the body, without its last chunk. */
    public void hangUp() {
      closeQuietly();
    }

    /** The provider dies: the connection is reset in the middle of the body. */
    public void die() {
      try {
        socket.setSoLinger(true, 0); // RST instead of FIN
      } catch (IOException ignored) {
        // closing still ends it
      }
      closeQuietly();
    }

    /** True once the client closed (or reset) its connection, waiting up to {@code wait}. */
    public boolean awaitClientClosed(Duration wait) throws InterruptedException {
      return clientClosed.await(wait.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void write(byte[] bytes) {
      try {
        out.write(bytes);
        out.flush();
      } catch (IOException e) {
        throw new AssertionError("the client is gone: " + e, e);
      }
    }

    private void closeQuietly() {
      try {
        socket.close();
      } catch (IOException ignored) {
        // closed either way
      }
    }
  }
}

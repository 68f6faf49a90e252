package aigw.bench;

import aigw.core.providers.http.UpstreamCall;
import aigw.core.providers.http.UpstreamHttp;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.BufferedInputStream;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.HttpURLConnection;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.Executors;

/**
 * Session 15's transport experiment (issue 14): the CPU a provider call costs the gateway's process
 * with the JDK HttpClient (its selector thread writes and reads, the worker waits) against a
 * blocking HTTP/1.1 transport on the worker thread. A driver JVM runs the bench's stub and the
 * load; a front JVM (the JDK HttpServer, 32 worker threads, as the gateway hands each model call to
 * a worker) forwards each request to the stub by one transport, chosen by the request's path:
 * {@code upstream} (the gateway's own {@link UpstreamHttp} over {@link UpstreamHttp#defaultHttpClient()}),
 * {@code client} (that HttpClient alone, byte array / input stream), {@code huc} (the JDK's
 * HttpURLConnection, kept connections), {@code raw} (a minimal blocking HTTP/1.1 client on a
 * socket: the floor of a blocking transport; it sends a request again on a new connection when a
 * kept one turns out closed, which a gateway must never do with a POST), {@code jetty} (session 16:
 * Jetty 12's own HttpClient, which aigw-local.jar already carries, HTTP/1.1 with kept connections;
 * the worker blocks on the answer's future or reads the body as an input stream). The front's process CPU
 * and context switches are read before and after each run; the transports run in turns, and each
 * round turns their order. Not part of {@link Bench}: the figures are in docs/architecture.md
 * ("Session 15 (transport15)", "Session 16 (transport16)").
 *
 * <p>{@code java -cp aigw-local.jar:aigw-bench.jar aigw.bench.TransportBench [--requests N]
 * [--streams N] [--rounds N] [--modes upstream,jetty,...]}
 */
public final class TransportBench {
  private static final byte[] CHAT = Bench.CHAT; // the same requests as the gateway's bench
  private static final byte[] STREAMED_CHAT = Bench.STREAMED_CHAT;
  private static final Map<String, String> HEADERS =
      Map.of("Content-Type", "application/json", "Authorization", "Bearer sk-bench-provider-key-not-a-secret");

  private TransportBench() {}

  public static void main(String[] args) throws Exception {
    if (args.length > 0 && args[0].equals("front")) {
      front(URI.create(args[1]));
      return;
    }
    int requests = 6000;
    int streams = 1000;
    int rounds = 3;
    List<String> modes = new ArrayList<>(List.of("upstream", "huc", "raw", "client", "jetty"));
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--requests" -> requests = Integer.parseInt(args[++i]);
        case "--streams" -> streams = Integer.parseInt(args[++i]);
        case "--rounds" -> rounds = Integer.parseInt(args[++i]);
        case "--modes" -> modes = List.of(args[++i].split(","));
        default -> throw new IllegalArgumentException(args[i]);
      }
    }
    try (var stub = new StubProvider()) {
      String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
      Process front = new ProcessBuilder(javaBin, "-cp", System.getProperty("java.class.path"), TransportBench.class.getName(), "front", stub.baseUrl())
          .redirectError(ProcessBuilder.Redirect.INHERIT).start();
      try {
        var lines = new BufferedReader(new InputStreamReader(front.getInputStream(), StandardCharsets.UTF_8));
        int port = Integer.parseInt(lines.readLine().strip());
        String base = "http://127.0.0.1:" + port;
        URI direct = URI.create(stub.baseUrl() + "/v1/chat/completions");
        System.out.println("warm-up");
        for (String mode : modes) {
          for (int w = 0; w < 4; w++) {
            LoadRun.run(URI.create(base + "/" + mode + "/whole"), null, CHAT, 16, 1000);
            LoadRun.run(URI.create(base + "/" + mode + "/stream"), null, STREAMED_CHAT, 16, 150);
          }
        }
        for (int w = 0; w < 3; w++) {
          LoadRun.run(direct, null, CHAT, 16, 1000);
        }
        for (int round = 0; round < rounds; round++) {
          System.out.println("round " + (round + 1) + ", load " + load());
          // Each round turns the order, so no transport always runs first or after the same one.
          List<String> order = new ArrayList<>(modes);
          java.util.Collections.rotate(order, -round);
          for (int conns : new int[] {16, 1}) {
            int perConn = conns == 16 ? requests / 16 : requests / 4;
            LoadRun.Result floor = LoadRun.run(direct, null, CHAT, conns, perConn);
            System.out.printf(Locale.ROOT, "  direct  whole  %2d conn: %6.0f req/s p50 %.3f p99 %.3f ms%n", conns, floor.requestsPerSecond(),
                floor.percentileMillis(50), floor.percentileMillis(99));
            for (String mode : order) {
              measure(base, mode, "whole", CHAT, conns, perConn, floor);
            }
          }
          int perConn = streams / 16;
          LoadRun.Result floor = LoadRun.run(direct, null, STREAMED_CHAT, 16, perConn);
          System.out.printf(Locale.ROOT, "  direct  stream 16 conn: %6.0f /s p50 %.3f p99 %.3f ms%n", floor.requestsPerSecond(),
              floor.percentileMillis(50), floor.percentileMillis(99));
          for (String mode : order) {
            measure(base, mode, "stream", STREAMED_CHAT, 16, perConn, floor);
          }
          LoadRun.Result floor1 = LoadRun.run(direct, null, STREAMED_CHAT, 1, streams / 4);
          for (String mode : order) {
            measure(base, mode, "stream", STREAMED_CHAT, 1, streams / 4, floor1);
          }
        }
      } finally {
        front.destroy();
      }
    }
  }

  private static void measure(String base, String mode, String kind, byte[] body, int conns, int perConn, LoadRun.Result floor) throws Exception {
    URI uri = URI.create(base + "/" + mode + "/" + kind);
    // A tenth of the run first, not measured: the front idled through the floor's run (or another
    // transport's), and session 16's runs showed whichever transport came first after the floor
    // paying 70-100 us a request more at 16 connections than in a round where it came later.
    LoadRun.run(uri, null, body, conns, Math.max(1, perConn / 10));
    long[] before = cpu(base);
    LoadRun.Result result = LoadRun.run(uri, null, body, conns, perConn);
    long[] after = cpu(base);
    double n = result.requests();
    System.out.printf(Locale.ROOT, "  %-8s %-6s %2d conn: %6.0f req/s  front CPU %6.1f us/req  switches %5.2f/req  p50 %.3f (+%.3f) p99 %.3f (+%.3f) ms  load %s%n",
        mode, kind, conns, result.requestsPerSecond(), (after[0] - before[0]) / 1e3 / n, (after[1] - before[1]) / n,
        result.percentileMillis(50), result.percentileMillis(50) - floor.percentileMillis(50),
        result.percentileMillis(99), result.percentileMillis(99) - floor.percentileMillis(99), load());
  }

  private static String load() throws IOException {
    return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
  }

  private static long[] cpu(String base) throws Exception {
    try (var client = HttpClient.newHttpClient()) {
      String[] parts = client.send(HttpRequest.newBuilder(URI.create(base + "/cpu")).build(), HttpResponse.BodyHandlers.ofString()).body().split(" ");
      return new long[] {Long.parseLong(parts[0]), Long.parseLong(parts[1])};
    }
  }

  // ---- the front ----

  private static void front(URI stub) throws IOException {
    System.setProperty("http.maxConnections", "64"); // kept connections per destination (default 5)
    System.setProperty("sun.net.http.retryPost", "false");
    URI chat = URI.create(stub + "/v1/chat/completions");
    var upstream = new UpstreamHttp(UpstreamHttp.defaultHttpClient());
    HttpClient client = UpstreamHttp.defaultHttpClient();
    var raw = new RawHttp();
    org.eclipse.jetty.client.HttpClient jetty = jettyClient(-1);
    org.eclipse.jetty.client.HttpClient jetty0 = jettyClient(0);
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 512);
    server.setExecutor(Executors.newFixedThreadPool(32, Thread.ofPlatform().daemon(true).name("aigw-http-", 0).factory()));
    var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    server.createContext("/cpu", exchange -> {
      try (exchange) {
        byte[] answer = (os.getProcessCpuTime() + " " + switches()).getBytes(StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(200, answer.length);
        exchange.getResponseBody().write(answer);
      }
    });
    server.createContext("/", exchange -> {
      try (exchange) {
        String[] path = exchange.getRequestURI().getPath().split("/");
        String mode = path[1];
        boolean stream = path[2].equals("stream");
        byte[] body = exchange.getRequestBody().readAllBytes();
        var call = new UpstreamCall("bench-model", chat, HEADERS, body, Duration.ofSeconds(30), List.of());
        try {
          if (!stream) {
            byte[] answer = switch (mode) {
              case "upstream" -> upstream.exchange(call).body();
              case "client" -> client.send(request(call), HttpResponse.BodyHandlers.ofByteArray()).body();
              case "huc" -> huc(call, false).readAllBytes();
              case "raw" -> raw.send(call).readAllBytes();
              case "jetty" -> jettyWhole(jetty, call);
              case "jetty0" -> jettyWhole(jetty0, call);
              default -> throw new IllegalArgumentException(mode);
            };
            exchange.getResponseHeaders().set("Content-Type", "application/json");
            exchange.sendResponseHeaders(200, answer.length);
            exchange.getResponseBody().write(answer);
          } else {
            UpstreamHttp.OpenReply reply = null;
            InputStream in = switch (mode) {
              case "upstream" -> (reply = upstream.open(call)).body();
              case "client" -> client.send(request(call), HttpResponse.BodyHandlers.ofInputStream()).body();
              case "huc" -> huc(call, true);
              case "raw" -> raw.send(call);
              case "jetty" -> jettyStream(jetty, call);
              case "jetty0" -> jettyStream(jetty0, call);
              default -> throw new IllegalArgumentException(mode);
            };
            exchange.getResponseHeaders().set("Content-Type", "text/event-stream");
            exchange.sendResponseHeaders(200, 0);
            OutputStream out = exchange.getResponseBody();
            byte[] buffer = new byte[8192];
            for (int read; (read = in.read(buffer)) >= 0; ) { // relayed as it comes, as the gateway does
              out.write(buffer, 0, read);
              out.flush();
            }
            if (reply != null) {
              reply.closeAtEnd();
            } else {
              in.close();
            }
          }
        } catch (Exception failed) {
          failed.printStackTrace();
          exchange.sendResponseHeaders(502, -1);
        }
      }
    });
    server.start();
    System.out.println(server.getAddress().getPort());
    System.out.flush();
  }

  private static HttpRequest request(UpstreamCall call) {
    var builder = HttpRequest.newBuilder(call.uri()).POST(HttpRequest.BodyPublishers.ofByteArray(call.body())).version(HttpClient.Version.HTTP_1_1);
    call.headers().forEach(builder::header);
    return builder.build();
  }

  /**
   * Jetty 12's own HttpClient (jetty-client, which DynamoDB Local already brings into aigw-local.jar) as
   * a gateway would set it up: HTTP/1.1 only, kept connections (64 a destination, as the JDK client
   * has no limit and the front has 32 workers), no redirects, no content decoders (the JDK client sends
   * no Accept-Encoding either), no User-Agent, the JDK client's connect timeout. {@code
   * reservedThreads}: the pool's (-1, Jetty's default, lets the selector hand its selecting to a
   * reserved thread and run a read itself; 0, mode {@code jetty0}, hands each read to a pool thread).
   */
  private static org.eclipse.jetty.client.HttpClient jettyClient(int reservedThreads) {
    var pool = new org.eclipse.jetty.util.thread.QueuedThreadPool(64, 4);
    pool.setReservedThreads(reservedThreads);
    pool.setName("jetty-client");
    pool.setDaemon(true);
    var jetty = new org.eclipse.jetty.client.HttpClient(new org.eclipse.jetty.client.transport.HttpClientTransportOverHTTP(1));
    jetty.setExecutor(pool);
    jetty.setFollowRedirects(false);
    jetty.setMaxConnectionsPerDestination(64);
    jetty.setMaxRequestsQueuedPerDestination(4096);
    jetty.setConnectTimeout(UpstreamHttp.CONNECT_TIMEOUT.toMillis());
    jetty.setIdleTimeout(30_000);
    jetty.setUserAgentField(null);
    jetty.getContentDecoderFactories().clear();
    try {
      jetty.start();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
    return jetty;
  }

  private static org.eclipse.jetty.client.Request jettyRequest(org.eclipse.jetty.client.HttpClient jetty, UpstreamCall call) {
    return jetty.newRequest(call.uri()).method("POST").version(org.eclipse.jetty.http.HttpVersion.HTTP_1_1)
        .timeout(call.timeout().toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)
        .headers(headers -> call.headers().forEach(headers::put))
        .body(new org.eclipse.jetty.client.BytesRequestContent(call.headers().get("Content-Type"), call.body()));
  }

  /** A whole answer over Jetty's client: the blocking {@code send}, body buffered (up to 64 MiB, the gateway's bound). */
  private static byte[] jettyWhole(org.eclipse.jetty.client.HttpClient jetty, UpstreamCall call) throws Exception {
    var listener = new org.eclipse.jetty.client.CompletableResponseListener(jettyRequest(jetty, call), UpstreamHttp.DEFAULT_MAX_ANSWER_BYTES);
    return listener.send().get().getContent();
  }

  /** A stream over Jetty's client: the body as an InputStream, read by the worker as it comes. */
  private static InputStream jettyStream(org.eclipse.jetty.client.HttpClient jetty, UpstreamCall call) throws Exception {
    var listener = new org.eclipse.jetty.client.InputStreamResponseListener();
    jettyRequest(jetty, call).send(listener);
    listener.get(call.timeout().toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
    return listener.getInputStream();
  }

  /** A call over HttpURLConnection (kept connections); the body stream. */
  private static InputStream huc(UpstreamCall call, boolean stream) throws IOException {
    var connection = (HttpURLConnection) call.uri().toURL().openConnection(Proxy.NO_PROXY);
    connection.setRequestMethod("POST");
    connection.setDoOutput(true);
    connection.setUseCaches(false);
    connection.setInstanceFollowRedirects(false);
    connection.setConnectTimeout(10_000);
    connection.setReadTimeout((int) call.timeout().toMillis());
    connection.setFixedLengthStreamingMode(call.body().length);
    call.headers().forEach(connection::setRequestProperty);
    try (OutputStream out = connection.getOutputStream()) {
      out.write(call.body());
    }
    int status = connection.getResponseCode();
    return status >= 400 ? connection.getErrorStream() : connection.getInputStream();
  }

  private static long switches() {
    long total = 0;
    try (var tasks = Files.list(Path.of("/proc/self/task"))) {
      for (Path task : (Iterable<Path>) tasks::iterator) {
        try {
          for (String line : Files.readAllLines(task.resolve("status"))) {
            if (line.startsWith("voluntary_ctxt_switches:") || line.startsWith("nonvoluntary_ctxt_switches:")) {
              total += Long.parseLong(line.substring(line.indexOf(':') + 1).strip());
            }
          }
        } catch (IOException | RuntimeException ended) {
          // the thread ended while it was read
        }
      }
    } catch (IOException notLinux) {
      return 0;
    }
    return total;
  }

  /**
   * The floor of a blocking HTTP/1.1 transport: kept sockets to one destination, the request in one
   * write, status line and headers parsed by hand, a body framed by Content-Length or chunked.
   */
  private static final class RawHttp {
    private final ConcurrentLinkedDeque<Connection> idle = new ConcurrentLinkedDeque<>();

    private final class Connection {
      final Socket socket;
      final InputStream in;
      final OutputStream out;

      Connection(URI uri) throws IOException {
        socket = new Socket();
        socket.setTcpNoDelay(true);
        socket.connect(new InetSocketAddress(uri.getHost(), uri.getPort()), 10_000);
        in = new BufferedInputStream(socket.getInputStream(), 16 * 1024);
        out = socket.getOutputStream();
      }

      void release() {
        idle.offerFirst(this);
      }

      void close() {
        try {
          socket.close();
        } catch (IOException ignored) {
          // closing is all
        }
      }
    }

    InputStream send(UpstreamCall call) throws IOException {
      Connection kept = idle.pollFirst();
      if (kept != null) {
        try {
          return send(call, kept);
        } catch (IOException stale) {
          // The stub closes idle connections: the harness sends again on a new one (a gateway could not, for a POST).
          kept.close();
        }
      }
      return send(call, new Connection(call.uri()));
    }

    private InputStream send(UpstreamCall call, Connection connection) throws IOException {
      URI uri = call.uri();
      var head = new StringBuilder(256).append("POST ").append(uri.getRawPath()).append(" HTTP/1.1\r\nHost: ")
          .append(uri.getHost()).append(':').append(uri.getPort()).append("\r\nContent-Length: ").append(call.body().length).append("\r\n");
      call.headers().forEach((name, value) -> head.append(name).append(": ").append(value).append("\r\n"));
      head.append("\r\n");
      byte[] headBytes = head.toString().getBytes(StandardCharsets.ISO_8859_1);
      byte[] request = new byte[headBytes.length + call.body().length];
      System.arraycopy(headBytes, 0, request, 0, headBytes.length);
      System.arraycopy(call.body(), 0, request, headBytes.length, call.body().length);
      connection.socket.setSoTimeout((int) call.timeout().toMillis());
      connection.out.write(request);
      String status = line(connection.in);
      long length = -1;
      boolean chunked = false;
      for (String header; !(header = line(connection.in)).isEmpty(); ) {
        int colon = header.indexOf(':');
        String name = header.substring(0, colon).strip();
        if (name.equalsIgnoreCase("content-length")) {
          length = Long.parseLong(header.substring(colon + 1).strip());
        } else if (name.equalsIgnoreCase("transfer-encoding")) {
          chunked = header.substring(colon + 1).strip().equalsIgnoreCase("chunked");
        }
      }
      if (!status.startsWith("HTTP/1.1 2")) {
        throw new IOException(status);
      }
      return chunked ? new Chunked(connection) : new Sized(connection, length);
    }

    private static String line(InputStream in) throws IOException {
      var line = new StringBuilder(64);
      for (int b; (b = in.read()) != '\n'; ) {
        if (b < 0) {
          throw new IOException("connection closed");
        }
        if (b != '\r') {
          line.append((char) b);
        }
      }
      return line.toString();
    }

    private static final class Sized extends InputStream {
      private final Connection connection;
      private long left;

      Sized(Connection connection, long length) {
        this.connection = connection;
        this.left = length;
      }

      @Override
      public int read() throws IOException {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
      }

      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        if (left == 0) {
          return -1;
        }
        int read = connection.in.read(b, off, (int) Math.min(len, left));
        if (read < 0) {
          throw new IOException("connection closed");
        }
        left -= read;
        if (left == 0) {
          connection.release();
        }
        return read;
      }
    }

    private static final class Chunked extends InputStream {
      private final Connection connection;
      private long left;
      private boolean ended;

      Chunked(Connection connection) {
        this.connection = connection;
      }

      @Override
      public int read() throws IOException {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
      }

      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        if (ended) {
          return -1;
        }
        if (left == 0) {
          String size = line(connection.in);
          int semicolon = size.indexOf(';');
          left = Long.parseLong(semicolon < 0 ? size.strip() : size.substring(0, semicolon).strip(), 16);
          if (left == 0) {
            while (!line(connection.in).isEmpty()) {
              // trailers
            }
            ended = true;
            connection.release();
            return -1;
          }
        }
        int read = connection.in.read(b, off, (int) Math.min(len, left));
        if (read < 0) {
          throw new IOException("connection closed");
        }
        left -= read;
        if (left == 0) {
          line(connection.in); // the chunk's CRLF
        }
        return read;
      }
    }
  }
}

package aigw.local;

import aigw.core.errors.BadRequest;
import aigw.core.errors.ErrorEnvelope;
import aigw.core.errors.PayloadTooLarge;
import aigw.core.http.GatewayApplication;
import aigw.core.http.GatewayRequest;
import aigw.core.http.GatewayResponse;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The local gateway's HTTP transport: a JDK {@link HttpServer} that serves a {@link
 * GatewayApplication} directly. Each exchange becomes a {@link GatewayRequest} (the raw, still
 * %-encoded path as API Gateway REST passes it; header names lower-cased and query parameters
 * form-decoded, the first value of each, as the API Gateway adapter gives them); the application's
 * {@link GatewayResponse} is written back, a buffered one with {@code Content-Length}, a streaming
 * one with chunked transfer encoding, one chunk per {@code flush()} of its body.
 *
 * <p>Clients that hold connections cannot lock out others ({@link ServerLimits}, issue 15 finding 2):
 * the JDK server reads each request's line and headers on the thread of its executor, so that
 * executor makes a virtual thread per exchange, and a stalled request costs a parked virtual thread,
 * never a worker. The request is read there (headers and body, closed by the JDK server after
 * {@link ServerLimits#requestTimeout()}); only then does the application run, on one of {@link
 * #WORKER_THREADS} platform workers. Every write of an answer is bounded by {@link StalledWrites}, and
 * idle connections and the number of connections by the JDK server ({@link #applyProcessWide}).
 */
final class LocalServer {
  /** API Gateway's own payload limit; larger bodies never reach a function there either. */
  static final int MAX_BODY_BYTES = 10 * 1024 * 1024;
  /**
   * The application runs on platform threads, not virtual ones: DynamoDB Local calls into SQLite
   * through JNI, which pins a virtual thread to its carrier, and two cores have only two carriers.
   * A streamed answer holds its thread until its last event, so at most this many streams run at
   * once. Reading requests does not take one (the class comment).
   */
  static final int WORKER_THREADS = 64;

  /** The limits the JDK server of this process was given; see {@link #applyProcessWide}. */
  private static ServerLimits processLimits;

  private static final Logger LOG = Logger.getLogger(LocalServer.class.getName());
  /** HTTP framing is this transport's: an application's own value for these would contradict it. */
  private static final java.util.Set<String> FRAMING_HEADERS = java.util.Set.of("content-length", "transfer-encoding");

  static {
    // Without TCP_NODELAY, Nagle's algorithm holds a small chunk of a stream (an SSE event is a few
    // hundred bytes) while an earlier segment is unacknowledged, and a client that delays its ACKs
    // (macOS and Windows do, by up to 100-200 ms) makes each event wait for the timer. Streaming
    // servers turn it off (Go's net/http, Netty and Tomcat do by default). The JDK server reads this
    // property once, when the first server of the process is created (sun.net.httpserver.ServerConfig);
    // an explicit setting is left alone.
    if (System.getProperty("sun.net.httpserver.nodelay") == null) {
      System.setProperty("sun.net.httpserver.nodelay", "true");
    }
  }

  private final HttpServer server;
  private final ExecutorService readers;
  private final ExecutorService workers;
  private final StalledWrites writes;
  private final GatewayApplication application;
  private final AllowedHosts hosts;

  private LocalServer(HttpServer server, ExecutorService readers, ExecutorService workers, StalledWrites writes, GatewayApplication application,
      AllowedHosts hosts) {
    this.server = server;
    this.readers = readers;
    this.workers = workers;
    this.writes = writes;
    this.application = application;
    this.hosts = hosts;
  }

  /** As below, with the default {@link ServerLimits} and no host names beyond addresses and localhost. */
  static LocalServer start(String host, int port, GatewayApplication application) throws IOException {
    return start(host, port, application, ServerLimits.DEFAULTS, AllowedHosts.of(null));
  }

  /**
   * Listens on {@code host:port} (port 0: any free port, see {@link #port()}) and serves {@code
   * application} on every path, to requests whose {@code Host} {@code hosts} allows. The
   * application's {@link GatewayApplication#cors() CORS policy} is also applied to the answers this
   * server gives by itself.
   */
  static LocalServer start(String host, int port, GatewayApplication application, ServerLimits limits, AllowedHosts hosts) throws IOException {
    applyProcessWide(limits);
    HttpServer server = HttpServer.create(new InetSocketAddress(host, port), 512);
    ExecutorService readers = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("aigw-http-read-", 0).factory());
    ExecutorService workers = Executors.newFixedThreadPool(WORKER_THREADS, Thread.ofPlatform().name("aigw-http-", 0).daemon(true).factory());
    var writes = new StalledWrites(limits.writeTimeout());
    var local = new LocalServer(server, readers, workers, writes, application, hosts);
    server.setExecutor(readers);
    server.createContext("/", local::handle);
    server.start();
    return local;
  }

  /**
   * Gives the JDK server the limits it enforces itself. They are system properties it reads once per
   * process, when its first server is created ({@code sun.net.httpserver.ServerConfig}), so the first
   * local server of a process decides them; a later one with other limits is warned about. In JDK 21
   * and 25 ({@code ServerImpl}): {@code maxReqTime} closes a connection whose request (line, headers,
   * body) is not read within it; a connection that sends no byte is closed after the smaller of it
   * and {@code idleInterval}; a kept-alive connection idle for {@code idleInterval} is closed;
   * {@code maxConnections} closes any connection accepted beyond it. {@code clockTick} and {@code
   * timerMillis} are how often those are checked (10 s and 1 s by default, made 1 s and 250 ms).
   * {@code maxRspTime} is left unset: it would bound a whole answer, long streams included ({@link
   * StalledWrites} bounds what a slow reader can hold instead).
   */
  /** The limits the JDK server of this process enforces; null before the first server. */
  static synchronized ServerLimits processLimits() {
    return processLimits;
  }

  static synchronized void applyProcessWide(ServerLimits limits) {
    if (processLimits != null) {
      if (!processLimits.equals(limits)) {
        LOG.warning("the HTTP server limits of this process were set by its first server (" + processLimits + "); " + limits + " is ignored"
            + " except for the write timeout");
      }
      return;
    }
    processLimits = limits;
    System.setProperty("sun.net.httpserver.maxReqTime", Long.toString(limits.requestTimeout().toSeconds()));
    System.setProperty("sun.net.httpserver.idleInterval", Long.toString(limits.idleTimeout().toSeconds()));
    System.setProperty("jdk.httpserver.maxConnections", Integer.toString(limits.maxConnections()));
    System.setProperty("sun.net.httpserver.clockTick", "1000");
    System.setProperty("sun.net.httpserver.timerMillis", "250");
  }

  int port() {
    return server.getAddress().getPort();
  }

  void stop() {
    server.stop(0);
    writes.close();
    readers.shutdownNow();
    workers.shutdownNow();
    try {
      workers.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * One exchange, on its virtual thread: the Host is checked and the body read here, so that a
   * client sending slowly holds no worker; the application then runs on a worker ({@link #serve}),
   * while this thread waits for it.
   *
   * <p>Answers of this server's own, all in the OpenAI error envelope made by {@link ErrorEnvelope}
   * like the application's: 400 for an HTTP/1.1 request without a Host or with a malformed one (RFC
   * 9112 section 3.2), 421 for a Host this server does not answer for ({@link AllowedHosts}; RFC 9110
   * section 15.5.20), 413 for a body over {@link #MAX_BODY_BYTES}, 400 for a body that cannot be read
   * (a broken chunked encoding, a short body), and 502 when the application itself fails (what API
   * Gateway answers for a function that crashed).
   *
   * <p>A streamed answer that fails after its headers went out (the client went away, or the body
   * threw) cannot change its status any more: the connection is closed without the last chunk, so
   * that the client sees a cut stream rather than one that looks complete ({@link StreamCut}). A
   * client that reads nothing for the write timeout has its connection closed the same way.
   *
   * <p>Not covered: requests the JDK server refuses before any handler runs (a malformed request
   * line or header name, an unsupported Transfer-Encoding, {@code OPTIONS *}) get its own short
   * HTML answer; API Gateway's front end refuses such requests with its own page too.
   */
  private void handle(HttpExchange exchange) throws IOException {
    boolean keepOpen = false;
    try {
      var hostLines = exchange.getRequestHeaders().get("Host");
      String host = hostLines == null || hostLines.isEmpty() ? null : hostLines.get(0);
      if (hostLines != null && hostLines.size() > 1
          || (host == null || host.isBlank() ? exchange.getProtocol().equalsIgnoreCase("HTTP/1.1") : AllowedHosts.nameOf(host) == null)) {
        sendOwn(exchange, ErrorEnvelope.response(new BadRequest(
            "An HTTP/1.1 request needs one Host header naming this server, e.g. 127.0.0.1:" + port() + " (RFC 9112 section 3.2).")));
        return;
      }
      if (host != null && !host.isBlank() && !hosts.allows(host)) {
        sendOwn(exchange, ErrorEnvelope.misdirected(host));
        return;
      }
      byte[] body;
      try {
        body = readBody(exchange.getRequestBody());
      } catch (IOException e) {
        // Also what a vanished client, or one closed for its request timeout, looks like; then the
        // answer below cannot be sent, which is fine.
        LOG.log(Level.FINE, "request body unreadable", e);
        sendOwn(exchange, ErrorEnvelope.response(
            new BadRequest("The request body could not be read (" + e.getMessage() + "); send it with a correct Content-Length or chunked encoding.")));
        return;
      }
      if (body == null) {
        sendOwn(exchange, ErrorEnvelope.response(new PayloadTooLarge(MAX_BODY_BYTES)));
        return;
      }
      keepOpen = true; // closed by serve, on its worker
      onWorker(exchange, body);
    } catch (StreamCut | StalledWrites.ClientStalled e) {
      keepOpen = true;
      throw e; // the JDK server closes the connection of a handler that throws (ServerImpl.Exchange.run)
    } catch (IOException e) {
      LOG.log(Level.FINE, "client went away", e);
    } finally {
      if (!keepOpen) {
        exchange.close();
      }
    }
  }

  /** Runs {@link #serve} on a worker and waits for it; its StreamCut is rethrown here, to the JDK server. */
  private void onWorker(HttpExchange exchange, byte[] body) throws IOException {
    java.util.concurrent.Future<?> served = workers.submit(() -> {
      serve(exchange, body);
      return null;
    });
    try {
      served.get();
    } catch (java.util.concurrent.ExecutionException e) {
      switch (e.getCause()) {
        case IOException io -> throw io;
        case RuntimeException runtime -> throw runtime;
        case Error error -> throw error;
        default -> throw new IOException(e.getCause());
      }
    } catch (InterruptedException e) {
      served.cancel(true); // the server is stopping
      Thread.currentThread().interrupt();
      throw new StreamCut(e);
    }
  }

  /** The application's answer to one request whose body is read, on a worker. */
  private void serve(HttpExchange exchange, byte[] body) throws IOException {
    boolean cut = false;
    try {
      GatewayRequest request = toRequest(exchange, body);
      GatewayResponse response;
      try {
        response = application.handle(request);
      } catch (RuntimeException | LinkageError | StackOverflowError e) {
        // The application answers its own failures; this is one it could not (on Lambda, a crashed invoke).
        LOG.log(Level.SEVERE, "handler failed", e);
        sendOwn(exchange, ErrorEnvelope.integrationFailure(request.requestId()));
        return;
      }
      send(exchange, request, response);
    } catch (StreamCut | StalledWrites.ClientStalled e) {
      cut = true;
      throw e;
    } catch (IOException e) {
      LOG.log(Level.FINE, "client went away", e);
    } catch (RuntimeException e) {
      LOG.log(Level.SEVERE, "local server failed", e);
      try {
        sendOwn(exchange, ErrorEnvelope.integrationFailure(null));
      } catch (IOException | RuntimeException ignored) {
        // headers already sent, or the client is gone: nothing more can be said
      }
    } finally {
      if (!cut) {
        exchange.close();
      }
    }
  }

  /** An answer of this server's own, with the CORS headers the application would have given it. */
  private void sendOwn(HttpExchange exchange, GatewayResponse response) throws IOException {
    var request = toRequest(exchange, null);
    send(exchange, request, application.cors().onResponse(request, response));
  }

  /**
   * The request as the application sees it. Header names are lower-cased with the first value of
   * each; the query is form-decoded ({@code +} is a space) with the first value of each name: what
   * {@link aigw.core.apigateway.ApiGatewayEvents#toRequest} gives for the same request on AWS.
   *
   * @param body the whole body; null for none
   */
  static GatewayRequest toRequest(HttpExchange exchange, byte[] body) {
    var headers = new HashMap<String, String>();
    exchange.getRequestHeaders().forEach((name, values) -> {
      if (!values.isEmpty()) {
        headers.put(name, values.get(0)); // the JDK server already merged repeated lines under one name
      }
    });
    var query = new LinkedHashMap<String, String>();
    String raw = exchange.getRequestURI().getRawQuery();
    if (raw != null && !raw.isEmpty()) {
      for (String pair : raw.split("&")) {
        if (pair.isEmpty()) {
          continue;
        }
        int eq = pair.indexOf('=');
        query.putIfAbsent(decode(eq < 0 ? pair : pair.substring(0, eq)), eq < 0 ? "" : decode(pair.substring(eq + 1)));
      }
    }
    // The path stays %-encoded, as API Gateway REST passes it: a model id with %2F in
    // /v1/models/{id} decodes once, in the application, the same here as on AWS.
    // The client's address, as API Gateway's requestContext.identity.sourceIp gives it (for the audit log).
    InetSocketAddress client = exchange.getRemoteAddress();
    String sourceIp = client == null || client.getAddress() == null ? null : client.getAddress().getHostAddress();
    return new GatewayRequest(
        exchange.getRequestMethod(), exchange.getRequestURI().getRawPath(), headers, query, body, UUID.randomUUID().toString(), sourceIp);
  }

  /**
   * The template's resource that matches the path, as API Gateway reports it: the proxy routes that
   * {@code template.yaml} declares, and the admin ones of {@link aigw.admin.AdminRoutes}
   * ({@code TemplateTest} holds the template to both).
   */
  static String resource(String path) {
    var prefixes = new java.util.ArrayList<>(java.util.List.of("/v1/", "/models/"));
    aigw.admin.AdminRoutes.RESOURCES.forEach(admin -> prefixes.add(admin.prefix() + "/"));
    for (String prefix : prefixes) {
      if (path.startsWith(prefix) && path.length() > prefix.length()) {
        return prefix + "{proxy+}";
      }
    }
    return path;
  }

  /**
   * A malformed %-escape never gets here: the JDK server refuses such a URI with its own 400, as
   * API Gateway refuses it before any function runs.
   */
  private static String decode(String text) {
    return URLDecoder.decode(text, StandardCharsets.UTF_8);
  }

  /** How much of a buffered body one write hands the socket: one wait of the write timeout at most. */
  private static final int WRITE_SLICE_BYTES = 64 * 1024;

  private static byte[] readBody(InputStream in) throws IOException {
    byte[] body = in.readNBytes(MAX_BODY_BYTES + 1);
    return body.length > MAX_BODY_BYTES ? null : body;
  }

  /**
   * Writes the answer. One without a body (HEAD, 204, 304, an empty buffered body) is sent with
   * length -1: the JDK server sends no body then, and warns ("being invoked with a content length
   * for a HEAD request") for any other length; a stream is then not run at all.
   *
   * <p>Every write to the client (headers, body, the last chunk) is bounded by {@link StalledWrites}.
   *
   * @throws StreamCut when a streamed body failed after the headers were sent
   * @throws StalledWrites.ClientStalled when the client read nothing for the write timeout
   */
  private void send(HttpExchange exchange, GatewayRequest request, GatewayResponse response) throws IOException {
    response.headers().forEach((name, value) -> {
      if (!FRAMING_HEADERS.contains(name.toLowerCase(java.util.Locale.ROOT))) {
        exchange.getResponseHeaders().set(name, value);
      }
    });
    int status = response.status();
    boolean bodyless = request.method().equals("HEAD") || status == 204 || status == 304;
    if (response.isStreaming() && !bodyless) {
      stream(exchange, request, response);
      return;
    }
    byte[] body = response.body();
    boolean noBody = bodyless || body.length == 0;
    writes.write(() -> exchange.sendResponseHeaders(status, noBody ? -1 : body.length));
    if (!noBody) {
      // Closed here, before the exchange: closing the exchange first drains the request body, and a
      // broken one (a bad chunk) would drop the connection before this answer is flushed. Written in
      // slices: the write timeout bounds one wait for the client, not a large body's whole transfer.
      try (OutputStream out = writes.guard(exchange.getResponseBody())) {
        for (int offset = 0; offset < body.length; offset += WRITE_SLICE_BYTES) {
          out.write(body, offset, Math.min(WRITE_SLICE_BYTES, body.length - offset));
        }
      }
    }
  }

  /**
   * Sends a streamed answer chunked (length 0 to {@code sendResponseHeaders}): the JDK's chunked
   * stream buffers up to 4 KiB and writes one chunk to the socket at each {@code flush()}, so every
   * event the body flushes reaches the client at once; the headers are sent before the body runs.
   * The last chunk is written only when the body
   * returned normally. When the client is already gone before the headers, the body still runs,
   * against a stream that fails its first write: that is how it learns to end and account for the
   * upstream call it may have started ({@link aigw.core.http.StreamingBody}'s contract).
   */
  private void stream(HttpExchange exchange, GatewayRequest request, GatewayResponse response) throws IOException {
    OutputStream chunked;
    try {
      writes.write(() -> exchange.sendResponseHeaders(response.status(), 0));
      chunked = writes.guard(exchange.getResponseBody());
      // The status and headers now, not with the first event (the JDK server holds them in its
      // buffer until then): the client knows at once that its answer is a stream.
      chunked.flush();
    } catch (StalledWrites.ClientStalled stalled) {
      throw stalled;
    } catch (IOException gone) {
      chunked = OutputStream.nullOutputStream();
      chunked.close(); // every write and flush now throws IOException("Stream closed")
    }
    var client = new ClientStream(chunked);
    try {
      response.stream().writeTo(client);
      client.flush();
    } catch (IOException e) {
      if (client.failure instanceof StalledWrites.ClientStalled stalled) {
        LOG.log(Level.FINE, GatewayApplication.loggablePath(request.path()) + " (" + request.requestId() + "): " + stalled.getMessage()
            + "; the connection is closed");
        throw new StreamCut(stalled);
      }
      if (client.failure != null) {
        LOG.log(Level.FINE, GatewayApplication.loggablePath(request.path()) + " (" + request.requestId() + "): the client went away mid-stream", e);
      } else {
        LOG.log(Level.WARNING, GatewayApplication.loggablePath(request.path()) + " (" + request.requestId() + ") failed mid-stream; the connection is closed", e);
      }
      throw new StreamCut(e);
    } catch (RuntimeException | LinkageError | StackOverflowError e) {
      LOG.log(Level.SEVERE, GatewayApplication.loggablePath(request.path()) + " (" + request.requestId() + ") failed mid-stream; the connection is closed", e);
      throw new StreamCut(e);
    }
    client.chunked.close(); // the last chunk: the answer is complete
  }

  /**
   * A streamed answer that cannot be completed: its status is sent, so the only honest end left is
   * to close the connection without the last chunk (a client then reports an incomplete body).
   * Thrown out of the exchange handler, never closing the exchange.
   */
  static final class StreamCut extends IOException {
    StreamCut(Throwable cause) {
      super(cause.getMessage(), cause);
    }
  }

  /**
   * The exchange's chunked body as a {@link aigw.core.http.StreamingBody} sees it: writes and
   * flushes go straight through; a failed one (the client went away) is remembered, to tell it from
   * the body's own failure; {@code close} only flushes, since ending the body is the server's.
   */
  private static final class ClientStream extends OutputStream {
    final OutputStream chunked;
    IOException failure;

    ClientStream(OutputStream chunked) {
      this.chunked = chunked;
    }

    @Override
    public void write(int b) throws IOException {
      try {
        chunked.write(b);
      } catch (IOException e) {
        throw failed(e);
      }
    }

    @Override
    public void write(byte[] bytes, int offset, int length) throws IOException {
      try {
        chunked.write(bytes, offset, length);
      } catch (IOException e) {
        throw failed(e);
      }
    }

    @Override
    public void flush() throws IOException {
      try {
        chunked.flush();
      } catch (IOException e) {
        throw failed(e);
      }
    }

    @Override
    public void close() throws IOException {
      flush();
    }

    private IOException failed(IOException e) {
      failure = e;
      return e;
    }
  }
}

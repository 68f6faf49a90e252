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
 */
final class LocalServer {
  /** API Gateway's own payload limit; larger bodies never reach a function there either. */
  static final int MAX_BODY_BYTES = 10 * 1024 * 1024;
  /**
   * Platform threads, not virtual ones: DynamoDB Local calls into SQLite through JNI, which pins a
   * virtual thread to its carrier, and two cores have only two carriers. A streamed answer holds
   * its thread until its last event, so at most this many streams run at once.
   */
  static final int WORKER_THREADS = 64;

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
  private final ExecutorService workers;

  private LocalServer(HttpServer server, ExecutorService workers) {
    this.server = server;
    this.workers = workers;
  }

  /**
   * Listens on {@code host:port} (port 0: any free port, see {@link #port()}) and serves {@code
   * application} on every path. The application's {@link GatewayApplication#cors() CORS policy} is
   * also applied to the answers this server gives by itself.
   */
  static LocalServer start(String host, int port, GatewayApplication application) throws IOException {
    HttpServer server = HttpServer.create(new InetSocketAddress(host, port), 512);
    ExecutorService workers = Executors.newFixedThreadPool(WORKER_THREADS, Thread.ofPlatform().name("aigw-http-", 0).daemon(true).factory());
    server.setExecutor(workers);
    server.createContext("/", exchange -> serve(exchange, application));
    server.start();
    return new LocalServer(server, workers);
  }

  int port() {
    return server.getAddress().getPort();
  }

  void stop() {
    server.stop(0);
    workers.shutdownNow();
    try {
      workers.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * One exchange. Every answer this server gives by itself is in the OpenAI error envelope, made by
   * {@link ErrorEnvelope} like the application's own: 413 for a body over {@link #MAX_BODY_BYTES},
   * 400 for a body that cannot be read (a broken chunked encoding, a short body), and 502 when the
   * application itself fails (what API Gateway answers for a function that crashed).
   *
   * <p>A streamed answer that fails after its headers went out (the client went away, or the body
   * threw) cannot change its status any more: the connection is closed without the last chunk, so
   * that the client sees a cut stream rather than one that looks complete ({@link StreamCut}).
   *
   * <p>Not covered: requests the JDK server refuses before any handler runs (a malformed request
   * line or header name, an unsupported Transfer-Encoding, {@code OPTIONS *}) get its own short
   * HTML answer; API Gateway's front end refuses such requests with its own page too.
   */
  private static void serve(HttpExchange exchange, GatewayApplication application) throws IOException {
    boolean cut = false;
    try {
      byte[] body;
      try {
        body = readBody(exchange.getRequestBody());
      } catch (IOException e) {
        // Also what a vanished client looks like; then the answer below cannot be sent, which is fine.
        LOG.log(Level.FINE, "request body unreadable", e);
        sendOwn(exchange, application, ErrorEnvelope.response(
            new BadRequest("The request body could not be read (" + e.getMessage() + "); send it with a correct Content-Length or chunked encoding.")));
        return;
      }
      if (body == null) {
        sendOwn(exchange, application, ErrorEnvelope.response(new PayloadTooLarge(MAX_BODY_BYTES)));
        return;
      }
      GatewayRequest request = toRequest(exchange, body);
      GatewayResponse response;
      try {
        response = application.handle(request);
      } catch (RuntimeException | LinkageError | StackOverflowError e) {
        // The application answers its own failures; this is one it could not (on Lambda, a crashed invoke).
        LOG.log(Level.SEVERE, "handler failed", e);
        sendOwn(exchange, application, ErrorEnvelope.integrationFailure(request.requestId()));
        return;
      }
      send(exchange, request, response);
    } catch (StreamCut e) {
      cut = true;
      throw e; // the JDK server closes the connection of a handler that throws (ServerImpl.Exchange.run)
    } catch (IOException e) {
      LOG.log(Level.FINE, "client went away", e);
    } catch (RuntimeException e) {
      LOG.log(Level.SEVERE, "local server failed", e);
      try {
        sendOwn(exchange, application, ErrorEnvelope.integrationFailure(null));
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
  private static void sendOwn(HttpExchange exchange, GatewayApplication application, GatewayResponse response) throws IOException {
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
    return new GatewayRequest(
        exchange.getRequestMethod(), exchange.getRequestURI().getRawPath(), headers, query, body, UUID.randomUUID().toString());
  }

  /**
   * The template's resource that matches the path, as API Gateway reports it: the route table that
   * {@code template.yaml} declares ({@code TemplateTest} holds the two together).
   */
  static String resource(String path) {
    for (String prefix : new String[] {"/v1/", "/models/", "/key/", "/health/", "/team/"}) {
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

  private static byte[] readBody(InputStream in) throws IOException {
    byte[] body = in.readNBytes(MAX_BODY_BYTES + 1);
    return body.length > MAX_BODY_BYTES ? null : body;
  }

  /**
   * Writes the answer. One without a body (HEAD, 204, 304, an empty buffered body) is sent with
   * length -1: the JDK server sends no body then, and warns ("being invoked with a content length
   * for a HEAD request") for any other length; a stream is then not run at all.
   *
   * @throws StreamCut when a streamed body failed after the headers were sent
   */
  private static void send(HttpExchange exchange, GatewayRequest request, GatewayResponse response) throws IOException {
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
    exchange.sendResponseHeaders(status, noBody ? -1 : body.length);
    if (!noBody) {
      // Closed here, before the exchange: closing the exchange first drains the request body, and a
      // broken one (a bad chunk) would drop the connection before this answer is flushed.
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
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
  private static void stream(HttpExchange exchange, GatewayRequest request, GatewayResponse response) throws IOException {
    OutputStream chunked;
    try {
      exchange.sendResponseHeaders(response.status(), 0);
      chunked = exchange.getResponseBody();
      // The status and headers now, not with the first event (the JDK server holds them in its
      // buffer until then): the client knows at once that its answer is a stream.
      chunked.flush();
    } catch (IOException gone) {
      chunked = OutputStream.nullOutputStream();
      chunked.close(); // every write and flush now throws IOException("Stream closed")
    }
    var client = new ClientStream(chunked);
    try {
      response.stream().writeTo(client);
      client.flush();
    } catch (IOException e) {
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

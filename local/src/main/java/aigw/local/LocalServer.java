package aigw.local;

import aigw.core.auth.Authenticator;
import aigw.core.errors.BadRequest;
import aigw.core.errors.ErrorEnvelope;
import aigw.core.errors.PayloadTooLarge;
import aigw.core.errors.ServiceUnavailable;
import aigw.core.errors.UnsupportedContentEncoding;
import aigw.core.http.ClientDeparture;
import aigw.core.http.GatewayApplication;
import aigw.core.http.GatewayRequest;
import aigw.core.http.GatewayResponse;
import aigw.core.providers.http.AnswerBudget;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.IllegalBlockingModeException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.eclipse.jetty.http.HttpException;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.UriCompliance;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.ConnectionLimit;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Blocker;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.eclipse.jetty.util.thread.Scheduler;

/**
 * The local gateway's HTTP transport: Jetty's core server (no servlets; Jetty is in the jar anyway,
 * as DynamoDB Local's) serving a {@link GatewayApplication} directly. Each request becomes a {@link
 * GatewayRequest} (the raw, still %-encoded path as API Gateway REST passes it; header names
 * lower-cased and query parameters form-decoded, the first value of each, as the API Gateway adapter
 * gives them); the application's {@link GatewayResponse} is written back, a buffered one with {@code
 * Content-Length}, a streaming one with chunked transfer encoding, one chunk per {@code flush()} of
 * its body.
 *
 * <p>Clients that hold connections cannot lock out others ({@link ServerLimits}, issue 15 finding 2):
 * Jetty reads request lines, headers and bodies without blocking a thread, so a stalled request
 * costs a buffer, never a thread. Only once the whole body is read does the application run, on one
 * of {@link #WORKER_THREADS} platform workers. Jetty's idle timeout ends a read or a write that makes
 * no progress (the write timeout while an answer is written, the idle timeout otherwise), and this
 * server bounds the time to read a request's headers ({@link HeaderDeadlines}) and its body, and the connections one client may hold ({@link
 * ClientConnections}). A model call whose client closes its connection before its answer has its
 * provider call cancelled at once ({@link DepartureWatch}).
 *
 * <p>Every answer this server or Jetty gives by itself is in the OpenAI error envelope ({@link
 * OwnErrors}).
 */
final class LocalServer {
  /** API Gateway's own payload limit; larger bodies never reach a function there either. */
  static final int MAX_BODY_BYTES = 10 * 1024 * 1024;
  /**
   * The request line and headers together: larger ones get 431. API Gateway REST allows 10,240
   * bytes of request line and headers; this leaves room for a local client's cookies.
   */
  static final int MAX_HEADER_BYTES = 16 * 1024;
  /**
   * The application runs on platform threads, not virtual ones: DynamoDB Local calls into SQLite
   * through JNI, which pins a virtual thread to its carrier, and two cores have only two carriers.
   * A streamed answer holds its thread until its last event, so at most this many streams run at
   * once; later requests wait for a worker. Reading requests does not take one (the class comment).
   */
  static final int WORKER_THREADS = 64;
  /**
   * Threads for the health routes only ({@link #HEALTH_PATHS}): a load balancer's or an uptime
   * check's probe must not wait behind {@link #WORKER_THREADS} requests held by one key's hanging
   * model. Readiness reads DynamoDB and the master key (which may block for the SDK's retries), so
   * not on Jetty's own threads; liveliness touches nothing slow.
   */
  static final int HEALTH_THREADS = 4;
  static final Set<String> HEALTH_PATHS = Set.of("/health/liveliness", "/health/readiness");
  /**
   * Threads for the admin routes only ({@link Routes#admin}): an operator's {@code /key/block} during
   * an incident must not wait behind {@link #WORKER_THREADS} requests held by hanging model calls.
   * Admin calls are short DynamoDB reads and writes; a few threads serve an operator and a script.
   */
  static final int ADMIN_THREADS = 4;
  /** Jetty's own threads: accepting, selecting, parsing; never the application. */
  private static final int IO_THREADS = 16;

  private static final Logger LOG = Logger.getLogger(LocalServer.class.getName());
  /** HTTP framing is this transport's: an application's own value for these would contradict it. */
  private static final Set<String> FRAMING_HEADERS = Set.of("content-length", "transfer-encoding");
  private static final ByteBuffer NOTHING = ByteBuffer.allocate(0);

  private final Server server;
  private final ServerConnector connector;
  private final ExecutorService workers;
  private final ExecutorService healthWorkers =
      Executors.newFixedThreadPool(HEALTH_THREADS, Thread.ofPlatform().name("aigw-http-health-", 0).daemon(true).factory());
  private final ExecutorService adminWorkers =
      Executors.newFixedThreadPool(ADMIN_THREADS, Thread.ofPlatform().name("aigw-http-admin-", 0).daemon(true).factory());
  private final GatewayApplication application;
  /** See {@link #afterEachModelAnswer}; nothing by default. */
  private volatile Runnable afterModelAnswer = () -> {};
  private final Routes routes;
  private final AllowedHosts hosts;
  private final ServerLimits limits;
  private final BodyBudget budget;
  /** Whole provider answers held at once, by every request together (ServerLimits#maxBufferedAnswerBytes). */
  private final AnswerBudget answerBudget;
  private final KeyShares keyShares;
  private final HeaderDeadlines headerDeadlines;

  private LocalServer(Server server, ServerConnector connector, ExecutorService workers, GatewayApplication application, AllowedHosts hosts,
      ServerLimits limits, HeaderDeadlines headerDeadlines, Routes routes) {
    this.server = server;
    this.routes = routes;
    this.headerDeadlines = headerDeadlines;
    this.connector = connector;
    this.workers = workers;
    this.application = application;
    this.hosts = hosts;
    this.limits = limits;
    this.budget = new BodyBudget(limits.maxBufferedBodyBytes(), limits.maxBufferedBodyBytesPerClient());
    this.answerBudget = new AnswerBudget(limits.maxBufferedAnswerBytes());
    this.keyShares = new KeyShares(limits.maxWorkersPerKey());
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
   *
   * @throws IOException when the address cannot be listened on
   */
  static LocalServer start(String host, int port, GatewayApplication application, ServerLimits limits, AllowedHosts hosts) throws IOException {
    return start(host, port, application, limits, hosts, Routes.ANY);
  }

  /**
   * What the server needs to know of the application's routes before it runs them.
   *
   * @param maxBodyBytes a path's body limit in bytes (the application's own, e.g. 64 KiB on admin
   *     routes); a larger declared {@code Content-Length} is answered 413 before any of the body is
   *     read or budgeted. At most {@link #MAX_BODY_BYTES} applies whatever it says.
   * @param admin whether a path is an admin route, run on its own {@link #ADMIN_THREADS} threads
   */
  record Routes(java.util.function.ToLongFunction<String> maxBodyBytes, java.util.function.Predicate<String> admin) {
    /** Every path the same: {@link #MAX_BODY_BYTES}, none of them admin. */
    static final Routes ANY = new Routes(path -> MAX_BODY_BYTES, path -> false);

    long bodyLimit(String path) {
      return Math.min(MAX_BODY_BYTES, path == null ? MAX_BODY_BYTES : maxBodyBytes.applyAsLong(path));
    }
  }

  /** As above, with {@code routes} telling each path's body limit and which paths are admin routes. */
  static LocalServer start(String host, int port, GatewayApplication application, ServerLimits limits, AllowedHosts hosts, Routes routes)
      throws IOException {
    var threads = new IoThreads();
    threads.setName("aigw-http-io");
    threads.setDaemon(true);
    var server = new Server(threads);
    var http = new HttpConfiguration();
    http.setSendServerVersion(false);
    http.setSendXPoweredBy(false);
    http.setRequestHeaderSize(MAX_HEADER_BYTES);
    // Header values reach the application as sent: a case-insensitive cache would give a cached
    // spelling (Host: LOCALHOST.evil arrives as localhost.evil).
    http.setHeaderCacheCaseSensitive(true);
    // Any request-target that parses reaches the application raw, as on API Gateway: it decodes the
    // path once itself (a model id with %2F), so Jetty's ambiguity rules for servlet paths do not apply.
    http.setUriCompliance(UriCompliance.UNSAFE);
    var headerDeadlines = new HeaderDeadlines(limits.requestTimeout());
    var connector = new ServerConnector(server, 1, 1, new CrlfOnlyHttp(http, headerDeadlines::requestStarted));
    connector.setHost(host);
    connector.setPort(port);
    connector.setIdleTimeout(limits.idleTimeout().toMillis());
    // Without TCP_NODELAY, Nagle's algorithm holds a small chunk of a stream (an SSE event is a few
    // hundred bytes) while an earlier segment is unacknowledged, and a client that delays its ACKs
    // (macOS and Windows do, by up to 100-200 ms) makes each event wait for the timer. Jetty's default; said here.
    connector.setAcceptedTcpNoDelay(true);
    connector.setAcceptQueueSize(512);
    connector.addEventListener(new ClientConnections(limits.maxConnectionsPerClient()));
    connector.addEventListener(headerDeadlines);
    server.addConnector(connector);
    server.addBean(new ConnectionLimit(limits.maxConnections(), connector));
    ExecutorService workers = Executors.newFixedThreadPool(WORKER_THREADS, Thread.ofPlatform().name("aigw-http-", 0).daemon(true).factory());
    var local = new LocalServer(server, connector, workers, application, hosts.boundTo(InetAddress.getByName(host)), limits, headerDeadlines,
        routes);
    // A stop first stops accepting and waits for the requests in flight (up to the grace below), so
    // a client whose call is still running gets its answer rather than a closed connection.
    server.setHandler(new org.eclipse.jetty.server.handler.GracefulHandler(local.new Gateway()));
    server.setErrorHandler(local.new OwnErrors());
    server.setStopTimeout(TimeUnit.SECONDS.toMillis(STOP_GRACE_SECONDS));
    try {
      server.start();
    } catch (Exception e) {
      local.stop();
      throw e instanceof IOException io ? io : new IOException(e.getMessage(), e);
    }
    return local;
  }

  int port() {
    return connector.getLocalPort();
  }

  /** For tests: the bytes Jetty has read on the connections open now. */
  long bytesReadOnOpenConnections() {
    return connector.getConnectedEndPoints().stream().map(EndPoint::getConnection).filter(c -> c != null).mapToLong(Connection::getBytesIn).sum();
  }

  /** For tests: a sweep of the header deadlines now, besides the scheduled ones. */
  void sweepHeaderDeadlines() {
    headerDeadlines.sweep();
  }

  /**
   * Stops listening, waits up to {@link #STOP_GRACE_SECONDS} for the requests in flight to be
   * answered (a stream or a call still running past it is cut), closes every connection and ends the
   * workers, which get the same grace again to finish recording what their calls used.
   */
  void stop() {
    headerDeadlines.sweeper.shutdownNow();
    try {
      server.stop();
    } catch (Exception e) {
      LOG.log(Level.WARNING, "the HTTP server did not stop cleanly", e);
    }
    // Not interrupted at once: a worker whose client already has its answer may still be recording
    // the call (usage, spend log, a stream's last accounting), and an interrupt there lost that
    // record once (a SIGTERM right after an answer). Requests still waiting on a model get the same
    // grace as an admin call below, then are interrupted.
    workers.shutdown();
    adminWorkers.shutdown();
    healthWorkers.shutdownNow();
    try {
      if (!workers.awaitTermination(STOP_GRACE_SECONDS, TimeUnit.SECONDS)) {
        workers.shutdownNow();
        workers.awaitTermination(5, TimeUnit.SECONDS);
      }
      if (!adminWorkers.awaitTermination(STOP_GRACE_SECONDS, TimeUnit.SECONDS)) {
        adminWorkers.shutdownNow();
      }
    } catch (InterruptedException e) {
      workers.shutdownNow();
      adminWorkers.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Jetty's own threads ({@link #IO_THREADS}), except for one job: when a request is answered on a
   * worker after Jetty's thread has left it (every model call), Jetty resumes the connection by
   * running its read on a pool thread ({@code HttpConnection.HttpStreamOverHTTP1.succeeded} then
   * {@code resume}, Jetty 12.0.14): a thread woken to find, nearly always, nothing to read yet and to
   * ask the selector to watch the socket. A worker that has just answered runs that read itself
   * instead ({@link #ANSWERING}): one thread wake-up less per request (session 13, cpu16b: Jetty's
   * threads 2.1 → 1.0 voluntary context switches a request at 16 connections). The read does not
   * block: a next request already sent is parsed and handed to a worker as any other.
   */
  private static final class IoThreads extends QueuedThreadPool {
    IoThreads() {
      super(IO_THREADS, 2);
    }

    @Override
    public void execute(Runnable job) {
      if (job instanceof org.eclipse.jetty.server.internal.HttpConnection && ANSWERING.get() != null) {
        job.run();
        return;
      }
      super.execute(job);
    }
  }

  /** Set while a worker runs a request ({@link #dispatch}): the thread may resume its connection ({@link IoThreads}). */
  private static final ThreadLocal<Boolean> ANSWERING = new ThreadLocal<>();

  /** How long a stop waits for requests already on the workers to finish before interrupting them. */
  private static final long STOP_GRACE_SECONDS = 5;

  /**
   * Each request, on a Jetty thread that must not block: the Host is checked and the body read
   * without a thread waiting for it; the application then runs on a worker ({@link #serve}).
   *
   * <p>Answers of this server's own, all in the OpenAI error envelope made by {@link ErrorEnvelope}
   * like the application's: 400 for a request (HTTP/1.1 or 1.0) without a Host or with a malformed one (RFC
   * 9112 section 3.2), 421 for a Host this server does not answer for ({@link AllowedHosts}; RFC 9110
   * section 15.5.20), 413 for a body over {@link #MAX_BODY_BYTES}, a 4xx for a request Jetty cannot
   * parse ({@link OwnErrors}), and 502 when the application itself fails (what API Gateway answers for
   * a function that crashed).
   */
  private final class Gateway extends Handler.Abstract {
    Gateway() {
      super(InvocationType.NON_BLOCKING);
    }

    @Override
    public boolean handle(Request request, Response response, Callback answered) {
      // The headers are in: the request deadline now counts the body (BodyReader), and the next
      // request's headers are timed from its first byte (HeaderDeadlines).
      headerDeadlines.headersRead(request.getConnectionMetaData().getConnection());
      Callback callback = answered;
      // Jetty's idle timeout ends a read or write that makes no progress; while the application waits
      // for its model (no read or write pending), it must not end the request.
      request.addIdleTimeoutListener(timeout -> false);
      // One Host naming this server, on HTTP/1.0 too (which RFC 9112 does not require to send one):
      // the Host check is the defence against DNS rebinding, and a request without a name cannot be checked.
      List<String> hostLines = request.getHeaders().getValuesList(HttpHeader.HOST);
      String host = hostLines.isEmpty() ? null : hostLines.get(0);
      if (hostLines.size() != 1 || host.isBlank() || AllowedHosts.nameOf(host) == null) {
        new BodyReader(request, response, callback).refuse(ErrorEnvelope.response(new BadRequest(
            "A request needs one Host header naming this server, e.g. 127.0.0.1:" + port() + " (RFC 9112 section 3.2)."),
            ErrorEnvelope.Dialect.of(pathOf(request)), null));
        return true;
      }
      if (!hosts.allows(host)) {
        new BodyReader(request, response, callback).refuse(ErrorEnvelope.misdirected(host));
        return true;
      }
      List<String> encodings = request.getHeaders().getValuesList(HttpHeader.CONTENT_ENCODING);
      try {
        // Before the body is read (the application checks it too, for API Gateway): every line,
        // since the application sees only the first.
        GatewayApplication.requireIdentityEncoding(encodings.isEmpty() ? null : String.join(",", encodings));
      } catch (UnsupportedContentEncoding compressed) {
        new BodyReader(request, response, callback).refuse(ErrorEnvelope.response(compressed, ErrorEnvelope.Dialect.of(pathOf(request)), null));
        return true;
      }
      // Jetty decodes only chunked and passes other transfer codings' bytes on as the body (gzip,
      // chunked read as plain JSON): a coding not understood is refused as the body's framing,
      // like a lone "Transfer-Encoding: gzip" (RFC 9112 section 6.1; 400 here, see OwnErrors).
      for (String coding : request.getHeaders().getCSV(HttpHeader.TRANSFER_ENCODING, false)) {
        if (!coding.strip().equalsIgnoreCase("chunked")) {
          new BodyReader(request, response, callback).refuse(ErrorEnvelope.malformedRequest(400,
              "Only the chunked transfer coding is served (RFC 9112 section 6.1); send the body plain or chunked.",
              ErrorEnvelope.Dialect.of(pathOf(request))));
          return true;
        }
      }
      new BodyReader(request, response, callback).run();
      return true;
    }
  }

  /**
   * Reads a request's whole body without holding a thread while it arrives (Jetty calls back when
   * more is there), within the request timeout; then hands the request to a worker.
   *
   * <p>A body over its route's limit ({@link Routes#bodyLimit}: the application's own, at most {@link
   * #MAX_BODY_BYTES}; declared by its {@code Content-Length}, or found while reading a chunked one) is
   * answered 413 in the route's envelope at once, before any of it is budgeted.
   *
   * <p>Every answer given before the body is read (413, 429, 503 here; 400, 421, 415 in {@link
   * Gateway}) is a {@link #refuse refusal}: the answer goes out at once, and what the client still
   * sends of its body is then read and dropped (the connection closes after the answer, its output
   * half-closed first), at most {@link #MAX_BODY_BYTES} in all and within the request
   * timeout, before the connection closes ("lingering close", RFC 9112 section 9.6).
   * Closing with unread input makes the kernel reset the connection, and a client that writes its
   * whole body before it reads (most SDKs, curl) then reports the reset instead of the answer
   * (issue 15: 1 in 11 curl tries of a 7 MB body got "Empty reply"). The drain holds no thread (Jetty
   * calls back as bytes arrive) and a client sending more, or slower, than its bounds is cut off.
   *
   * <p>The body's bytes come out of the process-wide {@link BodyBudget} first: its {@code
   * Content-Length} before anything is read (into a buffer of exactly that size), a chunked body's
   * bytes as they arrive. A request the budget cannot cover is answered 503 with {@code
   * Retry-After} at once, its body unread, and its connection closed; one whose client address
   * already holds its share of the budget ({@link ServerLimits#maxBufferedBodyBytesPerClient()}) is
   * answered 429 the same way, so that one client declaring large bodies cannot lock every other
   * client's bodies out. The bytes go back when the request ends ({@link #release}).
   */
  private final class BodyReader implements Runnable {
    private final Request request;
    private final Response response;
    private final Callback callback;
    private final AtomicBoolean finished = new AtomicBoolean();
    private final Scheduler.Task deadline;
    /** The route's body limit in bytes. */
    private final long limit;
    /** Whose share of the budget the body takes: the client's address (null when unknown: the whole budget only). */
    private final InetAddress client;
    /** The body when its length is declared: filled up to {@link #read}. */
    private byte[] sized;
    /** The body's pieces when it is chunked. */
    private ByteArrayOutputStream chunked;
    private long read;
    /** Bytes this request holds of the budget; given back once, when the request ends. */
    private long reserved;
    private boolean draining;

    BodyReader(Request request, Response response, Callback callback) {
      this.request = request;
      this.response = response;
      this.callback = Callback.from(this::release, callback);
      this.deadline = request.getComponents().getScheduler().schedule(this::timedOut, limits.requestTimeout().toMillis(), TimeUnit.MILLISECONDS);
      this.limit = routes.bodyLimit(pathOf(request));
      this.client = request.getConnectionMetaData().getRemoteSocketAddress() instanceof InetSocketAddress remote ? remote.getAddress() : null;
    }

    /**
     * A body still arriving after the request timeout (slowloris on the body, or a client that
     * stopped mid-way): 408 in the route's envelope, and the connection closes since its body was
     * not read. A client's doing, not the server's failure: logged at FINE. While a refused
     * request's body is drained the answer is already sent: the connection is just closed.
     */
    private void timedOut() {
      if (draining) {
        if (!finished.get()) {
          request.getConnectionMetaData().getConnection().getEndPoint().close();
        }
        return;
      }
      if (!finished.compareAndSet(false, true)) {
        return;
      }
      LOG.fine(() -> "a request body was not read within " + limits.requestTimeout().toSeconds() + " s (" + read + " bytes); 408");
      response.getHeaders().put(HttpHeader.CONNECTION, "close");
      own(request, response, callback, ErrorEnvelope.malformedRequest(408, messageFor(408, null), ErrorEnvelope.Dialect.of(pathOf(request))));
    }

    @Override
    public void run() {
      if (finished.get()) {
        return; // answered already (the request timeout's 408)
      }
      if (!draining && read == 0 && sized == null && chunked == null && !start()) {
        return;
      }
      while (true) {
        Content.Chunk chunk = request.read();
        if (chunk == null) {
          request.demand(this);
          return;
        }
        if (Content.Chunk.isFailure(chunk)) {
          if (!finish()) {
            return;
          }
          LOG.log(Level.FINE, "request body unreadable", chunk.getFailure());
          if (draining) {
            callback.succeeded(); // the refusal is sent; the connection closes
          } else {
            // A broken chunked encoding or a short body (Jetty's 400), or a vanished client: Jetty
            // answers a failure before the answer started through OwnErrors, in the envelope.
            callback.failed(chunk.getFailure());
          }
          return;
        }
        ByteBuffer bytes = chunk.getByteBuffer();
        int length = bytes.remaining();
        boolean last = chunk.isLast();
        if (draining) {
          read += length;
          chunk.release();
          if (last || read > MAX_BODY_BYTES) {
            if (finish()) {
              callback.succeeded();
            }
            return;
          }
          continue;
        }
        if (read + length > limit || (sized != null && read + length > sized.length)) {
          chunk.release();
          tooLarge(-1);
          return;
        }
        if (sized != null) {
          bytes.get(sized, (int) read, length);
        } else if (length > 0) {
          BodyBudget.Refusal refused = budget.reserve(client, length);
          if (refused != null) {
            chunk.release();
            overBudget(refused);
            return;
          }
          reserved += length;
          byte[] copy = new byte[length];
          bytes.get(copy);
          chunked.writeBytes(copy);
        }
        read += length;
        chunk.release();
        if (last) {
          if (!finish()) {
            return;
          }
          byte[] body = sized != null ? (read == sized.length ? sized : java.util.Arrays.copyOf(sized, (int) read)) : chunked.toByteArray();
          sized = null;
          chunked = null;
          dispatch(request, response, callback, body);
          return;
        }
      }
    }

    /** Before the first read: the 413 for a declared length over the route's limit, the budget for the rest. False when answered. */
    private boolean start() {
      long declared = request.getLength();
      if (declared > limit) {
        tooLarge(declared);
        return false;
      }
      if (declared < 0) {
        chunked = new ByteArrayOutputStream();
        return true;
      }
      BodyBudget.Refusal refused = declared > 0 ? budget.reserve(client, declared) : null;
      if (refused != null) {
        overBudget(refused);
        return false;
      }
      reserved = declared;
      sized = new byte[(int) declared];
      return true;
    }

    /** The 413 (the same words as the application's): {@code declared} the declared length, or -1 for a chunked body found too long. */
    private void tooLarge(long declared) {
      refuse(ErrorEnvelope.response(
          declared >= 0 ? new PayloadTooLarge(declared, limit) : new PayloadTooLarge(limit), ErrorEnvelope.Dialect.of(pathOf(request)), null));
    }

    /**
     * Answers {@code answer} now, whatever of the body was read given back, then drains the rest
     * (see the class comment): {@link #run} reads and drops it once the answer is written. A client
     * that sent {@code Expect: 100-continue} and was refused before the first read was never told
     * to send its body (RFC 9110 section 10.1.1): nothing is drained.
     */
    void refuse(GatewayResponse answer) {
      boolean bodyAskedFor = sized != null || chunked != null; // set just before the first read, which sends any 100 Continue
      draining = true;
      dropBody();
      // The connection closes after the answer: the client sees its end at once, whatever it still
      // sends, and a body cut off by the drain's bounds cannot be read as the next request.
      response.getHeaders().put(HttpHeader.CONNECTION, "close");
      if (!bodyAskedFor && request.getHeaders().contains(HttpHeader.EXPECT, "100-continue")) {
        if (finish()) {
          own(request, response, callback, answer);
        }
        return;
      }
      own(request, response, Callback.from(this::drainAfterAnswer, callback::failed), answer);
    }

    /**
     * Once the refusal is written: the connection half-closes, so that the client reads the
     * answer's end while what it still sends is drained; then the drain ({@link #run}).
     */
    private void drainAfterAnswer() {
      request.getConnectionMetaData().getConnection().getEndPoint().shutdownOutput();
      run();
    }

    /** 503 (the whole budget) or 429 (this client's share) now, the body only drained; the connection then closes. */
    private void overBudget(BodyBudget.Refusal refused) {
      if (finished.get()) {
        return;
      }
      LOG.fine(() -> "request bodies already hold " + budget.held() + " of " + limits.maxBufferedBodyBytes() + " bytes (" + refused + "); refused");
      var now = java.time.Instant.now();
      aigw.core.errors.GatewayException refusal = refused == BodyBudget.Refusal.CLIENT
          ? new aigw.core.errors.RateLimited("This client address is already sending " + limits.maxBufferedBodyBytesPerClient()
              + " bytes of request bodies at once, its share of AIGW_HTTP_MAX_BUFFERED_BODY_BYTES; retry when one of them ends.",
              now, now.plusSeconds(1), Map.of())
          : new ServiceUnavailable("The gateway is reading too many request bodies at once; try again shortly.", null);
      refuse(ErrorEnvelope.response(refusal, ErrorEnvelope.Dialect.of(pathOf(request)), null));
    }

    private void dropBody() {
      sized = null;
      chunked = null;
      long held = reserved;
      reserved = 0;
      budget.release(client, held);
    }

    private synchronized void release() {
      long held = reserved;
      reserved = 0;
      budget.release(client, held);
    }

    /** True for the one caller that ends the reading; false when the request timeout's 408 came first. */
    private boolean finish() {
      if (!finished.compareAndSet(false, true)) {
        return false;
      }
      deadline.cancel();
      return true;
    }
  }

  /**
   * The request-body bytes all requests together may hold at once ({@link
   * ServerLimits#maxBufferedBodyBytes()}): bodies are read whole before any key is checked, so this
   * is what keeps clients with no key from filling the heap with half-sent bodies. One client address
   * holds at most its share of it ({@link ServerLimits#maxBufferedBodyBytesPerClient()}), so that a
   * client with no key declaring large bodies and sending none of them cannot take the whole budget
   * and lock every other client's requests out (issue 15).
   */
  static final class BodyBudget {
    /** Why a reservation was refused. */
    enum Refusal {
      /** All requests together hold the budget. */
      ALL,
      /** The client's address holds its share. */
      CLIENT
    }

    private final long max;
    private final long perClient;
    private final java.util.concurrent.atomic.AtomicLong held = new java.util.concurrent.atomic.AtomicLong();
    private final Map<InetAddress, Long> heldByClient = new ConcurrentHashMap<>();

    BodyBudget(long max, long perClient) {
      this.max = max;
      this.perClient = perClient;
    }

    /**
     * Takes {@code bytes} for {@code client} (null: unknown, the whole budget only) if they fit under
     * its share and under the maximum with what is held; null when taken, else why not (nothing taken).
     */
    Refusal reserve(InetAddress client, long bytes) {
      if (client != null && perClient < max) { // a share of everything is no share: the budget alone (503)
        var over = new AtomicBoolean();
        heldByClient.compute(client, (address, now) -> {
          long before = now == null ? 0 : now;
          if (before + bytes > perClient) {
            over.set(true);
            return now;
          }
          return before + bytes;
        });
        if (over.get()) {
          return Refusal.CLIENT;
        }
      }
      while (true) {
        long now = held.get();
        if (now + bytes > max) {
          giveBack(client, bytes);
          return Refusal.ALL;
        }
        if (held.compareAndSet(now, now + bytes)) {
          return null;
        }
      }
    }

    void release(InetAddress client, long bytes) {
      if (bytes > 0) {
        held.addAndGet(-bytes);
        giveBack(client, bytes);
      }
    }

    private void giveBack(InetAddress client, long bytes) {
      if (client != null) {
        heldByClient.computeIfPresent(client, (address, now) -> now <= bytes ? null : now - bytes);
      }
    }

    long held() {
      return held.get();
    }
  }

  /** Runs the application on a worker; the write timeout applies from here until the answer is sent. */
  private void dispatch(Request request, Response response, Callback callback, byte[] body) {
    String path = request.getHttpURI().getPath();
    boolean health = HEALTH_PATHS.contains(path);
    // The key's share of the workers (KeyShares), taken until the answer is sent.
    String key = health ? null : Authenticator.presentedKeyOrNull(name -> request.getHeaders().get(name));
    if (key != null && !keyShares.take(key)) {
      own(request, response, callback, ErrorEnvelope.response(keyShares.refusal(), ErrorEnvelope.Dialect.of(pathOf(request)), null));
      return;
    }
    EndPoint endPoint = request.getConnectionMetaData().getConnection().getEndPoint();
    endPoint.setIdleTimeout(limits.writeTimeout().toMillis());
    Callback done = Callback.from(() -> {
      keyShares.give(key);
      endPoint.setIdleTimeout(limits.idleTimeout().toMillis()); // the next request on this connection
      callback.succeeded();
    }, failure -> {
      keyShares.give(key);
      callback.failed(failure);
    });
    DepartureWatch watch = null;
    try {
      ExecutorService runOn = health ? healthWorkers : path != null && routes.admin().test(path) ? adminWorkers : workers;
      boolean modelCall = runOn == workers;
      // A model call's client is watched from here, on Jetty's thread, before the hand-off: Jetty runs
      // this handler on its selector's own thread, where the watch's read interest is a selector update
      // that needs no wake-up of the selector; made on the worker it woke the selector once a request.
      // A client that leaves while its request waits for a worker is seen too.
      var departure = modelCall ? ClientDeparture.unopened() : null;
      watch = modelCall ? DepartureWatch.start(endPoint, departure) : null;
      DepartureWatch watching = watch;
      runOn.execute(() -> {
        try (var answers = answerBudget.open(); // the provider answers this request holds, until it is answered
            var scope = departure == null ? null : departure.openOnThisThread()) {
          ANSWERING.set(Boolean.TRUE);
          serve(request, response, done, body, watching);
        } finally {
          ANSWERING.remove();
        }
      });
    } catch (RejectedExecutionException stopping) {
      if (watch != null) {
        watch.stop();
      }
      done.failed(stopping);
    }
  }

  /**
   * Requests each presented key has on the workers at once, at most {@link
   * ServerLimits#maxWorkersPerKey()} (issue 15): without it, one key whose model hangs (and that has
   * no {@code max_parallel_requests}) could hold all {@link #WORKER_THREADS} workers, and every other
   * key's requests would wait behind it. Keyed by the key as presented, before it is checked: a
   * made-up key fails authentication at once and gives its share back. Health routes are not counted.
   */
  static final class KeyShares {
    private final int perKey;
    private final Map<String, Integer> running = new ConcurrentHashMap<>();

    KeyShares(int perKey) {
      this.perKey = perKey;
    }

    /** Takes one of the key's share; false (nothing taken) when it holds all of it. */
    boolean take(String key) {
      var over = new AtomicBoolean();
      running.compute(key, (k, count) -> {
        int now = count == null ? 0 : count;
        if (now >= perKey) {
          over.set(true);
          return count;
        }
        return now + 1;
      });
      return !over.get();
    }

    /** Gives one back; null (no key) is nothing. */
    void give(String key) {
      if (key != null) {
        running.computeIfPresent(key, (k, count) -> count <= 1 ? null : count - 1);
      }
    }

    /** 429 with {@code Retry-After}: a worker frees up when one of the key's own requests ends. */
    aigw.core.errors.RateLimited refusal() {
      var now = java.time.Instant.now();
      return new aigw.core.errors.RateLimited("This key already has " + perKey + " requests running on this gateway, its share of the "
          + WORKER_THREADS + " workers (AIGW_HTTP_MAX_WORKERS_PER_KEY); retry when one of them ends.", now, now.plusSeconds(1), Map.of());
    }
  }

  /**
   * Notices that the client of a model call closed its connection while its answer is being made,
   * and tells the request's {@link ClientDeparture}, which cancels the provider call the worker waits
   * on (the worker, the key's share of the workers and its {@code max_parallel_requests} slot are
   * then freed at once, and the call accounted with 499, not at the provider's answer or timeout).
   *
   * <p>Jetty reads nothing from an HTTP/1.1 connection while its request is handled (its request
   * body is read; the next request is read after the answer), so neither the idle timeout, a {@code
   * Request} failure listener nor a {@code demand()} after the last content (answered at once with
   * the end of the body) fires when the client closes; a write would, but a model call writes nothing
   * until the provider answers. So the watch asks the connection's end point to be told when the
   * socket is readable ({@code tryFillInterested}: one selector update, no thread, no timer). A
   * client that closes makes it readable with nothing to read; the watch then tells the departure.
   * It never reads: it asks how many bytes wait ({@code FIONREAD}, through the socket's {@code
   * available()}), so bytes that do wait (a pipelined next request) are left for Jetty, and the
   * watch ends there without a departure.
   *
   * <p>A readiness can also be stale: Jetty's selector makes a task of each readiness it sees
   * ({@code SelectableChannelEndPoint.onSelected}) and the task, run later, calls whatever read
   * interest is pending then. Read from Jetty 12.0.14, not traced: the bytes of a connection's next
   * request, seen while the previous request's watch was up, make a task that Jetty's own read can
   * overtake, and the late task then calls the next request's watch with nothing to read. Session
   * 12 counted such readiness in about 1 of 350 calls through the gateway (bench-shaped runs at 16
   * and 1 connections on 2 cores). So before the watch tells the departure it asks the socket itself
   * whether it is readable now ({@link #readableNow}: the client's end of input, or a reset, keeps a
   * socket readable; a stale readiness does not). Until session 12 it asked Jetty again and took a
   * second readiness for the end: two late tasks for one watch closed a waiting client's connection
   * without an answer (the bench saw {@code HTTP/1.1 header parser received no bytes}, twice in a
   * session, under load).
   *
   * <p>A client that shuts down only its sending side after its request (a half-close) is
   * indistinguishable from one that left, and is taken as gone, as nginx does ({@code
   * ngx_http_upstream_check_broken_connection}: a {@code MSG_PEEK} read of nothing ends the request
   * with 499 unless {@code proxy_ignore_client_abort} is on): its call is cancelled and the
   * connection closed without an answer. curl, browsers and the OpenAI and Anthropic SDKs do not
   * half-close.
   *
   * <p>Jetty's end point has no way to withdraw a read interest, and a request that ends with one
   * pending has its connection closed (its next request could not be read), so {@link #stop} ends
   * the interest by calling it as if the socket were readable, which the watch then ignores.
   */
  static final class DepartureWatch implements Callback {
    final ClientDeparture departure;
    private final EndPoint endPoint;
    /** Whether this watch's read interest may be pending; guarded by {@code this}. */
    private boolean registered;
    private volatile boolean stopped;

    private DepartureWatch(EndPoint endPoint, ClientDeparture departure) {
      this.endPoint = endPoint;
      this.departure = departure;
      if (!endPoint.isOpen()) {
        // A request pipelined behind one whose client left: that call closed the connection, and
        // Jetty still parses what the client had sent on it. Nobody is there to read its answer.
        departure.left();
        return;
      }
      synchronized (this) {
        // False when a read is already pending (the end point's own): nothing is watched then.
        registered = endPoint.tryFillInterested(this);
      }
    }

    /** Watches {@code endPoint}'s client for {@code departure} until {@link #stop}. */
    static DepartureWatch start(EndPoint endPoint, ClientDeparture departure) {
      return new DepartureWatch(endPoint, departure);
    }

    /** The socket is readable: the client's end (it closed, or half-closed), bytes of a next request, or a stale readiness. */
    @Override
    public void succeeded() {
      if (stopped) {
        return;
      }
      switch (clientSide()) {
        case BYTES_WAIT -> {
          // a pipelined request: Jetty reads it after this answer; the departure is not watched further
        }
        case STALE -> {
          synchronized (this) {
            if (!stopped) {
              registered = endPoint.tryFillInterested(this);
            }
          }
        }
        case ENDED -> {
          LOG.fine("the client of a model call closed its connection; the call is cancelled");
          departure.left();
        }
      }
    }

    private enum ClientSide { BYTES_WAIT, STALE, ENDED }

    /**
     * What the socket shows now: bytes that wait ({@code FIONREAD}); readable with none (the end of
     * the client's input, or a reset, or the socket closed); or neither, a readiness that was stale.
     */
    private ClientSide clientSide() {
      if (!(endPoint.getTransport() instanceof SocketChannel channel)) {
        return ClientSide.ENDED; // not a socket (no such end point on this server's connector): as Jetty told
      }
      try {
        if (channel.socket().getInputStream().available() > 0) {
          return ClientSide.BYTES_WAIT;
        }
        Boolean readable = readableNow(channel);
        if (readable == null) {
          return ClientSide.BYTES_WAIT; // not watched further: the call ends at its provider's answer or timeout
        }
        if (!readable) {
          return ClientSide.STALE;
        }
        // Counted again: bytes that came between the count and the poll made the socket readable.
        return channel.socket().getInputStream().available() > 0 ? ClientSide.BYTES_WAIT : ClientSide.ENDED;
      } catch (IOException closed) {
        return ClientSide.ENDED; // the socket is closed or reset: the client is gone as well
      }
    }

    /**
     * Whether the socket is readable now, asked of a selector of this watch's own: a channel may be
     * registered with more than one selector, and a new registration reports the socket's state as
     * it is (epoll is level-triggered), not a readiness seen earlier. Null when no selector can be
     * had (out of file descriptors): the client is then not taken as gone on a readiness that may be stale.
     */
    private static Boolean readableNow(SocketChannel channel) throws ClosedChannelException {
      try (Selector probe = Selector.open()) {
        channel.register(probe, SelectionKey.OP_READ);
        return probe.selectNow() > 0;
      } catch (ClosedChannelException closed) {
        throw closed;
      } catch (IOException | IllegalBlockingModeException cannotPoll) {
        LOG.log(Level.FINE, "could not poll a model call's client connection; its departure is no longer watched", cannotPoll);
        return null;
      }
    }

    /** The connection closed (the server stopping, or a failed read); its idle timeout does not come here while a request runs. */
    @Override
    public void failed(Throwable cause) {
      if (!stopped) {
        departure.left();
      }
    }

    /** Closes the client's connection, without an answer. */
    void closeConnection() {
      endPoint.close();
    }

    /** Ends the watch; before the request ends, so that Jetty may read the connection's next request. */
    void stop() {
      boolean mayBePending;
      synchronized (this) {
        stopped = true;
        mayBePending = registered;
      }
      if (mayBePending && endPoint instanceof org.eclipse.jetty.io.AbstractEndPoint ends) {
        ends.getFillInterest().fillable(); // runs this (ignored now) if it is still the pending read
      }
    }
  }

  /**
   * The application's answer to one request whose body is read, on a worker. A failure after the
   * status was sent (the client went away, a streamed body threw, a client that reads nothing for
   * the write timeout) fails Jetty's callback, which closes the connection without the last chunk:
   * the client sees a cut answer rather than one that looks complete.
   */
  private void serve(Request request, Response response, Callback callback, byte[] body, DepartureWatch watch) {
    GatewayRequest gatewayRequest = toRequest(request, body);
    GatewayResponse answer;
    try {
      answer = application.handle(gatewayRequest);
    } catch (RuntimeException | LinkageError | StackOverflowError e) {
      // The application answers its own failures; this is one it could not (on Lambda, a crashed invoke).
      LOG.log(Level.SEVERE, "handler failed", e);
      answer = application.cors().onResponse(gatewayRequest, ErrorEnvelope.integrationFailure(gatewayRequest.requestId()));
    }
    boolean modelCall = watch != null;
    try {
      try {
        if (modelCall && watch.departure.hasLeft() && !answer.isStreaming()) {
          // Nobody reads it (a stream still runs: its body learns from its first write that the client is gone, and accounts).
          throw new org.eclipse.jetty.io.EofException("the client closed its connection before its answer");
        }
        send(response, gatewayRequest, answer, modelCall && watch.departure.hasLeft());
      } finally {
        if (modelCall) {
          watch.stop(); // before the request ends: the connection's next request is Jetty's to read
        }
      }
      if (modelCall) {
        afterModelAnswer(); // the answer is out; the connection's next request waits, if anything
      }
      callback.succeeded();
    } catch (IOException e) {
      LOG.log(Level.FINE, "client went away, or read nothing for the write timeout", e);
      if (modelCall && watch.departure.hasLeft()) {
        // Closed first: a failed request whose answer has not started would get Jetty's error
        // answer, and a client that only half-closed could still read it. Nothing is answered to a
        // client taken as gone (nginx's 499 is only logged, too).
        watch.closeConnection();
      }
      callback.failed(e);
    } catch (RuntimeException | LinkageError | StackOverflowError e) {
      LOG.log(Level.SEVERE, GatewayApplication.loggablePath(gatewayRequest.path()) + " (" + gatewayRequest.requestId()
          + ") failed while answering; the connection is closed", e);
      callback.failed(e);
    }
  }

  /**
   * Runs the hook set by {@link #afterEachModelAnswer}; a failure there is logged, never the
   * client's (its answer is already sent).
   */
  private void afterModelAnswer() {
    try {
      afterModelAnswer.run();
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "the after-answer hook failed", e);
    }
  }

  /**
   * What a worker does after a model call's answer is sent and before the connection's next request
   * is read: the local gateway waits there for room in the spend-log backlog
   * ({@link aigw.core.Gateway#awaitWriteRoomAfterAnswer}), so clients faster than DynamoDB are slowed
   * between calls, not inside them. Admin and health answers skip it.
   */
  void afterEachModelAnswer(Runnable hook) {
    this.afterModelAnswer = hook;
  }

  /** An answer of this server's own (not blocking), with the CORS headers the application would have given it. */
  private void own(Request request, Response response, Callback callback, GatewayResponse answer) {
    GatewayResponse withCors = answer;
    try {
      withCors = application.cors().onResponse(toRequest(request, null), answer);
    } catch (RuntimeException e) {
      LOG.log(Level.FINE, "no CORS headers for an unparsable request", e);
    }
    setHead(response, withCors);
    response.getHeaders().put(HttpHeader.CONTENT_LENGTH, withCors.body().length);
    response.write(true, ByteBuffer.wrap(withCors.body()), callback);
  }

  private static void setHead(Response response, GatewayResponse answer) {
    response.setStatus(answer.status());
    answer.headers().forEach((name, value) -> {
      if (!FRAMING_HEADERS.contains(name.toLowerCase(Locale.ROOT))) {
        response.getHeaders().put(name, value);
      }
    });
  }

  /**
   * The request as the application sees it. Header names are lower-cased with the first value of
   * each; the query is form-decoded ({@code +} is a space) with the first value of each name: what
   * {@link aigw.core.apigateway.ApiGatewayEvents#toRequest} gives for the same request on AWS.
   *
   * @param body the whole body; null for none
   */
  static GatewayRequest toRequest(Request request, byte[] body) {
    var headers = new HashMap<String, String>();
    for (HttpField field : request.getHeaders()) {
      headers.putIfAbsent(field.getLowerCaseName(), field.getValue());
    }
    var query = new LinkedHashMap<String, String>();
    String raw = request.getHttpURI().getQuery();
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
    String sourceIp = request.getConnectionMetaData().getRemoteSocketAddress() instanceof InetSocketAddress client && client.getAddress() != null
        ? client.getAddress().getHostAddress()
        : null;
    String path = request.getHttpURI().getPath();
    return new GatewayRequest(request.getMethod(), path == null || path.isEmpty() ? "/" : path, headers, query, body, UUID.randomUUID().toString(),
        sourceIp);
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

  /** A malformed %-escape in the query is kept as sent (API Gateway refuses it before any function runs). */
  private static String decode(String text) {
    try {
      return URLDecoder.decode(text, StandardCharsets.UTF_8);
    } catch (IllegalArgumentException malformed) {
      return text;
    }
  }

  /** Waits for one write to the client; Jetty's idle timeout (the write timeout here) ends one that makes no progress. */
  private static void write(Response response, boolean last, ByteBuffer bytes) throws IOException {
    try (Blocker.Callback written = Blocker.callback()) {
      response.write(last, bytes, written);
      written.block();
    }
  }

  /**
   * Writes the answer. One without a body (HEAD, 204, 304) sends its headers only; a stream is then
   * not run at all.
   *
   * @throws IOException when the client went away, read nothing for the write timeout, or a streamed
   *     body failed after the headers were sent
   */
  private void send(Response response, GatewayRequest request, GatewayResponse answer, boolean clientLeft) throws IOException {
    setHead(response, answer);
    int status = answer.status();
    boolean bodyless = request.method().equals("HEAD") || status == 204 || status == 304;
    if (answer.isStreaming() && !bodyless) {
      stream(response, request, answer, clientLeft);
      return;
    }
    byte[] body = bodyless ? new byte[0] : answer.body();
    if (!bodyless) {
      response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
    }
    write(response, true, ByteBuffer.wrap(body));
  }

  /**
   * Sends a streamed answer chunked: the headers before the body runs (with its first flush, in the
   * same write, when the body {@linkplain aigw.core.http.StreamingBody#firstEventInHand holds its
   * first event}), then one chunk per {@code flush()} of the body, the last chunk only when the body returned normally. When the client is
   * already gone before the headers, the body still runs, against a stream that fails its first
   * write: that is how it learns to end and account for the upstream call it may have started
   * ({@link aigw.core.http.StreamingBody}'s contract). So too when {@code clientLeft} (its {@link
   * DepartureWatch} saw it close its connection): nothing is written then.
   */
  private void stream(Response response, GatewayRequest request, GatewayResponse answer, boolean clientLeft) throws IOException {
    var client = new ClientStream(response);
    if (clientLeft) {
      client.failure = new org.eclipse.jetty.io.EofException("the client closed its connection");
    } else if (!answer.stream().firstEventInHand()) {
      try {
        // The status and headers now, not with the first event: the client knows at once that its answer is a stream.
        write(response, false, NOTHING);
        client.headersSent = true;
      } catch (IOException gone) {
        client.failure = gone;
      }
    } // else they leave with the body's first flush, which comes at once: one write, one wait less before the first event
    try {
      answer.stream().writeTo(client);
      client.flush();
    } catch (IOException | RuntimeException | LinkageError | StackOverflowError e) {
      String where = GatewayApplication.loggablePath(request.path()) + " (" + request.requestId() + ")";
      if (client.failure != null || ClientDeparture.clientLeft()) {
        // Routine (a user pressed "stop"): no warning, as for a whole answer whose client left.
        LOG.log(Level.FINE, where + ": the client went away mid-stream, or read nothing for the write timeout", e);
      } else {
        LOG.log(e instanceof IOException ? Level.WARNING : Level.SEVERE, where + " failed mid-stream; the connection is closed", e);
      }
      throw e instanceof IOException io ? io : new IOException(e.getMessage(), e);
    }
    write(response, true, NOTHING); // the last chunk: the answer is complete
  }

  /**
   * The response's body as a {@link aigw.core.http.StreamingBody} sees it: writes are gathered and
   * each {@code flush()} sends them as one chunk; a failed one (the client went away, or the write
   * timeout ended it) is remembered, to tell it from the body's own failure, and every later write
   * fails too. {@code close} only flushes, since ending the body is the server's.
   */
  private static final class ClientStream extends OutputStream {
    private final Response response;
    private final Pending pending = new Pending();
    IOException failure;
    /** Whether the status and headers are written; until then a flush of nothing still sends them. */
    boolean headersSent;

    ClientStream(Response response) {
      this.response = response;
    }

    @Override
    public void write(int b) throws IOException {
      check();
      pending.write(b);
    }

    @Override
    public void write(byte[] bytes, int offset, int length) throws IOException {
      check();
      pending.write(bytes, offset, length);
    }

    @Override
    public void flush() throws IOException {
      check();
      if (pending.size() == 0 && headersSent) {
        return;
      }
      try {
        LocalServer.write(response, false, pending.bytes()); // blocks until written: the buffer is free again after
        headersSent = true;
      } catch (IOException e) {
        failure = e;
        throw e;
      } finally {
        pending.reset();
      }
    }

    /** The gathered writes, sent from the buffer itself: no copy of every chunk (a stream flushes once per event). */
    private static final class Pending extends ByteArrayOutputStream {
      ByteBuffer bytes() {
        return ByteBuffer.wrap(buf, 0, count);
      }
    }

    @Override
    public void close() throws IOException {
      flush();
    }

    private void check() throws IOException {
      if (failure != null) {
        throw new IOException("the client is gone", failure);
      }
    }
  }

  /**
   * Jetty's own error answers, in the OpenAI envelope: requests it refuses before any handler runs (a
   * request line or target that does not parse, headers over {@link #MAX_HEADER_BYTES}, a bad {@code
   * Content-Length}, an unsupported {@code Transfer-Encoding}, a broken chunked body) and a request
   * whose handling failed before its answer started. The status is Jetty's for a client's mistake;
   * 501 and 505 (a transfer coding or HTTP version Jetty does not implement) become 400, since they
   * are the client's request and not the gateway's failure; anything else is the 502 API Gateway
   * gives for a crashed function. Messages are this server's words, never an exception's.
   */
  private final class OwnErrors implements Request.Handler {
    @Override
    public boolean handle(Request request, Response response, Callback callback) {
      Throwable cause = request.getAttribute(ErrorHandler.ERROR_EXCEPTION) instanceof Throwable t ? t : null;
      int status = request.getAttribute(ErrorHandler.ERROR_STATUS) instanceof Integer code ? code : response.getStatus();
      String reason = null;
      for (Throwable at = cause; at != null; at = at.getCause()) {
        if (at instanceof HttpException http) {
          status = http.getCode();
          reason = http.getReason();
          break;
        }
      }
      GatewayResponse answer;
      var dialect = ErrorEnvelope.Dialect.of(pathOf(request));
      if (status >= 400 && status < 500) {
        answer = ErrorEnvelope.malformedRequest(status, messageFor(status, reason), dialect);
      } else if (timedOut(cause)) {
        LOG.log(Level.FINE, "a request was not received within the server's timeout", cause);
        answer = ErrorEnvelope.malformedRequest(408, messageFor(408, null), dialect);
      } else if (status == 501 || status == 505 || (cause instanceof IOException && reason == null)) {
        answer = ErrorEnvelope.malformedRequest(400, messageFor(status == 505 ? 505 : 400, reason), dialect);
      } else {
        LOG.log(Level.SEVERE, "the local server failed a request", cause);
        answer = ErrorEnvelope.integrationFailure(null);
      }
      response.getHeaders().clear();
      own(request, response, callback, answer);
      return true;
    }
  }

  /** Whether a request failed because the client sent too slowly (a timeout), which is not the server's failure. */
  private static boolean timedOut(Throwable cause) {
    for (Throwable at = cause; at != null; at = at.getCause()) {
      if (at instanceof TimeoutException) {
        return true;
      }
    }
    return false;
  }

  /**
   * The request's raw path, or null when Jetty could not parse one. A CONNECT's target is read as an
   * authority; when it is a path after all ({@code CONNECT /v1/messages}), that path.
   */
  private static String pathOf(Request request) {
    try {
      if (request.getHttpURI() == null) {
        return null;
      }
      String path = request.getHttpURI().getPath();
      if (path == null || path.isEmpty()) {
        String target = request.getHttpURI().asString();
        int query = target.indexOf('?');
        path = target.startsWith("/") ? target.substring(0, query < 0 ? target.length() : query) : null;
      }
      return path;
    } catch (RuntimeException unparsable) {
      return null;
    }
  }

  /** How a refusal of a request that is not valid HTTP starts (the route is unknown then: OpenAI's envelope). */
  static final String NOT_HTTP = "The request is not valid HTTP/1.1 (RFC 9112).";

  /** Jetty's reason when it is plain words (never a Java name), after what the status means. */
  static String messageFor(int status, String reason) {
    String what = switch (status) {
      case 408 -> "The request was not received within the server's timeout.";
      case 413 -> "The request body is larger than " + MAX_BODY_BYTES + " bytes.";
      case 414 -> "The request-target is too long.";
      case 417 -> "The request's Expect header asks for an expectation other than 100-continue, the only one this server meets"
          + " (RFC 9110 section 10.1.1).";
      case 431 -> "The request line and headers are larger than " + MAX_HEADER_BYTES + " bytes.";
      case 505 -> "Only HTTP/1.0 and HTTP/1.1 are served.";
      default -> NOT_HTTP;
    };
    boolean plain = reason != null && reason.matches("[A-Za-z0-9 ,:;'=/()\\-]{1,100}") && !reason.contains("Exception");
    return plain ? what + " " + reason.strip() + (reason.strip().endsWith(".") ? "" : ".") : what;
  }

  /**
   * The time a connection may take to send a request's line and headers: {@link
   * ServerLimits#requestTimeout()} from the request's first byte. Jetty's idle timeout restarts with
   * every byte, so a client dribbling a header byte every few seconds would otherwise hold its
   * connection forever (slowloris), and enough of them every connection. The parser tells when a
   * request's first byte is read ({@link CrlfOnlyHttp}, {@link #requestStarted}), the handler when
   * its headers are in ({@link #headersRead}); a sweep every second (or a quarter of the timeout
   * when shorter) closes a connection whose request started longer ago than the timeout and whose
   * headers are still not in. A connection that sends nothing is left to the idle timeout, so a
   * kept-alive client's idle connection is not cut early.
   *
   * <p>Until session 13 the deadline counted from the connection's opening or its previous answer,
   * and a request counted as started once the connection's byte count grew. A kept-alive client
   * that waited longer than the timeout and then sent its next request was closed when a sweep ran
   * between Jetty's read of those bytes (its {@code fillRequestBuffer} counts them before it parses)
   * and the handler's {@code headersRead}: a race lost under load. Counting from the first byte,
   * noted by the parser as it reads it, leaves no such window: the request's headers are late only
   * when they really took longer than the timeout.
   */
  static final class HeaderDeadlines implements Connection.Listener {
    /** In a connection's state: no request's headers are awaited (none started, or its headers are in). */
    private static final long IDLE = Long.MIN_VALUE;
    private final long timeoutNanos;
    /** Per open connection, when the request whose headers are awaited started ({@link System#nanoTime()}), or {@link #IDLE}. */
    private final Map<Connection, java.util.concurrent.atomic.AtomicLong> started = new ConcurrentHashMap<>();
    final java.util.concurrent.ScheduledExecutorService sweeper;

    HeaderDeadlines(java.time.Duration timeout) {
      this.timeoutNanos = timeout.toNanos();
      this.sweeper = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("aigw-http-header-deadlines").daemon(true).factory());
      long periodMillis = Math.max(100, Math.min(1000, timeout.toMillis() / 4));
      sweeper.scheduleWithFixedDelay(this::sweep, periodMillis, periodMillis, TimeUnit.MILLISECONDS);
    }

    @Override
    public void onOpened(Connection connection) {
      started.put(connection, new java.util.concurrent.atomic.AtomicLong(IDLE));
    }

    @Override
    public void onClosed(Connection connection) {
      started.remove(connection);
    }

    /** The parser read a byte of a new request on {@code connection} (its first, or one while the previous was already started: ignored). */
    void requestStarted(Connection connection) {
      var state = started.get(connection);
      if (state != null && state.get() == IDLE) {
        state.compareAndSet(IDLE, System.nanoTime());
      }
    }

    void headersRead(Connection connection) {
      var state = started.get(connection);
      if (state != null) {
        state.set(IDLE);
      }
    }

    void sweep() {
      long now = System.nanoTime();
      started.forEach((connection, state) -> {
        long since = state.get();
        // The compare-and-set: a request whose headers came in since the read above is not closed.
        if (since != IDLE && now - since > timeoutNanos && state.compareAndSet(since, IDLE)) {
          LOG.fine(() -> "a request's headers took longer than " + (timeoutNanos / 1_000_000_000) + " s; its connection is closed");
          started.remove(connection);
          connection.getEndPoint().close();
        }
      });
    }
  }

  /**
   * One client's share of the connections (issue 15): a client address that already holds {@link
   * ServerLimits#maxConnectionsPerClient()} has any further connection closed as soon as it opens,
   * so that it cannot take all {@link ServerLimits#maxConnections()} (which Jetty's {@link
   * ConnectionLimit} bounds) and keep everyone else out. On loopback every local process is the
   * same client, 127.0.0.1 (or ::1); the bound tells clients apart on other addresses.
   */
  static final class ClientConnections implements Connection.Listener {
    private final int perClient;
    private final Map<InetAddress, Integer> open = new ConcurrentHashMap<>();
    private final Map<Connection, InetAddress> counted = new ConcurrentHashMap<>();

    ClientConnections(int perClient) {
      this.perClient = perClient;
    }

    @Override
    public void onOpened(Connection connection) {
      if (!(connection.getEndPoint().getRemoteSocketAddress() instanceof InetSocketAddress remote) || remote.getAddress() == null) {
        return;
      }
      InetAddress client = remote.getAddress();
      var over = new AtomicBoolean();
      open.compute(client, (address, count) -> {
        int now = count == null ? 0 : count;
        if (now >= perClient) {
          over.set(true);
          return count;
        }
        return now + 1;
      });
      if (over.get()) {
        LOG.fine(() -> client.getHostAddress() + " already holds " + perClient + " connections; another one is closed");
        connection.getEndPoint().close();
      } else {
        counted.put(connection, client);
      }
    }

    @Override
    public void onClosed(Connection connection) {
      InetAddress client = counted.remove(connection);
      if (client != null) {
        open.computeIfPresent(client, (address, count) -> count <= 1 ? null : count - 1);
      }
    }
  }
}

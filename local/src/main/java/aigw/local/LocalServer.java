package aigw.local;

import aigw.core.errors.BadRequest;
import aigw.core.errors.ErrorEnvelope;
import aigw.core.errors.PayloadTooLarge;
import aigw.core.http.CorsPolicy;
import aigw.core.http.GatewayRequest;
import aigw.core.http.GatewayResponse;
import com.amazonaws.services.lambda.runtime.events.APIGatewayProxyRequestEvent;
import com.amazonaws.services.lambda.runtime.events.APIGatewayProxyRequestEvent.ProxyRequestContext;
import com.amazonaws.services.lambda.runtime.events.APIGatewayProxyRequestEvent.RequestIdentity;
import com.amazonaws.services.lambda.runtime.events.APIGatewayProxyResponseEvent;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A loopback HTTP server that does what API Gateway's REST proxy integration does: each request
 * becomes an {@link APIGatewayProxyRequestEvent}, each response event becomes the HTTP answer.
 */
final class LocalServer {
  /** API Gateway's own payload limit; larger bodies never reach a function there either. */
  static final int MAX_BODY_BYTES = 10 * 1024 * 1024;
  /**
   * Platform threads, not virtual ones: DynamoDB Local calls into SQLite through JNI, which pins a
   * virtual thread to its carrier, and two cores have only two carriers.
   */
  static final int WORKER_THREADS = 64;

  private static final Logger LOG = Logger.getLogger(LocalServer.class.getName());
  private static final DateTimeFormatter REQUEST_TIME =
      DateTimeFormatter.ofPattern("dd/MMM/yyyy:HH:mm:ss Z", Locale.ROOT);

  private final HttpServer server;
  private final ExecutorService workers;

  private LocalServer(HttpServer server, ExecutorService workers) {
    this.server = server;
    this.workers = workers;
  }

  /**
   * Listens on {@code host:port} and hands each request to {@code handler} as API Gateway would.
   * {@code cors} is applied to the answers this server gives by itself (the handlers apply it to
   * theirs).
   */
  static LocalServer start(
      String host, int port, CorsPolicy cors, Function<APIGatewayProxyRequestEvent, APIGatewayProxyResponseEvent> handler)
      throws IOException {
    HttpServer server = HttpServer.create(new InetSocketAddress(host, port), 512);
    ExecutorService workers = Executors.newFixedThreadPool(WORKER_THREADS, Thread.ofPlatform().name("aigw-http-", 0).daemon(true).factory());
    server.setExecutor(workers);
    server.createContext("/", exchange -> serve(exchange, cors, handler));
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
   * {@link ErrorEnvelope} like the handlers' own: 413 for a body over {@link #MAX_BODY_BYTES}, 400
   * for a body that cannot be read (a broken chunked encoding, a short body), and 502 when the
   * handler itself fails (what API Gateway answers for a function that crashed).
   *
   * <p>Not covered: requests the JDK server refuses before any handler runs (a malformed request
   * line or header name, an unsupported Transfer-Encoding, {@code OPTIONS *}) get its own short
   * HTML answer; API Gateway's front end refuses such requests with its own page too.
   */
  private static void serve(
      HttpExchange exchange, CorsPolicy cors, Function<APIGatewayProxyRequestEvent, APIGatewayProxyResponseEvent> handler) {
    try (exchange) {
      byte[] body;
      try {
        body = readBody(exchange.getRequestBody());
      } catch (IOException e) {
        // Also what a vanished client looks like; then the answer below cannot be sent, which is fine.
        LOG.log(Level.FINE, "request body unreadable", e);
        sendOwn(exchange, cors, ErrorEnvelope.response(
            new BadRequest("The request body could not be read (" + e.getMessage() + "); send it with a correct Content-Length or chunked encoding.")));
        return;
      }
      if (body == null) {
        sendOwn(exchange, cors, ErrorEnvelope.response(new PayloadTooLarge(MAX_BODY_BYTES)));
        return;
      }
      APIGatewayProxyRequestEvent event = toEvent(exchange, body);
      APIGatewayProxyResponseEvent response;
      try {
        response = handler.apply(event);
      } catch (RuntimeException | LinkageError | StackOverflowError e) {
        // The handlers catch their own failures; this is one they could not (on Lambda, a crashed invoke).
        LOG.log(Level.SEVERE, "handler failed", e);
        sendOwn(exchange, cors, ErrorEnvelope.integrationFailure(event.getRequestContext().getRequestId()));
        return;
      }
      byte[] out = response.getBody() == null ? new byte[0] : response.getBody().getBytes(StandardCharsets.UTF_8);
      if (Boolean.TRUE.equals(response.getIsBase64Encoded())) {
        out = java.util.Base64.getDecoder().decode(out);
      }
      send(exchange, response.getStatusCode() == null ? 200 : response.getStatusCode(), response.getHeaders(), out);
    } catch (IOException e) {
      LOG.log(Level.FINE, "client went away", e);
    } catch (RuntimeException e) {
      LOG.log(Level.SEVERE, "local server failed", e);
      try {
        sendOwn(exchange, cors, ErrorEnvelope.integrationFailure(null));
      } catch (IOException | RuntimeException ignored) {
        // headers already sent, or the client is gone: nothing more can be said
      }
    }
  }

  /** An answer of this server's own, with the CORS headers the handlers would have given it. */
  private static void sendOwn(HttpExchange exchange, CorsPolicy cors, GatewayResponse response) throws IOException {
    var request =
        new GatewayRequest(
            exchange.getRequestMethod(), exchange.getRequestURI().getPath(), firstValues(exchange), Map.of(), null, null);
    response = cors.onResponse(request, response);
    send(exchange, response.status(), response.headers(), response.body());
  }

  private static Map<String, String> firstValues(HttpExchange exchange) {
    var headers = new HashMap<String, String>();
    exchange.getRequestHeaders().forEach((name, values) -> {
      if (!values.isEmpty()) {
        headers.put(name, values.get(0));
      }
    });
    return headers;
  }

  /** Builds the event API Gateway sends for a {proxy+} resource; null when the body is too large. */
  static APIGatewayProxyRequestEvent toEvent(HttpExchange exchange, byte[] body) {
    String method = exchange.getRequestMethod();
    // Still %-encoded, as API Gateway REST passes it: a model id with %2F in /v1/models/{id}
    // decodes once, in the handler, the same here as on AWS.
    String path = exchange.getRequestURI().getRawPath();
    var headers = new HashMap<String, String>();
    var multiHeaders = new HashMap<String, List<String>>();
    exchange
        .getRequestHeaders()
        .forEach(
            (name, values) -> {
              // API Gateway keeps the client's spelling; the JDK server capitalises. Lower case is what
              // HTTP/2 clients send and what the core expects anyway.
              String key = name.toLowerCase(Locale.ROOT);
              multiHeaders.put(key, List.copyOf(values));
              headers.put(key, values.get(values.size() - 1));
            });
    var query = new LinkedHashMap<String, String>();
    var multiQuery = new LinkedHashMap<String, List<String>>();
    String raw = exchange.getRequestURI().getRawQuery();
    if (raw != null && !raw.isEmpty()) {
      for (String pair : raw.split("&")) {
        if (pair.isEmpty()) {
          continue;
        }
        int eq = pair.indexOf('=');
        String name = decode(eq < 0 ? pair : pair.substring(0, eq));
        String value = eq < 0 ? "" : decode(pair.substring(eq + 1));
        multiQuery.computeIfAbsent(name, n -> new ArrayList<>()).add(value);
        query.put(name, value);
      }
    }
    String requestId = UUID.randomUUID().toString();
    var context =
        new ProxyRequestContext()
            .withRequestId(requestId)
            .withStage("local")
            .withHttpMethod(method)
            .withPath("/local" + path)
            .withResourcePath(resource(path))
            .withAccountId("000000000000")
            .withApiId("local")
            .withProtocol(exchange.getProtocol())
            .withIdentity(new RequestIdentity().withSourceIp(exchange.getRemoteAddress().getAddress().getHostAddress()));
    context.setRequestTime(ZonedDateTime.now(ZoneOffset.UTC).format(REQUEST_TIME));
    context.setRequestTimeEpoch(System.currentTimeMillis());
    String resource = resource(path);
    return new APIGatewayProxyRequestEvent()
        .withResource(resource)
        .withPath(path)
        .withHttpMethod(method)
        .withHeaders(headers)
        .withMultiValueHeaders(multiHeaders)
        .withQueryStringParameters(query.isEmpty() ? null : query)
        .withMultiValueQueryStringParameters(multiQuery.isEmpty() ? null : multiQuery)
        .withPathParameters(resource.endsWith("{proxy+}") ? Map.of("proxy", path.substring(resource.indexOf("{proxy+}"))) : null)
        .withRequestContext(context)
        .withBody(body.length == 0 ? null : new String(body, StandardCharsets.UTF_8))
        .withIsBase64Encoded(false);
  }

  /** The template's resource that matches the path, as API Gateway reports it. */
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
   * Writes the answer. A HEAD answer, and any empty one, is sent with length -1: the JDK server
   * sends no body then, and warns ("being invoked with a content length for a HEAD request") for any
   * other length.
   */
  private static void send(HttpExchange exchange, int status, Map<String, String> headers, byte[] body)
      throws IOException {
    if (headers != null) {
      headers.forEach((name, value) -> exchange.getResponseHeaders().set(name, value));
    }
    boolean noBody = body.length == 0 || exchange.getRequestMethod().equalsIgnoreCase("HEAD");
    exchange.sendResponseHeaders(status, noBody ? -1 : body.length);
    if (!noBody) {
      // Closed here, before the exchange: closing the exchange first drains the request body, and a
      // broken one (a bad chunk) would drop the connection before this answer is flushed.
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    }
  }
}

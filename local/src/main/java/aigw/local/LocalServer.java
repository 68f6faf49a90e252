package aigw.local;

import com.amazonaws.services.lambda.runtime.events.APIGatewayProxyRequestEvent;
import com.amazonaws.services.lambda.runtime.events.APIGatewayProxyRequestEvent.ProxyRequestContext;
import com.amazonaws.services.lambda.runtime.events.APIGatewayProxyRequestEvent.RequestIdentity;
import com.amazonaws.services.lambda.runtime.events.APIGatewayProxyResponseEvent;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
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

  static LocalServer start(
      String host, int port, Function<APIGatewayProxyRequestEvent, APIGatewayProxyResponseEvent> handler)
      throws IOException {
    HttpServer server = HttpServer.create(new InetSocketAddress(host, port), 512);
    ExecutorService workers = Executors.newFixedThreadPool(WORKER_THREADS, Thread.ofPlatform().name("aigw-http-", 0).daemon(true).factory());
    server.setExecutor(workers);
    server.createContext("/", exchange -> serve(exchange, handler));
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

  private static void serve(
      HttpExchange exchange, Function<APIGatewayProxyRequestEvent, APIGatewayProxyResponseEvent> handler) {
    try (exchange) {
      byte[] body = readBody(exchange.getRequestBody());
      if (body == null) {
        send(exchange, 413, Map.of("Content-Type", "application/json"),
            "{\"message\":\"Request Too Long\"}".getBytes(StandardCharsets.UTF_8));
        return;
      }
      APIGatewayProxyResponseEvent response = handler.apply(toEvent(exchange, body));
      byte[] out = response.getBody() == null ? new byte[0] : response.getBody().getBytes(StandardCharsets.UTF_8);
      if (Boolean.TRUE.equals(response.getIsBase64Encoded())) {
        out = java.util.Base64.getDecoder().decode(out);
      }
      send(exchange, response.getStatusCode() == null ? 200 : response.getStatusCode(), response.getHeaders(), out);
    } catch (IOException e) {
      LOG.log(Level.FINE, "client went away", e);
    } catch (RuntimeException e) {
      // API Gateway answers a crashed integration with 502 and this body.
      LOG.log(Level.SEVERE, "handler failed", e);
      try {
        send(exchange, 502, Map.of("Content-Type", "application/json"),
            "{\"message\": \"Internal server error\"}".getBytes(StandardCharsets.UTF_8));
      } catch (IOException ignored) {
        // the client is gone
      }
    }
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

  private static void send(HttpExchange exchange, int status, Map<String, String> headers, byte[] body)
      throws IOException {
    if (headers != null) {
      headers.forEach((name, value) -> exchange.getResponseHeaders().set(name, value));
    }
    exchange.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
    if (body.length > 0) {
      exchange.getResponseBody().write(body);
    }
  }
}

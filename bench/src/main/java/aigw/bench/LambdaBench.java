package aigw.bench;

import aigw.core.Gateway;
import aigw.core.GatewaySettings;
import aigw.core.apigateway.ApiGatewayEvents;
import aigw.core.apigateway.ProxyRequestEvent;
import aigw.core.apigateway.ProxyResponseEvent;
import aigw.core.aws.TemplateTables;
import aigw.core.config.ModelList;
import aigw.core.http.CorsPolicy;
import aigw.core.http.GatewayResponse;
import aigw.core.json.Json;
import aigw.core.keys.ApiKeys;
import aigw.core.keys.VirtualKey;
import aigw.core.providers.Providers;
import aigw.core.providers.openai.OpenAiCompatibleProvider;
import aigw.core.secrets.ProviderCredentials;
import aigw.core.secrets.StaticSecretSource;
import aigw.local.EmbeddedDynamoDb;
import aigw.local.LocalGateway;
import aigw.proxy.ProxyHandler;
import aigw.proxy.ProxyService;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.net.Authenticator;
import java.net.CookieHandler;
import java.net.ProxySelector;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSession;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;

/**
 * Issue 14's warm Lambda target: the proxy function's own time per invocation, without the
 * DynamoDB calls and the provider call it waits on ("handler self-time" ≤ 0.5 ms p50).
 *
 * <p>The real {@link ProxyHandler} is wired as {@code Gateway.fromEnvironment} wires it on Lambda
 * (no background usage writers; the usage, spend and limit writes flushed after each answer, inside
 * the invocation), over embedded DynamoDB Local and the loopback {@link StubProvider}, and invoked
 * in this JVM three ways:
 *
 * <ul>
 *   <li>the runtime interface client's path ({@code ProxyResponseStreaming=false}): {@link
 *       ProxyHandler#handleRequest} on an API Gateway proxy event, which flushes the writes before
 *       returning;
 *   <li>the streaming runtime's path (template.yaml's default, {@code aigw.core.lambda.StreamingRuntime}):
 *       the event's JSON parsed as the runtime parses it, {@code application().handle}, the prelude
 *       and body written (to a null stream: no Runtime API here), then {@link ProxyHandler#afterResponse};
 *   <li>the same with {@code "stream":true} (a streamed chat completion relayed chunk by chunk).
 * </ul>
 *
 * <p>Self-time = the invocation's wall time − the time spent inside DynamoDB client calls (each
 * timed by a wrapping client, as {@link CountingDynamoDb} counts them) − the time spent inside the
 * provider's HTTP client ({@code send} until the headers, then every read and close of the answer's
 * body: timed at the {@link HttpClient} boundary, not estimated from the stub's own latency).
 * What remains is the handler's parsing, key check, limits, routing, response building and write
 * preparation, plus the loopback hop of neither.
 */
final class LambdaBench {
  private static final double TARGET_SELF_P50_MILLIS = 0.5;
  private static final String CHAT =
      "{\"model\":\"bench-model\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}],\"temperature\":0.2}";
  private static final String STREAMED_CHAT =
      "{\"model\":\"bench-model\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}],\"temperature\":0.2,"
          + "\"stream\":true,\"stream_options\":{\"include_usage\":true}}";

  private LambdaBench() {}

  /** Nanoseconds spent inside the timed clients; invocations run one at a time, so the sums are theirs. */
  private static final AtomicLong DYNAMO_NANOS = new AtomicLong();
  private static final AtomicLong PROVIDER_NANOS = new AtomicLong();

  static void run(Path config, Map<String, String> env, int invocations) throws Exception {
    var counting = new CountingDynamoDb();
    try (var database = EmbeddedDynamoDb.inMemory()) {
      var settings = GatewaySettings.fromEnvironment(env);
      DynamoDbClient raw = database.client();
      try (InputStream template = LocalGateway.class.getResourceAsStream("/aigw/template.yaml")) {
        TemplateTables.createAll(raw, template, Map.of("KeysTable", settings.keysTable(), "LogsTable", settings.logs().table()));
      }
      DynamoDbClient dynamo = timed(counting.wrap(raw));
      // As Gateway.fromEnvironment(env, true): the proxy function's wiring, with the master key from
      // the environment (not used: the calls carry a virtual key) and the provider client timed.
      var providers = new Providers(new TimedHttpClient(OpenAiCompatibleProvider.defaultHttpClient()), ProviderCredentials.environmentOnly());
      var gateway = Gateway.over(settings, dynamo, StaticSecretSource.fromEnvironment(env), ModelList.readConfig(config, env), providers, Clock.systemUTC());
      gateway.masterKey().load();
      var handler = new ProxyHandler(new ProxyService(gateway), CorsPolicy.allowing(settings.corsAllowedOrigins()));

      String key = ApiKeys.generate();
      var now = Instant.now();
      gateway.keyStore().create(new VirtualKey(ApiKeys.hash(key), UUID.randomUUID().toString(),
          ApiKeys.mask(key), null, List.of(), null, null, Map.of(), now, now, null, false, null, null, null));

      System.out.printf(Locale.ROOT,
          "  self-time = wall - DynamoDB client calls - provider HTTP client (send + body reads, timed at the client); %d invocations after %d warm-up%n",
          invocations, invocations);
      record Path3(String name, String body, boolean streamingRuntime) {}
      for (var path : List.of(
          new Path3("runtime interface client (handleRequest, buffered)", CHAT, false),
          new Path3("streaming runtime (template default), whole answer", CHAT, true),
          new Path3("streaming runtime, streamed answer (\"stream\":true)", STREAMED_CHAT, true))) {
        var event = event(key, path.body());
        byte[] eventJson = Json.bytes(event);
        Runnable invoke = path.streamingRuntime() ? () -> streamingInvocation(handler, eventJson) : () -> bufferedInvocation(handler, event);
        for (int i = 0; i < invocations; i++) { // warm-up: JIT, connections, the key cached
          invoke.run();
        }
        long[] self = new long[invocations];
        long[] wall = new long[invocations];
        var before = counting.snapshot();
        for (int i = 0; i < invocations; i++) {
          long dynamoBefore = DYNAMO_NANOS.get();
          long providerBefore = PROVIDER_NANOS.get();
          long start = System.nanoTime();
          invoke.run();
          wall[i] = System.nanoTime() - start;
          self[i] = wall[i] - (DYNAMO_NANOS.get() - dynamoBefore) - (PROVIDER_NANOS.get() - providerBefore);
        }
        var after = counting.snapshot();
        Arrays.sort(self);
        Arrays.sort(wall);
        double p50 = millis(self, 50);
        System.out.printf(Locale.ROOT, "  %s:%n    self-time p50 %.3f ms p99 %.3f ms (target p50 <= %.1f ms: %s); wall p50 %.3f ms%n",
            path.name(), p50, millis(self, 99), TARGET_SELF_P50_MILLIS, verdict(p50), millis(wall, 50));
        System.out.println("    DynamoDB calls per invocation (after-answer flush included): " + perInvocation(before, after, invocations));
      }
    }
  }

  private static void bufferedInvocation(ProxyHandler handler, ProxyRequestEvent event) {
    ProxyResponseEvent response = handler.handleRequest(event, null); // flushes the writes before returning
    if (response.getStatusCode() != 200) {
      throw new IllegalStateException("the proxy answered " + response.getStatusCode() + ": " + response.getBody());
    }
  }

  /** As StreamingRuntime.serveNext, without the Runtime API: parse, answer, write, then afterResponse. */
  private static void streamingInvocation(ProxyHandler handler, byte[] eventJson) {
    try {
      GatewayResponse response = handler.application().handle(ApiGatewayEvents.toRequest(ApiGatewayEvents.parseEvent(eventJson)));
      if (response.status() != 200) {
        throw new IllegalStateException("the proxy answered " + response.status() + ": " + (response.isStreaming() ? "(a stream)" : response.bodyText()));
      }
      OutputStream body = OutputStream.nullOutputStream();
      var prelude = new LinkedHashMap<String, Object>();
      prelude.put("statusCode", response.status());
      prelude.put("headers", Map.copyOf(response.headers()));
      body.write(Json.bytes(prelude));
      if (response.isStreaming()) {
        response.stream().writeTo(body);
      } else {
        body.write(response.body());
      }
    } catch (IOException e) {
      throw new IllegalStateException(e);
    } finally {
      handler.afterResponse();
    }
  }

  private static ProxyRequestEvent event(String key, String body) {
    var context = new ProxyRequestEvent.ProxyRequestContext();
    context.setRequestId(UUID.randomUUID().toString());
    return new ProxyRequestEvent()
        .withHttpMethod("POST")
        .withPath("/v1/chat/completions")
        .withHeaders(Map.of("Authorization", "Bearer " + key, "Content-Type", "application/json"))
        .withMultiValueHeaders(Map.of("Authorization", List.of("Bearer " + key), "Content-Type", List.of("application/json")))
        .withRequestContext(context)
        .withBody(body)
        .withIsBase64Encoded(false);
  }

  private static String perInvocation(Map<String, Long> before, Map<String, Long> after, int invocations) {
    var parts = new java.util.ArrayList<String>();
    double total = 0;
    double writes = 0;
    for (var entry : after.entrySet()) {
      if (entry.getKey().equals(CountingDynamoDb.WRITES_AFTER_THE_ANSWER)) {
        continue; // a tally of the write calls below, not a call of its own
      }
      long delta = entry.getValue() - before.getOrDefault(entry.getKey(), 0L);
      if (delta > 0) {
        double each = (double) delta / invocations;
        total += each;
        if (!entry.getKey().startsWith("get") && !entry.getKey().startsWith("query") && !entry.getKey().startsWith("scan")
            && !entry.getKey().startsWith("batchGet") && !entry.getKey().startsWith("describe")) {
          writes += each;
        }
        parts.add(String.format(Locale.ROOT, "%s %.3f", entry.getKey(), each));
      }
    }
    return String.format(Locale.ROOT, "%.2f calls, %.2f writes (%s)", total, writes, parts.isEmpty() ? "none" : String.join(", ", parts));
  }

  private static double millis(long[] sorted, int percentile) {
    int index = Math.min(sorted.length - 1, (int) Math.ceil(percentile / 100.0 * sorted.length) - 1);
    return sorted[Math.max(0, index)] / 1e6;
  }

  private static String verdict(double p50) {
    return p50 <= TARGET_SELF_P50_MILLIS ? "met" : String.format(Locale.ROOT, "missed by %.3f ms", p50 - TARGET_SELF_P50_MILLIS);
  }

  /** Every DynamoDB call's time added to {@link #DYNAMO_NANOS}. */
  private static DynamoDbClient timed(DynamoDbClient client) {
    return (DynamoDbClient) Proxy.newProxyInstance(DynamoDbClient.class.getClassLoader(), new Class<?>[] {DynamoDbClient.class},
        (proxy, method, args) -> {
          long start = System.nanoTime();
          try {
            return method.invoke(client, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          } finally {
            DYNAMO_NANOS.addAndGet(System.nanoTime() - start);
          }
        });
  }

  /**
   * The provider's HTTP client with its time counted: {@code send} or {@code sendAsync} (request out,
   * status and headers in) and, for an answer read as a stream, each read and the close of its body.
   */
  private static final class TimedHttpClient extends HttpClient {
    private final HttpClient client;

    TimedHttpClient(HttpClient client) {
      this.client = client;
    }

    @Override
    public <T> HttpResponse<T> send(HttpRequest request, HttpResponse.BodyHandler<T> handler) throws IOException, InterruptedException {
      long start = System.nanoTime();
      try {
        return timedBody(client.send(request, handler));
      } finally {
        PROVIDER_NANOS.addAndGet(System.nanoTime() - start);
      }
    }

    /**
     * Counted from the call to the answer's completion (status, headers and, for a body the client
     * collects, the body): the waiting thread's wake-up after it stays the gateway's own time.
     */
    @Override
    public <T> CompletableFuture<HttpResponse<T>> sendAsync(HttpRequest request, HttpResponse.BodyHandler<T> handler) {
      long start = System.nanoTime();
      return client.sendAsync(request, handler)
          .whenComplete((response, failure) -> PROVIDER_NANOS.addAndGet(System.nanoTime() - start))
          .thenApply(TimedHttpClient::timedBody);
    }

    @Override
    public <T> CompletableFuture<HttpResponse<T>> sendAsync(
        HttpRequest request, HttpResponse.BodyHandler<T> handler, HttpResponse.PushPromiseHandler<T> pushPromiseHandler) {
      throw new UnsupportedOperationException("the providers do not take HTTP/2 pushes");
    }

    private static <T> HttpResponse<T> timedBody(HttpResponse<T> response) {
      if (response.body() instanceof InputStream body) {
        @SuppressWarnings("unchecked")
        T timedBody = (T) new TimedInputStream(body);
        return new TimedResponse<>(response, timedBody);
      }
      return response;
    }

    @Override
    public Optional<CookieHandler> cookieHandler() {
      return client.cookieHandler();
    }

    @Override
    public Optional<Duration> connectTimeout() {
      return client.connectTimeout();
    }

    @Override
    public Redirect followRedirects() {
      return client.followRedirects();
    }

    @Override
    public Optional<ProxySelector> proxy() {
      return client.proxy();
    }

    @Override
    public SSLContext sslContext() {
      return client.sslContext();
    }

    @Override
    public SSLParameters sslParameters() {
      return client.sslParameters();
    }

    @Override
    public Optional<Authenticator> authenticator() {
      return client.authenticator();
    }

    @Override
    public Version version() {
      return client.version();
    }

    @Override
    public Optional<Executor> executor() {
      return client.executor();
    }
  }

  private static final class TimedInputStream extends FilterInputStream {
    TimedInputStream(InputStream in) {
      super(in);
    }

    @Override
    public int read() throws IOException {
      long start = System.nanoTime();
      try {
        return super.read();
      } finally {
        PROVIDER_NANOS.addAndGet(System.nanoTime() - start);
      }
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      long start = System.nanoTime();
      try {
        return in.read(b, off, len);
      } finally {
        PROVIDER_NANOS.addAndGet(System.nanoTime() - start);
      }
    }

    @Override
    public byte[] readAllBytes() throws IOException {
      long start = System.nanoTime();
      try {
        return in.readAllBytes();
      } finally {
        PROVIDER_NANOS.addAndGet(System.nanoTime() - start);
      }
    }

    @Override
    public byte[] readNBytes(int len) throws IOException {
      long start = System.nanoTime();
      try {
        return in.readNBytes(len);
      } finally {
        PROVIDER_NANOS.addAndGet(System.nanoTime() - start);
      }
    }

    @Override
    public void close() throws IOException {
      long start = System.nanoTime();
      try {
        in.close();
      } finally {
        PROVIDER_NANOS.addAndGet(System.nanoTime() - start);
      }
    }
  }

  private record TimedResponse<T>(HttpResponse<T> response, T body) implements HttpResponse<T> {
    @Override
    public int statusCode() {
      return response.statusCode();
    }

    @Override
    public HttpRequest request() {
      return response.request();
    }

    @Override
    public Optional<HttpResponse<T>> previousResponse() {
      return response.previousResponse();
    }

    @Override
    public HttpHeaders headers() {
      return response.headers();
    }

    @Override
    public Optional<SSLSession> sslSession() {
      return response.sslSession();
    }

    @Override
    public java.net.URI uri() {
      return response.uri();
    }

    @Override
    public HttpClient.Version version() {
      return response.version();
    }
  }
}

package aigw.local.lambda;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.Gateway;
import aigw.core.json.Json;
import aigw.core.keys.KeyUsage;
import aigw.core.lambda.StreamingRuntime;
import aigw.core.secrets.StaticSecretSource;
import aigw.core.testing.LocalDynamo;
import aigw.core.testing.MutableClock;
import aigw.core.testing.TestGateways;
import aigw.proxy.ProxyHandler;
import aigw.proxy.ProxyService;
import com.github.tomakehurst.wiremock.WireMockServer;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;

/**
 * The usage write off the client's path on Lambda: under aigw's streaming runtime, with the proxy's
 * real application and a DynamoDB whose UpdateItem is held until the test releases it, the Runtime
 * API has the whole response (the client its whole answer) while the usage write is still held,
 * and the runtime asks for the next invocation only once that write has ended.
 */
class StreamingRuntimeUsageTest {
  private static final String KEY = "sk-aigw-usage-after-response-0001";
  private static final String NEXT = "GET /2018-06-01/runtime/invocation/next";
  private static final String COMPLETION = """
      {"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini",
       "choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"finish_reason":"stop"}],
       "usage":{"prompt_tokens":11,"completion_tokens":2,"total_tokens":13}}
      """;
  private static final String STREAM = """
      data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hello!"},"finish_reason":"stop"}]}

      data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":2,"total_tokens":13}}

      data: [DONE]

      """;

  private final AtomicBoolean holding = new AtomicBoolean();
  private final CountDownLatch release = new CountDownLatch(1);
  private final AtomicInteger writesEntered = new AtomicInteger();
  private final AtomicInteger writesEnded = new AtomicInteger();
  private RuntimeApiStandIn api;
  private LocalDynamo dynamo;
  private WireMockServer upstream;
  private Gateway gateway;
  private String keyId;

  @BeforeEach
  void start() throws Exception {
    api = new RuntimeApiStandIn();
    dynamo = new LocalDynamo();
    upstream = aigw.core.testing.Upstream.start();
    upstream.stubFor(post("/v1/chat/completions").withRequestBody(com.github.tomakehurst.wiremock.client.WireMock.containing("\"stream\":true"))
        .willReturn(aResponse().withHeader("Content-Type", "text/event-stream").withBody(STREAM)));
    upstream.stubFor(post("/v1/chat/completions").withRequestBody(com.github.tomakehurst.wiremock.client.WireMock.notContaining("\"stream\":true"))
        .willReturn(aResponse().withHeader("Content-Type", "application/json").withBody(COMPLETION)));
    var models = List.of(TestGateways.openAi("gpt-4o-mini", "gpt-4o-mini", upstream.baseUrl() + "/v1"));
    gateway = Gateway.over(TestGateways.settings(dynamo), holdingUpdates(dynamo.client()), StaticSecretSource.of(TestGateways.MASTER_KEY), models,
        MutableClock.at("2026-05-01T12:00:00Z"));
    keyId = TestGateways.storeKey(gateway, KEY, List.of(), null, false).keyId();
  }

  @AfterEach
  void stop() throws Exception {
    release.countDown();
    upstream.stop();
    api.close();
    dynamo.close();
  }

  /** The gateway's DynamoDB client, whose UpdateItem or TransactWriteItems (the usage write) waits for {@link #release} while {@link #holding}. */
  private DynamoDbClient holdingUpdates(DynamoDbClient client) {
    return (DynamoDbClient) Proxy.newProxyInstance(DynamoDbClient.class.getClassLoader(), new Class<?>[] {DynamoDbClient.class},
        (proxy, method, args) -> {
          // The usage write: with the spend-log row in the one TransactWriteItems after the answer (docs/limits.md).
          // Counted only while holding: the key's creation before the test is a TransactWriteItems too.
          boolean usageWrite = (method.getName().equals("updateItem") || method.getName().equals("transactWriteItems")) && holding.get();
          if (usageWrite) {
            writesEntered.incrementAndGet();
            if (!release.await(60, TimeUnit.SECONDS)) {
              throw new IllegalStateException("the test never released the write");
            }
          }
          try {
            return method.invoke(client, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          } finally {
            if (usageWrite) {
              writesEnded.incrementAndGet();
            }
          }
        });
  }

  private static byte[] chatEvent(boolean stream) {
    String body = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]" + (stream ? ",\"stream\":true" : "") + "}";
    return Json.bytes(Map.of("httpMethod", "POST", "path", "/v1/chat/completions",
        "headers", Map.of("Authorization", "Bearer " + KEY, "Content-Type", "application/json"),
        "body", body, "isBase64Encoded", false, "requestContext", Map.of("requestId", "req-1")));
  }

  /** Waits for {@code condition}; the bound only keeps a broken build from hanging, nothing is timed. */
  private static void awaitUntil(java.util.function.BooleanSupplier condition, String what) {
    long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!condition.getAsBoolean()) {
      assertThat(System.nanoTime()).as(what).isLessThan(giveUp);
      Thread.onSpinWait();
    }
  }

  private long nextPolls() {
    return api.requestLines().stream().filter(NEXT::equals).count();
  }

  @ParameterizedTest(name = "stream: {0}")
  @ValueSource(booleans = {false, true})
  void theWholeAnswerIsSentWhileItsUsageWriteIsHeldAndTheNextInvocationIsAskedForOnlyAfterIt(boolean stream) throws Exception {
    var runtime = new StreamingRuntime(api.address(), new ProxyHandler(new ProxyService(gateway)));
    Thread.ofPlatform().daemon(true).start(() -> {
      try {
        runtime.serveNext();
        runtime.serveNext(); // asks for the second invocation: what the test watches for
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    holding.set(true);

    var outcome = api.invoke(chatEvent(stream)).get(30, TimeUnit.SECONDS);

    assertThat(outcome.kind()).isEqualTo("response");
    assertThat(outcome.trailers()).as("a complete response").isEmpty();
    assertThat(outcome.prelude().get("statusCode").asInt()).isEqualTo(200);
    assertThat(outcome.payload()).contains("Hello!");
    if (stream) {
      assertThat(outcome.payload()).endsWith("data: [DONE]\n\n");
    }
    awaitUntil(() -> writesEntered.get() > 0, "the usage write starts once the response is out");
    assertThat(writesEnded.get()).as("the client has its whole answer while the usage write is held").isZero();
    assertThat(nextPolls()).as("no /next while the write is held: the invocation is still running").isEqualTo(1);

    release.countDown();
    awaitUntil(() -> nextPolls() == 2, "the runtime asks for the next invocation once the write has ended");
    assertThat(writesEnded.get()).isEqualTo(1);
    KeyUsage usage = gateway.keyStore().usageOf(keyId);
    assertThat(usage.requests()).isEqualTo(1);
    assertThat(usage.totalTokens()).isEqualTo(13);
  }
}

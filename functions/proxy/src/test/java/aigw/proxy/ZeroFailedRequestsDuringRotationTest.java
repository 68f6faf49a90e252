package aigw.proxy;

import static com.github.tomakehurst.wiremock.client.WireMock.*;
import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.Gateway;
import aigw.core.json.Json;
import aigw.core.keys.ApiKeys;
import aigw.core.keys.KeyChanges;
import aigw.core.keys.VirtualKey;
import aigw.core.rotation.RotationEvent;
import aigw.core.rotation.RotationEvents;
import aigw.core.rotation.VirtualKeyRotator;
import aigw.core.testing.Events;
import aigw.core.testing.LocalDynamo;
import aigw.core.testing.MutableClock;
import aigw.core.testing.TestGateways;
import aigw.core.apigateway.ProxyResponseEvent;
import com.github.tomakehurst.wiremock.WireMockServer;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The rotation issue's key test: clients keep calling the proxy while their key is rotated, and not
 * one request fails. Two proxy "containers" (each a gateway with its own key cache, as two Lambda
 * environments) serve one client each; a third (the admin function) rotates the key. All share
 * DynamoDB Local and one clock that the first client moves a second per request, so the proxies'
 * caches expire and re-read the key during the run. The grace end is reached by moving the clock.
 */
class ZeroFailedRequestsDuringRotationTest {
  private static final String COMPLETION =
      """
      {"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini",
       "choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"finish_reason":"stop"}],
       "usage":{"prompt_tokens":11,"completion_tokens":2,"total_tokens":13}}
      """;
  private static final Duration GRACE = Duration.ofHours(1);
  private static final int PER_PHASE = 25;

  private WireMockServer upstream;
  private LocalDynamo dynamo;
  private MutableClock clock;
  private ExecutorService pool;

  @BeforeEach
  void setUp() {
    upstream = aigw.core.testing.Upstream.start();
    upstream.stubFor(post("/v1/chat/completions").willReturn(okJson(COMPLETION)));
    dynamo = new LocalDynamo();
    clock = MutableClock.at("2026-05-01T12:00:00Z");
    pool = Executors.newFixedThreadPool(3);
  }

  @AfterEach
  void tearDown() throws InterruptedException {
    pool.shutdownNow();
    pool.awaitTermination(30, TimeUnit.SECONDS);
    dynamo.close();
    upstream.stop();
  }

  private Gateway container() {
    return TestGateways.gateway(dynamo, List.of(TestGateways.openAi("gpt-4o-mini", "gpt-4o-mini", upstream.baseUrl() + "/v1")), clock);
  }

  private static ProxyResponseEvent call(ProxyHandler proxy, String key) {
    return proxy.handleRequest(Events.withKey(Events.load("proxy-chat-completions.json"), key), null);
  }

  private static String errorType(ProxyResponseEvent response) throws Exception {
    return Json.MAPPER.readTree(response.getBody()).path("error").path("type").asText();
  }

  /** Waits (not for correctness: only until the clients have done enough) for a condition, at most a minute. */
  private static void awaitUntil(
      String what, BooleanSupplier condition, List<Future<?>> clients, java.util.Collection<String> failures) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!condition.getAsBoolean()) {
      assertThat(failures).as("failed requests while waiting until %s", what).isEmpty();
      for (Future<?> client : clients) {
        if (client.isDone()) {
          client.get(); // a client that died says why
        }
      }
      assertThat(System.nanoTime()).as("timed out waiting until %s", what).isLessThan(deadline);
      Thread.sleep(2);
    }
  }

  @Test
  void noRequestFailsWhileTheKeyRotatesAndTheOldKeyStopsAtItsGraceEnd() throws Exception {
    Gateway admin = container();
    String oldKey = ApiKeys.generate();
    VirtualKey stored = TestGateways.storeKey(admin, oldKey, List.of(), null, false);
    var events = new ConcurrentLinkedQueue<RotationEvent>();
    RotationEvents recording = events::add;
    var rotator = new VirtualKeyRotator(admin.keyStore(), admin.keyCache(), null, VirtualKeyRotator.DEFAULT_SECRET_PREFIX, recording, clock);
    var proxies = List.of(new ProxyHandler(new ProxyService(container())), new ProxyHandler(new ProxyService(container())));

    // What the clients present, and what they saw.
    var presented = new AtomicReference<>(oldKey);
    var rotated = new AtomicBoolean();
    var stop = new AtomicBoolean();
    var oldBefore = new AtomicInteger();
    var oldAfter = new AtomicInteger();
    var withNew = new AtomicInteger();
    var failures = new ConcurrentLinkedQueue<String>();

    var clients = new java.util.ArrayList<Future<?>>();
    for (int c = 0; c < proxies.size(); c++) {
      ProxyHandler proxy = proxies.get(c);
      boolean movesTheClock = c == 0;
      clients.add(pool.submit(() -> {
        while (!stop.get() && !Thread.currentThread().isInterrupted()) {
          String key = presented.get();
          boolean afterRotation = rotated.get();
          var response = call(proxy, key);
          if (response.getStatusCode() != 200) {
            failures.add((key.equals(oldKey) ? "old" : "new") + " key, " + (afterRotation ? "after" : "before")
                + " the rotation: " + response.getStatusCode() + " " + response.getBody());
          } else if (!key.equals(oldKey)) {
            withNew.incrementAndGet();
          } else if (afterRotation) {
            oldAfter.incrementAndGet();
          } else {
            oldBefore.incrementAndGet();
          }
          if (movesTheClock) {
            clock.advance(Duration.ofSeconds(1)); // proxies' key caches (5 s) expire and re-read mid-run
          }
        }
        return null;
      }));
    }

    awaitUntil("requests with the old key before the rotation", () -> oldBefore.get() >= PER_PHASE, clients, failures);
    var rotation =
        pool.submit(() -> {
          var result = rotator.rotate(admin.keyStore().findByHash(ApiKeys.hash(oldKey)).orElseThrow(), null, GRACE, KeyChanges.none(), "manual");
          rotated.set(true);
          return result;
        });
    VirtualKeyRotator.Rotation result = rotation.get(60, TimeUnit.SECONDS);
    String newKey = result.key();
    awaitUntil("requests with the old key after the rotation", () -> oldAfter.get() >= PER_PHASE, clients, failures);
    presented.set(newKey); // the client picks up the new key
    awaitUntil("requests with the new key", () -> withNew.get() >= PER_PHASE, clients, failures);
    stop.set(true);
    for (Future<?> client : clients) {
      client.get(60, TimeUnit.SECONDS);
    }

    assertThat(failures).as("failed requests during the rotation").isEmpty();
    assertThat(oldBefore.get()).isPositive();
    assertThat(oldAfter.get()).isPositive();
    assertThat(withNew.get()).isPositive();
    assertThat(events).singleElement().satisfies(e -> assertThat(e.keyId()).isEqualTo(stored.keyId()));
    Instant graceEnd = result.rotated().rotation().previousKeyValidUntil();
    assertThat(clock.instant()).as("the run stayed within the grace period").isBefore(graceEnd);
    int successes = oldBefore.get() + oldAfter.get() + withNew.get();

    // One second before the grace end the old key still works, in both containers.
    clock.advance(Duration.between(clock.instant(), graceEnd).minusSeconds(1));
    for (ProxyHandler proxy : proxies) {
      assertThat(call(proxy, oldKey).getStatusCode()).isEqualTo(200);
      successes++;
    }
    // At the grace end it stops, whatever the containers cached; the new key goes on.
    clock.advance(Duration.ofSeconds(1));
    for (ProxyHandler proxy : proxies) {
      var refused = call(proxy, oldKey);
      assertThat(refused.getStatusCode()).as("old key at the grace end: %s", refused.getBody()).isEqualTo(401);
      assertThat(errorType(refused)).isEqualTo("token_not_found_in_db");
      assertThat(refused.getBody()).doesNotContain(newKey);
      assertThat(call(proxy, newKey).getStatusCode()).isEqualTo(200);
      successes++;
    }
    clock.advance(Duration.ofDays(1)); // and later, once the pointer is long past its end
    for (ProxyHandler proxy : proxies) {
      assertThat(call(proxy, oldKey).getStatusCode()).isEqualTo(401);
      assertThat(call(proxy, newKey).getStatusCode()).isEqualTo(200);
      successes++;
    }

    // Every successful request was counted, on the one key, whichever value it presented.
    var usage = admin.keyStore().usageOf(stored.keyId());
    assertThat(usage.requests()).as("usage requests").isEqualTo(successes);
    assertThat(usage.totalTokens()).isEqualTo(13L * successes);
    upstream.verify(successes, postRequestedFor(urlEqualTo("/v1/chat/completions")));
    assertThat(admin.keyStore().findByHash(ApiKeys.hash(newKey)).orElseThrow().keyId()).isEqualTo(stored.keyId());
  }
  @Test
  void aKeyRotatedWithoutGraceStopsInAnotherContainerWithinTheKeyCacheTtl() throws Exception {
    Gateway admin = container();
    Gateway proxyContainer = container();
    var proxy = new ProxyHandler(new ProxyService(proxyContainer));
    String oldKey = ApiKeys.generate();
    VirtualKey stored = TestGateways.storeKey(admin, oldKey, List.of(), null, false);
    assertThat(call(proxy, oldKey).getStatusCode()).isEqualTo(200); // the proxy container has the key cached now
    var rotator = new VirtualKeyRotator(admin.keyStore(), admin.keyCache(), null, VirtualKeyRotator.DEFAULT_SECRET_PREFIX, e -> {}, clock);
    String newKey = rotator.rotate(stored, null, Duration.ZERO, KeyChanges.none(), "manual").key();

    assertThat(call(proxy, newKey).getStatusCode()).as("a new key works at once everywhere").isEqualTo(200);
    // The admin container dropped its cache entry; the proxy container trusts its own for at most the TTL.
    Duration ttl = proxyContainer.keyCache().ttl();
    assertThat(ttl).isPositive().isLessThanOrEqualTo(Duration.ofSeconds(5));
    clock.advance(ttl);
    var refused = call(proxy, oldKey);
    assertThat(refused.getStatusCode()).isEqualTo(401);
    assertThat(errorType(refused)).isEqualTo("token_not_found_in_db");
    assertThat(call(proxy, newKey).getStatusCode()).isEqualTo(200);
    assertThat(admin.keyStore().usageOf(stored.keyId()).requests()).isEqualTo(3);
  }
}

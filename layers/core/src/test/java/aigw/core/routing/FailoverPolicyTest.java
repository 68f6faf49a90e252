package aigw.core.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.config.Deployment;
import aigw.core.config.RouterSettings;
import aigw.core.errors.ErrorEnvelope;
import aigw.core.errors.GatewayException;
import aigw.core.errors.NoDeploymentAvailable;
import aigw.core.errors.ServiceUnavailable;
import aigw.core.errors.UpstreamFailed;
import aigw.core.errors.UpstreamTimeout;
import aigw.core.errors.UpstreamUnreachable;
import aigw.core.http.ClientClosedRequest;
import aigw.core.http.ClientDeparture;
import aigw.core.providers.ForwardedBody;
import aigw.core.providers.Operation;
import aigw.core.providers.ProviderAnswer;
import aigw.core.providers.ProviderRequest;
import aigw.core.providers.ProviderResponse;
import aigw.core.providers.ProviderStream;
import aigw.core.providers.StreamChunk;
import aigw.core.testing.MutableClock;
import aigw.core.testing.TestGateways;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * The failover rules without HTTP: each deployment answers from a script, the clock is moved by the
 * sleeper (no real waits), the jitter is fixed.
 */
class FailoverPolicyTest {
  private static final Deployment A1 = TestGateways.openAi("gpt-4o", "a1", "http://127.0.0.1:9/v1");
  private static final Deployment A2 = TestGateways.openAi("gpt-4o", "a2", "http://127.0.0.1:9/v1");
  private static final Deployment B = TestGateways.openAi("cheap", "b", "http://127.0.0.1:9/v1");
  private static final Deployment C = TestGateways.openAi("long", "c", "http://127.0.0.1:9/v1");
  private static final ProviderRequest REQUEST =
      ProviderRequest.complete(Operation.CHAT_COMPLETIONS, ForwardedBody.of("{\"model\":\"gpt-4o\"}".getBytes(StandardCharsets.UTF_8)));

  private final MutableClock clock = MutableClock.at("2026-01-01T00:00:00Z");
  private final List<Duration> waits = new ArrayList<>();
  private final List<String> calls = new ArrayList<>();
  private final Map<String, Deque<Supplier<ProviderAnswer>>> scripts = new HashMap<>();

  private FailoverPolicy policy(RouterSettings settings) {
    Map<String, List<Deployment>> groups = Map.of("gpt-4o", List.of(A1, A2), "cheap", List.of(B), "long", List.of(C));
    return new FailoverPolicy(
        settings,
        (deployment, request) -> {
          calls.add(deployment.upstreamModel());
          Deque<Supplier<ProviderAnswer>> script = scripts.get(deployment.upstreamModel());
          return (script.size() > 1 ? script.poll() : script.peek()).get();
        },
        name -> groups.getOrDefault(name, List.of()),
        new Cooldowns(),
        clock,
        () -> 0.5,
        wait -> {
          waits.add(wait);
          clock.advance(wait);
        });
  }

  @SafeVarargs
  private void script(Deployment deployment, Supplier<ProviderAnswer>... answers) {
    scripts.put(deployment.upstreamModel(), new ArrayDeque<>(List.of(answers)));
  }

  private static Supplier<ProviderAnswer> ok(String text) {
    return () -> new ProviderResponse(("{\"text\":\"" + text + "\"}").getBytes(StandardCharsets.UTF_8), null);
  }

  private static Supplier<ProviderAnswer> fails(GatewayException e) {
    return () -> {
      throw e;
    };
  }

  private static UpstreamFailed status(int status, String retryAfter) {
    return new UpstreamFailed(status, "provider said " + status, "rate_limit_error", null, null, retryAfter);
  }

  private static final UpstreamUnreachable REFUSED = new UpstreamUnreachable("Cannot connect", null, true);
  private static final UpstreamUnreachable RESET = new UpstreamUnreachable("reset after sending", null, false);

  private static String text(ProviderAnswer answer) {
    return new String(((ProviderResponse) answer).body(), StandardCharsets.UTF_8);
  }

  @Test
  void aRateLimitedDeploymentIsRetriedOnTheNextDeploymentAtOnce() {
    script(A1, fails(status(429, "7")));
    script(A2, ok("from a2"));

    var answer = policy(RouterSettings.defaults().withNumRetries(1)).call(List.of(A1, A2), REQUEST);

    assertThat(text(answer)).contains("from a2");
    assertThat(calls).containsExactly("a1", "a2");
    assertThat(waits).isEmpty();
  }

  @Test
  void withoutNumRetriesAProviderErrorIsAnsweredAsItIs() {
    script(A1, fails(status(503, null)));
    script(A2, ok("from a2"));

    assertThatThrownBy(() -> policy(RouterSettings.defaults()).call(List.of(A1, A2), REQUEST))
        .isInstanceOfSatisfying(UpstreamFailed.class, e -> assertThat(e.upstreamStatus()).isEqualTo(503));
    assertThat(calls).containsExactly("a1");
  }

  @Test
  void aDeploymentThatCannotBeReachedFallsToTheNextWithoutUsingARetry() {
    script(A1, fails(REFUSED));
    script(A2, ok("from a2"));

    assertThat(text(policy(RouterSettings.defaults()).call(List.of(A1, A2), REQUEST))).contains("from a2");
  }

  @Test
  void theOnlyDeploymentIsRetriedAfterTheProvidersRetryAfter() {
    script(B, fails(status(429, "3")), fails(status(500, null)), ok("third time"));

    var answer = policy(RouterSettings.defaults().withNumRetries(2)).call(List.of(B), REQUEST);

    assertThat(text(answer)).contains("third time");
    // The provider's 3 s, then backoff with full jitter: 0.5 × min(0.5 s × 2^1, 8 s).
    assertThat(waits).containsExactly(Duration.ofSeconds(3), Duration.ofMillis(500));
  }

  @Test
  void backoffGrowsExponentiallyWithFullJitterUpToEightSeconds() {
    var failure = status(503, null);
    var now = clock.instant();
    assertThat(Backoff.wait(0, failure, Duration.ZERO, () -> 0.999, now)).isEqualTo(Duration.ofMillis(499));
    assertThat(Backoff.wait(3, failure, Duration.ZERO, () -> 0.999, now)).isEqualTo(Duration.ofMillis(3996));
    assertThat(Backoff.wait(9, failure, Duration.ZERO, () -> 0.999, now)).isEqualTo(Duration.ofMillis(7992));
    assertThat(Backoff.wait(9, failure, Duration.ZERO, () -> 0.0, now)).isZero();
    // router_settings.retry_after is the least wait.
    assertThat(Backoff.wait(0, failure, Duration.ofSeconds(2), () -> 0.1, now)).isEqualTo(Duration.ofSeconds(2));
    // retry-after-ms first (Azure), then Retry-After as an HTTP date.
    assertThat(Backoff.wait(0, new UpstreamFailed(429, "m", null, null, null, "9", "1200"), Duration.ZERO, () -> 0, now))
        .isEqualTo(Duration.ofMillis(1200));
    assertThat(Backoff.wait(0, status(429, "Thu, 01 Jan 2026 00:00:04 GMT"), Duration.ZERO, () -> 0, now)).isEqualTo(Duration.ofSeconds(4));
  }

  @Test
  void aRetryAfterLongerThanAMinuteIsNotWaitedForButAnsweredToTheClient() {
    script(B, fails(status(429, "120")), ok("never"));

    assertThatThrownBy(() -> policy(RouterSettings.defaults().withNumRetries(3)).call(List.of(B), REQUEST))
        .isInstanceOfSatisfying(UpstreamFailed.class, e -> assertThat(e.retryAfter()).isEqualTo("120"));
    assertThat(calls).containsExactly("b");
    assertThat(waits).isEmpty();
  }

  @Test
  void noWaitEndsAfterTheDeploymentsTimeout() {
    // TestGateways' deployments time out after 5 s: a 6 s Retry-After would outlast it.
    script(B, fails(status(429, "6")), ok("never"));

    assertThatThrownBy(() -> policy(RouterSettings.defaults().withNumRetries(3)).call(List.of(B), REQUEST)).isInstanceOf(UpstreamFailed.class);
    assertThat(waits).isEmpty();
  }

  @Test
  void anInterruptedWaitEndsTheCallWithTheProvidersError() {
    script(B, fails(status(503, null)), ok("never"));
    var interrupted = new FailoverPolicy(RouterSettings.defaults().withNumRetries(1), (d, r) -> {
      calls.add(d.upstreamModel());
      return scripts.get(d.upstreamModel()).poll().get();
    }, name -> List.of(), new Cooldowns(), clock, () -> 0.5, wait -> {
      throw new InterruptedException();
    });

    try {
      assertThatThrownBy(() -> interrupted.call(List.of(B), REQUEST)).isInstanceOf(UpstreamFailed.class);
      assertThat(Thread.currentThread().isInterrupted()).isTrue();
    } finally {
      Thread.interrupted();
    }
    assertThat(calls).containsExactly("b");
  }

  @Test
  void aRequestThatMayHaveRunIsNeverSentAgain() {
    for (GatewayException mayHaveRun : List.of(RESET, new UpstreamTimeout("no answer within 5 s"))) {
      calls.clear();
      script(A1, fails(mayHaveRun));
      script(A2, ok("would run it twice"));
      var settings = new RouterSettings(3, Map.of("gpt-4o", List.of("cheap")), Map.of(), 3, Duration.ofSeconds(5), Duration.ZERO, false, 5);
      script(B, ok("would run it twice"));

      assertThatThrownBy(() -> policy(settings).call(List.of(A1, A2), REQUEST)).isSameAs(mayHaveRun);
      assertThat(calls).containsExactly("a1");
    }
  }

  @Test
  void aClientThatLeftEndsTheCallWithoutRetryOrFallbackAndWithoutCoolingTheDeploymentDown() {
    script(A1, () -> {
      throw new ClientClosedRequest(true, null);
    });
    script(A2, ok("nobody would read it"));
    script(B, ok("nobody would read it"));
    var settings = new RouterSettings(3, Map.of("gpt-4o", List.of("cheap")), Map.of(), 3, Duration.ofSeconds(5), Duration.ZERO, false, 5);
    var policy = policy(settings);

    for (int i = 0; i < 5; i++) {
      calls.clear();
      assertThatThrownBy(() -> policy.call(List.of(A1, A2), REQUEST)).isInstanceOfSatisfying(ClientClosedRequest.class, gone -> {
        assertThat(gone.deployment()).as("the deployment called, for the call's cost").isEqualTo(A1);
        assertThat(gone.sent()).isTrue();
      });
      assertThat(calls).containsExactly("a1");
    }
    assertThat(policy.cooldowns().isCooling(A1, clock.instant())).as("a client's leaving is not the deployment's failure").isFalse();
    assertThat(waits).isEmpty();
  }

  @Test
  void aClientLeavingDuringTheWaitBeforeARetryEndsTheWaitAndNoFurtherAttemptIsMade() throws Exception {
    script(B, fails(status(429, "5")), ok("nobody would read it"));
    var policy = new FailoverPolicy(RouterSettings.defaults().withNumRetries(1), (deployment, request) -> {
      calls.add(deployment.upstreamModel());
      return scripts.get(deployment.upstreamModel()).poll().get();
    }, name -> List.of(), new Cooldowns(), clock, () -> 0.5, FailoverPolicy::waitForRetry);

    try (var departure = ClientDeparture.open()) {
      java.util.concurrent.CompletableFuture.delayedExecutor(100, java.util.concurrent.TimeUnit.MILLISECONDS).execute(departure::left);
      long started = System.nanoTime();
      assertThatThrownBy(() -> policy.call(List.of(B), REQUEST)).isInstanceOfSatisfying(ClientClosedRequest.class, gone -> {
        assertThat(gone.sent()).as("the attempt that was sent was answered (429)").isFalse();
        assertThat(gone.deployment()).isEqualTo(B);
      });
      assertThat(Duration.ofNanos(System.nanoTime() - started)).as("not the provider's 5 s").isLessThan(Duration.ofSeconds(4));
    }
    assertThat(calls).containsExactly("b");
  }

  @Test
  void theFallbackLogLineNamesTheKeyIdWhoseCallFellBack() {
    script(A1, fails(status(503, null)));
    script(A2, fails(status(503, null)));
    script(B, ok("fallback"));
    var settings = new RouterSettings(0, Map.of("gpt-4o", List.of("cheap")), Map.of(), 3, Duration.ofSeconds(5), Duration.ZERO, false, 5);
    var logged = new ArrayList<String>();
    var logger = java.util.logging.Logger.getLogger(FailoverPolicy.class.getName());
    var handler = new java.util.logging.Handler() {
      @Override
      public void publish(java.util.logging.LogRecord record) {
        logged.add(record.getMessage());
      }

      @Override
      public void flush() {}

      @Override
      public void close() {}
    };
    logger.addHandler(handler);
    try {
      var answer = policy(settings).call(List.of(A1, A2), REQUEST, "key-id-0042");

      assertThat(text(answer)).contains("fallback");
    } finally {
      logger.removeHandler(handler);
    }
    assertThat(logged).anySatisfy(line -> assertThat(line).contains("for key id key-id-0042").contains("trying its fallback 'cheap'"));
  }

  @Test
  void aClientErrorIsNeitherRetriedNorSentToAFallback() {
    script(A1, fails(new UpstreamFailed(400, "bad temperature", "invalid_request_error", "temperature", null, null)));
    script(B, ok("fallback"));
    var settings = new RouterSettings(3, Map.of("gpt-4o", List.of("cheap")), Map.of(), 3, Duration.ofSeconds(5), Duration.ZERO, false, 5);

    assertThatThrownBy(() -> policy(settings).call(List.of(A1, A2), REQUEST)).isInstanceOf(UpstreamFailed.class);
    assertThat(calls).containsExactly("a1");
  }

  @Test
  void aGroupWhoseDeploymentsAllFailFallsBackToTheNextGroup() {
    script(A1, fails(status(500, null)));
    script(A2, fails(new ServiceUnavailable("no credential", null)));
    script(B, ok("from the fallback"));
    var settings = new RouterSettings(1, Map.of("gpt-4o", List.of("cheap")), Map.of(), 3, Duration.ofSeconds(5), Duration.ZERO, false, 5);

    assertThat(text(policy(settings).call(List.of(A1, A2), REQUEST))).contains("from the fallback");
    assertThat(calls).containsExactly("a1", "a2", "b");
  }

  @Test
  void whenTheFallbacksFailTooTheFirstGroupsErrorIsAnswered() {
    var first = status(503, null);
    script(A1, fails(first));
    script(A2, fails(first));
    script(B, fails(status(429, "1")));
    var settings = new RouterSettings(1, Map.of("gpt-4o", List.of("cheap")), Map.of(), 3, Duration.ofSeconds(5), Duration.ZERO, false, 5);

    assertThatThrownBy(() -> policy(settings).call(List.of(A1, A2), REQUEST)).isSameAs(first);
  }

  @Test
  void aContextWindowRefusalGoesToTheContextWindowFallbacksOnly() {
    var tooLong = new UpstreamFailed(400, "This model's maximum context length is 128000 tokens.", "invalid_request_error", "messages",
        "context_length_exceeded", null);
    script(A1, fails(tooLong));
    script(A2, ok("never: the same window"));
    script(B, ok("regular fallback"));
    script(C, ok("the long-context model"));
    var settings = new RouterSettings(
        2, Map.of("gpt-4o", List.of("cheap")), Map.of("gpt-4o", List.of("long")), 3, Duration.ofSeconds(5), Duration.ZERO, false, 5);

    assertThat(text(policy(settings).call(List.of(A1, A2), REQUEST))).contains("the long-context model");
    assertThat(calls).containsExactly("a1", "c");
    // Anthropic's words for it, without OpenAI's code.
    assertThat(Failure.of(new UpstreamFailed(400, "prompt is too long: 210000 tokens > 200000 maximum", "invalid_request_error", null, null, null)))
        .isEqualTo(Failure.CONTEXT_WINDOW);
  }

  @Test
  void aDeploymentFailingMoreThanAllowedFailsIsSkippedForTheCooldownTime() {
    script(A1, fails(REFUSED));
    script(A2, ok("from a2"));
    var policy = policy(RouterSettings.defaults()); // allowed_fails 3, cooldown_time 5 s

    for (int i = 0; i < 4; i++) {
      policy.call(List.of(A1, A2), REQUEST);
    }
    assertThat(calls).containsExactly("a1", "a2", "a1", "a2", "a1", "a2", "a1", "a2");

    calls.clear();
    policy.call(List.of(A1, A2), REQUEST);
    clock.advance(Duration.ofMillis(4999));
    policy.call(List.of(A1, A2), REQUEST);
    assertThat(calls).containsExactly("a2", "a2");

    calls.clear();
    clock.advance(Duration.ofMillis(1));
    policy.call(List.of(A1, A2), REQUEST);
    assertThat(calls).containsExactly("a1", "a2");
  }

  @Test
  void aRestoredEnvironmentForgetsTheCooldownsItsSnapshotHeld() {
    script(A1, fails(REFUSED));
    script(A2, ok("from a2"));
    var policy = policy(RouterSettings.defaults());
    for (int i = 0; i < 4; i++) {
      policy.call(List.of(A1, A2), REQUEST);
    }
    assertThat(policy.cooldowns().isCooling(A1, clock.instant())).isTrue();

    policy.cooldowns().forgetAll(); // Gateway.renewAfterRestore

    calls.clear();
    policy.call(List.of(A1, A2), REQUEST);
    assertThat(calls).containsExactly("a1", "a2");
  }

  @Test
  void whenEveryDeploymentCoolsDownTheCallGets429NoDeploymentsAvailable() {
    script(A1, fails(status(503, null)));
    script(A2, fails(status(503, null)));
    var policy = policy(RouterSettings.defaults().withNumRetries(1));
    for (int i = 0; i < 4; i++) {
      assertThatThrownBy(() -> policy.call(List.of(A1, A2), REQUEST)).isInstanceOf(UpstreamFailed.class);
    }
    calls.clear();
    clock.advance(Duration.ofMillis(1500));

    assertThatThrownBy(() -> policy.call(List.of(A1, A2), REQUEST))
        .isInstanceOfSatisfying(NoDeploymentAvailable.class, e -> {
          var response = ErrorEnvelope.response(e);
          assertThat(response.status()).isEqualTo(429);
          assertThat(response.headers()).containsEntry("Retry-After", "4");
          assertThat(e.getMessage()).startsWith("No deployments available for selected model, Try again in 4 seconds. Passed model=gpt-4o.");
        });
    assertThat(calls).isEmpty();
  }

  @Test
  void theOnlyDeploymentOfAGroupIsNeverCooledDown() {
    script(B, fails(status(503, null)));
    var policy = policy(RouterSettings.defaults());
    for (int i = 0; i < 10; i++) {
      assertThatThrownBy(() -> policy.call(List.of(B), REQUEST)).isInstanceOf(UpstreamFailed.class);
    }
    assertThat(calls).hasSize(10);
  }

  @Test
  void aStreamsErrorBeforeItsFirstChunkIsRetriedAndItsFirstChunkIsKept() {
    var chunk = new StreamChunk("{\"choices\":[]}".getBytes(StandardCharsets.UTF_8), null, false, 0);
    script(A1, () -> new ScriptedStream(() -> {
      throw status(429, null);
    }));
    script(A2, () -> new ScriptedStream(() -> chunk));

    var answer = policy(RouterSettings.defaults().withNumRetries(1)).call(List.of(A1, A2), REQUEST);

    assertThat(((ProviderStream) answer).next()).isSameAs(chunk);
    assertThat(calls).containsExactly("a1", "a2");
  }

  @Test
  void aRefusedCredentialIsTriedOnAnotherDeploymentButNeverAgainOnTheSame() {
    var refused = new UpstreamFailed(502, "refused the gateway's credentials", UpstreamFailed.CREDENTIAL_REFUSED, null, null, null);
    script(B, fails(refused), ok("never"));

    assertThatThrownBy(() -> policy(RouterSettings.defaults().withNumRetries(3)).call(List.of(B), REQUEST)).isSameAs(refused);
    assertThat(calls).containsExactly("b");
    assertThat(ErrorEnvelope.response(refused).headers()).containsEntry("x-should-retry", "false");
  }

  @Test
  void theAnswerNamesTheDeploymentThatGaveItAfterARetryAndAFallback() {
    var settings = RouterSettings.defaults().withNumRetries(1);
    script(A1, fails(status(429, null)));
    script(A2, ok("from a2"));
    assertThat(((ProviderResponse) policy(settings).call(List.of(A1, A2), REQUEST)).answeredBy()).isEqualTo(A2);

    var chunk = new StreamChunk("{\"choices\":[]}".getBytes(StandardCharsets.UTF_8), null, false, 0);
    script(A1, fails(status(429, null)));
    script(A2, () -> new ScriptedStream(() -> chunk));
    assertThat(((ProviderStream) policy(settings).call(List.of(A1, A2), REQUEST)).answeredBy()).isEqualTo(A2);

    script(A1, fails(status(500, null)));
    script(A2, fails(status(500, null)));
    script(B, ok("from the fallback"));
    var withFallback = new RouterSettings(1, Map.of("gpt-4o", List.of("cheap")), Map.of(), 3, Duration.ofSeconds(5), Duration.ZERO, false, 5);
    assertThat(((ProviderResponse) policy(withFallback).call(List.of(A1, A2), REQUEST)).answeredBy()).isEqualTo(B);
  }

  /** A stream whose chunks come from a supplier. */
  private record ScriptedStream(Supplier<StreamChunk> chunks) implements ProviderStream {
    @Override
    public StreamChunk next() {
      return chunks.get();
    }

    @Override
    public void close() {}
  }
}

package aigw.core.limits;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.errors.BudgetExceeded;
import aigw.core.errors.ErrorEnvelope;
import aigw.core.errors.RateLimited;
import aigw.core.testing.LocalDynamo;
import aigw.core.testing.MutableClock;
import aigw.core.usage.TokenUsage;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/**
 * The limit engine against DynamoDB Local, with two engines over one table standing for two Lambda
 * containers, and a clock moved by hand (no sleeping).
 */
class LimitEngineTest {
  private static LocalDynamo dynamo;

  @BeforeAll
  static void start() {
    dynamo = new LocalDynamo();
  }

  @AfterAll
  static void stop() {
    dynamo.close();
  }

  private static final Demand ONE_REQUEST = new Demand(10, null);

  private static LimitEngine container(MutableClock clock) {
    return new LimitEngine(dynamo.client(), dynamo.keysTable(), clock);
  }

  private static LimitScope scope(Limits limits) {
    return LimitScope.ofKey(java.util.UUID.randomUUID().toString(), "sk-...test", limits);
  }

  private static Limits rpm(long limit) {
    return new Limits(limit, null, null, null, null, null);
  }

  /** Runs {@code task} on {@code threads} threads released at once; returns what each returned. */
  private static <T> List<T> atOnce(int threads, java.util.function.IntFunction<T> task) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      var start = new CountDownLatch(1);
      var futures = new ArrayList<Future<T>>();
      for (int i = 0; i < threads; i++) {
        int index = i;
        futures.add(pool.submit(() -> {
          start.await();
          return task.apply(index);
        }));
      }
      start.countDown();
      var results = new ArrayList<T>();
      for (var future : futures) {
        results.add(future.get());
      }
      return results;
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void fortyConcurrentRequestsOverTwoContainersGetExactlyTheRpmLimitAndRetryAfterTheWindowEnd() throws Exception {
    var clock = MutableClock.at("2026-12-05T08:00:10Z");
    var first = container(clock);
    var second = container(clock);
    var key = scope(rpm(20));

    List<Object> outcomes = atOnce(40, i -> {
      try {
        return (i % 2 == 0 ? first : second).admit(key, ONE_REQUEST);
      } catch (RateLimited refused) {
        return refused;
      }
    });

    assertThat(outcomes).filteredOn(o -> o instanceof Admission).hasSize(20);
    List<RateLimited> refused = outcomes.stream().filter(o -> o instanceof RateLimited).map(o -> (RateLimited) o).toList();
    assertThat(refused).hasSize(20);
    assertThat(refused).allSatisfy(r -> {
      assertThat(r.retryAfterSeconds()).isEqualTo(50); // to 08:01:00
      assertThat(ErrorEnvelope.status(r)).isEqualTo(429);
      assertThat(r.getMessage()).startsWith("Rate limit exceeded for api_key: sk-...test. Limit type: requests. Current limit: 20");
      assertThat(ErrorEnvelope.response(r).headers()).containsEntry("Retry-After", "50");
    });

    clock.advance(Duration.ofSeconds(50)); // the next window
    assertThat(first.admit(key, ONE_REQUEST)).isNotSameAs(Admission.NONE);
    assertThat(second.admit(key, ONE_REQUEST)).isNotSameAs(Admission.NONE);
  }

  @Test
  void aWarmContainerAdmitsFromItsLeaseWithoutCallingDynamoDb() {
    var clock = MutableClock.at("2026-12-05T09:00:00Z");
    var calls = new AtomicInteger();
    var counting = beforeEachCall(method -> calls.incrementAndGet());
    var engine = new LimitEngine(counting, dynamo.keysTable(), clock);
    var key = scope(rpm(100));
    for (int i = 0; i < 10; i++) {
      engine.admit(key, ONE_REQUEST).settle(new TokenUsage(1, 1, 2), BigDecimal.ZERO);
    }
    clock.advance(Duration.ofSeconds(60)); // the next window: this container used 10 in the last one
    int before = calls.get();
    engine.admit(key, ONE_REQUEST);
    int leaseCalls = calls.get() - before;
    before = calls.get();
    for (int i = 0; i < 5; i++) {
      engine.admit(key, ONE_REQUEST).settle(new TokenUsage(1, 1, 2), BigDecimal.ZERO);
    }
    assertThat(leaseCalls).isBetween(1, 3);
    assertThat(calls.get() - before).isZero();

    // After a SnapStart restore the snapshot's lease is not this environment's: the next request takes its own.
    engine.forgetAll();
    before = calls.get();
    engine.admit(key, ONE_REQUEST);
    assertThat(calls.get() - before).isPositive();
  }

  @Test
  void theRemainingRequestsHeaderCountsDownAndAKeyWithoutLimitsHoldsNothing() {
    var clock = MutableClock.at("2026-12-05T10:00:30Z");
    var engine = container(clock);
    var key = scope(new Limits(5L, 1000L, null, null, null, null));
    Admission first = engine.admit(key, new Demand(100, null));
    assertThat(first.headers())
        .containsEntry("x-ratelimit-limit-requests", "5")
        .containsEntry("x-ratelimit-remaining-requests", "4")
        .containsEntry("x-ratelimit-reset-requests", "30s")
        .containsEntry("x-ratelimit-limit-tokens", "1000")
        .containsEntry("x-ratelimit-remaining-tokens", "900");

    var free = scope(Limits.NONE);
    assertThat(engine.admit(free, ONE_REQUEST)).isSameAs(Admission.NONE);
    assertThat(dynamo.client().getItem(r -> r.tableName(dynamo.keysTable())
        .key(Map.of("token_hash", AttributeValue.fromS("limits#" + free.id())))).hasItem()).isFalse();
  }

  @Test
  void tokensAreAdmittedWhileTheWindowCountIsBelowTheLimitAndCountedAsUsed() {
    var clock = MutableClock.at("2026-12-05T11:00:00Z");
    var engine = container(clock);
    var key = scope(new Limits(null, 100L, null, null, null, null));
    for (int i = 0; i < 3; i++) {
      engine.admit(key, new Demand(30, null)).settle(new TokenUsage(10, 20, 30), BigDecimal.ZERO);
    }
    // 90 used, 10 left: the 4th crosses the limit and completes (LiteLLM's rule), the 5th is refused.
    engine.admit(key, new Demand(30, null)).settle(new TokenUsage(10, 20, 30), BigDecimal.ZERO);
    assertThatThrownBy(() -> engine.admit(key, new Demand(30, null)))
        .isInstanceOfSatisfying(RateLimited.class, r -> assertThat(r.getMessage()).contains("Limit type: tokens"));
  }

  @Test
  void maxParallelRequestsAdmitsExactlyThatManyAtOnceAcrossContainersAndFreesASlotWhenACallEnds() throws Exception {
    var clock = MutableClock.at("2026-12-05T12:00:00Z");
    var first = container(clock);
    var second = container(clock);
    var key = scope(new Limits(null, null, 2, null, null, null));

    List<Object> outcomes = atOnce(10, i -> {
      try {
        return (i % 2 == 0 ? first : second).admit(key, ONE_REQUEST);
      } catch (RateLimited refused) {
        return refused;
      }
    });
    List<Admission> admitted = outcomes.stream().filter(o -> o instanceof Admission).map(o -> (Admission) o).toList();
    assertThat(admitted).hasSize(2);
    assertThat(outcomes).filteredOn(o -> o instanceof RateLimited)
        .allSatisfy(o -> assertThat(((RateLimited) o).getMessage()).contains("Limit type: max_parallel_requests. Current limit: 2"));

    admitted.get(0).settle(new TokenUsage(1, 1, 2), BigDecimal.ZERO);
    Admission third = second.admit(key, ONE_REQUEST);
    assertThatThrownBy(() -> first.admit(key, ONE_REQUEST)).isInstanceOf(RateLimited.class);
    third.release();
    first.admit(key, ONE_REQUEST);
  }

  /**
   * A burst over max_parallel_requests (34 at once on a key allowing 2, session 12) got its 429s
   * only after 0.8-1.2 s locally: each refused request wrote, read and waited for settlements
   * (SETTLEMENT_WAITS) that calls still waiting on their model could not bring, holding its worker
   * all along. When this container's own unanswered calls hold every slot, the refusal is at once.
   */
  @Test
  void aRequestOverMaxParallelRequestsWhileThisContainersOwnCallsHoldEverySlotIsRefusedWithoutADynamoDbCall() {
    var clock = MutableClock.at("2026-12-06T03:00:00Z");
    var calls = new AtomicInteger();
    var counting = beforeEachCall(method -> calls.incrementAndGet());
    var engine = new LimitEngine(counting, dynamo.keysTable(), clock);
    var key = scope(new Limits(null, null, 2, null, null, null));
    Admission first = engine.admit(key, ONE_REQUEST);
    engine.admit(key, ONE_REQUEST); // still waiting on its model
    int before = calls.get();
    for (int i = 0; i < 32; i++) {
      assertThatThrownBy(() -> engine.admit(key, ONE_REQUEST)).isInstanceOf(RateLimited.class)
          .hasMessageContaining("Limit type: max_parallel_requests. Current limit: 2");
    }
    assertThat(calls.get() - before).as("DynamoDB calls of 32 refusals").isZero();

    // An answered call's slot is taken by the next request, its settlement not yet written (a sequential client).
    first.settleAfterAnswer(new TokenUsage(1, 1, 2), BigDecimal.ZERO);
    engine.admit(key, ONE_REQUEST);
    assertThatThrownBy(() -> engine.admit(key, ONE_REQUEST)).isInstanceOf(RateLimited.class);

    // Calls whose worker never ended them (their reservations expire) do not refuse this container's requests for ever.
    clock.advance(LimitEngine.RESERVATION_TTL.plus(LimitEngine.RECLAIM_MARGIN).plusSeconds(1));
    engine.admit(key, ONE_REQUEST);
    engine.admit(key, ONE_REQUEST);
  }

  @Test
  void aReservationWhoseSweepReadFailsAfterItsWriteLandedDoesNotKeepTheKeysSlot() {
    var clock = MutableClock.at("2026-12-06T04:00:00Z");
    var key = scope(new Limits(null, null, 1, null, null, null));
    container(clock).admit(key, ONE_REQUEST).settle(new TokenUsage(1, 1, 2), BigDecimal.ZERO); // the item is set up
    var readsToFail = new AtomicInteger(1);
    var flaky = beforeEachCall(method -> {
      if (method.equals("getItem") && readsToFail.getAndDecrement() > 0) {
        throw software.amazon.awssdk.core.exception.SdkClientException.create("read timed out"); // a throttled or slow read
      }
    });
    var fresh = new LimitEngine(flaky, dynamo.keysTable(), clock); // a new container: its first reservation of the scope sweeps
    try {
      fresh.admit(key, ONE_REQUEST).settle(new TokenUsage(1, 1, 2), BigDecimal.ZERO);
    } catch (RuntimeException failedOnce) {
      // the client got an error (503): it holds nothing, so the key's one slot must be free again
    }
    fresh.admit(key, ONE_REQUEST); // today: 429 max_parallel_requests for RESERVATION_TTL (15 min), in every container
    assertThatThrownBy(() -> container(clock).admit(key, ONE_REQUEST)).isInstanceOf(RateLimited.class);
  }

  @Test
  void aSlotAContainerNeverReleasedExpiresByItself() {
    var clock = MutableClock.at("2026-12-05T13:00:00Z");
    var crashed = container(clock);
    var survivor = container(clock);
    var key = scope(new Limits(null, null, 1, null, null, null));
    crashed.admit(key, ONE_REQUEST); // never settled: the container died
    assertThatThrownBy(() -> survivor.admit(key, ONE_REQUEST)).isInstanceOf(RateLimited.class);

    clock.advance(LimitEngine.RESERVATION_TTL.plus(LimitEngine.RECLAIM_MARGIN).plusSeconds(1));
    survivor.admit(key, ONE_REQUEST).settle(new TokenUsage(1, 1, 2), BigDecimal.ZERO);
  }

  @Test
  void aBudgetStopsThirtyTwoConcurrentCallersAtItsCapWithinOneRequestsCostAndPassesAgainAfterItsDuration() throws Exception {
    var clock = MutableClock.at("2026-12-05T14:00:00Z");
    var first = container(clock);
    var second = container(clock);
    var key = scope(new Limits(null, null, null, new BigDecimal("1.02"), null, "1d"));
    BigDecimal perRequest = new BigDecimal("0.05"); // the estimate from max_tokens and the price, and the real cost
    var admitted = new AtomicInteger();

    atOnce(32, i -> {
      var engine = i % 2 == 0 ? first : second;
      while (true) {
        Admission admission;
        try {
          admission = engine.admit(key, new Demand(100, perRequest));
        } catch (BudgetExceeded refused) {
          return null;
        } catch (RateLimited heldByRequestsInFlight) {
          continue; // what is left is reserved by requests in flight: try again shortly
        }
        admitted.incrementAndGet();
        admission.settle(new TokenUsage(50, 50, 100), perRequest);
      }
    });

    // Admitted while spend + reservations < 1.02: 20 requests reserve 1.00, the 21st crosses, the 22nd is refused.
    assertThat(admitted.get()).isEqualTo(21);
    BigDecimal spend = first.budget(key).spend();
    assertThat(spend).isEqualByComparingTo("1.05");
    assertThat(spend.subtract(new BigDecimal("1.02"))).isLessThanOrEqualTo(perRequest); // the documented bound
    assertThatThrownBy(() -> second.admit(key, new Demand(100, perRequest)))
        .isInstanceOfSatisfying(BudgetExceeded.class, e -> {
          assertThat(e.getMessage()).isEqualTo("Budget has been exceeded! Current cost: 1.05, Max budget: 1.02");
          assertThat(ErrorEnvelope.type(e)).isEqualTo("budget_exceeded");
          assertThat(e.resetsAt()).hasToString("2026-12-06T00:00:00Z");
        });
    assertThat(first.budget(key).resetAt()).hasToString("2026-12-06T00:00:00Z");

    clock.advance(Duration.ofHours(10)); // past budget_reset_at
    assertThat(first.budget(key).spend()).isZero();
    second.admit(key, new Demand(100, perRequest)).settle(new TokenUsage(50, 50, 100), perRequest);
    assertThat(first.budget(key).spend()).isEqualByComparingTo("0.05");
    assertThat(first.budget(key).resetAt()).hasToString("2026-12-07T00:00:00Z");
  }

  @Test
  void underConcurrencyTheOvershootStaysWithinOneRequestWhenCostsVaryBelowTheirEstimate() throws Exception {
    var clock = MutableClock.at("2026-12-05T15:00:00Z");
    var first = container(clock);
    var second = container(clock);
    BigDecimal max = new BigDecimal("0.50");
    var key = scope(new Limits(null, null, null, max, null, "30d"));
    BigDecimal estimate = new BigDecimal("0.04");
    var costs = new CopyOnWriteArrayList<BigDecimal>();

    atOnce(32, i -> {
      var engine = i % 2 == 0 ? first : second;
      for (int n = 0; ; n++) {
        Admission admission;
        try {
          admission = engine.admit(key, new Demand(100, estimate));
        } catch (BudgetExceeded refused) {
          return null;
        } catch (RateLimited heldByRequestsInFlight) {
          continue;
        }
        BigDecimal cost = new BigDecimal("0.0" + (1 + (i + n) % 4)); // 0.01 to 0.04, never above the estimate
        costs.add(cost);
        admission.settle(new TokenUsage(50, 50, 100), cost);
      }
    });

    BigDecimal spend = first.budget(key).spend();
    assertThat(spend).isEqualByComparingTo(costs.stream().reduce(BigDecimal.ZERO, BigDecimal::add)); // no lost update
    assertThat(spend.subtract(max)).isLessThanOrEqualTo(estimate);
  }

  @Test
  void aReleasedCallGivesItsReservationBackAndCountsNothing() {
    var clock = MutableClock.at("2026-12-05T16:00:00Z");
    var engine = container(clock);
    var key = scope(new Limits(null, null, null, new BigDecimal("0.10"), null, null));
    engine.admit(key, new Demand(10, new BigDecimal("0.10"))).release();
    engine.admit(key, new Demand(10, new BigDecimal("0.10"))).settle(new TokenUsage(1, 1, 2), new BigDecimal("0.10"));
    assertThat(engine.budget(key).spend()).isEqualByComparingTo("0.10");
    assertThat(engine.budget(key).resetAt()).isNull();
    assertThatThrownBy(() -> engine.admit(key, new Demand(10, new BigDecimal("0.10"))))
        .isInstanceOfSatisfying(BudgetExceeded.class, e -> assertThat(ErrorEnvelope.response(e).headers()).doesNotContainKey("Retry-After"));
  }

  @Test
  void aSoftBudgetIsWarnedAboutOncePerPeriodAcrossContainersAndNeverRefuses() {
    var clock = MutableClock.at("2026-12-05T17:00:00Z");
    var first = container(clock);
    var second = container(clock);
    var key = scope(new Limits(null, null, null, null, new BigDecimal("0.10"), "1h"));
    BigDecimal cost = new BigDecimal("0.04");
    var warnings = aigw.core.testing.Logs.of(LimitEngine.class, () -> {
      for (int i = 0; i < 6; i++) { // 0.24 spent: past the soft budget, nothing refused
        (i % 2 == 0 ? first : second).admit(key, new Demand(10, cost)).settle(new TokenUsage(1, 1, 2), cost);
      }
    });
    assertThat(warnings).filteredOn(r -> r.getMessage().startsWith("Soft budget crossed")).hasSize(1)
        .allSatisfy(r -> assertThat(r.getMessage()).contains("api_key: sk-...test").contains("soft_budget 0.1"));

    clock.advance(Duration.ofHours(1)); // the next period warns again
    var next = aigw.core.testing.Logs.of(LimitEngine.class, () -> {
      for (int i = 0; i < 3; i++) {
        first.admit(key, new Demand(10, cost)).settle(new TokenUsage(1, 1, 2), cost);
      }
    });
    assertThat(next).filteredOn(r -> r.getMessage().startsWith("Soft budget crossed")).hasSize(1);
  }

  @Test
  void anAdminChangeOfTheBudgetOrSlotsTakesEffectAtTheNextRequestKeepingWhatIsInUse() {
    var clock = MutableClock.at("2026-12-05T18:00:00Z");
    var engine = container(clock);
    String keyId = java.util.UUID.randomUUID().toString();
    var small = LimitScope.ofKey(keyId, "sk-...test", new Limits(null, null, 1, new BigDecimal("0.10"), null, null));
    engine.admit(small, new Demand(10, new BigDecimal("0.10"))).settle(new TokenUsage(1, 1, 2), new BigDecimal("0.10"));
    Admission held = engine.admit(LimitScope.ofKey(keyId, "sk-...test", new Limits(null, null, 1, new BigDecimal("0.30"), null, null)),
        new Demand(10, new BigDecimal("0.10")));
    var larger = LimitScope.ofKey(keyId, "sk-...test", new Limits(null, null, 2, new BigDecimal("0.30"), null, null));
    engine.admit(larger, new Demand(10, new BigDecimal("0.10"))).settle(new TokenUsage(1, 1, 2), new BigDecimal("0.10"));
    held.settle(new TokenUsage(1, 1, 2), new BigDecimal("0.10"));
    assertThat(engine.budget(larger).spend()).isEqualByComparingTo("0.30");
    assertThatThrownBy(() -> engine.admit(larger, new Demand(10, new BigDecimal("0.01")))).isInstanceOf(BudgetExceeded.class);
  }

  @Test
  void whenDynamoDbFailsALimitedKeyGets503AtAdmissionAndItsWarmLeaseKeepsServing() {
    try (var faulty = new aigw.core.testing.FaultyDynamo()) {
      var clock = MutableClock.at("2026-12-05T19:00:00Z");
      var engine = new LimitEngine(faulty.client(), faulty.keysTable(), clock);
      var rated = scope(rpm(100));
      var budgeted = scope(new Limits(null, null, null, new BigDecimal("1"), null, null));
      engine.admit(rated, ONE_REQUEST).settle(new TokenUsage(1, 1, 2), BigDecimal.ZERO); // a lease of one request
      clock.advance(Duration.ofSeconds(60));
      for (int i = 0; i < 3; i++) { // a busy window, so the next lease covers more than one request
        engine.admit(rated, ONE_REQUEST).settle(new TokenUsage(1, 1, 2), BigDecimal.ZERO);
      }
      clock.advance(Duration.ofSeconds(60));
      engine.admit(rated, ONE_REQUEST); // leases 1 + a prediction

      faulty.fail(null, aigw.core.testing.FaultyDynamo.Fault.INTERNAL_SERVER_ERROR);
      engine.admit(rated, ONE_REQUEST); // from the lease: no call
      assertThatThrownBy(() -> engine.admit(budgeted, new Demand(10, new BigDecimal("0.1"))))
          .isInstanceOfSatisfying(aigw.core.errors.ServiceUnavailable.class, e -> assertThat(ErrorEnvelope.status(e)).isEqualTo(503));
    }
  }

  @Test
  void whenTheTeamRefusesWhatTheKeyReservedIsGivenBackAndCountsNowhere() {
    var clock = MutableClock.at("2026-12-05T20:00:00Z");
    var engine = container(clock);
    BigDecimal cost = new BigDecimal("0.10");
    // A key with room for exactly one request of each kind: one per minute, one at once, one estimate of budget.
    var key = scope(new Limits(1L, 100L, 1, cost, null, "1d"));
    String teamId = java.util.UUID.randomUUID().toString();
    var spentTeam = LimitScope.ofTeam(teamId, new Limits(null, null, null, BigDecimal.ZERO, null, "1d"));

    assertThatThrownBy(() -> engine.admit(List.of(key, spentTeam), new Demand(100, cost)))
        .isInstanceOfSatisfying(BudgetExceeded.class, e -> {
          assertThat(e.getMessage()).isEqualTo("Budget has been exceeded! Team=" + teamId + " Current cost: 0, Max budget: 0");
          assertThat(ErrorEnvelope.type(e)).isEqualTo("budget_exceeded");
          assertThat(ErrorEnvelope.status(e)).isEqualTo(429);
        });

    // The key's request unit, tokens, slot and budget reservation all came back: the key alone is admitted for all of them.
    Admission alone = engine.admit(key, new Demand(100, cost));
    assertThat(alone.headers()).containsEntry("x-ratelimit-remaining-requests", "0").containsEntry("x-ratelimit-remaining-tokens", "0");
    alone.settle(new TokenUsage(50, 50, 100), cost);
    assertThat(engine.budget(key).spend()).isEqualByComparingTo("0.10");
    var item = dynamo.client().getItem(r -> r.tableName(dynamo.keysTable()).consistentRead(true)
        .key(Map.of("token_hash", AttributeValue.fromS("limits#" + key.id())))).item();
    assertThat(item.get("b_n").n()).as("the refused request is not a settled one").isEqualTo("1");
    assertThat(item.get("res").m()).isEmpty();
    assertThat(item.get("par_left").n()).isEqualTo("1");
  }

  @Test
  void aTeamScopeHoldsTheSumOfItsKeysAndNamesTheTeamWhenItRefuses() {
    var clock = MutableClock.at("2026-12-05T21:00:10Z");
    var first = container(clock);
    var second = container(clock);
    String teamId = java.util.UUID.randomUUID().toString();
    var team = LimitScope.ofTeam(teamId, rpm(3));
    var one = scope(Limits.NONE);
    var two = scope(rpm(100));
    first.admit(List.of(one, team), ONE_REQUEST);
    second.admit(List.of(two, team), ONE_REQUEST);
    first.admit(List.of(two, team), ONE_REQUEST);
    assertThatThrownBy(() -> second.admit(List.of(one, team), ONE_REQUEST))
        .isInstanceOfSatisfying(RateLimited.class, r -> assertThat(r.getMessage())
            .isEqualTo("Rate limit exceeded for team: " + teamId + ". Limit type: requests. Current limit: 3, Remaining: 0."
                + " Limit resets at: 2026-12-05 21:01:00 UTC"));
  }

  private static Map<String, AttributeValue> item(LimitScope scope) {
    return dynamo.client().getItem(r -> r.tableName(dynamo.keysTable()).consistentRead(true)
        .key(Map.of("token_hash", AttributeValue.fromS("limits#" + scope.id())))).item();
  }

  /** The test's DynamoDB client, which runs {@code before} with each call's method name first (a throw there fails the call). */
  private static software.amazon.awssdk.services.dynamodb.DynamoDbClient beforeEachCall(java.util.function.Consumer<String> before) {
    return (software.amazon.awssdk.services.dynamodb.DynamoDbClient) java.lang.reflect.Proxy.newProxyInstance(
        LimitEngineTest.class.getClassLoader(), new Class<?>[] {software.amazon.awssdk.services.dynamodb.DynamoDbClient.class},
        (proxy, method, args) -> {
          before.accept(method.getName());
          try {
            return method.invoke(dynamo.client(), args);
          } catch (java.lang.reflect.InvocationTargetException e) {
            throw e.getCause();
          }
        });
  }

  /**
   * A client whose UpdateItems on the reservation map ({@code res.}) land, and whose answers are
   * lost: each is sent again, as the SDK does after a timeout, and the second answer is what the
   * caller gets (a ConditionalCheckFailed when the first one's change makes the condition fail).
   */
  private static software.amazon.awssdk.services.dynamodb.DynamoDbClient answersLostAndRetried() {
    var real = dynamo.client();
    return (software.amazon.awssdk.services.dynamodb.DynamoDbClient) java.lang.reflect.Proxy.newProxyInstance(
        LimitEngineTest.class.getClassLoader(), new Class<?>[] {software.amazon.awssdk.services.dynamodb.DynamoDbClient.class},
        (proxy, method, args) -> {
          try {
            if (method.getName().equals("updateItem")) {
              var request = args[0] instanceof software.amazon.awssdk.services.dynamodb.model.UpdateItemRequest r ? r
                  : software.amazon.awssdk.services.dynamodb.model.UpdateItemRequest.builder()
                      .applyMutation((java.util.function.Consumer<software.amazon.awssdk.services.dynamodb.model.UpdateItemRequest.Builder>) args[0])
                      .build();
              if (request.updateExpression().contains("res.")) {
                try {
                  real.updateItem(request); // lands; its answer times out
                } catch (software.amazon.awssdk.services.dynamodb.model.ConditionalCheckFailedException refusedFirstTime) {
                  throw refusedFirstTime;
                }
              }
              return real.updateItem(request);
            }
            return method.invoke(real, args);
          } catch (java.lang.reflect.InvocationTargetException e) {
            throw e.getCause();
          }
        });
  }

  @Test
  void aReservationAndASettlementTheSdkSendsTwiceTakeAndCountOnce() {
    var clock = MutableClock.at("2026-12-05T22:00:00Z");
    var engine = new LimitEngine(answersLostAndRetried(), dynamo.keysTable(), clock);
    var key = scope(new Limits(null, null, 2, new BigDecimal("1.00"), null, "1d"));
    BigDecimal cost = new BigDecimal("0.10");

    Admission first = engine.admit(key, new Demand(10, new BigDecimal("0.30")));
    assertThat(item(key).get("par_left").n()).as("one slot taken, not two").isEqualTo("1");
    assertThat(new BigDecimal(item(key).get("b_left").n())).isEqualByComparingTo("0.70");
    first.settle(new TokenUsage(1, 1, 2), cost);

    var after = item(key);
    assertThat(after.get("par_left").n()).isEqualTo("2");
    assertThat(after.get("res").m()).isEmpty();
    assertThat(after.get("b_n").n()).isEqualTo("1");
    assertThat(new BigDecimal(after.get("b_left").n())).isEqualByComparingTo("0.90");
    assertThat(engine.budget(key).spend()).as("the cost counted once").isEqualByComparingTo("0.10");

    // Both slots are there to take.
    engine.admit(key, new Demand(10, cost));
    engine.admit(key, new Demand(10, cost));
    assertThatThrownBy(() -> engine.admit(key, new Demand(10, cost))).isInstanceOf(RateLimited.class);
  }

  @Test
  void aContainerWhoseClockIsBehindReservesInThePeriodTheItemHoldsAndGivesBackThere() {
    var behind = MutableClock.at("2026-12-05T23:59:58Z");
    var ahead = MutableClock.at("2026-12-05T23:59:58Z");
    var late = container(behind);
    var early = container(ahead);
    var key = scope(new Limits(null, null, null, new BigDecimal("1.00"), null, "1d"));
    late.admit(key, new Demand(10, new BigDecimal("0.10"))).settle(new TokenUsage(1, 1, 2), new BigDecimal("0.10"));

    ahead.advance(Duration.ofSeconds(5)); // its clock is past midnight: it starts the next period
    early.admit(key, new Demand(10, new BigDecimal("0.20"))).settle(new TokenUsage(1, 1, 2), new BigDecimal("0.20"));

    // The late container still thinks the old period runs; its reservation and settlement land in the new one.
    late.admit(key, new Demand(10, new BigDecimal("0.50"))).settle(new TokenUsage(1, 1, 2), new BigDecimal("0.10"));
    var now = item(key);
    assertThat(now.get("b_end").n()).isEqualTo(Long.toString(java.time.Instant.parse("2026-12-07T00:00:00Z").getEpochSecond()));
    assertThat(new BigDecimal(now.get("b_spend").n())).isEqualByComparingTo("0.30");
    assertThat(new BigDecimal(now.get("b_left").n())).as("the 0.50 reserved came back").isEqualByComparingTo("0.70");
    assertThat(now.get("res").m()).isEmpty();
  }

  @Test
  void reservationsCrashedContainersNeverSettledAreRemovedByLaterRequestsOfAnyPeriodAndTheMapShrinksBack() {
    var clock = MutableClock.at("2026-12-06T10:00:00Z");
    var crashed = container(clock);
    var survivor = container(clock);
    var key = scope(new Limits(null, null, 50, new BigDecimal("10"), null, "1d"));
    for (int i = 0; i < 12; i++) {
      crashed.admit(key, new Demand(10, new BigDecimal("0.10"))); // never settled: the container died
    }
    assertThat(item(key).get("res").m()).hasSize(12);

    clock.advance(Duration.ofDays(1)); // past their expiry, and into the next budget period
    for (int i = 0; i < 3; i++) { // each admitted request removes a few (bounded work per request)
      survivor.admit(key, new Demand(10, new BigDecimal("0.10"))).settle(new TokenUsage(1, 1, 2), new BigDecimal("0.10"));
    }
    var after = item(key);
    assertThat(after.get("res").m()).isEmpty();
    assertThat(after.get("par_left").n()).isEqualTo("50");
    assertThat(new BigDecimal(after.get("b_left").n())).as("the old period's reservations are not given to the new one")
        .isEqualByComparingTo("9.70");

    // Within one period too: expired entries go even though nothing is refused.
    for (int i = 0; i < 8; i++) {
      crashed.admit(key, new Demand(10, new BigDecimal("0.10")));
    }
    clock.advance(LimitEngine.RESERVATION_TTL.plus(LimitEngine.RECLAIM_MARGIN).plusSeconds(1));
    for (int i = 0; i < 2; i++) {
      survivor.admit(key, new Demand(10, new BigDecimal("0.10"))).settle(new TokenUsage(1, 1, 2), new BigDecimal("0.10"));
    }
    after = item(key);
    assertThat(after.get("res").m()).isEmpty();
    assertThat(after.get("par_left").n()).isEqualTo("50");
    assertThat(new BigDecimal(after.get("b_left").n())).isEqualByComparingTo("9.50");
  }

  @Test
  void aBudgetHeldOnlyByRequestsInFlightAsksToRetryShortlyNotAtThePeriodEnd() {
    var clock = MutableClock.at("2026-12-06T12:00:00Z");
    var engine = container(clock);
    var key = scope(new Limits(null, null, null, new BigDecimal("1.00"), null, "1d"));
    Admission inFlight = engine.admit(key, new Demand(10, new BigDecimal("1.00"))); // reserves all of it

    assertThatThrownBy(() -> engine.admit(key, new Demand(10, new BigDecimal("0.10"))))
        .isInstanceOfSatisfying(RateLimited.class, e -> {
          assertThat(ErrorEnvelope.status(e)).isEqualTo(429);
          assertThat(ErrorEnvelope.type(e)).isEqualTo("rate_limit_error");
          assertThat(ErrorEnvelope.response(e).headers()).containsEntry("Retry-After", "1");
          assertThat(e.getMessage()).contains("Limit type: max_budget").contains("Current cost: 0,").contains("in flight");
        });

    inFlight.settle(new TokenUsage(1, 1, 2), new BigDecimal("0.20"));
    engine.admit(key, new Demand(10, new BigDecimal("0.10"))).settle(new TokenUsage(1, 1, 2), new BigDecimal("0.80"));
    // Now it is spent: budget_exceeded until the period ends.
    assertThatThrownBy(() -> engine.admit(key, new Demand(10, new BigDecimal("0.10"))))
        .isInstanceOfSatisfying(BudgetExceeded.class, e -> assertThat(ErrorEnvelope.response(e).headers()).containsEntry("Retry-After", "43200"));
  }

  @Test
  void tokensBeyondAReservationWhoseWindowEndedAreCountedInTheWindowRunningNow() {
    var clock = MutableClock.at("2026-12-06T13:00:50Z");
    var streaming = container(clock);
    var other = container(clock);
    var key = scope(new Limits(null, 100L, null, null, null, null));
    Admission longCall = streaming.admit(key, new Demand(10, null)); // reserves 10 tokens in the 13:00 window

    clock.advance(Duration.ofSeconds(20)); // the call ends in the 13:01 window, having used 50
    longCall.settle(new TokenUsage(10, 40, 50), BigDecimal.ZERO);

    // The 40 beyond its reservation count in this window: 60 are left, for any container.
    other.admit(key, new Demand(60, null));
    assertThatThrownBy(() -> other.admit(key, new Demand(1, null)))
        .isInstanceOfSatisfying(RateLimited.class, e -> assertThat(e.getMessage()).contains("Limit type: tokens"));
  }

  @Test
  void aNewContainerReservesThePeriodsAverageCostForARequestWithoutItsOwnEstimate() {
    var clock = MutableClock.at("2026-12-06T14:00:00Z");
    var warm = container(clock);
    var key = scope(new Limits(null, null, null, new BigDecimal("1.00"), null, "1d"));
    for (int i = 0; i < 4; i++) {
      warm.admit(key, new Demand(10, new BigDecimal("0.20"))).settle(new TokenUsage(1, 1, 2), new BigDecimal("0.20"));
    }

    var cold = container(clock); // a new Lambda environment: no max_tokens, so no estimate of its own
    cold.admit(key, new Demand(10, null));
    assertThat(new BigDecimal(item(key).get("b_left").n())).as("0.20 reserved, not 0").isEqualByComparingTo("0.00");
    assertThatThrownBy(() -> warm.admit(key, new Demand(10, null))).isInstanceOf(RateLimited.class);

    var restored = container(clock);
    restored.forgetAll(); // after a SnapStart restore: it learns the average again from the item
    assertThatThrownBy(() -> restored.admit(key, new Demand(10, null))).isInstanceOf(RateLimited.class);
  }

  /**
   * The reviewer's burst: a fresh key (no settled request, so no average) and requests without
   * max_tokens reserve nothing. Before the fix all 32 were admitted at once and spent 6.40 on a
   * 1.00 budget; now the first runs alone, and the rest reserve the average it leaves.
   */
  @Test
  void aBurstOnABrandNewKeyWithoutMaxTokensRunsOneUnestimatedRequestAloneAndStaysWithinOneRequestsCost() throws Exception {
    var clock = MutableClock.at("2026-12-06T15:00:00Z");
    var first = container(clock);
    var second = container(clock);
    BigDecimal max = new BigDecimal("1.00");
    BigDecimal cost = new BigDecimal("0.20");
    var key = scope(new Limits(null, null, null, max, null, "1d"));
    Demand noEstimate = new Demand(10, null); // no max_tokens: no estimate of its own

    // All 32 arrive while none has settled: exactly one is admitted; the others are asked to retry shortly.
    List<Object> firstWave = atOnce(32, i -> {
      try {
        return (i % 2 == 0 ? first : second).admit(key, noEstimate);
      } catch (RateLimited refused) {
        return refused;
      }
    });
    List<Admission> admitted = firstWave.stream().filter(Admission.class::isInstance).map(Admission.class::cast).toList();
    assertThat(admitted).hasSize(1);
    assertThat(firstWave).filteredOn(RateLimited.class::isInstance).allSatisfy(r -> {
      var refused = (RateLimited) r;
      assertThat(ErrorEnvelope.type(refused)).isEqualTo("rate_limit_error");
      assertThat(ErrorEnvelope.response(refused).headers()).containsEntry("Retry-After", "1");
      assertThat(refused.getMessage()).contains("Limit type: max_budget").contains("without max_tokens");
    });
    admitted.forEach(a -> a.settle(new TokenUsage(10, 40, 50), cost));

    // Then they try again, 32 at once over both containers, until the budget is spent.
    var costs = new CopyOnWriteArrayList<BigDecimal>(List.of(cost));
    atOnce(32, i -> {
      var engine = i % 2 == 0 ? first : second;
      while (true) {
        Admission admission;
        try {
          admission = engine.admit(key, noEstimate);
        } catch (BudgetExceeded spent) {
          return null;
        } catch (RateLimited heldByRequestsInFlight) {
          continue;
        }
        costs.add(cost);
        admission.settle(new TokenUsage(10, 40, 50), cost);
      }
    });

    BigDecimal spend = first.budget(key).spend();
    assertThat(spend).isEqualByComparingTo(costs.stream().reduce(BigDecimal.ZERO, BigDecimal::add)); // no lost update
    assertThat(spend.subtract(max)).as("docs/limits.md's bound: one request's cost").isLessThanOrEqualTo(cost);
    assertThat(item(key).get("b_blind").n()).isEqualTo("0");
    assertThat(item(key).get("b_fly").n()).isEqualTo("0");
  }

  @Test
  void anEstimatedRequestWaitsWhileAnUnestimatedOneRunsAndAnExpiredUnestimatedOneIsRemoved() {
    var clock = MutableClock.at("2026-12-06T16:00:00Z");
    var engine = container(clock);
    var key = scope(new Limits(null, null, null, new BigDecimal("1.00"), null, "1d"));
    engine.admit(key, new Demand(10, null)); // blind, and its container never settles it

    assertThatThrownBy(() -> engine.admit(key, new Demand(10, new BigDecimal("0.10"))))
        .isInstanceOfSatisfying(RateLimited.class, e -> assertThat(ErrorEnvelope.response(e).headers()).containsEntry("Retry-After", "1"));

    clock.advance(LimitEngine.RESERVATION_TTL.plus(LimitEngine.RECLAIM_MARGIN).plusSeconds(1));
    engine.admit(key, new Demand(10, new BigDecimal("0.10"))).settle(new TokenUsage(1, 1, 2), new BigDecimal("0.10"));
    assertThat(engine.budget(key).spend()).isEqualByComparingTo("0.10");
    assertThat(item(key).get("b_blind").n()).isEqualTo("0");
  }

  @Test
  void theEndOfACallWhoseKeyWasDeletedMeanwhileBringsNoLimitItemBack() {
    var clock = MutableClock.at("2026-12-06T17:00:10Z");
    var engine = container(clock);
    var key = scope(new Limits(null, 100L, 1, new BigDecimal("1.00"), null, null));
    Admission inFlight = engine.admit(key, new Demand(10, new BigDecimal("0.10")));
    dynamo.client().deleteItem(r -> r.tableName(dynamo.keysTable())
        .key(Map.of("token_hash", AttributeValue.fromS("limits#" + key.id())))); // the key is deleted, its limit state with it

    inFlight.settleAfterAnswer(new TokenUsage(10, 40, 50), new BigDecimal("0.10")); // 40 tokens beyond its reservation
    engine.flushEndings();

    assertThat(item(key)).isEmpty();
  }

  /** A settlement DynamoDB refuses as invalid (a cost finer than its 1e-130) is dropped once, not retried every second. */
  @Test
  void aSettlementDynamoDbRefusesAsInvalidIsNotKeptForRetry() {
    var clock = MutableClock.at("2026-12-06T18:00:10Z");
    var engine = container(clock);
    var key = scope(new Limits(null, null, 1, new BigDecimal("1.00"), null, null));
    Admission inFlight = engine.admit(key, new Demand(10, new BigDecimal("0.10")));

    inFlight.settleAfterAnswer(new TokenUsage(1, 1, 2), new BigDecimal("1e-140")); // no DynamoDB number holds it

    assertThat(engine.flushEndings()).as("nothing left to retry").isTrue();
    assertThat(engine.pendingEndings()).isZero();
  }

  /**
   * One client calling back to back without max_tokens: each call reserves a small estimate and
   * uses far more; the tokens beyond the reservation are written after the answer (here never:
   * nothing flushes). The next lease of the container counts them first, so the window holds
   * tpm_limit within one request's tokens.
   */
  @Test
  void sequentialCallsUsingMoreThanTheirEstimateStayWithinTheTpmLimitBeforeTheirOverUseIsWritten() {
    var clock = MutableClock.at("2026-12-06T19:00:00Z");
    var engine = container(clock);
    var key = scope(new Limits(null, 1000L, null, null, null, null));
    int admitted = 0;
    for (int i = 0; i < 60; i++) {
      try {
        engine.admit(key, new Demand(16, null)).settleAfterAnswer(new TokenUsage(100, 200, 300), BigDecimal.ZERO);
        admitted++;
      } catch (RateLimited refused) {
        assertThat(refused.getMessage()).contains("Limit type: tokens");
      }
    }
    assertThat(admitted * 300L).as("tokens of %d admitted calls", admitted).isLessThanOrEqualTo(1000 + 300);
    assertThat(engine.flushEndings()).isTrue();
    assertThat(Long.parseLong(item(key).get("tk_left").n())).as("every token counted once").isEqualTo(1000 - admitted * 300L);
  }

  /**
   * A DynamoDB client that counts every reservation write ({@code SET res.}) and, once {@code
   * first} is set, holds the next one until {@code release} opens.
   */
  private static software.amazon.awssdk.services.dynamodb.DynamoDbClient holdingTheFirstReservation(
      java.util.concurrent.atomic.AtomicBoolean first, CountDownLatch held, CountDownLatch release, AtomicInteger reservationWrites) {
    return (software.amazon.awssdk.services.dynamodb.DynamoDbClient) java.lang.reflect.Proxy.newProxyInstance(
        LimitEngineTest.class.getClassLoader(), new Class<?>[] {software.amazon.awssdk.services.dynamodb.DynamoDbClient.class},
        (proxy, method, args) -> {
          if (method.getName().equals("updateItem") && args != null && args[0] instanceof java.util.function.Consumer<?> build) {
            var request = software.amazon.awssdk.services.dynamodb.model.UpdateItemRequest.builder();
            @SuppressWarnings("unchecked")
            var builder = (java.util.function.Consumer<software.amazon.awssdk.services.dynamodb.model.UpdateItemRequest.Builder>) build;
            builder.accept(request);
            if (request.build().updateExpression().startsWith("SET res.")) {
              reservationWrites.incrementAndGet();
              if (first.compareAndSet(true, false)) {
                held.countDown();
                release.await();
              }
            }
          }
          try {
            return method.invoke(dynamo.client(), args);
          } catch (java.lang.reflect.InvocationTargetException e) {
            throw e.getCause();
          }
        });
  }

  @Test
  void requestsOfAKeyArrivingWhileItsReservationIsWrittenReserveTogetherInTheNextWriteEachHoldingItsOwnSlotAndBudget()
      throws Exception {
    var clock = MutableClock.at("2026-12-06T03:00:00Z");
    var held = new CountDownLatch(1);
    var release = new CountDownLatch(1);
    var reservationWrites = new AtomicInteger();
    var hold = new java.util.concurrent.atomic.AtomicBoolean(false);
    var engine = new LimitEngine(holdingTheFirstReservation(hold, held, release, reservationWrites), dynamo.keysTable(), clock);
    var key = scope(new Limits(null, null, 100, new BigDecimal("10.00"), null, "30d"));
    BigDecimal perRequest = new BigDecimal("0.05");
    // A warm container (the period and its limits read), its first request written alone.
    var warm = engine.admit(key, new Demand(10, perRequest));
    warm.settle(new TokenUsage(1, 1, 2), perRequest);
    assertThat(engine.flushEndings()).isTrue();
    int before = reservationWrites.get();
    hold.set(true);

    ExecutorService pool = Executors.newFixedThreadPool(9);
    try {
      Future<Admission> leading = pool.submit(() -> engine.admit(key, new Demand(10, perRequest)));
      held.await(); // its reservation is being written (held by the client)
      var followers = new ArrayList<Future<Admission>>();
      var threads = new CopyOnWriteArrayList<Thread>();
      for (int i = 0; i < 8; i++) {
        followers.add(pool.submit(() -> {
          threads.add(Thread.currentThread());
          return engine.admit(key, new Demand(10, perRequest));
        }));
      }
      // Until each follower waits: for the write in flight, or (done) for the pool's next task.
      while (threads.size() < 8 || !threads.stream().allMatch(t -> t.getState() == Thread.State.WAITING)) {
        Thread.onSpinWait();
      }
      release.countDown();
      var admissions = new ArrayList<Admission>();
      admissions.add(leading.get());
      for (var follower : followers) {
        admissions.add(follower.get());
      }

      assertThat(reservationWrites.get() - before).as("the held write, then one for the eight that waited").isEqualTo(2);
      var item = item(key);
      assertThat(item.get("res").m()).as("an entry each").hasSize(9);
      assertThat(item.get("par_left").n()).isEqualTo("91");
      assertThat(new BigDecimal(item.get("b_left").n())).isEqualByComparingTo("9.50"); // 10 - 0.05 spent - 9 x 0.05 reserved
      assertThat(item.get("b_fly").n()).isEqualTo("9");

      for (var admission : admissions) {
        admission.settle(new TokenUsage(1, 1, 2), new BigDecimal("0.01"));
      }
      assertThat(engine.flushEndings()).isTrue();
      var settled = item(key);
      assertThat(settled.get("res").m()).isEmpty();
      assertThat(settled.get("par_left").n()).isEqualTo("100");
      assertThat(settled.get("b_fly").n()).isEqualTo("0");
      assertThat(engine.budget(key).spend()).isEqualByComparingTo("0.14"); // 0.05 + 9 x 0.01
    } finally {
      release.countDown();
      pool.shutdownNow();
    }
  }

  @Test
  void reservationsWrittenTogetherAreTakenOnlyWhereTakenOneAfterTheOtherTheyWouldAllHaveBeen() {
    var table = new LimitTable(dynamo.client(), dynamo.keysTable());
    String scope = "key:" + java.util.UUID.randomUUID();
    table.createReservations(scope);
    table.setParallelMax(scope, null, 3);
    table.startBudgetPeriod(scope, null, LimitTable.NEVER, new BigDecimal("0.11"));
    long x = 4_000_000_000_000L;
    var small = new LimitTable.Entry("ra_1", new BigDecimal("0.05"), x);
    var large = new LimitTable.Entry("ra_2", new BigDecimal("0.10"), x);

    // One after the other, the largest last: 0.11 > 0, then 0.06 > 0: both admitted, the second crossing zero.
    table.reserveTogether(scope, List.of(large, small), 1, 3, new BigDecimal("0.11"), LimitTable.NEVER, LimitTable.Turn.ESTIMATED);
    var item = table.read(scope);
    assertThat(new BigDecimal(item.get("b_left").n())).isEqualByComparingTo("-0.04");
    assertThat(item.get("par_left").n()).isEqualTo("1");
    assertThat(item.get("res").m()).containsOnlyKeys("ra_1", "ra_2");

    // Nothing is left: no group is admitted, nor one request (b_left > 0 fails), and nothing changes.
    var next = new LimitTable.Entry("ra_3", new BigDecimal("0.01"), x);
    assertThatThrownBy(() -> table.reserveTogether(scope, List.of(next), 1, 3, new BigDecimal("0.11"), LimitTable.NEVER,
        LimitTable.Turn.ESTIMATED)).isInstanceOf(software.amazon.awssdk.services.dynamodb.model.ConditionalCheckFailedException.class);
    table.setBudgetMax(scope, new BigDecimal("0.11"), new BigDecimal("0.20")); // now 0.05 left
    // Two of 0.04: the first leaves 0.01 > 0, so the second too would be admitted one after the other...
    var a = new LimitTable.Entry("ra_4", new BigDecimal("0.04"), x);
    var b = new LimitTable.Entry("ra_5", new BigDecimal("0.04"), x);
    // ...but only one slot is free: the group is refused as a whole.
    assertThatThrownBy(() -> table.reserveTogether(scope, List.of(a, b), 1, 3, new BigDecimal("0.20"), LimitTable.NEVER,
        LimitTable.Turn.ESTIMATED)).isInstanceOf(software.amazon.awssdk.services.dynamodb.model.ConditionalCheckFailedException.class);
    // Three of 0.03 without slots: 0.05 > 0.03 + 0.03 fails (the third would find nothing left): refused.
    var c = new LimitTable.Entry("ra_6", new BigDecimal("0.03"), x);
    var d = new LimitTable.Entry("ra_7", new BigDecimal("0.03"), x);
    var e = new LimitTable.Entry("ra_8", new BigDecimal("0.03"), x);
    assertThatThrownBy(() -> table.reserveTogether(scope, List.of(c, d, e), 0, null, new BigDecimal("0.20"), LimitTable.NEVER,
        LimitTable.Turn.ESTIMATED)).isInstanceOf(software.amazon.awssdk.services.dynamodb.model.ConditionalCheckFailedException.class);
    var unchanged = table.read(scope);
    assertThat(new BigDecimal(unchanged.get("b_left").n())).isEqualByComparingTo("0.05");
    assertThat(unchanged.get("res").m()).containsOnlyKeys("ra_1", "ra_2");
    // Two of them: 0.05 > 0.03: both admitted, as one after the other.
    table.reserveTogether(scope, List.of(c, d), 0, null, new BigDecimal("0.20"), LimitTable.NEVER, LimitTable.Turn.ESTIMATED);
    assertThat(new BigDecimal(table.read(scope).get("b_left").n())).isEqualByComparingTo("-0.01");
    assertThat(table.read(scope).get("b_fly").n()).isEqualTo("4");
  }

  @Test
  void aReservationEntryWrittenAsAMapByTheCodeBeforeSession13IsStillReclaimedWhenItsContainerNeverSettledIt() {
    var clock = MutableClock.at("2026-12-06T04:00:00Z");
    var engine = container(clock);
    var key = scope(new Limits(null, null, 1, null, null, null));
    // A table written by the old code: its one slot held by a map entry {p, a, e, x} that expired.
    long expired = clock.millis() - LimitEngine.RECLAIM_MARGIN.toMillis() - 1_000;
    var old = AttributeValue.fromM(Map.of("p", AttributeValue.fromN("1"), "a", AttributeValue.fromN("0"), "e", AttributeValue.fromN("0"),
        "x", AttributeValue.fromN(Long.toString(expired))));
    dynamo.client().updateItem(r -> r.tableName(dynamo.keysTable()).key(Map.of("token_hash", AttributeValue.fromS("limits#" + key.id())))
        .updateExpression("SET res = :res, par_max = :one, par_left = :zero")
        .expressionAttributeValues(Map.of(":res", AttributeValue.fromM(Map.of("rold_1", old)), ":one", AttributeValue.fromN("1"),
            ":zero", AttributeValue.fromN("0"))));

    Admission admitted = engine.admit(key, ONE_REQUEST); // the old entry given back, then this one's slot taken

    var item = item(key);
    assertThat(item.get("res").m()).doesNotContainKey("rold_1").hasSize(1);
    assertThat(item.get("par_left").n()).isEqualTo("0");
    admitted.settle(new TokenUsage(1, 1, 2), BigDecimal.ZERO);
    assertThat(engine.flushEndings()).isTrue();
    assertThat(item(key).get("res").m()).isEmpty();
    assertThat(item(key).get("par_left").n()).isEqualTo("1");
  }
}

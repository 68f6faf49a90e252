package aigw.proxy;

import static com.github.tomakehurst.wiremock.client.WireMock.*;
import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.Gateway;
import aigw.core.http.CorsPolicy;
import aigw.core.http.GatewayApplication;
import aigw.core.http.GatewayRequest;
import aigw.core.http.GatewayResponse;
import aigw.core.json.Json;
import aigw.core.keys.ApiKeys;
import aigw.core.keys.KeyUsage;
import aigw.core.keys.VirtualKey;
import aigw.core.limits.Limits;
import aigw.core.teams.Team;
import aigw.core.teams.TeamLimits;
import aigw.core.testing.LocalDynamo;
import aigw.core.testing.MutableClock;
import aigw.core.testing.StreamingUpstream;
import aigw.core.testing.TestGateways;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Key limits through the proxy's HTTP application, over DynamoDB Local, with two gateways sharing
 * one table standing for two Lambda containers, and WireMock (or a held upstream) as the provider.
 */
class LimitsProxyTest {
  private static final String KEY = "sk-aigw-limits-test-key-000001";
  private static final String ANSWER =
      "{\"id\":\"c1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,"
          + "\"message\":{\"role\":\"assistant\",\"content\":\"hi\"},\"finish_reason\":\"stop\"}],"
          + "\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3,\"total_tokens\":10}}";
  private static WireMockServer wiremock;

  private LocalDynamo dynamo;
  private MutableClock clock;
  private StreamingUpstream held;
  private ExecutorService pool;

  @BeforeAll
  static void startWireMock() {
    wiremock = aigw.core.testing.Upstream.start();
  }

  @AfterAll
  static void stopWireMock() {
    wiremock.stop();
  }

  @BeforeEach
  void setUp() {
    wiremock.resetAll();
    wiremock.stubFor(post("/v1/chat/completions").withRequestBody(notContaining("\"stream\":true")).willReturn(okJson(ANSWER)));
    dynamo = new LocalDynamo();
    clock = MutableClock.at("2026-12-05T08:00:10Z");
    held = StreamingUpstream.start();
    pool = Executors.newFixedThreadPool(40);
  }

  @AfterEach
  void tearDown() {
    pool.shutdownNow();
    held.close();
    dynamo.close();
  }

  /** A gateway (one Lambda container) over the shared table. */
  /** Every container this test made: their usage writes are flushed before the table is read. */
  private final List<Gateway> containers = new java.util.concurrent.CopyOnWriteArrayList<>();

  private GatewayApplication container() {
    Gateway gateway = TestGateways.gateway(dynamo, List.of(
        TestGateways.openAi("gpt-4o-mini", "gpt-4o-mini", wiremock.baseUrl() + "/v1"),
        TestGateways.openAi("held", "held-upstream", held.baseUrl())), clock);
    containers.add(gateway);
    return asLambda(gateway);
  }

  /** A gateway (one Lambda container) over the shared table, with a priced model: input free, 0.005 USD per output token. */
  private GatewayApplication pricedContainer() {
    var openAi = TestGateways.openAi("priced", "priced-model", wiremock.baseUrl() + "/v1");
    var priced = new aigw.core.config.Deployment(openAi.modelName(), openAi.provider(), openAi.upstreamModel(), openAi.apiBase(),
        openAi.apiKey(), openAi.apiKeySource(), openAi.timeout(), null, null, null, null,
        new aigw.core.config.TokenPrices(BigDecimal.ZERO, new BigDecimal("0.005"), null, null));
    Gateway gateway = TestGateways.gateway(dynamo, List.of(priced), clock);
    containers.add(gateway);
    return asLambda(gateway);
  }

  /**
   * The proxy as a Lambda execution environment runs it: the response is complete (streamed to its
   * end), then the runtime's afterResponse writes what the answer handed over (limit settlements,
   * usage) before the next invocation.
   */
  private static GatewayApplication asLambda(Gateway gateway) {
    var proxy = new ProxyService(gateway);
    return GatewayApplication.of(CorsPolicy.DISABLED, request -> {
      try {
        return proxy.handle(request).buffered();
      } finally {
        gateway.flushWrites(); // StreamingFunction.afterResponse, also after an error answer
      }
    });
  }

  private Team storeTeam(TeamLimits limits) {
    var now = clock.instant();
    var team = new Team("team-" + UUID.randomUUID(), null, List.of(), Map.of(), false, limits, now, now);
    TestGateways.gateway(dynamo, List.of(), clock).teamStore().create(team);
    return team;
  }

  /** Stores key {@code plaintext} in {@code teamId} with {@code limits}. */
  private VirtualKey storeTeamKey(String plaintext, String teamId, Limits limits) {
    var now = clock.instant();
    var key = new VirtualKey(ApiKeys.hash(plaintext), UUID.randomUUID().toString(), ApiKeys.mask(plaintext), null, List.of(), teamId, null,
        Map.of(), now, now, null, false, null, null, null, limits);
    TestGateways.gateway(dynamo, List.of(), clock).keyStore().create(key);
    return key;
  }

  private static GatewayResponse sendAs(GatewayApplication app, String key, String body) {
    return app.handle(new GatewayRequest("POST", "/v1/chat/completions", Map.of("Authorization", "Bearer " + key, "Content-Type", "application/json"),
        Map.of(), body.getBytes(StandardCharsets.UTF_8), "req-" + UUID.randomUUID())).buffered();
  }

  private VirtualKey storeKey(Limits limits) {
    Gateway gateway = TestGateways.gateway(dynamo, List.of(), clock);
    var now = clock.instant();
    var key = new VirtualKey(ApiKeys.hash(KEY), UUID.randomUUID().toString(), ApiKeys.mask(KEY), null, List.of(), null, null, Map.of(),
        now, now, null, false, null, null, null, limits);
    gateway.keyStore().create(key);
    return key;
  }

  private KeyUsage usageOf(VirtualKey key) {
    containers.forEach(Gateway::flushWrites); // as the runtime does after each response
    return TestGateways.gateway(dynamo, List.of(), clock).keyStore().usageOf(key.keyId());
  }

  private static GatewayResponse send(GatewayApplication app, String path, String body) {
    return app.handle(new GatewayRequest("POST", path, Map.of("Authorization", "Bearer " + KEY, "Content-Type", "application/json"),
        Map.of(), body.getBytes(StandardCharsets.UTF_8), "req-" + UUID.randomUUID())).buffered();
  }

  private static String chat(String model) {
    return "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]}";
  }

  private List<GatewayResponse> atOnce(int requests, IntFunction<GatewayResponse> request) throws Exception {
    var start = new CountDownLatch(1);
    var futures = new ArrayList<CompletableFuture<GatewayResponse>>();
    for (int i = 0; i < requests; i++) {
      int index = i;
      futures.add(CompletableFuture.supplyAsync(() -> {
        try {
          start.await();
        } catch (InterruptedException e) {
          throw new IllegalStateException(e);
        }
        return request.apply(index);
      }, pool));
    }
    start.countDown();
    var responses = new ArrayList<GatewayResponse>();
    for (var future : futures) {
      responses.add(future.get(60, TimeUnit.SECONDS));
    }
    return responses;
  }

  private static JsonNode error(GatewayResponse response) {
    return Json.readObject(response.body()).path("error");
  }

  @Test
  void fortyParallelRequestsOverTwoContainersGetExactlyTwentySuccessesAndA429WithRetryAfterForTheRest() throws Exception {
    storeKey(new Limits(20L, null, null, null, null, null));
    var first = container();
    var second = container();

    List<GatewayResponse> responses = atOnce(40, i -> send(i % 2 == 0 ? first : second, "/v1/chat/completions", chat("gpt-4o-mini")));

    List<GatewayResponse> ok = responses.stream().filter(r -> r.status() == 200).toList();
    List<GatewayResponse> limited = responses.stream().filter(r -> r.status() == 429).toList();
    assertThat(ok).hasSize(20);
    assertThat(limited).hasSize(20);
    assertThat(wiremock.getAllServeEvents()).hasSize(20); // the refused never reached the provider
    assertThat(ok).allSatisfy(r -> assertThat(r.headers())
        .containsEntry("x-ratelimit-limit-requests", "20")
        .containsKeys("x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"));
    assertThat(limited).allSatisfy(r -> {
      assertThat(r.headers()).containsEntry("Retry-After", "50").containsEntry("x-ratelimit-remaining-requests", "0");
      assertThat(error(r).path("type").asText()).isEqualTo("rate_limit_error");
      assertThat(error(r).path("code").asText()).isEqualTo("429");
      assertThat(error(r).path("message").asText())
          .isEqualTo("Rate limit exceeded for api_key: sk-...0001. Limit type: requests. Current limit: 20, Remaining: 0."
              + " Limit resets at: 2026-12-05 08:01:00 UTC");
    });

    clock.advance(Duration.ofSeconds(50)); // the next window
    assertThat(send(first, "/v1/chat/completions", chat("gpt-4o-mini")).status()).isEqualTo(200);
  }

  @Test
  void maxParallelRequestsTwoWithASlowProviderAdmitsExactlyTwoAtOnce() throws Exception {
    storeKey(new Limits(null, null, 2, null, null, null));
    var first = container();
    var second = container();

    var futures = new ArrayList<CompletableFuture<GatewayResponse>>();
    for (int i = 0; i < 6; i++) {
      var app = i % 2 == 0 ? first : second;
      futures.add(CompletableFuture.supplyAsync(() -> send(app, "/v1/chat/completions", chat("held")), pool));
    }
    var one = held.awaitRequest();
    var two = held.awaitRequest();
    // The other four are refused while the two are held at the provider.
    var refused = new ArrayList<GatewayResponse>();
    for (var future : futures) {
      try {
        refused.add(future.get(2, TimeUnit.SECONDS)); // a refusal first waits ~150 ms for a settlement (LimitEngine.SETTLEMENT_WAITS)
      } catch (java.util.concurrent.TimeoutException stillAtTheProvider) {
        // one of the two held
      }
    }
    assertThat(refused).hasSize(4).allSatisfy(r -> {
      assertThat(r.status()).isEqualTo(429);
      assertThat(r.headers()).containsEntry("Retry-After", "1");
      assertThat(error(r).path("message").asText()).contains("Limit type: max_parallel_requests. Current limit: 2");
    });
    assertThat(held.noRequestWithin(Duration.ofMillis(100))).isTrue();

    one.respond(200, Map.of(), ANSWER);
    two.respond(200, Map.of(), ANSWER);
    assertThat(futures.stream().map(CompletableFuture::join).filter(r -> r.status() == 200)).hasSize(2);
    // Both slots are free again once the calls ended.
    var next = CompletableFuture.supplyAsync(() -> send(first, "/v1/chat/completions", chat("held")), pool);
    var nextTwo = CompletableFuture.supplyAsync(() -> send(second, "/v1/chat/completions", chat("held")), pool);
    held.awaitRequest().respond(200, Map.of(), ANSWER);
    held.awaitRequest().respond(200, Map.of(), ANSWER);
    assertThat(next.get(10, TimeUnit.SECONDS).status()).isEqualTo(200);
    assertThat(nextTwo.get(10, TimeUnit.SECONDS).status()).isEqualTo(200);
  }

  @Test
  void aCallThatFailsGivesItsSlotBack() {
    storeKey(new Limits(null, null, 1, null, null, null));
    var app = container();
    wiremock.stubFor(post("/v1/chat/completions").willReturn(aResponse().withStatus(500).withBody("{\"error\":{\"message\":\"boom\"}}")));
    assertThat(send(app, "/v1/chat/completions", chat("gpt-4o-mini")).status()).isEqualTo(502);
    wiremock.stubFor(post("/v1/chat/completions").willReturn(okJson(ANSWER)));
    assertThat(send(app, "/v1/chat/completions", chat("gpt-4o-mini")).status()).isEqualTo(200);
  }

  @Test
  void afterConcurrentRequestsWholeAndStreamedOnALimitedKeyItsCountersEqualWhatTheClientsReceived() throws Exception {
    String usageChunk = "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[],"
        + "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":4,\"total_tokens\":9}}";
    String content = "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
        + "\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}";
    wiremock.stubFor(post("/v1/chat/completions").withRequestBody(containing("\"stream\":true")).willReturn(aResponse()
        .withStatus(200).withHeader("Content-Type", "text/event-stream")
        .withBody("data: " + content + "\n\ndata: " + usageChunk + "\n\ndata: [DONE]\n\n")));
    var key = storeKey(new Limits(1000L, 100000L, 8, new BigDecimal("100"), null, "30d"));
    var first = container();
    var second = container();
    // One call first, so the budget has an average to reserve: before it, requests without max_tokens run one at a time.
    assertThat(send(first, "/v1/chat/completions", chat("gpt-4o-mini")).status()).isEqualTo(200);

    List<GatewayResponse> responses = atOnce(24, i -> send(i % 2 == 0 ? first : second, "/v1/chat/completions",
        i % 3 == 0
            ? "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":true,\"stream_options\":{\"include_usage\":true}}"
            : chat("gpt-4o-mini")));

    long requests = 1; // the first call's: ANSWER's usage
    long prompt = 7;
    long completion = 3;
    for (GatewayResponse response : responses) {
      if (response.status() != 200) {
        continue; // max_parallel_requests 8: some of 24 at once are refused
      }
      requests++;
      String text = response.bodyText();
      JsonNode usage = text.startsWith("data: ")
          ? Json.readObject(text.lines().filter(l -> l.contains("\"usage\":{")).findFirst().orElseThrow().substring(6).getBytes()).path("usage")
          : Json.readObject(response.body()).path("usage");
      prompt += usage.path("prompt_tokens").asLong();
      completion += usage.path("completion_tokens").asLong();
    }
    assertThat(requests).isGreaterThanOrEqualTo(8);
    KeyUsage counted = usageOf(key);
    assertThat(counted.requests()).isEqualTo(requests);
    assertThat(counted.promptTokens()).isEqualTo(prompt);
    assertThat(counted.completionTokens()).isEqualTo(completion);
  }

  @Test
  void aSpentBudgetIsLiteLlmsBudgetExceededInOpenAisEnvelopeAndInAnthropicsShapeOnMessages() {
    storeKey(new Limits(null, null, null, BigDecimal.ZERO, null, "1d"));
    var app = container();

    GatewayResponse openAi = send(app, "/v1/chat/completions", chat("gpt-4o-mini"));
    assertThat(openAi.status()).isEqualTo(429);
    assertThat(error(openAi).path("type").asText()).isEqualTo("budget_exceeded");
    assertThat(error(openAi).path("message").asText()).isEqualTo("Budget has been exceeded! Current cost: 0, Max budget: 0");
    assertThat(openAi.headers()).containsEntry("Retry-After", Long.toString(Duration.ofHours(16).minusSeconds(10).toSeconds()));

    GatewayResponse anthropic = send(app, "/v1/messages",
        "{\"model\":\"gpt-4o-mini\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    assertThat(anthropic.status()).isEqualTo(429);
    JsonNode body = Json.readObject(anthropic.body());
    assertThat(body.path("type").asText()).isEqualTo("error");
    assertThat(body.path("error").path("message").asText()).startsWith("Budget has been exceeded!");
    assertThat(wiremock.getAllServeEvents()).isEmpty();
  }

  @Test
  void answersOfEveryProtocolStreamedOrNotCarryTheRateLimitHeaders() {
    String content = "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
        + "\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":4,\"total_tokens\":9}}";
    wiremock.stubFor(post("/v1/chat/completions").withRequestBody(containing("\"stream\":true")).willReturn(aResponse()
        .withStatus(200).withHeader("Content-Type", "text/event-stream").withBody("data: " + content + "\n\ndata: [DONE]\n\n")));
    storeKey(new Limits(10L, 1000L, null, null, null, null));
    var app = container();

    var chat = send(app, "/v1/chat/completions", "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    var messages = send(app, "/v1/messages", "{\"model\":\"gpt-4o-mini\",\"max_tokens\":10,\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    wiremock.stubFor(post("/v1/responses").willReturn(okJson("{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"completed\","
        + "\"output\":[],\"usage\":{\"input_tokens\":3,\"output_tokens\":2,\"total_tokens\":5}}")));
    var responses = send(app, "/v1/responses", "{\"model\":\"gpt-4o-mini\",\"input\":\"hi\"}");
    var embeddingsRefusedByTheProviderStub = send(app, "/v1/embeddings", "{\"model\":\"gpt-4o-mini\",\"input\":\"hi\"}");

    for (var response : List.of(chat, messages, responses)) {
      assertThat(response.status()).as(response.bodyText()).isEqualTo(200);
      assertThat(response.headers()).containsEntry("x-ratelimit-limit-requests", "10").containsEntry("x-ratelimit-limit-tokens", "1000")
          .containsKeys("x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens");
    }
    assertThat(responses.headers().get("x-ratelimit-remaining-requests")).isEqualTo("7");
    assertThat(embeddingsRefusedByTheProviderStub.status()).isNotEqualTo(200); // no stub: a failed call, still one request of the minute
    assertThat(send(app, "/v1/chat/completions", chat("gpt-4o-mini")).headers()).containsEntry("x-ratelimit-remaining-requests", "5");
  }

  private static final String TEAM_KEY_A = "sk-aigw-team-limits-test-key-00A1";
  private static final String TEAM_KEY_B = "sk-aigw-team-limits-test-key-00B2";

  @Test
  void aTeamBudgetStopsBothItsKeysUnderThirtyTwoWayConcurrencyWithinOneRequestsCostAndPassesAgainAfterItsDuration() throws Exception {
    // Each call costs what it reserved: max_tokens 10 at 0.005 USD per output token, answered with 10 output tokens.
    wiremock.stubFor(post("/v1/chat/completions").willReturn(okJson(ANSWER.replace(
        "\"prompt_tokens\":7,\"completion_tokens\":3,\"total_tokens\":10", "\"prompt_tokens\":7,\"completion_tokens\":10,\"total_tokens\":17"))));
    Team team = storeTeam(new TeamLimits(new BigDecimal("1.02"), null, "1d", null, null, null));
    storeTeamKey(TEAM_KEY_A, team.teamId(), Limits.NONE);
    storeTeamKey(TEAM_KEY_B, team.teamId(), Limits.NONE);
    var first = pricedContainer();
    var second = pricedContainer();
    String body = "{\"model\":\"priced\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    var answered = new AtomicInteger();

    List<GatewayResponse> refusals = atOnce(32, i -> {
      var app = i % 2 == 0 ? first : second;
      String key = i % 4 < 2 ? TEAM_KEY_A : TEAM_KEY_B; // both keys on both containers
      while (true) {
        GatewayResponse response = sendAs(app, key, body);
        if (response.status() == 429 && error(response).path("type").asText().equals("rate_limit_error")) {
          // The rest of the budget is reserved by calls in flight: a client tries again (Retry-After: 1).
          assertThat(response.headers()).containsEntry("Retry-After", "1");
          continue;
        }
        if (response.status() != 200) {
          return response;
        }
        answered.incrementAndGet();
      }
    });

    // Admitted while the team's spend + reservations < 1.02: 20 reserve 1.00, the 21st crosses, the rest are refused.
    assertThat(answered.get()).isEqualTo(21);
    assertThat(wiremock.getAllServeEvents()).hasSize(21);
    BigDecimal spend = TestGateways.gateway(dynamo, List.of(), clock).limits().budget(team.limitScope()).spend();
    assertThat(spend).isEqualByComparingTo("1.05");
    assertThat(spend.subtract(new BigDecimal("1.02"))).isLessThanOrEqualTo(new BigDecimal("0.05")); // docs/limits.md's bound
    assertThat(refusals).allSatisfy(r -> {
      assertThat(r.status()).isEqualTo(429);
      assertThat(error(r).path("type").asText()).isEqualTo("budget_exceeded");
      assertThat(error(r).path("message").asText()).matches(
          "Budget has been exceeded! Team=" + team.teamId() + " Current cost: [0-9.]+, Max budget: 1\\.02");
      assertThat(r.headers()).containsEntry("Retry-After", Long.toString(Duration.ofHours(16).minusSeconds(10).toSeconds()));
    });
    assertThat(error(sendAs(first, TEAM_KEY_B, body)).path("message").asText())
        .isEqualTo("Budget has been exceeded! Team=" + team.teamId() + " Current cost: 1.05, Max budget: 1.02");

    clock.advance(Duration.ofHours(16)); // past the team's budget_reset_at, 2026-12-06T00:00:00Z
    assertThat(sendAs(second, TEAM_KEY_A, body).status()).isEqualTo(200);
    assertThat(sendAs(first, TEAM_KEY_B, body).status()).isEqualTo(200);
  }

  @Test
  void aTeamRpmLimitOfTenOverTwoKeysAndTwoContainersAdmitsExactlyTenInTheWindow() throws Exception {
    Team team = storeTeam(new TeamLimits(null, null, null, null, 10L, null));
    storeTeamKey(TEAM_KEY_A, team.teamId(), Limits.NONE);
    storeTeamKey(TEAM_KEY_B, team.teamId(), Limits.NONE);
    var first = container();
    var second = container();

    List<GatewayResponse> responses =
        atOnce(40, i -> sendAs(i % 2 == 0 ? first : second, i % 4 < 2 ? TEAM_KEY_A : TEAM_KEY_B, chat("gpt-4o-mini")));

    assertThat(responses).filteredOn(r -> r.status() == 200).hasSize(10)
        .allSatisfy(r -> assertThat(r.headers()).containsEntry("x-ratelimit-limit-requests", "10"));
    assertThat(wiremock.getAllServeEvents()).hasSize(10);
    assertThat(responses).filteredOn(r -> r.status() == 429).hasSize(30).allSatisfy(r -> {
      assertThat(r.headers()).containsEntry("Retry-After", "50");
      assertThat(error(r).path("type").asText()).isEqualTo("rate_limit_error");
      assertThat(error(r).path("message").asText()).isEqualTo("Rate limit exceeded for team: " + team.teamId()
          + ". Limit type: requests. Current limit: 10, Remaining: 0. Limit resets at: 2026-12-05 08:01:00 UTC");
    });

    clock.advance(Duration.ofSeconds(50)); // the next window
    assertThat(sendAs(second, TEAM_KEY_B, chat("gpt-4o-mini")).status()).isEqualTo(200);
  }

  @Test
  void aKeyLimitStricterThanItsTeamsStillHoldsAndWhatItRefusesDoesNotCountOnTheTeam() {
    Team team = storeTeam(new TeamLimits(null, null, null, null, 10L, null));
    storeTeamKey(TEAM_KEY_A, team.teamId(), new Limits(3L, null, null, null, null, null));
    storeTeamKey(TEAM_KEY_B, team.teamId(), Limits.NONE);
    var app = container();

    var strict = new ArrayList<Integer>();
    for (int i = 0; i < 6; i++) {
      strict.add(sendAs(app, TEAM_KEY_A, chat("gpt-4o-mini")).status());
    }
    assertThat(strict).containsExactly(200, 200, 200, 429, 429, 429);
    assertThat(error(sendAs(app, TEAM_KEY_A, chat("gpt-4o-mini"))).path("message").asText())
        .startsWith("Rate limit exceeded for api_key: sk-...00A1. Limit type: requests. Current limit: 3");
    // The team counted the key's 3 answered requests, not its refused ones: 7 are left for the other key.
    var other = new ArrayList<Integer>();
    for (int i = 0; i < 8; i++) {
      other.add(sendAs(app, TEAM_KEY_B, chat("gpt-4o-mini")).status());
    }
    assertThat(other).containsExactly(200, 200, 200, 200, 200, 200, 200, 429);
  }

  @Test
  void aTeamWithoutLimitsCostsItsKeysNoLimitWrite() {
    Team team = storeTeam(TeamLimits.NONE);
    storeTeamKey(TEAM_KEY_A, team.teamId(), Limits.NONE);
    var app = container();
    var response = sendAs(app, TEAM_KEY_A, chat("gpt-4o-mini"));
    assertThat(response.status()).isEqualTo(200);
    assertThat(response.headers()).doesNotContainKey("x-ratelimit-limit-requests");
    assertThat(dynamo.client().getItem(r -> r.tableName(dynamo.keysTable()).key(Map.of("token_hash",
        software.amazon.awssdk.services.dynamodb.model.AttributeValue.fromS("limits#team:" + team.teamId())))).hasItem()).isFalse();
  }

  // --- A brand-new budget under a burst of requests without max_tokens (no estimate of their cost) ---

  /** A call of the priced model that costs 0.20 USD (40 output tokens at 0.005), answered after 150 ms so a burst is in flight at once. */
  private void twentyCentCallsTakingAWhile() {
    wiremock.stubFor(post("/v1/chat/completions").willReturn(okJson(ANSWER.replace(
        "\"prompt_tokens\":7,\"completion_tokens\":3,\"total_tokens\":10", "\"prompt_tokens\":7,\"completion_tokens\":40,\"total_tokens\":47"))
        .withFixedDelay(150)));
  }

  /**
   * 32 clients over two containers send requests without max_tokens until the budget refuses them,
   * trying again on a 429 that says "retry shortly"; returns how many were answered.
   */
  private int burstUntilTheBudgetRefuses(IntFunction<String> keyOf, GatewayApplication first, GatewayApplication second) throws Exception {
    String body = "{\"model\":\"priced\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"; // no max_tokens
    var answered = new AtomicInteger();
    List<GatewayResponse> last = atOnce(32, i -> {
      while (true) {
        GatewayResponse response = sendAs(i % 2 == 0 ? first : second, keyOf.apply(i), body);
        if (response.status() == 429 && error(response).path("type").asText().equals("rate_limit_error")) {
          assertThat(response.headers()).containsEntry("Retry-After", "1");
          continue; // the rest is held by calls in flight: a client tries again shortly
        }
        if (response.status() != 200) {
          return response;
        }
        answered.incrementAndGet();
      }
    });
    assertThat(last).allSatisfy(r -> assertThat(error(r).path("type").asText()).isEqualTo("budget_exceeded"));
    assertThat(wiremock.getAllServeEvents()).hasSize(answered.get());
    return answered.get();
  }

  @Test
  void aBrandNewOneDollarKeyHitByThirtyTwoConcurrentRequestsWithoutMaxTokensSpendsAtMostOneRequestBeyondIt() throws Exception {
    twentyCentCallsTakingAWhile();
    VirtualKey key = storeKey(new Limits(null, null, null, new BigDecimal("1.00"), null, null));

    int answered = burstUntilTheBudgetRefuses(i -> KEY, pricedContainer(), pricedContainer());

    BigDecimal spend = TestGateways.gateway(dynamo, List.of(), clock).limits().budget(aigw.core.limits.LimitScope.ofKey(key.keyId(), key.keyName(), key.limits())).spend();
    assertThat(spend).isEqualByComparingTo(new BigDecimal("0.20").multiply(BigDecimal.valueOf(answered))); // each call counted once
    assertThat(spend).as("docs/limits.md's bound: max_budget + one request's cost (it was 6.40)").isLessThanOrEqualTo(new BigDecimal("1.20"));
    assertThat(spend).isGreaterThanOrEqualTo(new BigDecimal("1.00"));
    assertThat(usageOf(key).spend()).isEqualByComparingTo(spend);
  }

  @Test
  void aBrandNewOneDollarTeamHitByThirtyTwoConcurrentRequestsOfTwoKeysWithoutMaxTokensSpendsAtMostOneRequestBeyondIt() throws Exception {
    twentyCentCallsTakingAWhile();
    Team team = storeTeam(new TeamLimits(new BigDecimal("1.00"), null, null, null, null, null));
    storeTeamKey(TEAM_KEY_A, team.teamId(), Limits.NONE);
    storeTeamKey(TEAM_KEY_B, team.teamId(), Limits.NONE);

    int answered = burstUntilTheBudgetRefuses(i -> i % 4 < 2 ? TEAM_KEY_A : TEAM_KEY_B, pricedContainer(), pricedContainer());

    BigDecimal spend = TestGateways.gateway(dynamo, List.of(), clock).limits().budget(team.limitScope()).spend();
    assertThat(spend).isEqualByComparingTo(new BigDecimal("0.20").multiply(BigDecimal.valueOf(answered)));
    assertThat(spend).as("docs/limits.md's bound: max_budget + one request's cost").isLessThanOrEqualTo(new BigDecimal("1.20"));
    assertThat(spend).isGreaterThanOrEqualTo(new BigDecimal("1.00"));
  }

  // --- Settlement off the client's path ---

  /**
   * A Lambda execution environment as the streaming runtime runs it: one invocation at a time; the
   * client has the whole response before afterResponse writes what it handed over, and the next
   * invocation starts only after that.
   */
  private static final class Environment implements AutoCloseable {
    private final Gateway gateway;
    private final ProxyService proxy;
    private final ExecutorService invocations = Executors.newSingleThreadExecutor();

    Environment(Gateway gateway) {
      this.gateway = gateway;
      this.proxy = new ProxyService(gateway);
    }

    GatewayResponse send(String key, String body) throws Exception {
      var answer = new CompletableFuture<GatewayResponse>();
      invocations.execute(() -> {
        var request = new GatewayRequest("POST", "/v1/chat/completions",
            Map.of("Authorization", "Bearer " + key, "Content-Type", "application/json"), Map.of(),
            body.getBytes(StandardCharsets.UTF_8), "req-" + UUID.randomUUID());
        answer.complete(proxy.handle(request).buffered()); // the last byte reaches the client
        gateway.flushWrites(); // then afterResponse, before the next /next
      });
      return answer.get(30, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws InterruptedException {
      // Not shutdownNow: an interrupt inside the last invocation's flushWrites left DynamoDB Local's
      // table lock held, and the next read of the counters waited forever.
      invocations.shutdown();
      if (!invocations.awaitTermination(30, TimeUnit.SECONDS)) {
        throw new IllegalStateException("an invocation did not end");
      }
    }
  }

  @Test
  void maxParallelRequestsTwoNeverRefusesASequentialClientWhoseRequestsAlternateBetweenTwoLambdaEnvironments() throws Exception {
    VirtualKey key = storeKey(new Limits(null, null, 2, new BigDecimal("100"), null, null));
    var gateways = List.of(
        TestGateways.gateway(dynamo, List.of(TestGateways.openAi("gpt-4o-mini", "gpt-4o-mini", wiremock.baseUrl() + "/v1")), clock),
        TestGateways.gateway(dynamo, List.of(TestGateways.openAi("gpt-4o-mini", "gpt-4o-mini", wiremock.baseUrl() + "/v1")), clock));
    containers.addAll(gateways); // flushed before the counters are read
    try (var first = new Environment(gateways.get(0)); var second = new Environment(gateways.get(1))) {
      for (int i = 0; i < 30; i++) {
        // The next request goes out the moment the answer is in, while the other environment may still be settling.
        GatewayResponse response = (i % 2 == 0 ? first : second).send(KEY, chat("gpt-4o-mini"));
        assertThat(response.status()).as("request %d: %s", i, new String(response.body(), StandardCharsets.UTF_8)).isEqualTo(200);
      }
    }
    assertThat(usageOf(key).requests()).isEqualTo(30);
  }

  @Test
  void maxParallelRequestsTwoNeverRefusesASequentialClientOfLocalGatewaysWhoseSettlementsAreWrittenInTheBackground() {
    storeKey(new Limits(null, null, 2, new BigDecimal("100"), null, null));
    var gateways = List.of(
        TestGateways.gateway(dynamo, List.of(TestGateways.openAi("gpt-4o-mini", "gpt-4o-mini", wiremock.baseUrl() + "/v1")), clock),
        TestGateways.gateway(dynamo, List.of(TestGateways.openAi("gpt-4o-mini", "gpt-4o-mini", wiremock.baseUrl() + "/v1")), clock));
    gateways.forEach(Gateway::startBackgroundWriters); // as LocalGateway does; no flush after the answer
    try {
      var apps = gateways.stream().map(g -> GatewayApplication.of(CorsPolicy.DISABLED, new ProxyService(g)::handle)).toList();
      for (int i = 0; i < 40; i++) {
        GatewayResponse response = sendAs(apps.get(i % 2), KEY, chat("gpt-4o-mini"));
        assertThat(response.status()).as("request %d: %s", i, new String(response.body(), StandardCharsets.UTF_8)).isEqualTo(200);
      }
    } finally {
      gateways.forEach(Gateway::closeWrites); // the shutdown flush: nothing is left unwritten
    }
    assertThat(gateways).allSatisfy(g -> assertThat(g.limits().pendingEndings()).isZero());
  }

  @Test
  void aBudgetedCallIsAnsweredBeforeItsSettlementIsWrittenAndTheSettlementFollowsInsideTheInvocation() {
    wiremock.stubFor(post("/v1/chat/completions").willReturn(okJson(ANSWER.replace(
        "\"prompt_tokens\":7,\"completion_tokens\":3,\"total_tokens\":10", "\"prompt_tokens\":7,\"completion_tokens\":40,\"total_tokens\":47"))));
    VirtualKey key = storeKey(new Limits(null, null, 1, new BigDecimal("1.00"), null, null));
    var openAi = TestGateways.openAi("priced", "priced-model", wiremock.baseUrl() + "/v1");
    var priced = new aigw.core.config.Deployment(openAi.modelName(), openAi.provider(), openAi.upstreamModel(), openAi.apiBase(),
        openAi.apiKey(), openAi.apiKeySource(), openAi.timeout(), null, null, null, null,
        new aigw.core.config.TokenPrices(BigDecimal.ZERO, new BigDecimal("0.005"), null, null));
    var counted = new CountedDynamo(dynamo.client());
    Gateway gateway = Gateway.over(TestGateways.settings(dynamo), counted.client(), aigw.core.secrets.StaticSecretSource.of(TestGateways.MASTER_KEY),
        List.of(priced), clock);
    var app = GatewayApplication.of(CorsPolicy.DISABLED, new ProxyService(gateway)::handle);
    String body = "{\"model\":\"priced\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

    GatewayResponse answered = sendAs(app, KEY, body);

    assertThat(answered.status()).isEqualTo(200);
    assertThat(gateway.limits().pendingEndings()).as("the settlement waits for afterResponse").isEqualTo(1);
    var scope = aigw.core.limits.LimitScope.ofKey(key.keyId(), key.keyName(), key.limits());
    assertThat(new BigDecimal(dynamo.client().getItem(r -> r.tableName(dynamo.keysTable())
        .key(Map.of("token_hash", software.amazon.awssdk.services.dynamodb.model.AttributeValue.fromS("limits#" + scope.id())))).item()
        .get("par_left").n())).as("its slot is still held while the client reads the answer").isZero();

    gateway.flushWrites(); // afterResponse
    assertThat(gateway.limits().pendingEndings()).isZero();
    assertThat(gateway.limits().budget(scope).spend()).isEqualByComparingTo("0.20");
    assertThat(sendAs(app, KEY, body).status()).as("the slot is free again").isEqualTo(200);
  }

  /**
   * The one write after the answer is a transaction: when one of its conditions fails (here the
   * settlement's, its reservation entry reclaimed by another container meanwhile), nothing of it
   * lands, and each write goes on its own instead: the usage and the spend-log row are still
   * written, once, and the reclaimed request's cost is not counted on the budget (as before: a
   * settlement that finds no entry counts nothing).
   */
  @Test
  void aTransactionCancelledBySettlementWhoseEntryWasReclaimedStillWritesTheUsageAndTheSpendLogOnce() {
    wiremock.stubFor(post("/v1/chat/completions").willReturn(okJson(ANSWER.replace(
        "\"prompt_tokens\":7,\"completion_tokens\":3,\"total_tokens\":10", "\"prompt_tokens\":7,\"completion_tokens\":40,\"total_tokens\":47"))));
    VirtualKey key = storeKey(new Limits(null, null, 4, new BigDecimal("100"), null, null));
    var openAi = TestGateways.openAi("priced", "priced-model", wiremock.baseUrl() + "/v1");
    var priced = new aigw.core.config.Deployment(openAi.modelName(), openAi.provider(), openAi.upstreamModel(), openAi.apiBase(),
        openAi.apiKey(), openAi.apiKeySource(), openAi.timeout(), null, null, null, null,
        new aigw.core.config.TokenPrices(BigDecimal.ZERO, new BigDecimal("0.005"), null, null));
    var counted = new CountedDynamo(dynamo.client());
    Gateway gateway = Gateway.over(TestGateways.settings(dynamo), counted.client(), aigw.core.secrets.StaticSecretSource.of(TestGateways.MASTER_KEY),
        List.of(priced), clock);
    var app = GatewayApplication.of(CorsPolicy.DISABLED, new ProxyService(gateway)::handle);
    String body = "{\"model\":\"priced\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    assertThat(sendAs(app, KEY, body).status()).isEqualTo(200);
    gateway.flushWrites(); // the first settlement, on its own: its answer teaches the scope's average cost

    assertThat(sendAs(app, KEY, body).status()).isEqualTo(200);
    var scope = aigw.core.limits.LimitScope.ofKey(key.keyId(), key.keyName(), key.limits());
    var limitsItem = Map.of("token_hash", software.amazon.awssdk.services.dynamodb.model.AttributeValue.fromS("limits#" + scope.id()));
    var entries = dynamo.client().getItem(r -> r.tableName(dynamo.keysTable()).key(limitsItem)).item().get("res").m().keySet();
    assertThat(entries).hasSize(1);
    dynamo.client().updateItem(r -> r.tableName(dynamo.keysTable()).key(limitsItem).updateExpression("REMOVE res." + entries.iterator().next() + " ADD par_left :one")
        .expressionAttributeValues(Map.of(":one", software.amazon.awssdk.services.dynamodb.model.AttributeValue.fromN("1"))));
    counted.take();

    assertThat(gateway.flushWrites()).isTrue(); // afterResponse

    assertThat(counted.take()).as("tried as one transaction, cancelled, then one by one")
        .containsEntry("transactWriteItems", 1).containsKeys("updateItem", "batchWriteItem");
    assertThat(gateway.limits().pendingEndings()).isZero();
    assertThat(gateway.usageWriter().backlog()).isZero();
    KeyUsage usage = TestGateways.gateway(dynamo, List.of(), clock).keyStore().usageOf(key.keyId());
    assertThat(usage.requests()).isEqualTo(2);
    assertThat(usage.spend()).isEqualByComparingTo("0.40");
    var rows = gateway.spendLogReader().page(new aigw.core.spend.SpendLogReader.Query(
        key.keyId(), null, clock.instant().minus(Duration.ofHours(1)), clock.instant().plus(Duration.ofHours(1)), 100, null)).entries();
    assertThat(rows).hasSize(2);
    assertThat(gateway.limits().budget(scope).spend()).as("the reclaimed request's cost is not counted").isEqualByComparingTo("0.20");
    assertThat(sendAs(app, KEY, body).status()).as("its slot went back with the reclaim").isEqualTo(200);
  }

  /** DynamoDB calls by operation, counted by a wrapper over the gateway's client (java.lang.reflect.Proxy over the interface). */
  static final class CountedDynamo {
    private final software.amazon.awssdk.services.dynamodb.DynamoDbClient client;
    private final Map<String, AtomicInteger> calls = new java.util.concurrent.ConcurrentHashMap<>();

    CountedDynamo(software.amazon.awssdk.services.dynamodb.DynamoDbClient real) {
      this.client = (software.amazon.awssdk.services.dynamodb.DynamoDbClient) java.lang.reflect.Proxy.newProxyInstance(
          getClass().getClassLoader(), new Class<?>[] {software.amazon.awssdk.services.dynamodb.DynamoDbClient.class}, (proxy, method, args) -> {
            if (method.getDeclaringClass() != Object.class && !method.getName().equals("serviceName") && !method.getName().equals("close")
                && !method.getName().equals("serviceClientConfiguration")) {
              calls.computeIfAbsent(method.getName(), n -> new AtomicInteger()).incrementAndGet();
              if (isWriteAfterTheAnswer(method.getName(), args[0])) {
                writesAfterTheAnswer.incrementAndGet();
              }
            }
            try {
              return method.invoke(real, args);
            } catch (java.lang.reflect.InvocationTargetException e) {
              throw e.getCause();
            }
          });
    }

    software.amazon.awssdk.services.dynamodb.DynamoDbClient client() {
      return client;
    }

    private final AtomicInteger writesAfterTheAnswer = new AtomicInteger();

    /** Write calls of what answers hand over: transactions, spend-log batches, usage updates and settlements (an update removing a reservation entry). */
    int writesAfterTheAnswer() {
      return writesAfterTheAnswer.get();
    }

    @SuppressWarnings("unchecked")
    private static boolean isWriteAfterTheAnswer(String operation, Object request) {
      if (operation.equals("transactWriteItems") || operation.equals("batchWriteItem")) {
        return true;
      }
      if (!operation.equals("updateItem")) {
        return false;
      }
      var update = request instanceof software.amazon.awssdk.services.dynamodb.model.UpdateItemRequest built ? built
          : software.amazon.awssdk.services.dynamodb.model.UpdateItemRequest.builder().applyMutation(
              (java.util.function.Consumer<software.amazon.awssdk.services.dynamodb.model.UpdateItemRequest.Builder>) request).build();
      return update.key().get("token_hash").s().startsWith("usage#")
          || (update.updateExpression() != null && update.updateExpression().startsWith("REMOVE res."));
    }

    /** The calls counted since the last take, by operation, and starts again from 0. */
    Map<String, Integer> take() {
      var taken = new java.util.TreeMap<String, Integer>();
      calls.forEach((name, count) -> {
        int n = count.getAndSet(0);
        if (n > 0) {
          taken.put(name, n);
        }
      });
      return taken;
    }
  }

  /**
   * docs/limits.md's table: DynamoDB calls per proxied request of a warm key on Lambda (one request
   * per environment at a time, afterResponse after each), before the answer and after it, for each
   * limit kind. 20 requests measured after 5 that warm the environment (its first lease, the sweep
   * read), the clock moved to the next window between them so the rpm/tpm lease has a busy window
   * to predict from.
   */
  @Test
  void dynamoDbCallsPerRequestOfAWarmKeyBeforeAndAfterTheAnswerForEachLimitKind() {
    var kinds = new java.util.LinkedHashMap<String, Limits>();
    kinds.put("none", Limits.NONE);
    kinds.put("rpm_limit", new Limits(100_000L, null, null, null, null, null));
    kinds.put("tpm_limit", new Limits(null, 10_000_000L, null, null, null, null));
    kinds.put("max_parallel_requests", new Limits(null, null, 4, null, null, null));
    kinds.put("max_budget", new Limits(null, null, null, new BigDecimal("1000"), null, null));
    kinds.put("every limit", new Limits(100_000L, 10_000_000L, 4, new BigDecimal("1000"), null, null));
    var table = new StringBuilder("| Key has | before the answer (per request) | after the answer (per request) |\n|---|---|---|\n");
    var measured = new java.util.LinkedHashMap<String, List<Map<String, Integer>>>();
    int n = 20;
    for (var kind : kinds.entrySet()) {
      var counted = new CountedDynamo(dynamo.client());
      Gateway gateway = Gateway.over(TestGateways.settings(dynamo), counted.client(),
          aigw.core.secrets.StaticSecretSource.of(TestGateways.MASTER_KEY),
          List.of(TestGateways.openAi("gpt-4o-mini", "gpt-4o-mini", wiremock.baseUrl() + "/v1")), clock);
      String plaintext = "sk-aigw-count-" + UUID.randomUUID();
      TestGateways.storeKey(gateway, plaintext, List.of(), null, false, kind.getValue());
      var proxy = new ProxyService(gateway);
      Runnable one = () -> {
        var response = proxy.handle(new GatewayRequest("POST", "/v1/chat/completions",
            Map.of("Authorization", "Bearer " + plaintext, "Content-Type", "application/json"), Map.of(),
            chat("gpt-4o-mini").getBytes(StandardCharsets.UTF_8), "req-" + UUID.randomUUID())).buffered();
        assertThat(response.status()).isEqualTo(200);
      };
      for (int i = 0; i < 5; i++) {
        one.run();
        gateway.flushWrites();
      }
      clock.advance(Duration.ofSeconds(60)); // the next window: the warm-up's was busy
      one.run(); // its first request re-reads the key (the key cache's TTL passed) and takes the window's first lease
      gateway.flushWrites();
      counted.take();
      var before = new java.util.TreeMap<String, Integer>();
      var after = new java.util.TreeMap<String, Integer>();
      for (int i = 0; i < n; i++) {
        one.run();
        counted.take().forEach((op, c) -> before.merge(op, c, Integer::sum));
        gateway.flushWrites();
        counted.take().forEach((op, c) -> after.merge(op, c, Integer::sum));
      }
      measured.put(kind.getKey(), List.of(before, after));
      table.append("| ").append(kind.getKey()).append(" | ").append(perRequest(before, n)).append(" | ").append(perRequest(after, n)).append(" |\n");
    }
    System.out.println(table);

    // No limits: nothing before the answer. A parallel limit or a budget: the one conditional write
    // of the admission before. Leases: fewer writes than requests once the window before was busy.
    assertThat(measured.get("none").get(0)).isEmpty();
    for (String kind : List.of("max_parallel_requests", "max_budget")) {
      assertThat(measured.get(kind).get(0)).as(kind + " before").isEqualTo(Map.of("updateItem", n));
    }
    for (String kind : List.of("rpm_limit", "tpm_limit")) {
      assertThat(measured.get(kind).get(0).getOrDefault("updateItem", 0)).as(kind + " before").isLessThan(n);
    }
    // After the answer, whatever the limits: one write (issue 14), the usage, the spend-log row and
    // the settlement (if any) in one TransactWriteItems; no read.
    for (String kind : kinds.keySet()) {
      assertThat(measured.get(kind).get(1)).as(kind + " after: usage + spend log + settlement in one call")
          .isEqualTo(Map.of("transactWriteItems", n));
    }
  }

  /**
   * docs/limits.md's table, the local gateway's half: its group commit (Gateway.startBackgroundWriters)
   * gathers what answers hand over for a short window and writes it together: per key one usage
   * update, per scope one settlement update, both in one transaction, spend-log rows 25 to a
   * BatchWriteItem. 8 clients at once, 10 requests each, for each limit kind, then the shutdown
   * flush: at most 1 write call after the answer per request, amortised (issue 14), and everything
   * written (usage counts every request).
   */
  @Test
  @org.junit.jupiter.api.Timeout(180)
  void theLocalGroupCommitWritesAtMostOnceAfterTheAnswerPerRequestAmortisedForEachLimitKind() throws Exception {
    var kinds = new java.util.LinkedHashMap<String, Limits>();
    kinds.put("none", Limits.NONE);
    kinds.put("rpm_limit", new Limits(100_000L, null, null, null, null, null));
    kinds.put("tpm_limit", new Limits(null, 10_000_000L, null, null, null, null));
    kinds.put("max_parallel_requests", new Limits(null, null, 16, null, null, null));
    kinds.put("max_budget", new Limits(null, null, null, new BigDecimal("1000"), null, null));
    kinds.put("every limit", new Limits(100_000L, 10_000_000L, 16, new BigDecimal("1000"), null, null));
    int clients = 8;
    int each = 10;
    var report = new StringBuilder();
    for (var kind : kinds.entrySet()) {
      var counted = new CountedDynamo(dynamo.client());
      Gateway gateway = Gateway.over(TestGateways.settings(dynamo), counted.client(),
          aigw.core.secrets.StaticSecretSource.of(TestGateways.MASTER_KEY),
          List.of(TestGateways.openAi("gpt-4o-mini", "gpt-4o-mini", wiremock.baseUrl() + "/v1")), clock);
      String plaintext = "sk-aigw-count-" + UUID.randomUUID();
      VirtualKey key = TestGateways.storeKey(gateway, plaintext, List.of(), null, false, kind.getValue());
      var proxy = new ProxyService(gateway);
      // Warm: the first request of a budget settles on its own (its answer gives the average cost).
      assertThat(proxy.handle(new GatewayRequest("POST", "/v1/chat/completions",
          Map.of("Authorization", "Bearer " + plaintext, "Content-Type", "application/json"), Map.of(),
          chat("gpt-4o-mini").getBytes(StandardCharsets.UTF_8), "req-warm")).buffered().status()).isEqualTo(200);
      gateway.flushWrites();
      gateway.startBackgroundWriters();
      int before = counted.writesAfterTheAnswer();
      try {
        var futures = new ArrayList<CompletableFuture<Void>>();
        for (int c = 0; c < clients; c++) {
          futures.add(CompletableFuture.runAsync(() -> {
            for (int i = 0; i < each; i++) {
              var response = proxy.handle(new GatewayRequest("POST", "/v1/chat/completions",
                  Map.of("Authorization", "Bearer " + plaintext, "Content-Type", "application/json"), Map.of(),
                  chat("gpt-4o-mini").getBytes(StandardCharsets.UTF_8), "req-" + UUID.randomUUID())).buffered();
              assertThat(response.status()).isEqualTo(200);
            }
          }, pool));
        }
        CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
      } finally {
        assertThat(gateway.closeWrites()).isTrue(); // the shutdown flush
        gateway.flushLogs(); // and the spend-log rows of the last partial batch (LocalGateway.close)
      }
      double perRequest = (counted.writesAfterTheAnswer() - before) / (double) (clients * each);
      report.append(String.format(java.util.Locale.ROOT, "%s: %.3f writes after the answer per request (calls: %s)%n", kind.getKey(), perRequest,
          perRequest(counted.take(), clients * each)));
      assertThat(perRequest).as(kind.getKey()).isLessThanOrEqualTo(1.0);
      assertThat(TestGateways.gateway(dynamo, List.of(), clock).keyStore().usageOf(key.keyId()).requests()).isEqualTo(clients * each + 1);
      assertThat(gateway.limits().pendingEndings()).isZero();
    }
    System.out.println(report);
  }

  private static String perRequest(Map<String, Integer> calls, int requests) {
    if (calls.isEmpty()) {
      return "0";
    }
    var parts = new ArrayList<String>();
    calls.forEach((op, count) -> parts.add(String.format(java.util.Locale.ROOT, "%.2f %s", count / (double) requests, op)));
    return String.join(", ", parts);
  }
}

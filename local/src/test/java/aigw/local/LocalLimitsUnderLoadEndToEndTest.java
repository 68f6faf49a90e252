package aigw.local;

import static com.github.tomakehurst.wiremock.client.WireMock.*;
import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.json.Json;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.errors.RateLimitException;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.CompletionUsage;
import java.math.BigDecimal;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 13's "Done when" over real HTTP against the local gateway (a socket; DynamoDB Local
 * embedded), with the official OpenAI Java SDK as every client, whole and streamed: an rpm limit
 * held under concurrent load, and a budget that stops a key and then its team at the cap under
 * 32 concurrent clients, within docs/limits.md's bound, with no lost update (the key's and the
 * team's counters equal what the clients received), and that lets them through again after
 * {@code budget_duration}.
 */
class LocalLimitsUnderLoadEndToEndTest {
  private static final String MASTER = "sk-e2e-limits-under-load-master-key-tests";
  /** gpt-4o-mini at the built-in prices ($0.15 / $0.60 per million tokens): 5 prompt + 3 completion tokens. */
  private static final BigDecimal COST = new BigDecimal("0.00000255");
  private static final String COMPLETION =
      "{\"id\":\"c1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,"
          + "\"message\":{\"role\":\"assistant\",\"content\":\"Hello\"},\"finish_reason\":\"stop\"}],"
          + "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3,\"total_tokens\":8}}";
  private static final String STREAM =
      "data: {\"id\":\"c2\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\","
          + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"stop\"}]}\n\n"
          + "data: {\"id\":\"c2\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[],"
          + "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3,\"total_tokens\":8}}\n\ndata: [DONE]\n\n";

  @TempDir static Path dir;
  private static WireMockServer upstream;
  private static LocalGateway gateway;
  private static final HttpClient http = HttpClient.newHttpClient();

  @BeforeAll
  static void start() throws Exception {
    upstream = aigw.core.testing.Upstream.start();
    upstream.stubFor(post("/v1/chat/completions").willReturn(okJson(COMPLETION)));
    upstream.stubFor(post("/v1/chat/completions").withRequestBody(containing("\"stream\":true"))
        .willReturn(aResponse().withHeader("Content-Type", "text/event-stream").withBody(STREAM)));
    Path config = dir.resolve("config.yaml");
    Files.writeString(config, """
        model_list:
          - model_name: gpt-4o-mini
            litellm_params: {model: openai/gpt-4o-mini, api_base: "%1$s/v1", api_key: os.environ/E2E_PROVIDER_KEY}
        """.formatted(upstream.baseUrl()));
    gateway = LocalGateway.start(LocalOptions.inMemory(config, Map.of("AIGW_MASTER_KEY", MASTER, "E2E_PROVIDER_KEY", "sk-provider-e2e")));
  }

  @AfterAll
  static void stop() {
    gateway.close();
    upstream.stop();
  }

  private static JsonNode admin(String path, String body) throws Exception {
    var request = HttpRequest.newBuilder(URI.create(gateway.baseUrl() + path)).timeout(Duration.ofSeconds(20))
        .header("Authorization", "Bearer " + MASTER).header("Content-Type", "application/json");
    request.method(body == null ? "GET" : "POST", body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    var response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as("%s %s", path, response.body()).isEqualTo(200);
    return Json.MAPPER.readTree(response.body());
  }

  private static OpenAIClient sdk(String key) {
    return OpenAIOkHttpClient.builder().apiKey(key).baseUrl(gateway.baseUrl() + "/v1").maxRetries(0).build();
  }

  /** One call as a client makes it, whole or streamed (with usage): the usage the client received. */
  private static CompletionUsage call(OpenAIClient client, boolean streamed) {
    var params = ChatCompletionCreateParams.builder().model("gpt-4o-mini").addUserMessage("hi").maxCompletionTokens(3);
    if (!streamed) {
      return client.chat().completions().create(params.build()).usage().orElseThrow();
    }
    params.streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build());
    try (var stream = client.chat().completions().createStreaming(params.build())) {
      return stream.stream().flatMap(chunk -> chunk.usage().stream()).reduce((first, last) -> last).orElseThrow();
    }
  }

  /** Runs {@code clients} tasks released at once; their results. */
  private static <T> List<T> atOnce(int clients, java.util.function.IntFunction<T> task) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(clients);
    try {
      var start = new CountDownLatch(1);
      var futures = new ArrayList<CompletableFuture<T>>();
      for (int i = 0; i < clients; i++) {
        int index = i;
        futures.add(CompletableFuture.supplyAsync(() -> {
          try {
            start.await();
          } catch (InterruptedException e) {
            throw new IllegalStateException(e);
          }
          return task.apply(index);
        }, pool));
      }
      start.countDown();
      var results = new ArrayList<T>();
      for (var future : futures) {
        results.add(future.get(120, TimeUnit.SECONDS));
      }
      return results;
    } finally {
      pool.shutdownNow();
    }
  }

  /** Waits until {@code condition} holds (at most {@code seconds}). */
  private static void awaitUntil(Supplier<Boolean> condition, int seconds) throws InterruptedException {
    for (Instant until = Instant.now().plusSeconds(seconds); !condition.get(); Thread.sleep(100)) {
      assertThat(Instant.now()).as("waited %s s", seconds).isBefore(until);
    }
  }

  @Test
  void anRpmLimitHoldsTwelveConcurrentSdkClientsToFiveWithRetryAfter() throws Exception {
    String key = admin("/key/generate", "{\"rpm_limit\": 5}").path("key").asText();
    awaitUntil(() -> Instant.now().getEpochSecond() % 60 < 50, 15); // all in one UTC minute, the limit's window
    OpenAIClient client = sdk(key);

    List<Object> outcomes = atOnce(12, i -> {
      try {
        return call(client, i % 2 == 0);
      } catch (RateLimitException e) {
        return e;
      }
    });

    assertThat(outcomes).filteredOn(CompletionUsage.class::isInstance).hasSize(5);
    assertThat(outcomes).filteredOn(RateLimitException.class::isInstance).hasSize(7).allSatisfy(o -> {
      var refused = (RateLimitException) o;
      assertThat(refused.type()).contains("rate_limit_error");
      assertThat(refused.getMessage()).contains("Limit type: requests. Current limit: 5");
      assertThat(refused.headers().values("retry-after")).hasSize(1);
    });
    assertThat(admin("/key/info?key=" + key, null).path("info").path("request_count").asLong()).isEqualTo(5);
  }

  /**
   * A key's budget and then its team's, each under 32 concurrent SDK clients (whole and streamed
   * calls that send max_tokens, so each reserves its estimate) that call until they are refused
   * with budget_exceeded: the spend ends at or above the cap and below the cap plus one request's
   * estimate (docs/limits.md's bound: about two answered calls here, where LiteLLM's race lets all
   * 32 through), it equals what the clients received (no lost update), and after budget_duration
   * (30s) both pass again.
   */
  @Test
  void aBudgetStopsAKeyAndThenItsTeamAtTheCapUnderThirtyTwoSdkClientsAndPassesAgainAfterItsDuration() throws Exception {
    admin("/team/new", "{\"team_id\": \"e2e-load-team\", \"max_budget\": 0.0001, \"budget_duration\": \"30s\"}");
    String budgeted = admin("/key/generate", "{\"team_id\": \"e2e-load-team\", \"max_budget\": 0.00005, \"budget_duration\": \"30s\"}")
        .path("key").asText();
    String teammate = admin("/key/generate", "{\"team_id\": \"e2e-load-team\"}").path("key").asText();
    // Both rounds in one 30-second period (periods start at :00 and :30 UTC).
    awaitUntil(() -> Instant.now().getEpochSecond() % 30 < 10, 35);

    List<CompletionUsage> keyRound = untilBudgetExceeded(budgeted, "Budget has been exceeded! Current cost: ");
    BigDecimal keySpend = spendOf("/key/info?key=" + budgeted, "info");
    assertThat(keySpend).as("the clients' costs, none lost").isEqualByComparingTo(costOf(keyRound));
    assertWithinTheBound(keySpend, new BigDecimal("0.00005"));
    JsonNode keyInfo = admin("/key/info?key=" + budgeted, null).path("info");
    assertThat(keyInfo.path("request_count").asLong()).isEqualTo(keyRound.size());
    assertThat(keyInfo.path("total_tokens").asLong()).isEqualTo(keyRound.stream().mapToLong(CompletionUsage::totalTokens).sum());

    List<CompletionUsage> teamRound = untilBudgetExceeded(teammate, "Budget has been exceeded! Team=e2e-load-team Current cost: ");
    BigDecimal teamSpend = spendOf("/team/info?team_id=e2e-load-team", "team_info");
    var both = new ArrayList<>(keyRound);
    both.addAll(teamRound);
    assertThat(teamSpend).as("both keys' calls, none lost").isEqualByComparingTo(costOf(both));
    assertWithinTheBound(teamSpend, new BigDecimal("0.0001"));
    Instant reset = Instant.parse(keyInfo.path("budget_reset_at").asText());
    assertThat(Instant.now()).as("both rounds ran in one budget period").isBefore(reset);

    awaitUntil(() -> Instant.now().isAfter(reset.plusMillis(500)), 40);
    assertThat(call(sdk(budgeted), false).totalTokens()).isEqualTo(8);
    assertThat(call(sdk(teammate), true).totalTokens()).isEqualTo(8);
  }

  /**
   * 32 SDK clients on {@code key} (half streamed) each call until refused with budget_exceeded; a
   * refusal because the rest is reserved by calls in flight (rate_limit_error, Retry-After: 1) is
   * retried, as a client does. The usage of every answered call.
   */
  private static List<CompletionUsage> untilBudgetExceeded(String key, String refusal) throws Exception {
    OpenAIClient client = sdk(key);
    List<List<CompletionUsage>> perClient = atOnce(32, i -> {
      var received = new ArrayList<CompletionUsage>();
      while (true) {
        try {
          received.add(call(client, i % 2 == 0));
        } catch (RateLimitException e) {
          if (e.type().orElse("").equals("budget_exceeded")) {
            assertThat(e.getMessage()).contains(refusal);
            return received;
          }
          assertThat(e.getMessage()).contains("Limit type: max_budget");
          assertThat(e.headers().values("retry-after")).containsExactly("1");
        }
      }
    });
    return perClient.stream().flatMap(List::stream).toList();
  }

  private static BigDecimal costOf(List<CompletionUsage> calls) {
    calls.forEach(usage -> assertThat(usage.totalTokens()).isEqualTo(8));
    return COST.multiply(BigDecimal.valueOf(calls.size()));
  }

  /**
   * docs/limits.md: when no call costs more than its estimate, the spend passes the budget by less
   * than one estimate, whatever the concurrency. Here a call reserves its body / 4 prompt tokens
   * (the SDK's body is under 160 bytes: at most 40, $0.000006) and its 3 max_completion_tokens
   * ($0.0000018), under $0.00000765 = three calls' cost, against $0.00000255 spent per call.
   */
  private static void assertWithinTheBound(BigDecimal spend, BigDecimal maxBudget) {
    assertThat(spend).as("stopped at the cap").isGreaterThanOrEqualTo(maxBudget);
    assertThat(spend.subtract(maxBudget)).as("overshoot").isLessThan(COST.multiply(BigDecimal.valueOf(3)));
  }

  private static BigDecimal spendOf(String path, String field) throws Exception {
    return admin(path, null).path(field).path("spend").decimalValue();
  }
}

package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.json.Json;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.ProvisionedThroughputExceededException;

/**
 * The local gateway while DynamoDB refuses usage writes: clients keep getting answers, the usage is
 * kept in the data directory, and after a restart {@code /key/info} counts every request served.
 * (The SDK's retries and the 503 mapping over HTTP are proved by the proxy's
 * ProxyDynamoDbFaultsTest; here the refusal is what the SDK throws once its retries are spent.)
 */
class LocalUsageReplayTest {
  private static final String MASTER = "sk-local-usage-replay-master-0123456789";
  private static final HttpClient HTTP = HttpClient.newHttpClient();
  private static WireMockServer upstream;

  @TempDir static Path data;
  /** The gateway's data directory; each test starts from an empty one. */
  private static Path dataDir;

  @org.junit.jupiter.api.BeforeEach
  void freshDataDirectory(org.junit.jupiter.api.TestInfo test) {
    dataDir = data.resolve(test.getTestMethod().orElseThrow().getName());
  }

  @BeforeAll
  static void startUpstream() {
    upstream = aigw.core.testing.Upstream.answeringChatCompletions();
  }

  @AfterAll
  static void stopUpstream() {
    upstream.stop();
  }

  /** Wraps the embedded client: while {@code refusing}, every UpdateItem throws as the SDK does after its retries; {@code refused} counts the usage path's. */
  private static UnaryOperator<DynamoDbClient> refusingUpdatesWhile(AtomicBoolean refusing, AtomicInteger refused) {
    return dynamo -> (DynamoDbClient) Proxy.newProxyInstance(
        DynamoDbClient.class.getClassLoader(), new Class<?>[] {DynamoDbClient.class}, (proxy, method, args) -> {
          if (method.getName().equals("updateItem") && refusing.get()) {
            // Counted: the usage path's writes. Not the journal's replay (every 30 s, on the
            // schedules' thread), which a slow machine may reach during the outage.
            if (!Thread.currentThread().getName().equals("aigw-rotation")) {
              refused.incrementAndGet();
            }
            throw ProvisionedThroughputExceededException.builder()
                .message("The level of configured provisioned throughput for the table was exceeded. (SDK Attempt Count: 9)")
                .statusCode(400)
                .build();
          }
          try {
            return method.invoke(dynamo, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
        });
  }

  /** Wraps the embedded client: while {@code holding}, every UpdateItem waits for {@code release} (counted in {@code entered}). */
  private static UnaryOperator<DynamoDbClient> holdingUpdatesWhile(AtomicBoolean holding, CountDownLatch release, AtomicInteger entered) {
    return dynamo -> (DynamoDbClient) Proxy.newProxyInstance(
        DynamoDbClient.class.getClassLoader(), new Class<?>[] {DynamoDbClient.class}, (proxy, method, args) -> {
          if (method.getName().equals("updateItem") && holding.get()) {
            entered.incrementAndGet();
            if (!release.await(60, TimeUnit.SECONDS)) {
              throw new IllegalStateException("the test never released the write");
            }
          }
          try {
            return method.invoke(dynamo, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
        });
  }

  private static Path config(String name) throws Exception {
    return Files.writeString(data.resolve(name + ".yaml"), """
        model_list:
          - model_name: gpt-4o-mini
            litellm_params: {model: openai/gpt-4o-mini, api_base: "%s/v1", api_key: sk-provider-usage-replay}
        """.formatted(upstream.baseUrl()));
  }

  private static LocalGateway start(Path config, UnaryOperator<DynamoDbClient> decorate) {
    var env = Map.of("AIGW_MASTER_KEY", MASTER, "AIGW_KEY_CACHE_TTL_SECONDS", "3600");
    var options = LocalOptions.parse(
        new String[] {"--port", "0", "--data-dir", dataDir.toString(), "--config", config.toString(), "--rotation-check-seconds", "0"}, env);
    return LocalGateway.start(options, decorate);
  }

  private static HttpResponse<String> send(LocalGateway gateway, String path, String key, String body) throws Exception {
    var request = HttpRequest.newBuilder(URI.create(gateway.baseUrl() + path)).timeout(Duration.ofSeconds(20))
        .header("Authorization", "Bearer " + key).header("Content-Type", "application/json");
    request = body == null ? request.GET() : request.POST(HttpRequest.BodyPublishers.ofString(body));
    return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static int chat(LocalGateway gateway, String key) throws Exception {
    return send(gateway, "/v1/chat/completions", key, "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}").statusCode();
  }

  private static JsonNode info(LocalGateway gateway, String key) throws Exception {
    return Json.MAPPER.readTree(send(gateway, "/key/info?key=" + key, MASTER, null).body()).path("info");
  }

  /** The requests whose usage the journal holds; 0 without a journal (a line still being appended counts once it is whole). */
  private static long journalled(Path journal) throws Exception {
    if (!Files.exists(journal)) {
      return 0;
    }
    long requests = 0;
    for (String line : Files.readAllLines(journal)) {
      try {
        requests += aigw.core.usage.UsageRecords.parse(line).delta().requests();
      } catch (IllegalArgumentException notWholeYet) {
        // read while it was appended
      }
    }
    return requests;
  }

  /** Waits (up to 20 s) until the journal holds {@code requests} requests' usage. */
  private static void awaitJournalled(Path journal, long requests) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (journalled(journal) < requests) {
      assertThat(deadline - System.nanoTime()).as("time left for the usage of request %d to be journalled", requests).isPositive();
      Thread.sleep(5);
    }
  }

  @Test
  void usageRefusedDuringAnOutageIsCountedAfterARestart() throws Exception {
    Path config = Files.writeString(data.resolve("config.yaml"), """
        model_list:
          - model_name: gpt-4o-mini
            litellm_params: {model: openai/gpt-4o-mini, api_base: "%s/v1", api_key: sk-provider-usage-replay}
        """.formatted(upstream.baseUrl()));
    var refusing = new AtomicBoolean();
    var refused = new AtomicInteger();
    String key;
    int duringOutage = 3;
    Path journal = dataDir.resolve(LocalGateway.USAGE_JOURNAL_FILE);
    try (var gateway = start(config, refusingUpdatesWhile(refusing, refused))) {
      var generated = send(gateway, "/key/generate", MASTER, "{\"key_alias\":\"usage-replay\"}");
      assertThat(generated.statusCode()).as(generated.body()).isEqualTo(200);
      key = Json.MAPPER.readTree(generated.body()).get("key").asText();
      assertThat(chat(gateway, key)).isEqualTo(200);
      assertThat(info(gateway, key).path("request_count").asLong()).as("written before the outage").isEqualTo(1);

      refusing.set(true);
      for (int i = 1; i <= duringOutage; i++) {
        assertThat(chat(gateway, key)).as("answered while DynamoDB refuses usage").isEqualTo(200);
        // Each request's usage in a group-commit window of its own, as on a loaded machine where a
        // request takes longer than the 20 ms window: the most writes these requests can cost.
        awaitJournalled(journal, i);
      }
      // /key/info first writes what this gateway still holds for the key: nothing left by now.
      assertThat(info(gateway, key).path("request_count").asLong()).isEqualTo(1);
      // One refused UpdateItem per window: the window's write, then the journal. Not a second
      // UpdateItem of the same usage by the queue's own writer (two per window until session 15:
      // 4 refused writes for 3 requests in two windows in CI, 6 here).
      assertThat(refused.get()).as("writes refused: one per window").isEqualTo(duringOutage);
      assertThat(journalled(journal)).as("the journal holds every request served during the outage").isEqualTo(duringOutage);
    }

    // Restarted with DynamoDB writable again: the kept usage is written at start.
    try (var gateway = start(config, UnaryOperator.identity())) {
      assertThat(journal).doesNotExist();
      assertThat(chat(gateway, key)).isEqualTo(200);
      JsonNode info = info(gateway, key);
      long served = 1 + duringOutage + 1;
      assertThat(info.path("request_count").asLong()).isEqualTo(served);
      // Upstream.CHAT_COMPLETION reports total_tokens 2 in each answer.
      assertThat(info.path("total_tokens").asLong()).isEqualTo(2 * served);
    }
  }

  @Test
  void theAnswersGoOutWhileTheirUsageIsStillBeingWrittenAndAfterANormalStopEveryOneIsCounted() throws Exception {
    Path config = config("held");
    var holding = new AtomicBoolean();
    var release = new CountDownLatch(1);
    var entered = new AtomicInteger();
    String key;
    int requests = 8;
    var gateway = start(config, holdingUpdatesWhile(holding, release, entered));
    try {
      var generated = send(gateway, "/key/generate", MASTER, "{\"key_alias\":\"usage-held\"}");
      key = Json.MAPPER.readTree(generated.body()).get("key").asText();
      holding.set(true);

      var answers = new ArrayList<CompletableFuture<HttpResponse<String>>>();
      for (int i = 0; i < requests; i++) {
        answers.add(HTTP.sendAsync(HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/v1/chat/completions"))
            .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"))
            .build(), HttpResponse.BodyHandlers.ofString()));
      }
      for (var answer : answers) {
        assertThat(answer.get(30, TimeUnit.SECONDS).statusCode()).as("answered while no usage write has ended").isEqualTo(200);
      }
      assertThat(release.getCount()).isEqualTo(1);
    } finally {
      // The stop waits for the held write (and the one after it, for what came meanwhile).
      var stopped = new CountDownLatch(1);
      Thread stopping = Thread.ofPlatform().start(() -> {
        gateway.close();
        stopped.countDown();
      });
      while (entered.get() == 0 && stopping.isAlive()) {
        Thread.onSpinWait();
      }
      assertThat(stopped.getCount()).as("the stop waits for the usage writes").isEqualTo(1);
      release.countDown();
      assertThat(stopped.await(60, TimeUnit.SECONDS)).isTrue();
    }

    try (var restarted = start(config, UnaryOperator.identity())) {
      assertThat(dataDir.resolve(LocalGateway.USAGE_JOURNAL_FILE)).as("nothing needed the journal").doesNotExist();
      JsonNode info = info(restarted, key);
      assertThat(info.path("request_count").asLong()).isEqualTo(requests);
      assertThat(info.path("total_tokens").asLong()).isEqualTo(2L * requests);
    }
  }

  @Test
  void usageStillUnwrittenWhenTheGatewayStopsDuringAnOutageIsJournalledAndCountedAfterTheRestart() throws Exception {
    Path config = config("outage-at-stop");
    var refusing = new AtomicBoolean();
    var refused = new AtomicInteger();
    String key;
    int duringOutage = 3;
    try (var gateway = start(config, refusingUpdatesWhile(refusing, refused))) {
      var generated = send(gateway, "/key/generate", MASTER, "{\"key_alias\":\"usage-at-stop\"}");
      key = Json.MAPPER.readTree(generated.body()).get("key").asText();
      refusing.set(true);
      for (int i = 0; i < duringOutage; i++) {
        assertThat(chat(gateway, key)).isEqualTo(200);
      }
    } // stopped: the last flush meets the refusing DynamoDB and journals what it holds
    Path journal = dataDir.resolve(LocalGateway.USAGE_JOURNAL_FILE);
    assertThat(Files.readAllLines(journal).stream().mapToLong(line -> aigw.core.usage.UsageRecords.parse(line).delta().requests()).sum())
        .isEqualTo(duringOutage);

    try (var restarted = start(config, UnaryOperator.identity())) {
      assertThat(journal).as("replayed at start").doesNotExist();
      assertThat(info(restarted, key).path("request_count").asLong()).isEqualTo(duringOutage);
    }
  }
}

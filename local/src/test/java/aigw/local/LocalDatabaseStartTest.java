package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.json.Json;
import com.github.tomakehurst.wiremock.WireMockServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The embedded database is off the path to the first answer (issue 14's start-up target): the
 * server listens and answers a master-key model call, which reads no table, while DynamoDB Local
 * is still starting; whatever needs a table waits for it, nothing is lost, and a database that
 * cannot start is reported to the serving process.
 */
class LocalDatabaseStartTest {
  private static final String MASTER = "sk-local-database-start-master-0123456789";
  private static final String CHAT = "{\"model\": \"model-a\", \"messages\": [{\"role\": \"user\", \"content\": \"Hello\"}]}";

  @TempDir Path dir;
  private final HttpClient http = HttpClient.newHttpClient();
  private WireMockServer upstream;
  private Path config;

  @BeforeEach
  void provider() throws Exception {
    upstream = aigw.core.testing.Upstream.answeringChatCompletions();
    config = dir.resolve("config.yaml");
    Files.writeString(config, """
        model_list:
          - model_name: model-a
            litellm_params: {model: openai/gpt-4o-mini, api_base: "%s/v1", api_key: sk-provider-start}
        """.formatted(upstream.baseUrl()));
  }

  @AfterEach
  void stopProvider() {
    upstream.stop();
  }

  private LocalOptions options(String... more) {
    var args = new ArrayList<>(List.of("--port", "0", "--config", config.toString(), "--rotation-check-seconds", "0"));
    args.addAll(List.of(more));
    return LocalOptions.parse(args.toArray(String[]::new), Map.of("AIGW_MASTER_KEY", MASTER, "AIGW_ALLOW_MASTER_KEY_FOR_MODELS", "true"));
  }

  private HttpResponse<String> send(LocalGateway gateway, String method, String path, String body) throws Exception {
    var request = HttpRequest.newBuilder(URI.create(gateway.baseUrl() + path)).timeout(Duration.ofSeconds(30))
        .header("Content-Type", "application/json").header("Authorization", "Bearer " + MASTER)
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void aMasterKeyModelCallIsAnsweredWhileTheDatabaseIsStillStartingAndAKeyIsMadeOnceItIsUp() throws Exception {
    var release = new CountDownLatch(1);
    var starts = new AtomicInteger();
    LocalGateway.DatabaseStart held = (options, tables) -> {
      starts.incrementAndGet();
      try {
        release.await(60, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return LocalGateway.startDatabase(options, tables);
    };
    Path data = dir.resolve("data");
    try (var gateway = LocalGateway.start(options("--data-dir", data.toString()), UnaryOperator.identity(), held, Duration.ofHours(1))) {
      var answer = send(gateway, "POST", "/v1/chat/completions", CHAT);
      assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
      assertThat(Json.MAPPER.readTree(answer.body()).path("choices").path(0).path("message").path("content").asText()).isNotEmpty();
      assertThat(release.getCount()).as("answered while the database was still starting").isEqualTo(1);

      // The answer started the database (no request had needed it); a key is made once it is up.
      long until = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (starts.get() == 0 && System.nanoTime() < until) {
        Thread.sleep(10);
      }
      assertThat(starts).as("the first model answer starts the database").hasValue(1);
      CompletableFuture<HttpResponse<String>> generated = CompletableFuture.supplyAsync(() -> {
        try {
          return send(gateway, "POST", "/key/generate", "{\"key_alias\": \"after-start\"}");
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      });
      release.countDown();
      assertThat(generated.get(60, TimeUnit.SECONDS).statusCode()).as(generated.get().body()).isEqualTo(200);
      assertThat(starts).as("started once").hasValue(1);
    }

    try (var restarted = LocalGateway.start(options("--data-dir", data.toString()))) {
      var logs = send(restarted, "GET", "/spend/logs", null);
      assertThat(logs.statusCode()).as(logs.body()).isEqualTo(200);
      assertThat(Json.MAPPER.readTree(logs.body()).findValuesAsText("model_group"))
          .as("the call answered before the database was up is in the spend logs after a restart: " + logs.body())
          .containsExactly("model-a");
      assertThat(Json.MAPPER.readTree(send(restarted, "GET", "/key/list", null).body()).path("keys"))
          .as("the key made once the database was up was kept").hasSize(1);
    }
  }

  @Test
  void anAdminRequestStartsTheDatabaseAndWaitsForIt() throws Exception {
    var starts = new AtomicInteger();
    LocalGateway.DatabaseStart counted = (options, tables) -> {
      starts.incrementAndGet();
      return LocalGateway.startDatabase(options, tables);
    };
    try (var gateway = LocalGateway.start(options("--in-memory"), UnaryOperator.identity(), counted, Duration.ofHours(1))) {
      assertThat(gateway.databaseBegun()).as("nothing needed it yet").isFalse();
      var generated = send(gateway, "POST", "/key/generate", "{\"key_alias\": \"first\"}");
      assertThat(generated.statusCode()).as(generated.body()).isEqualTo(200);
      assertThat(starts).hasValue(1);
    }
  }

  @Test
  void withoutAnyRequestTheDatabaseStartsShortlyAfterTheServerListens() throws Exception {
    var started = new CountDownLatch(1);
    LocalGateway.DatabaseStart noted = (options, tables) -> {
      var database = LocalGateway.startDatabase(options, tables);
      started.countDown();
      return database;
    };
    try (var gateway = LocalGateway.start(options("--in-memory"), UnaryOperator.identity(), noted, Duration.ofMillis(200))) {
      assertThat(started.await(60, TimeUnit.SECONDS)).as("started with no request").isTrue();
    }
  }

  @Test
  void aGatewayStoppedBeforeAnythingNeededTheDatabaseStopsWithoutStartingIt() {
    var starts = new AtomicInteger();
    LocalGateway.DatabaseStart counted = (options, tables) -> {
      starts.incrementAndGet();
      return LocalGateway.startDatabase(options, tables);
    };
    var gateway = LocalGateway.start(options("--data-dir", dir.resolve("data").toString()), UnaryOperator.identity(), counted, Duration.ofHours(1));
    gateway.close(); // returns: the spend logs' move of old rows, which waits for the database, is told it will not start

    assertThat(starts).as("nothing needed the database").hasValue(0);
  }

  @Test
  void aDatabaseThatCannotStartIsReportedAndCallsThatNeedItFailWithTheOpenAiErrorShape() throws Exception {
    LocalGateway.DatabaseStart failing = (options, tables) -> {
      throw new IllegalStateException("the data directory's database file is damaged");
    };
    try (var gateway = LocalGateway.start(options("--in-memory"), UnaryOperator.identity(), failing, Duration.ofHours(1))) {
      var reported = new CompletableFuture<Throwable>();
      var reportedOn = new CompletableFuture<String>();
      gateway.onDatabaseFailure(e -> {
        reportedOn.complete(Thread.currentThread().getName());
        reported.complete(e);
      });

      var generated = send(gateway, "POST", "/key/generate", "{\"key_alias\": \"never\"}");
      assertThat(generated.statusCode()).as(generated.body()).isEqualTo(503);
      assertThat(Json.MAPPER.readTree(generated.body()).path("error").path("message").asText()).isNotEmpty();
      assertThat(reported.get(30, TimeUnit.SECONDS)).hasMessage("the data directory's database file is damaged");
      // Not on a request's thread (one waiting in join() runs the callbacks itself): Main's callback
      // stops the process, which waits for the requests in flight.
      assertThat(reportedOn.get(30, TimeUnit.SECONDS)).isEqualTo(DatabaseOnDemand.FAILURE_THREAD);

      var answer = send(gateway, "POST", "/v1/chat/completions", CHAT);
      assertThat(answer.statusCode()).as("the master key's calls need no table: " + answer.body()).isEqualTo(200);
    }
  }
}

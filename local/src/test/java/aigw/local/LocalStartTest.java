package aigw.local;

import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static org.assertj.core.api.Assertions.assertThat;

import com.github.tomakehurst.wiremock.WireMockServer;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 14, start-up: DynamoDB Local starts beside the rest of the start, not before it. The server
 * listens and answers what needs no DynamoDB while the embedded database is still starting (here:
 * held back until the test lets it start); a request that needs it waits for it and is answered.
 */
class LocalStartTest {
  private static final String MASTER = "sk-start-master-key-for-tests-only";
  private static final String COMPLETION =
      "{\"id\":\"chatcmpl-s\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
          + "\"message\":{\"role\":\"assistant\",\"content\":\"before the database\"},\"finish_reason\":\"stop\"}],"
          + "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}";

  @TempDir Path dir;
  private WireMockServer upstream;
  private final HttpClient http = HttpClient.newHttpClient();
  private final CountDownLatch databaseMayStart = new CountDownLatch(1);
  private CompletableFuture<LocalGateway> starting;

  @BeforeEach
  void upstream() {
    upstream = aigw.core.testing.Upstream.start();
    upstream.stubFor(post("/v1/chat/completions").willReturn(okJson(COMPLETION)));
  }

  @AfterEach
  void stop() {
    databaseMayStart.countDown();
    if (starting != null) {
      starting.join().close();
    }
    upstream.stop();
  }

  @Test
  void theServerAnswersWhileDynamoDbLocalIsStillStartingAndACallThatNeedsItIsAnsweredOnceItIsUp() throws Exception {
    Path config = dir.resolve("config.yaml");
    Files.writeString(config, "model_list:\n  - model_name: m\n    litellm_params: {model: openai/m, api_base: \"" + upstream.baseUrl()
        + "/v1\", api_key: os.environ/START_PROVIDER_KEY}\n");
    int port;
    try (var socket = new ServerSocket(0)) {
      port = socket.getLocalPort();
    }
    var options = LocalOptions.parse(new String[] {"--in-memory", "--port", Integer.toString(port), "--config", config.toString()},
        Map.of("AIGW_MASTER_KEY", MASTER, "START_PROVIDER_KEY", "sk-provider", "AIGW_ALLOW_MASTER_KEY_FOR_MODELS", "true"));
    var heldDatabase = (java.util.concurrent.Executor) start -> Thread.ofPlatform().start(() -> {
      try {
        databaseMayStart.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      start.run();
    });
    starting = CompletableFuture.supplyAsync(() -> LocalGateway.start(options, UnaryOperator.identity(), heldDatabase));

    var live = get(port, "/health/liveliness", Duration.ofSeconds(30));
    assertThat(live.statusCode()).as(live.body()).isEqualTo(200);
    assertThat(starting).as("the start completes with the database").isNotDone();

    // A model call looks its key up in DynamoDB: asked now, it is answered once the database is up.
    var chat = CompletableFuture.supplyAsync(
        () -> send(port, "/v1/chat/completions", "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", Duration.ofSeconds(60)));
    Thread.sleep(300);
    assertThat(chat).as("waits for the database").isNotDone();
    databaseMayStart.countDown();
    var answer = chat.get(60, TimeUnit.SECONDS);
    assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
    assertThat(answer.body()).contains("before the database");
    var key = send(port, "/key/generate", "{\"key_alias\":\"after-start\"}", Duration.ofSeconds(60));
    assertThat(key.statusCode()).as(key.body()).isEqualTo(200);
    assertThat(key.body()).contains("\"key_alias\":\"after-start\"");
    starting.get(60, TimeUnit.SECONDS);
  }

  private HttpResponse<String> send(int port, String path, String body, Duration within) {
    return send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
        .header("Authorization", "Bearer " + MASTER).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body)).timeout(within).build(), within);
  }

  private HttpResponse<String> get(int port, String path, Duration within) {
    return send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(within).build(), within);
  }

  /** Polls until the server listens (up to {@code within}), then returns its answer. */
  private HttpResponse<String> send(HttpRequest request, Duration within) {
    long deadline = System.nanoTime() + within.toNanos();
    while (true) {
      try {
        return http.send(request, HttpResponse.BodyHandlers.ofString());
      } catch (java.io.IOException notYetListening) {
        if (System.nanoTime() > deadline) {
          throw new AssertionError("nothing listened at " + request.uri() + " within " + within, notYetListening);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }
  }
}

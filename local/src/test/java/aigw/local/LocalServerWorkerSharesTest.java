package aigw.local;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.http.CorsPolicy;
import aigw.core.http.GatewayApplication;
import aigw.core.http.GatewayResponse;
import aigw.core.json.Json;
import aigw.core.providers.http.UpstreamCall;
import aigw.core.providers.http.UpstreamHttp;
import aigw.core.testing.Upstream;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * What one key, or provider answers, may hold of the local server (issue 15): a key whose model
 * hangs holds at most its share of the workers (over it, 429 with Retry-After in the route's
 * envelope, while other keys are served), and whole provider answers held at once are bounded
 * process-wide (over it, 503 with Retry-After).
 */
class LocalServerWorkerSharesTest {
  private static final Duration S30 = Duration.ofSeconds(30);

  private static String post(String path, String key) {
    return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: Bearer " + key
        + "\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
  }

  @Test
  void aKeyWhoseModelHangsHoldsOnlyItsShareOfTheWorkersAndOtherKeysAreServed() throws Exception {
    var hung = new CountDownLatch(1);
    var started = new CountDownLatch(2);
    GatewayApplication app = GatewayApplication.of(CorsPolicy.allowing(List.of()), request -> {
      if ("Bearer sk-hanging-model-key".equals(request.header("authorization"))) {
        started.countDown();
        try {
          hung.await(30, TimeUnit.SECONDS); // a model that does not answer
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      return GatewayResponse.json(200, Map.of("ok", true));
    });
    var limits = new ServerLimits(S30, S30, S30, 512, 128, ServerLimits.DEFAULT_MAX_BUFFERED_BODY_BYTES,
        ServerLimits.DEFAULT_MAX_BUFFERED_ANSWER_BYTES, 2);
    LocalServer server = LocalServer.start("127.0.0.1", 0, app, limits, AllowedHosts.of(null));
    ExecutorService clients = Executors.newFixedThreadPool(2);
    try {
      var held = new ArrayList<Future<LocalServerTest.Answer>>();
      for (int i = 0; i < 2; i++) {
        held.add(clients.submit(() -> LocalServerTest.raw(server.port(), post("/v1/chat/completions", "sk-hanging-model-key"))));
      }
      assertThat(started.await(10, TimeUnit.SECONDS)).as("both of the key's requests are running").isTrue();

      var refused = LocalServerTest.raw(server.port(), post("/v1/chat/completions", "sk-hanging-model-key"));
      assertThat(refused.status()).isEqualTo(429);
      assertThat(refused.header("retry-after")).isEqualTo("1");
      assertThat(refused.error().get("type").asText()).isEqualTo("rate_limit_error");
      assertThat(refused.error().get("message").asText()).contains("AIGW_HTTP_MAX_WORKERS_PER_KEY");
      var anthropic = Json.readObject(LocalServerTest.raw(server.port(), post("/v1/messages", "sk-hanging-model-key")).body());
      assertThat(anthropic.get("type").asText()).isEqualTo("error");
      assertThat(anthropic.get("error").get("type").asText()).isEqualTo("rate_limit_error");

      assertThat(LocalServerTest.raw(server.port(), post("/v1/chat/completions", "sk-another-key")).status())
          .as("another key is served while the first holds its share").isEqualTo(200);

      hung.countDown();
      for (var answer : held) {
        assertThat(answer.get(30, TimeUnit.SECONDS).status()).isEqualTo(200);
      }
      assertThat(LocalServerTest.raw(server.port(), post("/v1/chat/completions", "sk-hanging-model-key")).status())
          .as("the share is given back when the key's requests end").isEqualTo(200);
    } finally {
      hung.countDown();
      clients.shutdownNow();
      server.stop();
    }
  }

  @Test
  void theSharePerKeyIsReadFromTheEnvironmentAndBoundedByTheWorkers() {
    assertThat(ServerLimits.fromEnv(Map.of()).maxWorkersPerKey()).isEqualTo(LocalServer.WORKER_THREADS / 2);
    assertThat(ServerLimits.fromEnv(Map.of("AIGW_HTTP_MAX_WORKERS_PER_KEY", "8")).maxWorkersPerKey()).isEqualTo(8);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> ServerLimits.fromEnv(Map.of("AIGW_HTTP_MAX_WORKERS_PER_KEY", "65")))
        .hasMessageContaining("AIGW_HTTP_MAX_WORKERS_PER_KEY").hasMessageContaining("1 to 64");
    assertThat(ServerLimits.fromEnv(Map.of("AIGW_HTTP_MAX_BUFFERED_ANSWER_BYTES", "1048576")).maxBufferedAnswerBytes()).isEqualTo(1_048_576);
  }

  @Test
  void providerAnswersOverTheProcessWideBoundGet503WithRetryAfter() throws IOException {
    var provider = Upstream.start();
    provider.stubFor(com.github.tomakehurst.wiremock.client.WireMock.post("/v1/chat/completions").willReturn(aResponse().withHeader("Content-Type", "application/json")
        .withBody(new byte[600 * 1024])));
    var transport = new UpstreamHttp(UpstreamHttp.defaultHttpClient());
    var call = new UpstreamCall("m", URI.create(provider.baseUrl() + "/v1/chat/completions"), Map.of("Content-Type", "application/json"),
        "{}".getBytes(), Duration.ofSeconds(10), List.of());
    // Each request reads the answer twice (as a failover to a second deployment would): 1.2 MiB held.
    GatewayApplication app = GatewayApplication.of(CorsPolicy.allowing(List.of()), request -> {
      int first = transport.exchange(call).body().length;
      int second = transport.exchange(call).body().length;
      return GatewayResponse.json(200, Map.of("bytes", first + second));
    });
    var oneMiB = new ServerLimits(S30, S30, S30, 512, 128, ServerLimits.DEFAULT_MAX_BUFFERED_BODY_BYTES, 1024 * 1024, 32);
    LocalServer bounded = LocalServer.start("127.0.0.1", 0, app, oneMiB, AllowedHosts.of(null));
    LocalServer roomy = LocalServer.start("127.0.0.1", 0, app);
    try {
      var refused = LocalServerTest.raw(bounded.port(), post("/v1/chat/completions", "sk-any"));
      assertThat(refused.status()).isEqualTo(503);
      assertThat(refused.header("retry-after")).isEqualTo("1");
      assertThat(refused.error().get("message").asText()).contains("AIGW_HTTP_MAX_BUFFERED_ANSWER_BYTES");
      var again = LocalServerTest.raw(bounded.port(), post("/v1/chat/completions", "sk-any"));
      assertThat(again.status()).as("what a request held is given back when it is answered").isEqualTo(503);
      assertThat(provider.getAllServeEvents()).as("the refused answer is not asked for again").hasSize(4);

      var answered = LocalServerTest.raw(roomy.port(), post("/v1/chat/completions", "sk-any"));
      assertThat(answered.status()).isEqualTo(200);
      assertThat(Json.readObject(answered.body()).get("bytes").asInt()).isEqualTo(1200 * 1024);
    } finally {
      bounded.stop();
      roomy.stop();
      provider.stop();
    }
  }
}

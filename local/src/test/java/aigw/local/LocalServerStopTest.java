package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.http.CorsPolicy;
import aigw.core.http.GatewayApplication;
import aigw.core.http.GatewayResponse;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A stop (Ctrl-C, SIGTERM) lets the calls in flight finish: their clients get their answers. */
class LocalServerStopTest {
  @Test
  void aCallInFlightWhenTheServerStopsIsAnsweredBeforeItCloses() throws Exception {
    var started = new CountDownLatch(1);
    var server = LocalServer.start("127.0.0.1", 0, GatewayApplication.of(CorsPolicy.allowing(List.of()), request -> {
      started.countDown();
      try {
        Thread.sleep(1_000); // a model call still running
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while answering");
      }
      return GatewayResponse.json(200, Map.of("answered", true));
    }));
    var client = HttpClient.newHttpClient();
    CompletableFuture<HttpResponse<String>> answer = client.sendAsync(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/v1/chat/completions"))
            .timeout(Duration.ofSeconds(20)).POST(HttpRequest.BodyPublishers.ofString("{}")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();

    server.stop();

    var response = answer.get(20, TimeUnit.SECONDS);
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.body()).isEqualTo("{\"answered\":true}");
  }
}

package aigw.local;

import static com.github.tomakehurst.wiremock.client.WireMock.*;
import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.json.Json;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An answer the process-wide answer budget (AIGW_HTTP_MAX_BUFFERED_ANSWER_BYTES) refuses has been
 * run, and may be billed, by the provider: the key's usage counts it (estimated, as a cut stream's)
 * and the spend log records its 503, so that a key cannot get calls free by making answers large.
 */
class LocalAnswerBudgetUsageTest {
  private static final String MASTER = "sk-answer-budget-master-key-for-tests-only";

  @TempDir static Path dir;

  private static HttpResponse<String> send(LocalGateway gateway, String path, String key, String body) throws Exception {
    var builder = HttpRequest.newBuilder(URI.create(gateway.baseUrl() + path)).header("Authorization", "Bearer " + key);
    if (body != null) {
      builder.header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
    }
    return HttpClient.newHttpClient().send(builder.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void aCallWhoseAnswerTheBudgetRefusesStillCountsOnTheKey() throws Exception {
    WireMockServer upstream = aigw.core.testing.Upstream.start();
    // 2 MiB of answer against a 1 MiB budget: the provider ran the call, the gateway cannot hold it.
    String big = "{\"id\":\"c\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":"
        + "{\"role\":\"assistant\",\"content\":\"" + "x".repeat(2 * 1024 * 1024) + "\"},\"finish_reason\":\"stop\"}],"
        + "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":524288,\"total_tokens\":524289}}";
    upstream.stubFor(post("/v1/chat/completions").willReturn(okJson(big)));
    Path config = dir.resolve("config.yaml");
    Files.writeString(config, """
        model_list:
          - model_name: big
            litellm_params: {model: openai/gpt-4o-mini, api_base: "%s/v1", api_key: os.environ/OPENAI_KEY}
        """.formatted(upstream.baseUrl()));
    var env = Map.of("AIGW_MASTER_KEY", MASTER, "OPENAI_KEY", "sk-openai-test-not-a-secret", "AIGW_HTTP_MAX_BUFFERED_ANSWER_BYTES", "1048576");
    try (var gateway = LocalGateway.start(LocalOptions.inMemory(config, env))) {
      var generated = send(gateway, "/key/generate", MASTER, "{\"models\":[\"big\"]}");
      assertThat(generated.statusCode()).as(generated.body()).isEqualTo(200);
      String key = Json.MAPPER.readTree(generated.body()).get("key").asText();

      var refused = send(gateway, "/v1/chat/completions", key, "{\"model\":\"big\",\"messages\":[{\"role\":\"user\",\"content\":\"write a lot\"}]}");
      assertThat(refused.statusCode()).as(refused.body()).isEqualTo(503);
      assertThat(refused.body()).contains("AIGW_HTTP_MAX_BUFFERED_ANSWER_BYTES");
      upstream.verify(1, postRequestedFor(urlEqualTo("/v1/chat/completions")));

      JsonNode info = Json.MAPPER.readTree(send(gateway, "/key/info?key=" + key, MASTER, null).body()).path("info");
      assertThat(info.path("request_count").asLong()).as("the call the provider ran is counted: %s", info).isEqualTo(1);
      assertThat(info.path("spend").decimalValue()).as("and costed").isPositive();

      JsonNode logs = Json.MAPPER.readTree(send(gateway, "/spend/logs?api_key=" + key, MASTER, null).body());
      assertThat(logs.toString()).contains("503");
    } finally {
      upstream.stop();
    }
  }
}

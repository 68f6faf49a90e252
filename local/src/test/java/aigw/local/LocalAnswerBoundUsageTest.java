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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A provider's answer that came after its 2xx but that the gateway could not give its client (over
 * the bound of a whole answer, a stream event over 8 MiB, a stream cut before its first event) was
 * generated, and is billed, by the provider: the call counts on the key with estimated tokens whose
 * completion is the answer's bytes read, about 4 to a token, as the prompt's is the request's.
 */
class LocalAnswerBoundUsageTest {
  private static final String MASTER = "sk-answer-bound-master-key-for-tests-only";
  private static final int BOUND = 1024 * 1024;
  /** A stream's first event cut off with the connection: part of the answer came. */
  private static final String CUT_STREAM = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
      + "\"delta\":{\"content\":\"" + "y".repeat(4000);

  @TempDir static Path dir;
  private static WireMockServer upstream;
  private static LocalGateway gateway;

  @BeforeAll
  static void start() throws Exception {
    upstream = aigw.core.testing.Upstream.start();
    String big = "{\"id\":\"c\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":"
        + "{\"role\":\"assistant\",\"content\":\"" + "x".repeat(2 * BOUND) + "\"},\"finish_reason\":\"stop\"}]}";
    upstream.stubFor(post("/big/v1/chat/completions").willReturn(okJson(big)));
    upstream.stubFor(post("/big/v1/embeddings").willReturn(okJson(big)));
    upstream.stubFor(post("/huge-event/v1/chat/completions").willReturn(ok("data: {\"id\":\"" + "a".repeat(9 * 1024 * 1024) + "\"}\n\n")
        .withHeader("Content-Type", "text/event-stream")));
    upstream.stubFor(post("/cut/v1/chat/completions").willReturn(ok(CUT_STREAM).withHeader("Content-Type", "text/event-stream")));
    Path config = dir.resolve("config.yaml");
    Files.writeString(config, """
        model_list:
          - model_name: big
            litellm_params: {model: openai/gpt-4o-mini, api_base: "%1$s/big/v1", api_key: os.environ/OPENAI_KEY}
          - model_name: huge-event
            litellm_params: {model: openai/gpt-4o-mini, api_base: "%1$s/huge-event/v1", api_key: os.environ/OPENAI_KEY}
          - model_name: cut
            litellm_params: {model: openai/gpt-4o-mini, api_base: "%1$s/cut/v1", api_key: os.environ/OPENAI_KEY}
        """.formatted(upstream.baseUrl()));
    var env = Map.of("AIGW_MASTER_KEY", MASTER, "OPENAI_KEY", "sk-openai-test-not-a-secret", "AIGW_MAX_PROVIDER_ANSWER_BYTES", Integer.toString(BOUND));
    gateway = LocalGateway.start(LocalOptions.inMemory(config, env));
  }

  @AfterAll
  static void stop() {
    gateway.close();
    upstream.stop();
  }

  @Test
  void aWholeAnswerOverTheBoundCountsTheBytesReadAsItsCompletion() throws Exception {
    JsonNode row = refusedCall("big", false);
    // The gateway reads one byte past its bound, to know the answer is over it.
    assertThat(row.path("completion_tokens").asLong()).as("%s", row).isEqualTo((BOUND + 1 + 3) / 4);
  }

  @Test
  void aStreamEventOverEightMebibytesCountsTheBytesReadAsItsCompletion() throws Exception {
    JsonNode row = refusedCall("huge-event", true);
    long eventBound = 8 * 1024 * 1024;
    assertThat(row.path("completion_tokens").asLong()).as("%s", row)
        .isGreaterThanOrEqualTo(eventBound / 4)
        .isLessThanOrEqualTo((9L * 1024 * 1024 + 100) / 4);
  }

  @Test
  void aStreamCutBeforeItsFirstEventCountsThePartThatCameAsItsCompletion() throws Exception {
    JsonNode row = refusedCall("cut", true);
    assertThat(row.path("completion_tokens").asLong()).as("%s", row).isEqualTo((CUT_STREAM.length() + 3) / 4);
  }

  @Test
  void theEstimateIsAtMostTheRequestsMaxTokens() throws Exception {
    // 1 MiB read is ~262,000 tokens; the provider could generate no more than 5.
    JsonNode row = refusedCall("big", "/v1/chat/completions",
        "{\"model\":\"big\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"write a lot\"}]}");
    assertThat(row.path("completion_tokens").asLong()).as("%s", row).isEqualTo(5);
  }

  @Test
  void theEstimateIsAtMostMaxTokensForEachOfNChoices() throws Exception {
    JsonNode row = refusedCall("big", "/v1/chat/completions",
        "{\"model\":\"big\",\"n\":3,\"max_completion_tokens\":7,\"messages\":[{\"role\":\"user\",\"content\":\"write a lot\"}]}");
    assertThat(row.path("completion_tokens").asLong()).as("%s", row).isEqualTo(21);
  }

  @Test
  void anEmbeddingsAnswerOverTheBoundHasNoCompletion() throws Exception {
    JsonNode row = refusedCall("big", "/v1/embeddings", "{\"model\":\"big\",\"input\":\"embed me\"}");
    assertThat(row.path("completion_tokens").asLong()).as("embeddings generate no completion: %s", row).isZero();
  }

  /** Calls {@code model} with a new key, expects the 502, and returns the call's spend-log row. */
  private static JsonNode refusedCall(String model, boolean stream) throws Exception {
    String body = "{\"model\":\"" + model + "\",\"stream\":" + stream + ",\"messages\":[{\"role\":\"user\",\"content\":\"write a lot\"}]}";
    return refusedCall(model, "/v1/chat/completions", body);
  }

  /** Sends {@code body} to {@code path} with a new key for {@code model}, expects the 502, and returns the call's spend-log row. */
  private static JsonNode refusedCall(String model, String path, String body) throws Exception {
    var generated = send("/key/generate", MASTER, "{\"models\":[\"" + model + "\"]}");
    assertThat(generated.statusCode()).as(generated.body()).isEqualTo(200);
    String key = Json.MAPPER.readTree(generated.body()).get("key").asText();

    var refused = send(path, key, body);
    assertThat(refused.statusCode()).as(refused.body()).isEqualTo(502);

    JsonNode info = Json.MAPPER.readTree(send("/key/info?key=" + key, MASTER, null).body()).path("info");
    assertThat(info.path("request_count").asLong()).as("the call the provider ran is counted: %s", info).isEqualTo(1);
    JsonNode rows = Json.MAPPER.readTree(send("/spend/logs?api_key=" + key, MASTER, null).body());
    assertThat(rows).as("%s", rows).hasSize(1);
    JsonNode row = rows.get(0);
    assertThat(row.path("metadata").path("status_code").asInt()).as("%s", row).isEqualTo(502);
    assertThat(row.path("metadata").path("usage_estimated").asBoolean()).as("%s", row).isTrue();
    assertThat(row.path("prompt_tokens").asLong()).as("the prompt, from the request sent: %s", row).isPositive();
    assertThat(row.path("total_tokens").asLong()).isEqualTo(row.path("prompt_tokens").asLong() + row.path("completion_tokens").asLong());
    return row;
  }

  private static HttpResponse<String> send(String path, String key, String body) throws Exception {
    var builder = HttpRequest.newBuilder(URI.create(gateway.baseUrl() + path)).header("Authorization", "Bearer " + key);
    if (body != null) {
      builder.header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
    }
    return HttpClient.newHttpClient().send(builder.build(), HttpResponse.BodyHandlers.ofString());
  }
}

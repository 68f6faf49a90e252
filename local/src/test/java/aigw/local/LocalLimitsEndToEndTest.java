package aigw.local;

import static com.github.tomakehurst.wiremock.client.WireMock.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.json.Json;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.errors.RateLimitException;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
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
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Key limits over real HTTP against the local gateway (DynamoDB Local embedded), with the OpenAI Java SDK. */
class LocalLimitsEndToEndTest {
  private static final String MASTER = "sk-e2e-limits-master-key-for-tests-only";
  private static final String COMPLETION =
      "{\"id\":\"c1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,"
          + "\"message\":{\"role\":\"assistant\",\"content\":\"Hello\"},\"finish_reason\":\"stop\"}],"
          + "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3,\"total_tokens\":8}}";

  @TempDir static Path dir;
  private static WireMockServer upstream;
  private static LocalGateway gateway;
  private static final HttpClient http = HttpClient.newHttpClient();

  @BeforeAll
  static void start() throws Exception {
    upstream = aigw.core.testing.Upstream.start();
    upstream.stubFor(post("/v1/chat/completions").willReturn(okJson(COMPLETION)));
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

  private static HttpResponse<String> call(String path, String key, String body) throws Exception {
    var request = HttpRequest.newBuilder(URI.create(gateway.baseUrl() + path)).timeout(Duration.ofSeconds(20))
        .header("Authorization", "Bearer " + key).header("Content-Type", "application/json");
    request.method(body == null ? "GET" : "POST", body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static String newKey(String body) throws Exception {
    var response = call("/key/generate", MASTER, body);
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    return Json.MAPPER.readTree(response.body()).get("key").asText();
  }

  private static final String CHAT = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

  @Test
  void aKeyWithAnRpmLimitIsHeldToItUnderConcurrentLoad() throws Exception {
    String key = newKey("{\"rpm_limit\": 5}");
    // All in one minute window: not in a minute's last 5 seconds (the gateway's windows are UTC minutes).
    while (Instant.now().getEpochSecond() % 60 >= 55) {
      Thread.sleep(200);
    }
    var pool = Executors.newFixedThreadPool(12);
    try {
      var futures = new ArrayList<CompletableFuture<HttpResponse<String>>>();
      for (int i = 0; i < 12; i++) {
        futures.add(CompletableFuture.supplyAsync(() -> {
          try {
            return call("/v1/chat/completions", key, CHAT);
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        }, pool));
      }
      List<HttpResponse<String>> responses = futures.stream().map(CompletableFuture::join).toList();
      assertThat(responses).filteredOn(r -> r.statusCode() == 200).hasSize(5)
          .allSatisfy(r -> assertThat(r.headers().firstValue("x-ratelimit-limit-requests")).hasValue("5"));
      assertThat(responses).filteredOn(r -> r.statusCode() == 429).hasSize(7).allSatisfy(r -> {
        assertThat(r.headers().firstValue("retry-after")).isPresent();
        JsonNode error = Json.MAPPER.readTree(r.body()).path("error");
        assertThat(error.path("type").asText()).isEqualTo("rate_limit_error");
      });
    } finally {
      pool.shutdownNow();
    }
    JsonNode info = Json.MAPPER.readTree(call("/key/info?key=" + key, MASTER, null).body()).path("info");
    assertThat(info.path("request_count").asLong()).isEqualTo(5);
    assertThat(info.path("rpm_limit").asLong()).isEqualTo(5);
  }

  @Test
  void aKeyWithASpentBudgetStopsWithLiteLlmsErrorInTheSdk() throws Exception {
    String key = newKey("{\"max_budget\": 0, \"budget_duration\": \"30d\"}");
    var client = OpenAIOkHttpClient.builder().apiKey(key).baseUrl(gateway.baseUrl() + "/v1").maxRetries(0).build();
    assertThatThrownBy(() -> client.chat().completions().create(
            ChatCompletionCreateParams.builder().model("gpt-4o-mini").addUserMessage("hi").build()))
        .isInstanceOfSatisfying(RateLimitException.class, e -> {
          assertThat(e.type()).contains("budget_exceeded");
          assertThat(e.getMessage()).contains("Budget has been exceeded! Current cost: 0, Max budget: 0");
        });
    JsonNode info = Json.MAPPER.readTree(call("/key/info?key=" + key, MASTER, null).body()).path("info");
    assertThat(info.path("max_budget").asDouble()).isZero();
    assertThat(info.path("budget_reset_at").asText()).endsWith("-01T00:00:00Z");
  }

  /**
   * Issue 13: over real HTTP, /spend/logs shows each request with its cost (gpt-4o-mini at the
   * built-in table's $0.15 / $0.60 per million tokens: 5 prompt + 3 completion tokens = $0.00000255),
   * streamed or not, and names the key by its id, never by its value.
   */
  @Test
  void spendLogsShowEachRequestWithItsCost() throws Exception {
    String key = newKey("{\"key_alias\": \"spend-logged\"}");
    String streamed = "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    upstream.stubFor(post("/v1/chat/completions").withRequestBody(containing("\"stream\":true")).willReturn(aResponse()
        .withHeader("Content-Type", "text/event-stream")
        .withBody("data: {\"id\":\"c2\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\","
            + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"stop\"}]}\n\n"
            + "data: {\"id\":\"c2\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[],"
            + "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3,\"total_tokens\":8}}\n\ndata: [DONE]\n\n")));
    for (String body : List.of(CHAT, streamed, CHAT)) {
      var answer = call("/v1/chat/completions", key, body);
      assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
    }
    String keyId = Json.MAPPER.readTree(call("/key/info?key=" + key, MASTER, null).body()).path("info").path("key_id").asText();

    // The local gateway writes spend-log records every second (and at stop): read until all three are there.
    JsonNode rows = null;
    for (Instant until = Instant.now().plusSeconds(15); Instant.now().isBefore(until); Thread.sleep(200)) {
      var logs = call("/spend/logs?api_key=" + keyId, MASTER, null);
      assertThat(logs.statusCode()).as(logs.body()).isEqualTo(200);
      rows = Json.MAPPER.readTree(logs.body());
      if (rows.size() >= 3) {
        break;
      }
    }
    assertThat(rows).hasSize(3);
    for (JsonNode row : rows) {
      assertThat(row.path("api_key").asText()).isEqualTo(keyId);
      assertThat(row.path("key_alias").asText()).isEqualTo("spend-logged");
      assertThat(row.path("model_group").asText()).isEqualTo("gpt-4o-mini");
      assertThat(row.path("total_tokens").asLong()).isEqualTo(8);
      assertThat(row.path("spend").decimalValue()).isEqualByComparingTo("0.00000255");
      assertThat(row.path("status").asText()).isEqualTo("success");
      assertThat(row.toString()).doesNotContain(key).doesNotContain(aigw.core.keys.ApiKeys.hash(key));
    }
    assertThat(rows).extracting(row -> row.path("request_id").asText()).doesNotHaveDuplicates().allMatch(id -> !id.isBlank());
  }

  @Test
  void aTeamsSpentBudgetStopsEveryKeyOfTheTeamWithLiteLlmsTeamErrorAndTeamInfoShowsIt() throws Exception {
    var created = call("/team/new", MASTER, "{\"team_id\": \"e2e-spent-team\", \"max_budget\": 0, \"budget_duration\": \"1d\"}");
    assertThat(created.statusCode()).as(created.body()).isEqualTo(200);
    String unlimited = newKey("{\"team_id\": \"e2e-spent-team\"}");
    String limited = newKey("{\"team_id\": \"e2e-spent-team\", \"rpm_limit\": 100}");
    for (String key : List.of(unlimited, limited)) {
      var client = OpenAIOkHttpClient.builder().apiKey(key).baseUrl(gateway.baseUrl() + "/v1").maxRetries(0).build();
      assertThatThrownBy(() -> client.chat().completions().create(
              ChatCompletionCreateParams.builder().model("gpt-4o-mini").addUserMessage("hi").build()))
          .isInstanceOfSatisfying(RateLimitException.class, e -> {
            assertThat(e.type()).contains("budget_exceeded");
            assertThat(e.getMessage()).contains("Budget has been exceeded! Team=e2e-spent-team Current cost: 0, Max budget: 0");
          });
    }
    // A key outside the team is not held to the team's budget.
    assertThat(call("/v1/chat/completions", newKey("{}"), CHAT).statusCode()).isEqualTo(200);

    JsonNode teamInfo = Json.MAPPER.readTree(call("/team/info?team_id=e2e-spent-team", MASTER, null).body()).path("team_info");
    assertThat(teamInfo.path("spend").decimalValue()).isZero();
    assertThat(teamInfo.path("max_budget").asDouble()).isZero();
    assertThat(teamInfo.path("budget_reset_at").asText()).endsWith("T00:00:00Z");
  }
}

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

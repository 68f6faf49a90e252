package aigw.local;

import static com.github.tomakehurst.wiremock.client.WireMock.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.json.Json;
import aigw.core.keys.ApiKeys;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.errors.RateLimitException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/**
 * The life of a key's and a team's limits over real HTTP against the local gateway (DynamoDB Local
 * embedded), with the OpenAI Java SDK as the client: a limit an admin removes (sent as null) stops
 * holding at once, and a deleted key or team leaves nothing of itself in the keys table, while its
 * spend logs and audit records stay.
 */
class LocalLimitLifecycleEndToEndTest {
  private static final String MASTER = "sk-e2e-limit-lifecycle-master-key-for-tests";
  private static final String COMPLETION =
      "{\"id\":\"c1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,"
          + "\"message\":{\"role\":\"assistant\",\"content\":\"Hello\"},\"finish_reason\":\"stop\"}],"
          + "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3,\"total_tokens\":8}}";

  @TempDir static Path dir;
  private static WireMockServer upstream;
  private static LocalGateway gateway;
  private static final AtomicReference<DynamoDbClient> dynamo = new AtomicReference<>();
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
    gateway = LocalGateway.start(
        LocalOptions.inMemory(config, Map.of("AIGW_MASTER_KEY", MASTER, "E2E_PROVIDER_KEY", "sk-provider-e2e")),
        client -> {
          dynamo.set(client);
          return client;
        });
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

  private static JsonNode admin(String path, String body) throws Exception {
    var response = call(path, MASTER, body);
    assertThat(response.statusCode()).as("%s %s", path, response.body()).isEqualTo(200);
    return Json.MAPPER.readTree(response.body());
  }

  /** In every prompt: no stored record may hold it. */
  private static final String PROMPT = "hi, prompt-marker-5521";

  private static ChatCompletion chat(String key) {
    var client = OpenAIOkHttpClient.builder().apiKey(key).baseUrl(gateway.baseUrl() + "/v1").maxRetries(0).build();
    return client.chat().completions().create(ChatCompletionCreateParams.builder().model("gpt-4o-mini").addUserMessage(PROMPT).build());
  }

  private static void assertBudgetExceeded(String key, String message) {
    assertThatThrownBy(() -> chat(key)).isInstanceOfSatisfying(RateLimitException.class, e -> {
      assertThat(e.type()).contains("budget_exceeded");
      assertThat(e.getMessage()).contains(message);
    });
  }

  @Test
  void aBudgetSentAsNullStopsHoldingTheKeyAndThenItsTeamAtOnce() throws Exception {
    admin("/team/new", "{\"team_id\": \"e2e-lifted-team\", \"max_budget\": 0, \"budget_duration\": \"1d\"}");
    String key = admin("/key/generate", "{\"team_id\": \"e2e-lifted-team\", \"max_budget\": 0, \"rpm_limit\": 100}").path("key").asText();
    assertBudgetExceeded(key, "Budget has been exceeded! Current cost: 0, Max budget: 0");

    JsonNode updated = admin("/key/update", "{\"key\": \"" + key + "\", \"max_budget\": null}");
    assertThat(updated.path("max_budget").isNull()).isTrue();
    assertThat(updated.path("rpm_limit").asLong()).as("left out: kept").isEqualTo(100);
    // The key's own budget is gone; its team's still holds it.
    assertBudgetExceeded(key, "Budget has been exceeded! Team=e2e-lifted-team Current cost: 0, Max budget: 0");

    admin("/team/update", "{\"team_id\": \"e2e-lifted-team\", \"max_budget\": null, \"budget_duration\": null}");
    assertThat(chat(key).choices().get(0).message().content()).hasValue("Hello");
    JsonNode teamInfo = admin("/team/info?team_id=e2e-lifted-team", null).path("team_info");
    assertThat(teamInfo.path("max_budget").isNull()).isTrue();
    assertThat(teamInfo.path("budget_duration").isNull()).isTrue();
  }

  /**
   * A key with every limit, in a team with every limit, serves requests (so it has a usage item, a
   * limit-state item for itself and one for its team, spend logs); deleting the key removes every
   * item of it from the keys table, and deleting the team every item of the team; the spend logs
   * and the audit records of both stay.
   */
  @Test
  void deletingAKeyAndItsTeamLeavesNothingOfThemButTheirSpendLogsAndAuditRecords() throws Exception {
    admin("/team/new", "{\"team_id\": \"e2e-doomed-team\", \"rpm_limit\": 100, \"tpm_limit\": 100000, \"max_parallel_requests\": 5,"
        + " \"max_budget\": 10, \"budget_duration\": \"1d\"}");
    String limits = "\"rpm_limit\": 100, \"tpm_limit\": 100000, \"max_parallel_requests\": 5, \"max_budget\": 10, \"budget_duration\": \"1d\"";
    JsonNode doomed = admin("/key/generate", "{\"team_id\": \"e2e-doomed-team\", \"key_alias\": \"solo-alias-7\", " + limits + "}");
    JsonNode teammate = admin("/key/generate", "{\"team_id\": \"e2e-doomed-team\", " + limits + "}");
    String key = doomed.path("key").asText();
    String keyId = doomed.path("key_id").asText();
    for (String caller : List.of(key, key, teammate.path("key").asText())) {
      assertThat(chat(caller).choices()).hasSize(1);
    }
    admin("/key/info?key=" + key, null); // writes the usage this process holds
    admin("/key/info?key=" + teammate.path("key").asText(), null);
    assertThat(itemsMentioning(keyId)).as("before: the key, its usage and its limit state")
        .contains("limits#key:" + keyId, "usage#" + keyId);
    assertThat(itemsMentioning("e2e-doomed-team")).contains("limits#team:e2e-doomed-team");

    JsonNode deleted = admin("/key/delete", "{\"keys\": [\"" + key + "\"]}");

    assertThat(deleted.path("deleted_keys").get(0).asText()).isEqualTo(key);
    gateway.flushLogs();
    assertThat(itemsMentioning(keyId)).as("nothing of the deleted key").isEmpty();
    assertThat(itemsMentioning(ApiKeys.hash(key))).isEmpty();
    assertThat(itemsMentioning("solo-alias-7")).as("its alias guard").isEmpty();
    assertThat(spendLogs("api_key=" + keyId)).as("its spend logs stay").hasSize(2);
    assertThat(auditActions(keyId)).as("its audit records stay").contains("key.generate", "key.delete");

    admin("/team/delete", "{\"team_ids\": [\"e2e-doomed-team\"]}");
    assertThat(itemsMentioning("e2e-doomed-team")).as("nothing of the deleted team or its keys").isEmpty();
    assertThat(itemsMentioning(teammate.path("key_id").asText())).isEmpty();
    assertThat(spendLogs("team_id=e2e-doomed-team")).as("the team's spend logs stay").hasSize(3);
    assertThat(auditActions("e2e-doomed-team")).contains("team.new", "team.delete");

    // The logs table holds what happened (each call, each admin action) and never a key, its hash or a prompt.
    String logs = dynamo.get().scanPaginator(r -> r.tableName(gateway.gateway().settings().logs().table())).items().stream()
        .map(Object::toString).collect(java.util.stream.Collectors.joining("\n"));
    assertThat(logs).contains(keyId, teammate.path("key_id").asText(), "key.delete", "team.delete", "e2e-doomed-team");
    for (String secret : List.of(key, teammate.path("key").asText())) {
      assertThat(logs).doesNotContain(secret).doesNotContain(ApiKeys.hash(secret)).doesNotContain(secret.substring(3, 20));
    }
    assertThat(logs).doesNotContain("prompt-marker-5521").doesNotContain(MASTER);

    // A new team of the same id starts afresh: no budget spend or window carried over.
    admin("/team/new", "{\"team_id\": \"e2e-doomed-team\", \"max_budget\": 10, \"budget_duration\": \"1d\"}");
    assertThat(admin("/team/info?team_id=e2e-doomed-team", null).path("team_info").path("spend").decimalValue()).isZero();
  }

  /** The partition keys of the keys-table items any of whose text attributes (the key included) contains {@code text}. */
  private static List<String> itemsMentioning(String text) {
    String table = gateway.gateway().settings().keysTable();
    return dynamo.get().scanPaginator(r -> r.tableName(table).consistentRead(true)).items().stream()
        .filter(item -> item.values().stream().map(AttributeValue::s).anyMatch(s -> s != null && s.contains(text)))
        .map(item -> item.get("token_hash").s())
        .toList();
  }

  private static JsonNode spendLogs(String query) throws Exception {
    JsonNode rows = null;
    for (Instant until = Instant.now().plusSeconds(15); Instant.now().isBefore(until); Thread.sleep(200)) {
      rows = admin("/spend/logs?" + query, null);
      if (rows.size() > 0) {
        break;
      }
    }
    return rows;
  }

  private static List<String> auditActions(String objectId) throws Exception {
    JsonNode rows = admin("/audit?object_id=" + objectId, null).path("audit_logs");
    return java.util.stream.StreamSupport.stream(rows.spliterator(), false).map(row -> row.path("action").asText()).toList();
  }
}

package aigw.local;

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
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * LiteLLM's spend and audit routes over real HTTP against the local gateway, routed by the admin
 * route table as API Gateway routes them: {@code GET /spend/logs}, {@code /global/spend/keys},
 * {@code /global/spend/teams} and {@code GET /audit} (the path itself, as LiteLLM's UI calls it)
 * answer the master key, refuse a virtual key (403) and no key (401) in the error envelope, and
 * show what a team, its key and a model call did, never the key.
 */
class LocalAdminLogsEndToEndTest {
  private static final String MASTER = "sk-local-admin-logs-master-0123456789";
  private static final List<String> LOG_ROUTES = List.of("/spend/logs", "/global/spend/keys", "/global/spend/teams", "/audit");

  @TempDir static Path dir;
  private static WireMockServer upstream;
  private static LocalGateway gateway;
  private static final HttpClient http = HttpClient.newHttpClient();

  @BeforeAll
  static void start() throws Exception {
    upstream = aigw.core.testing.Upstream.answeringChatCompletions();
    Path config = dir.resolve("config.yaml");
    Files.writeString(config, """
        model_list:
          - model_name: model-a
            litellm_params: {model: openai/gpt-4o-mini, api_base: "%s/v1", api_key: sk-provider-logs}
        """.formatted(upstream.baseUrl()));
    gateway = LocalGateway.start(LocalOptions.inMemory(config, Map.of("AIGW_MASTER_KEY", MASTER)));
  }

  @AfterAll
  static void stop() {
    gateway.close();
    upstream.stop();
  }

  private static HttpResponse<String> send(String method, String path, String key, String body) throws Exception {
    var request = HttpRequest.newBuilder(URI.create(gateway.baseUrl() + path)).timeout(Duration.ofSeconds(10))
        .header("Content-Type", "application/json")
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    if (key != null) {
      request.header("Authorization", "Bearer " + key);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static JsonNode admin(String method, String path, String body) throws Exception {
    var response = send(method, path, MASTER, body);
    assertThat(response.statusCode()).as("%s %s %s", method, path, response.body()).isEqualTo(200);
    return Json.MAPPER.readTree(response.body());
  }

  private static void assertEnvelope(HttpResponse<String> response, int status) throws Exception {
    assertThat(response.statusCode()).as(response.uri() + " " + response.body()).isEqualTo(status);
    JsonNode error = Json.MAPPER.readTree(response.body()).path("error");
    assertThat(error.path("code").asText()).isEqualTo(Integer.toString(status));
    assertThat(error.path("message").asText()).isNotBlank();
  }

  @Test
  void theSpendAndAuditRoutesShowWhatHappenedToTheMasterKeyOnly() throws Exception {
    admin("POST", "/team/new", "{\"team_id\":\"team-logs\",\"team_alias\":\"logs\"}");
    JsonNode generated = admin("POST", "/key/generate", "{\"team_id\":\"team-logs\",\"key_alias\":\"app-logs\"}");
    String key = generated.path("key").asText();
    String keyId = generated.path("key_id").asText();
    var call = send("POST", "/v1/chat/completions", key, "{\"model\":\"model-a\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    assertThat(call.statusCode()).as(call.body()).isEqualTo(200);
    gateway.gateway().flushLogs(); // the batched write the request path left behind

    for (String route : LOG_ROUTES) {
      assertEnvelope(send("GET", route, null, null), 401);
      assertEnvelope(send("GET", route, key, null), 403);
      assertEnvelope(send("POST", route, MASTER, "{}"), 405);
    }

    JsonNode logs = admin("GET", "/spend/logs?team_id=team-logs", null);
    assertThat(logs).hasSize(1);
    assertThat(logs.get(0).path("api_key").asText()).isEqualTo(keyId);
    assertThat(logs.get(0).path("key_alias").asText()).isEqualTo("app-logs");
    assertThat(logs.get(0).path("model_group").asText()).isEqualTo("model-a");
    assertThat(logs.get(0).path("total_tokens").asLong()).isPositive();

    JsonNode keys = admin("GET", "/global/spend/keys", null);
    assertThat(keys).extracting(row -> row.path("api_key").asText()).contains(keyId);
    JsonNode teams = admin("GET", "/global/spend/teams", null);
    assertThat(teams.path("teams")).extracting(JsonNode::asText).contains("team-logs");

    JsonNode audit = admin("GET", "/audit", null).path("audit_logs");
    var actions = new ArrayList<String>();
    audit.forEach(row -> actions.add(row.path("action").asText() + " " + row.path("object_id").asText()));
    assertThat(actions).contains("team.new team-logs", "key.generate " + keyId);
    JsonNode teamEvents = admin("GET", "/audit/?table_name=team&object_id=team-logs", null).path("audit_logs");
    assertThat(teamEvents).hasSize(1);
    assertThat(teamEvents.get(0).path("changed_fields")).extracting(JsonNode::asText).containsExactly("team_alias");
    assertThat(teamEvents.get(0).path("source_ip").asText()).isEqualTo("127.0.0.1");

    String everything = logs.toString() + keys + teams + audit;
    assertThat(everything).doesNotContain(key).doesNotContain(aigw.core.keys.ApiKeys.hash(key));
  }
}

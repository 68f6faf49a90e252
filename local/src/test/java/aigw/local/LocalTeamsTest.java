package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.json.Json;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.errors.UnauthorizedException;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.models.Model;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Teams over real HTTP on the local gateway, a WireMock provider behind it, with a key cache TTL of
 * an hour: a team restricts its keys' models (LiteLLM's {@code team_model_access_denied}), {@code
 * all-team-models} follows the team's list, and blocking a team stops its keys at the next request.
 */
class LocalTeamsTest {
  private static final String MASTER = "sk-local-teams-master-0123456789abcdef";

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
            litellm_params: {model: openai/gpt-4o-mini, api_base: "%1$s/v1", api_key: sk-provider-teams}
          - model_name: model-b
            litellm_params: {model: openai/gpt-4.1, api_base: "%1$s/v1", api_key: sk-provider-teams}
          - model_name: model-c
            litellm_params: {model: openai/gpt-4o, api_base: "%1$s/v1", api_key: sk-provider-teams}
        """.formatted(upstream.baseUrl()));
    // An hour: a team change that relied on the TTL would show here as a stale answer.
    var env = Map.of("AIGW_MASTER_KEY", MASTER, "AIGW_KEY_CACHE_TTL_SECONDS", "3600");
    gateway = LocalGateway.start(LocalOptions.inMemory(config, env));
  }

  @AfterAll
  static void stop() {
    gateway.close();
    upstream.stop();
  }

  private static HttpResponse<String> send(String path, String key, String body) throws Exception {
    var request = HttpRequest.newBuilder(URI.create(gateway.baseUrl() + path)).timeout(Duration.ofSeconds(10))
        .header("Authorization", "Bearer " + key).header("Content-Type", "application/json");
    request = body == null ? request.GET() : request.POST(HttpRequest.BodyPublishers.ofString(body));
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static JsonNode admin(String path, String body) throws Exception {
    var response = send(path, MASTER, body);
    assertThat(response.statusCode()).as("%s %s", path, response.body()).isEqualTo(200);
    return Json.MAPPER.readTree(response.body());
  }

  private static HttpResponse<String> chat(String key, String model) throws Exception {
    return send("/v1/chat/completions", key, "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
  }

  private static JsonNode error(HttpResponse<String> response) throws Exception {
    return Json.MAPPER.readTree(response.body()).path("error");
  }

  private static OpenAIClient sdk(String key) {
    return OpenAIOkHttpClient.builder().apiKey(key).baseUrl(gateway.baseUrl() + "/v1").maxRetries(0).build();
  }

  private static String keyIn(String teamId, String models) throws Exception {
    return admin("/key/generate", "{\"team_id\":\"" + teamId + "\",\"models\":" + models + "}").path("key").asText();
  }

  @Test
  void aTeamRestrictsItsKeyToTheModelsBothAllow() throws Exception {
    admin("/team/new", "{\"team_id\":\"only-a\",\"models\":[\"model-a\"]}");
    String key = keyIn("only-a", "[\"model-a\",\"model-b\"]");

    assertThat(chat(key, "model-a").statusCode()).isEqualTo(200);
    var refused = chat(key, "model-b");
    assertThat(refused.statusCode()).isEqualTo(401);
    assertThat(error(refused).path("type").asText()).isEqualTo("team_model_access_denied");
    assertThat(error(refused).path("param").asText()).isEqualTo("model");
    assertThat(error(refused).path("code").asText()).isEqualTo("401");
    assertThat(error(refused).path("message").asText()).contains("team can only access models=[model-a]").contains("model-b");
    assertThat(upstream.getAllServeEvents()).noneMatch(e -> e.getRequest().getBodyAsString().contains("gpt-4.1"));

    assertThatThrownBy(() -> sdk(key).chat().completions().create(ChatCompletionCreateParams.builder()
            .model("model-b").addUserMessage("hi").build()))
        .isInstanceOfSatisfying(UnauthorizedException.class, e -> assertThat(e.type()).contains("team_model_access_denied"));
    assertThat(sdk(key).models().list().data()).as("/v1/models: what both allow").extracting(Model::id).containsExactly("model-a");
  }

  @Test
  void allTeamModelsFollowsTheTeamsListAsItChanges() throws Exception {
    admin("/team/new", "{\"team_id\":\"follows\",\"models\":[\"model-a\",\"model-c\"]}");
    String key = keyIn("follows", "[\"all-team-models\"]");

    assertThat(sdk(key).models().list().data()).extracting(Model::id).containsExactly("model-a", "model-c");
    assertThat(chat(key, "model-c").statusCode()).isEqualTo(200);
    assertThat(chat(key, "model-b").statusCode()).isEqualTo(401);

    admin("/team/update", "{\"team_id\":\"follows\",\"models\":[\"model-b\"]}");

    assertThat(chat(key, "model-b").statusCode()).as("at once, though the team was cached").isEqualTo(200);
    assertThat(chat(key, "model-c").statusCode()).isEqualTo(401);
    assertThat(sdk(key).models().list().data()).extracting(Model::id).containsExactly("model-b");
  }

  @Test
  void blockingTheTeamBlocksItsKeysAtOnceAndUnblockingRestoresThem() throws Exception {
    admin("/team/new", "{\"team_id\":\"blocked-team\"}");
    String first = keyIn("blocked-team", "[]");
    String second = keyIn("blocked-team", "[\"model-a\"]");
    admin("/team/new", "{\"team_id\":\"bystander\"}");
    String bystander = keyIn("bystander", "[]");
    assertThat(chat(first, "model-a").statusCode()).isEqualTo(200); // the key and its team are cached for an hour now

    admin("/team/block", "{\"team_id\":\"blocked-team\"}");

    for (String key : new String[] {first, second}) {
      var refused = chat(key, "model-a");
      assertThat(refused.statusCode()).isEqualTo(401);
      assertThat(error(refused).path("type").asText()).isEqualTo("auth_error");
      assertThat(error(refused).path("message").asText()).contains("Team=blocked-team is blocked");
      assertThat(send("/v1/models", key, null).statusCode()).isEqualTo(401);
    }
    assertThat(chat(bystander, "model-a").statusCode()).isEqualTo(200);

    admin("/team/unblock", "{\"team_id\":\"blocked-team\"}");
    assertThat(chat(first, "model-b").statusCode()).isEqualTo(200);
    assertThat(chat(second, "model-a").statusCode()).isEqualTo(200);
  }

  @Test
  void deletingATeamDeletesItsKeysAndShowsSpendAsTheSumOfTheirs() throws Exception {
    admin("/team/new", "{\"team_id\":\"short-lived\"}");
    String key = keyIn("short-lived", "[]");
    assertThat(chat(key, "model-a").statusCode()).isEqualTo(200);
    JsonNode info = admin("/team/info?team_id=short-lived", null);
    assertThat(info.path("keys")).hasSize(1);
    assertThat(info.path("keys").get(0).path("request_count").asLong()).isEqualTo(1);
    assertThat(info.path("team_info").path("spend").isNumber()).isTrue();
    assertThat(info.toString()).doesNotContain(key);

    admin("/team/delete", "{\"team_ids\":[\"short-lived\"]}");

    assertThat(chat(key, "model-a").statusCode()).isEqualTo(401);
    assertThat(send("/team/info?team_id=short-lived", MASTER, null).statusCode()).isEqualTo(404);
    var unknownTeam = send("/key/generate", MASTER, "{\"team_id\":\"short-lived\"}");
    assertThat(unknownTeam.statusCode()).isEqualTo(400);
    assertThat(error(unknownTeam).path("param").asText()).isEqualTo("team_id");
  }
}

package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.json.Json;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.errors.NotFoundException;
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
 * On the local gateway, where the admin API and the model routes share one process and one key
 * cache, with a cache TTL of an hour: every admin change holds at the very next request, the
 * official OpenAI SDK retrieves models, and keys or model lists that could never work are refused
 * when they are created.
 */
class LocalKeyChangesTest {
  private static final String MASTER = "sk-local-key-changes-master-0123456789";

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
          - model_name: gpt-4o-mini
            litellm_params: {model: openai/gpt-4o-mini, api_base: "%1$s/v1", api_key: sk-provider-key-changes}
          - model_name: openai/gpt-4.1
            litellm_params: {model: openai/gpt-4.1, api_base: "%1$s/v1", api_key: sk-provider-key-changes}
        """.formatted(upstream.baseUrl()));
    // An hour: a change that relied on the TTL would show here as a stale 200.
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

  private static int chat(String key, String model) throws Exception {
    return send("/v1/chat/completions", key, "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")
        .statusCode();
  }

  private static OpenAIClient sdk(String key) {
    return OpenAIOkHttpClient.builder().apiKey(key).baseUrl(gateway.baseUrl() + "/v1").maxRetries(0).build();
  }

  @Test
  void theOpenAiSdkRetrievesTheModelsTheKeyMayUseAndGets404ForOthers() throws Exception {
    String key = admin("/key/generate", "{\"models\":[\"openai/*\"]}").path("key").asText();
    var client = sdk(key);

    Model model = client.models().retrieve("gpt-4o-mini");
    assertThat(model.id()).isEqualTo("gpt-4o-mini");
    assertThat(model.ownedBy()).isEqualTo("openai");
    assertThat(model.created()).isPositive();
    assertThat(client.models().retrieve("openai/gpt-4.1").id()).as("an id with a slash").isEqualTo("openai/gpt-4.1");

    assertThatThrownBy(() -> client.models().retrieve("gpt-9"))
        .isInstanceOfSatisfying(NotFoundException.class, e -> {
          assertThat(e.statusCode()).isEqualTo(404);
          assertThat(e.code()).contains("model_not_found");
          assertThat(e.type()).contains("invalid_request_error");
        });
    String narrow = admin("/key/generate", "{\"models\":[\"gpt-4o-mini\"]}").path("key").asText();
    assertThatThrownBy(() -> sdk(narrow).models().retrieve("openai/gpt-4.1")).isInstanceOf(NotFoundException.class);
  }

  @Test
  void aRegenerateWithoutGraceStopsEveryEarlierValueAtOnce() throws Exception {
    String first = admin("/key/generate", "{}").path("key").asText();
    String second = admin("/key/regenerate", "{\"key\":\"" + first + "\",\"grace_period\":\"1h\"}").path("key").asText();
    assertThat(chat(first, "gpt-4o-mini")).isEqualTo(200); // both cached now, for an hour
    assertThat(chat(second, "gpt-4o-mini")).isEqualTo(200);

    String third = admin("/key/" + second + "/regenerate", "{}").path("key").asText();

    assertThat(chat(second, "gpt-4o-mini")).as("the value just replaced").isEqualTo(401);
    assertThat(chat(first, "gpt-4o-mini")).as("the value still in its grace period").isEqualTo(401);
    assertThat(chat(third, "gpt-4o-mini")).isEqualTo(200);
  }

  @Test
  void blockUpdateAndDeleteHoldAtTheNextRequest() throws Exception {
    String key = admin("/key/generate", "{\"models\":[\"gpt-4o-mini\",\"openai/gpt-4.1\"]}").path("key").asText();
    assertThat(chat(key, "openai/gpt-4.1")).isEqualTo(200);

    admin("/key/block", "{\"key\":\"" + key + "\"}");
    assertThat(chat(key, "gpt-4o-mini")).isEqualTo(401);
    admin("/key/unblock", "{\"key\":\"" + key + "\"}");
    assertThat(chat(key, "gpt-4o-mini")).isEqualTo(200);

    admin("/key/update", "{\"key\":\"" + key + "\",\"models\":[\"gpt-4o-mini\"]}");
    assertThat(chat(key, "openai/gpt-4.1")).isEqualTo(401);
    assertThat(chat(key, "gpt-4o-mini")).isEqualTo(200);

    admin("/key/delete", "{\"keys\":[\"" + key + "\"]}");
    assertThat(chat(key, "gpt-4o-mini")).isEqualTo(401);
  }

  @Test
  void keysAndModelListsThatCouldNeverWorkAreRefusedAtCreation() throws Exception {
    var custom = send("/key/generate", MASTER, "{\"key\":\"sk-ключ-0000000000000000000000\"}");
    assertThat(custom.statusCode()).isEqualTo(400);
    assertThat(Json.MAPPER.readTree(custom.body()).at("/error/param").asText()).isEqualTo("key");

    var typo = send("/key/generate", MASTER, "{\"models\":[\"gpt-9\"]}");
    assertThat(typo.statusCode()).isEqualTo(400);
    assertThat(Json.MAPPER.readTree(typo.body()).at("/error/message").asText()).contains("'gpt-9'");

    String all = admin("/key/generate", "{\"models\":[\"*\"]}").path("key").asText();
    assertThat(sdk(all).models().list().data()).extracting(Model::id).containsExactly("gpt-4o-mini", "openai/gpt-4.1");
    assertThat(chat(all, "openai/gpt-4.1")).isEqualTo(200);
  }

  @Test
  void anExpiredKeyIsNotRegeneratedIntoAnotherExpiredOne() throws Exception {
    String key = admin("/key/generate", "{\"duration\":\"1s\"}").path("key").asText();
    Thread.sleep(1100);
    var refused = send("/key/regenerate", MASTER, "{\"key\":\"" + key + "\"}");
    assertThat(refused.statusCode()).isEqualTo(400);
    assertThat(Json.MAPPER.readTree(refused.body()).at("/error/param").asText()).isEqualTo("duration");
    String renewed = admin("/key/regenerate", "{\"key\":\"" + key + "\",\"duration\":\"1h\"}").path("key").asText();
    assertThat(chat(renewed, "gpt-4o-mini")).isEqualTo(200);
  }
}

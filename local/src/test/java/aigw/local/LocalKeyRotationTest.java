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
import java.time.Instant;
import java.util.ArrayList;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The "done when", on the real local gateway with its real schedule and clock: a key
 * created with a short rotation interval is rotated by the schedule, its secret target receives
 * the new key, the old key works until its grace end and then gets 401, and no request in between
 * fails, whether the client keeps the old key or reads the secret before each request.
 */
class LocalKeyRotationTest {
  private static final String MASTER = "sk-local-rotation-master-key-0123456789";
  private static final String SECRET = "aigw/keys/rotation-demo-app";

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
            litellm_params: {model: openai/gpt-4o-mini, api_base: "%s/v1", api_key: sk-provider-rotation-test}
        """.formatted(upstream.baseUrl()));
    var env = Map.of("AIGW_MASTER_KEY", MASTER, "AIGW_KEY_CACHE_TTL_SECONDS", "1");
    gateway = LocalGateway.start(LocalOptions.inMemory(config, env).withRotationCheck(Duration.ofMillis(500)));
  }

  @AfterAll
  static void stop() {
    gateway.close();
    upstream.stop();
  }

  private static HttpResponse<String> send(String path, String key, String body) throws Exception {
    return send(gateway, path, key, body);
  }

  private static HttpResponse<String> send(LocalGateway to, String path, String key, String body) throws Exception {
    var request = HttpRequest.newBuilder(URI.create(to.baseUrl() + path)).timeout(Duration.ofSeconds(10))
        .header("Authorization", "Bearer " + key).header("Content-Type", "application/json");
    request = body == null ? request.GET() : request.POST(HttpRequest.BodyPublishers.ofString(body));
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static HttpResponse<String> chat(String key) throws Exception {
    return send("/v1/chat/completions", key, "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
  }

  private static String secretValue() {
    return gateway.keySecrets().getSecretValue(r -> r.secretId(SECRET)).secretString();
  }

  @Test
  void theScheduleRotatesTheKeyWithoutAFailedRequest() throws Exception {
    gateway.keySecrets().createSecret(r -> r.name(SECRET).description("the application's aigw key"));
    var created = Json.MAPPER.readTree(send("/key/generate", MASTER,
        "{\"key_alias\":\"rotation-demo\",\"auto_rotate\":true,\"rotation_interval\":\"3s\",\"grace_period\":\"2s\","
            + "\"rotation_secret\":\"" + SECRET + "\"}").body());
    String oldKey = created.path("key").asText();
    assertThat(created.path("rotation_secret_written").asBoolean()).isTrue();
    assertThat(secretValue()).isEqualTo(oldKey);

    var failures = new ArrayList<String>();
    var oldKeyRequests = new AtomicInteger();
    var secretReaderRequests = new AtomicInteger();
    var keysSeenBySecretReader = new java.util.LinkedHashSet<String>();
    Instant graceEnd = null;
    Instant deadline = Instant.now().plusSeconds(20);
    // Until the rotation has happened and its grace period is nearly over: one client keeps the old
    // key, the other reads its key from the secret before each request, as an application would.
    while (Instant.now().isBefore(deadline)) {
      if (graceEnd == null) {
        JsonNode info = Json.MAPPER.readTree(send("/key/info?key=" + oldKey, MASTER, null).body()).path("info");
        if (info.path("rotation_count").asInt() == 1) {
          graceEnd = Instant.parse(info.path("previous_key_valid_until").asText());
        }
      } else if (Instant.now().isAfter(graceEnd.minusMillis(300))) {
        break; // leave a margin: a request sent now could arrive after the grace end
      }
      var withOld = chat(oldKey);
      oldKeyRequests.incrementAndGet();
      if (withOld.statusCode() != 200) {
        failures.add("old key: " + withOld.statusCode() + " " + withOld.body());
      }
      String current = secretValue();
      keysSeenBySecretReader.add(current);
      var withSecret = chat(current);
      secretReaderRequests.incrementAndGet();
      if (withSecret.statusCode() != 200) {
        failures.add("key from the secret: " + withSecret.statusCode() + " " + withSecret.body());
      }
      Thread.sleep(50);
    }
    assertThat(graceEnd).as("the schedule rotated the key within 20 s").isNotNull();
    assertThat(failures).isEmpty();
    assertThat(oldKeyRequests.get()).isGreaterThan(5);
    String newKey = secretValue();
    assertThat(newKey).startsWith("sk-").isNotEqualTo(oldKey);
    assertThat(keysSeenBySecretReader).as("the reader used both keys").contains(oldKey, newKey);

    // After the grace end (plus the key cache's 1 s bound), the old key is refused; the new one works.
    while (Instant.now().isBefore(graceEnd.plusMillis(1_200))) {
      Thread.sleep(100);
    }
    var refused = chat(oldKey);
    assertThat(refused.statusCode()).isEqualTo(401);
    assertThat(Json.MAPPER.readTree(refused.body()).at("/error/type").asText()).isEqualTo("token_not_found_in_db");
    assertThat(refused.body()).contains("rotated").doesNotContain(oldKey);
    assertThat(chat(newKey).statusCode()).isEqualTo(200);

    // Same key id, alias and usage history: every successful request above is counted.
    JsonNode info = Json.MAPPER.readTree(send("/key/info?key=" + newKey, MASTER, null).body()).path("info");
    assertThat(info.path("key_id").asText()).isEqualTo(created.path("key_id").asText());
    assertThat(info.path("key_alias").asText()).isEqualTo("rotation-demo");
    assertThat(info.path("request_count").asLong()).isEqualTo(oldKeyRequests.get() + secretReaderRequests.get() + 1);
  }

  /**
   * Runs the rotation schedule itself, on a gateway of its own whose schedule does not run by
   * itself: with the shared gateway's 500 ms schedule and a 3 s interval, a second rotation could
   * land between the two retrieves under load, and the second retrieve would rightly answer the
   * third key (200) instead of 404.
   */
  @Test
  void withoutASecretTargetTheScheduledKeyIsRetrievableOnceThenGone() throws Exception {
    Path config = dir.resolve("config.yaml");
    var env = Map.of("AIGW_MASTER_KEY", MASTER, "AIGW_KEY_CACHE_TTL_SECONDS", "1");
    try (LocalGateway driven = LocalGateway.start(LocalOptions.inMemory(config, env).withRotationCheck(Duration.ZERO))) {
      var created = Json.MAPPER.readTree(send(driven, "/key/generate", MASTER,
          "{\"auto_rotate\":true,\"rotation_interval\":\"3s\",\"grace_period\":\"2s\"}").body());
      String oldKey = created.path("key").asText();
      assertThat(send(driven, "/key/retrieve", MASTER, "{\"key\":\"" + oldKey + "\"}").statusCode())
          .as("nothing is waiting before the first rotation").isEqualTo(404);
      Instant deadline = Instant.now().plusSeconds(20);
      while (Json.MAPPER.readTree(send(driven, "/key/info?key=" + oldKey, MASTER, null).body()).at("/info/rotation_count").asInt() == 0) {
        assertThat(Instant.now()).as("the schedule rotated the key within 20 s").isBefore(deadline);
        Thread.sleep(100);
        driven.runKeyRotationSchedule(); // what EventBridge's schedule invokes on AWS
      }
      var retrieved = send(driven, "/key/retrieve", MASTER, "{\"key\":\"" + oldKey + "\"}");
      assertThat(retrieved.statusCode()).isEqualTo(200);
      JsonNode body = Json.MAPPER.readTree(retrieved.body());
      String newKey = body.path("key").asText();
      assertThat(newKey).startsWith("sk-").isNotEqualTo(oldKey);
      assertThat(body.path("key_id").asText()).isEqualTo(created.path("key_id").asText());
      assertThat(send(driven, "/v1/chat/completions", newKey, "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}").statusCode())
          .isEqualTo(200);

      var again = send(driven, "/key/retrieve", MASTER, "{\"key\":\"" + newKey + "\"}");
      assertThat(again.statusCode()).as("retrievable once, then gone").isEqualTo(404);
      assertThat(Json.MAPPER.readTree(again.body()).at("/error/message").asText()).contains("once");
    }
  }
}

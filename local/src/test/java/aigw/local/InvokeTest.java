package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.json.Json;
import aigw.core.testing.Events;
import aigw.core.testing.RepoFiles;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `aigw-local invoke FUNCTION --event FILE` replays the events/ files through the same handlers. */
class InvokeTest {
  /** The bundled model list's provider variable, set so that its "not set" warning does not repeat in every test. */
  static final Map<String, String> PROVIDER_ENV = Map.of("OPENAI_API_KEY", "sk-test-provider-not-a-secret");

  @Test
  void eventsReplayThroughTheAdminAndProxyFunctions(@TempDir Path data) throws Exception {
    var options = LocalOptions.parse(new String[] {"--data-dir", data.toString()}, PROVIDER_ENV);
    try (var gateway = LocalGateway.create(options)) {
      // events/admin-* present the development master key; this one creates the key events/proxy-* present.
      var generate = gateway.invoke("admin", Events.load("admin-key-generate-example-virtual-key.json"));
      assertThat(generate.getStatusCode()).as(generate.getBody()).isEqualTo(200);
      assertThat(Json.MAPPER.readTree(generate.getBody()).path("key").asText()).isEqualTo(Events.EVENTS_VIRTUAL_KEY);
      assertThat(gateway.invoke("admin", Events.load("admin-key-generate-refused-for-virtual-key.json")).getStatusCode())
          .as("the virtual key is refused on admin routes").isEqualTo(403);

      var info = gateway.invoke("AdminFunction", Events.load("admin-key-info.json"));
      assertThat(info.getStatusCode()).isEqualTo(200);
      assertThat(Json.MAPPER.readTree(info.getBody()).at("/info/key_name").asText()).isEqualTo("sk-...cret");

      var models = gateway.invoke("proxy", Events.load("proxy-models.json"));
      assertThat(models.getStatusCode()).isEqualTo(200);
      assertThat(Json.MAPPER.readTree(models.getBody()).get("object").asText()).isEqualTo("list");

      assertThat(gateway.invoke("proxy", Events.load("proxy-bad-key.json")).getStatusCode()).isEqualTo(401);
      assertThat(gateway.invoke("admin", Events.load("admin-health-readiness.json")).getStatusCode()).isEqualTo(200);

      // A manual regenerate answers with the new key (nothing waits for /key/retrieve); the example
      // key keeps working for the event's one-hour grace period.
      var regenerated = gateway.invoke("admin", Events.load("admin-key-regenerate.json"));
      assertThat(regenerated.getStatusCode()).as(regenerated.getBody()).isEqualTo(200);
      assertThat(Json.MAPPER.readTree(regenerated.getBody()).path("key").asText()).startsWith("sk-").isNotEqualTo(Events.EVENTS_VIRTUAL_KEY);
      assertThat(gateway.invoke("proxy", Events.load("proxy-models.json")).getStatusCode()).isEqualTo(200);
      assertThat(gateway.invoke("admin", Events.load("admin-key-retrieve.json")).getStatusCode()).isEqualTo(404);
    }
    // File-backed: the key is still there for the next run (named by its old value, in its grace period).
    try (var gateway = LocalGateway.create(options)) {
      assertThat(gateway.invoke("admin", Events.load("admin-key-info.json")).getStatusCode()).isEqualTo(200);
    }
  }

  @Test
  void invokeRotationRunsTheScheduleOnceOnTheScheduledEventFile(@TempDir Path data) throws Exception {
    var options = LocalOptions.parse(new String[] {"--data-dir", data.toString()}, PROVIDER_ENV);
    try (var gateway = LocalGateway.create(options)) {
      var generate = Events.withBody(Events.load("admin-key-generate.json"),
          "{\"key_alias\":\"due-soon\",\"auto_rotate\":true,\"rotation_interval\":\"1s\",\"grace_period\":\"1s\"}");
      assertThat(gateway.invoke("admin", generate).getStatusCode()).isEqualTo(200);
    }
    Thread.sleep(2_100); // key_rotation_at is whole seconds: now + 1 s, rounded down
    String out = invokeMain(PROVIDER_ENV, "invoke", "rotation", "--event", RepoFiles.resolve("events/schedule-rotation.json").toString(),
        "--data-dir", data.toString());
    var result = Json.MAPPER.readTree(out);
    assertThat(result.path("rotated").asInt()).isEqualTo(1);
    assertThat(result.path("failed").asInt()).isZero();
  }

  @Test
  void invokeMasterKeyRotationRotatesTheLocalMasterKeyThroughTheRotationHandler(@TempDir Path data) throws Exception {
    String out = invokeMain(Map.of("AIGW_MASTER_KEY", "sk-local-master-key-before-0123456789"), "invoke", "master-key-rotation",
        "--event", RepoFiles.resolve("events/secretsmanager-rotation.json").toString(), "--data-dir", data.toString());
    var result = Json.MAPPER.readTree(out);
    String newKey = java.nio.file.Files.readString(data.resolve("master-key")).strip();
    assertThat(newKey).startsWith("sk-").isNotEqualTo("sk-local-master-key-before-0123456789");
    assertThat(result.path("master_key_name").asText()).isEqualTo(aigw.core.keys.ApiKeys.mask(newKey));
    assertThat(out).doesNotContain(newKey);
  }

  @Test
  void invokeMasterKeyRotationInMemoryIsADryRunThatKeepsNothing(@TempDir Path data) throws Exception {
    String out = invokeMain(PROVIDER_ENV, "invoke", "master-key-rotation", "--in-memory",
        "--event", RepoFiles.resolve("events/secretsmanager-rotation.json").toString(), "--data-dir", data.toString());
    var result = Json.MAPPER.readTree(out);
    assertThat(result.path("rotated").asBoolean()).isTrue();
    assertThat(result.path("kept").asBoolean(true)).isFalse();
    assertThat(result.path("master_key_name").asText()).startsWith("sk-...").isNotEqualTo("sk-...only");
    try (var stream = java.nio.file.Files.list(data)) {
      assertThat(stream.toList()).as("nothing written to the data directory").isEmpty();
    }
  }

  @Test
  void invokeSaysWhichModelListItUses(@TempDir Path data) throws Exception {
    String event = RepoFiles.resolve("events/proxy-models.json").toString();
    var err = new java.io.ByteArrayOutputStream();
    var stderr = System.err;
    System.setErr(new java.io.PrintStream(err, true, java.nio.charset.StandardCharsets.UTF_8));
    try {
      invokeMain(PROVIDER_ENV, "invoke", "proxy", "--event", event, "--data-dir", data.toString());
      invokeMain(PROVIDER_ENV, "invoke", "proxy", "--event", event, "--data-dir", data.toString(),
          "--config", RepoFiles.resolve("local/config.example.yaml").toString());
    } finally {
      System.setErr(stderr);
    }
    assertThat(err.toString(java.nio.charset.StandardCharsets.UTF_8).lines().filter(l -> l.startsWith("aigw: models from ")).toList())
        .containsExactly(
            "aigw: models from the bundled config.example.yaml (--config FILE for your own): gpt-4o-mini, text-embedding-3-small, llama3.2",
            "aigw: models from " + RepoFiles.resolve("local/config.example.yaml").toAbsolutePath().normalize()
                + ": gpt-4o-mini, text-embedding-3-small, llama3.2");
  }

  /** Runs {@code aigw-local invoke ...} as the command line does and returns what it printed; it must exit 0. */
  static String invokeMain(Map<String, String> env, String... args) {
    var out = new java.io.ByteArrayOutputStream();
    var stdout = System.out;
    System.setOut(new java.io.PrintStream(out, true, java.nio.charset.StandardCharsets.UTF_8));
    int exit;
    try {
      exit = Main.invoke(LocalOptions.parse(args, env));
    } finally {
      System.setOut(stdout);
    }
    assertThat(exit).as(out.toString(java.nio.charset.StandardCharsets.UTF_8)).isZero();
    return out.toString(java.nio.charset.StandardCharsets.UTF_8);
  }
}

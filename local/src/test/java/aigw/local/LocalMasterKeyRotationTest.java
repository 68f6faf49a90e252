package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;

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
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The master key rotates locally through the in-memory Secrets Manager and the same rotation
 * handler as on AWS: an admin client that keeps the old key never fails during the rotation or its
 * grace period, the new key (handed over in DATA-DIR/master-key) works at once, and the old one
 * gets 401 after the grace end.
 */
class LocalMasterKeyRotationTest {
  private static final String MASTER = "sk-local-master-before-rotation-0123456789";
  private final HttpClient http = HttpClient.newHttpClient();

  private int status(LocalGateway gateway, String key) throws Exception {
    var request = HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/key/list")).header("Authorization", "Bearer " + key).build();
    return http.send(request, HttpResponse.BodyHandlers.ofString()).statusCode();
  }

  @Test
  void anAdminClientWithTheOldKeyNeverFailsUntilTheGraceEnd(@TempDir Path data) throws Exception {
    var env = Map.of("OPENAI_API_KEY", "sk-test-provider-not-a-secret", "AIGW_MASTER_KEY", MASTER, "AIGW_MASTER_KEY_GRACE_SECONDS", "2", "AIGW_MASTER_KEY_RECHECK_SECONDS", "0");
    var options = LocalOptions.parse(new String[] {"--port", "0", "--data-dir", data.toString(), "--rotation-check-seconds", "0"}, env);
    try (var gateway = LocalGateway.start(options)) {
      assertThat(status(gateway, MASTER)).isEqualTo(200);
      var failures = new CopyOnWriteArrayList<Integer>();
      var calls = new AtomicInteger();
      var stop = new AtomicBoolean();
      var client = Thread.ofPlatform().start(() -> {
        while (!stop.get()) {
          try {
            int code = status(gateway, MASTER);
            calls.incrementAndGet();
            if (code != 200) {
              failures.add(code);
            }
          } catch (Exception e) {
            failures.add(-1);
          }
        }
      });
      Thread.sleep(200);
      Instant rotatedAt = Instant.now();
      gateway.rotateMasterKey(); // what --master-key-rotation-seconds schedules
      String newKey = Files.readString(data.resolve("master-key")).strip();
      assertThat(newKey).startsWith("sk-").isNotEqualTo(MASTER).isEqualTo(gateway.currentMasterKey());
      assertThat(status(gateway, newKey)).as("the new key works at once").isEqualTo(200);
      while (Instant.now().isBefore(rotatedAt.plusMillis(1_500))) {
        Thread.sleep(50);
      }
      stop.set(true);
      client.join(10_000);
      assertThat(failures).isEmpty();
      assertThat(calls.get()).isGreaterThan(3);

      while (Instant.now().isBefore(rotatedAt.plusMillis(2_300))) {
        Thread.sleep(50);
      }
      assertThat(status(gateway, MASTER)).as("past the grace end").isEqualTo(401);
      assertThat(status(gateway, newKey)).isEqualTo(200);
    }
    // The next run starts with the rotated key, as a Lambda container started after a rotation would.
    try (var restarted = LocalGateway.start(options)) {
      String newKey = Files.readString(data.resolve("master-key")).strip();
      assertThat(status(restarted, newKey)).isEqualTo(200);
      assertThat(status(restarted, MASTER)).isEqualTo(401);
      assertThat(restarted.usesDevelopmentMasterKey()).isFalse();
      if (!System.getProperty("os.name").startsWith("Windows")) {
        assertThat(Files.getPosixFilePermissions(data.resolve("master-key")).toString()).isEqualTo("[OWNER_READ, OWNER_WRITE]");
      }
    }
  }

  /** Every log record of aigw's classes while {@code action} runs. */
  static List<java.util.logging.LogRecord> aigwLogs(ThrowingRunnable action) throws Exception {
    return aigw.core.testing.Logs.of("aigw", action::run);
  }

  interface ThrowingRunnable {
    void run() throws Exception;
  }

  private static List<String> masterKeyLines(List<java.util.logging.LogRecord> records) {
    return records.stream().map(java.util.logging.LogRecord::getMessage).filter(m -> m.toLowerCase().contains("master key")).toList();
  }

  @Test
  void afterInvokeMasterKeyRotationARestartKeepsTheDevelopmentKeyForItsGracePeriodOnly(@TempDir Path data) throws Exception {
    // No AIGW_MASTER_KEY: the development default, which events/admin-* present, is rotated out.
    var env = Map.of("OPENAI_API_KEY", "sk-test-provider-not-a-secret", "AIGW_MASTER_KEY_GRACE_SECONDS", "8", "AIGW_MASTER_KEY_RECHECK_SECONDS", "0");
    String out = InvokeTest.invokeMain(env, "invoke", "master-key-rotation",
        "--event", aigw.core.testing.RepoFiles.resolve("events/secretsmanager-rotation.json").toString(), "--data-dir", data.toString());
    var printed = aigw.core.json.Json.MAPPER.readTree(out);
    String newKey = Files.readString(data.resolve("master-key")).strip();
    var previousFile = aigw.core.json.Json.MAPPER.readTree(Files.readString(data.resolve("master-key.previous")));
    Instant rotatedAt = Instant.parse(previousFile.path("rotated_at").asText());
    assertThat(previousFile.path("previous_key").asText()).isEqualTo("sk-development-only");
    assertThat(printed.path("previous_key_works_until").asText()).isEqualTo(rotatedAt.plusSeconds(8).toString());
    assertThat(printed.path("undo").asText()).contains("master-key.previous").contains("sk-development-only");
    if (!System.getProperty("os.name").startsWith("Windows")) {
      assertThat(Files.getPosixFilePermissions(data.resolve("master-key.previous")).toString()).isEqualTo("[OWNER_READ, OWNER_WRITE]");
    }

    var options = LocalOptions.parse(new String[] {"--port", "0", "--data-dir", data.toString(), "--rotation-check-seconds", "0"}, env);
    var gateway = new LocalGateway[1];
    var startLogs = aigwLogs(() -> gateway[0] = LocalGateway.start(options));
    try (var restarted = gateway[0]) {
      assertThat(masterKeyLines(startLogs)).as("one start-up line names the key in force and its origin").singleElement()
          .satisfies(line -> assertThat(line)
              .contains(aigw.core.keys.ApiKeys.mask(newKey), data.resolve("master-key").toAbsolutePath().toString(),
                  "sk-development-only", "works until " + rotatedAt.plusSeconds(8))
              .doesNotContain(newKey));
      assertThat(status(restarted, newKey)).isEqualTo(200);
      assertThat(status(restarted, "sk-development-only")).as("within the grace period the rotation announced").isEqualTo(200);
      while (Instant.now().isBefore(rotatedAt.plusMillis(8_300))) {
        Thread.sleep(100);
      }
      assertThat(status(restarted, "sk-development-only")).as("past the grace end").isEqualTo(401);
    }
    // A restart after the grace end does not start a new grace period.
    try (var again = LocalGateway.start(options)) {
      assertThat(status(again, "sk-development-only")).isEqualTo(401);
      assertThat(status(again, newKey)).isEqualTo(200);
    }
  }

  @Test
  void afterALeakDeletingMasterKeyPreviousAndRestartingEndsTheOldKeysGraceAtOnce(@TempDir Path data) throws Exception {
    var env = Map.of("OPENAI_API_KEY", "sk-test-provider-not-a-secret", "AIGW_MASTER_KEY_GRACE_SECONDS", "3600");
    InvokeTest.invokeMain(env, "invoke", "master-key-rotation",
        "--event", aigw.core.testing.RepoFiles.resolve("events/secretsmanager-rotation.json").toString(), "--data-dir", data.toString());
    String newKey = Files.readString(data.resolve("master-key")).strip();
    var options = LocalOptions.parse(new String[] {"--port", "0", "--data-dir", data.toString(), "--rotation-check-seconds", "0"}, env);
    try (var gateway = LocalGateway.start(options)) {
      assertThat(status(gateway, "sk-development-only")).as("an hour of grace").isEqualTo(200);
    }
    // The documented answer to a leak of the old key (docs/operations.md): its grace ends now.
    Files.delete(data.resolve("master-key.previous"));
    try (var gateway = LocalGateway.start(options)) {
      assertThat(status(gateway, "sk-development-only")).isEqualTo(401);
      assertThat(status(gateway, newKey)).isEqualTo(200);
    }
  }

  @Test
  void aRestartWithALongerGraceSettingKeepsTheEndTheRotationAnnounced(@TempDir Path data) throws Exception {
    var rotateEnv = Map.of("OPENAI_API_KEY", "sk-test-provider-not-a-secret", "AIGW_MASTER_KEY_GRACE_SECONDS", "2", "AIGW_MASTER_KEY_RECHECK_SECONDS", "0");
    String out = InvokeTest.invokeMain(rotateEnv, "invoke", "master-key-rotation",
        "--event", aigw.core.testing.RepoFiles.resolve("events/secretsmanager-rotation.json").toString(), "--data-dir", data.toString());
    Instant announcedEnd = Instant.parse(aigw.core.json.Json.MAPPER.readTree(out).path("previous_key_works_until").asText());
    String newKey = Files.readString(data.resolve("master-key")).strip();
    var previousFile = aigw.core.json.Json.MAPPER.readTree(Files.readString(data.resolve("master-key.previous")));
    Instant rotatedAt = Instant.parse(previousFile.path("rotated_at").asText());
    assertThat(announcedEnd).isEqualTo(rotatedAt.plusSeconds(2));

    // Restarted without AIGW_MASTER_KEY_GRACE_SECONDS: the default 3600 s must not extend the 2 s announced.
    var restartEnv = Map.of("OPENAI_API_KEY", "sk-test-provider-not-a-secret", "AIGW_MASTER_KEY_RECHECK_SECONDS", "0");
    var options = LocalOptions.parse(new String[] {"--port", "0", "--data-dir", data.toString(), "--rotation-check-seconds", "0"}, restartEnv);
    var gateway = new LocalGateway[1];
    var startLogs = aigwLogs(() -> gateway[0] = LocalGateway.start(options));
    try (var restarted = gateway[0]) {
      assertThat(masterKeyLines(startLogs)).singleElement()
          .satisfies(line -> assertThat(line).contains("sk-development-only", announcedEnd.toString())
              .doesNotContain(rotatedAt.plusSeconds(3600).toString()));
      assertThat(restarted.previousMasterKeyValidUntil()).isEqualTo(announcedEnd);
      while (Instant.now().isBefore(announcedEnd.plusMillis(300))) {
        Thread.sleep(50);
      }
      assertThat(status(restarted, "sk-development-only")).as("past the end the rotation announced").isEqualTo(401);
      assertThat(status(restarted, newKey)).isEqualTo(200);
    }
  }

  @Test
  void aShorterGraceSettingNowShortensTheStoredEndAndOldFilesCountFromTheRotation(@TempDir Path data) throws Exception {
    Instant rotatedAt = Instant.parse("2026-01-01T00:00:00Z");
    LocalMasterKey.write(data, "sk-after-rotation-0123456789abcdef", "sk-before-rotation-0123456789abcdef", rotatedAt, rotatedAt.plusSeconds(600));
    var stored = LocalMasterKey.resolve(data, Map.of());
    assertThat(stored.previousKeyValidUntil(Duration.ofHours(1))).as("a longer setting now does not extend it").isEqualTo(rotatedAt.plusSeconds(600));
    assertThat(stored.previousKeyValidUntil(Duration.ofSeconds(60))).as("a shorter setting now shortens it").isEqualTo(rotatedAt.plusSeconds(60));
    assertThat(stored.previousKeyValidUntil(Duration.ZERO)).isEqualTo(rotatedAt);

    // A file from before the end was stored: only rotated_at, counted with the grace setting now.
    Files.writeString(data.resolve("master-key.previous"),
        "{\"previous_key\":\"sk-before-rotation-0123456789abcdef\",\"rotated_at\":\"" + rotatedAt + "\"}\n");
    var old = LocalMasterKey.resolve(data, Map.of());
    assertThat(old.previousKey()).isEqualTo("sk-before-rotation-0123456789abcdef");
    assertThat(old.previousKeyValidUntil(Duration.ofHours(1))).isEqualTo(rotatedAt.plusSeconds(3600));
  }

  @Test
  void startUpNamesTheMasterKeyInForceInOneLine() throws Exception {
    var defaultKey = aigwLogs(() -> LocalGateway.create(LocalOptions.inMemory(null, InvokeTest.PROVIDER_ENV)).close());
    assertThat(masterKeyLines(defaultKey)).singleElement()
        .satisfies(line -> assertThat(line).contains("'sk-development-only'", "development default", "AIGW_MASTER_KEY is not set"));
    assertThat(defaultKey.stream().filter(r -> r.getMessage().toLowerCase().contains("master key")).findFirst().orElseThrow().getLevel())
        .isEqualTo(java.util.logging.Level.WARNING);

    var configured = aigwLogs(() -> LocalGateway.create(LocalOptions.inMemory(null, Map.of("AIGW_MASTER_KEY", MASTER, "OPENAI_API_KEY", "sk-test-provider-not-a-secret"))).close());
    assertThat(masterKeyLines(configured)).singleElement()
        .satisfies(line -> assertThat(line).contains(aigw.core.keys.ApiKeys.mask(MASTER), "from AIGW_MASTER_KEY").doesNotContain(MASTER));
  }

  @Test
  void theFlagRotatesTheMasterKeyOnASchedule(@TempDir Path data) throws Exception {
    var env = Map.of("OPENAI_API_KEY", "sk-test-provider-not-a-secret", "AIGW_MASTER_KEY", MASTER, "AIGW_MASTER_KEY_RECHECK_SECONDS", "0");
    var options = LocalOptions.parse(
        new String[] {"--port", "0", "--data-dir", data.toString(), "--rotation-check-seconds", "0", "--master-key-rotation-seconds", "1"},
        env);
    try (var gateway = LocalGateway.start(options)) {
      Path handedOver = data.resolve("master-key");
      Instant deadline = Instant.now().plusSeconds(15);
      while (!Files.exists(handedOver) || Files.readString(handedOver).isBlank()) {
        assertThat(Instant.now()).as("rotated within 15 s").isBefore(deadline);
        Thread.sleep(100);
      }
      String rotated = gateway.currentMasterKey();
      assertThat(rotated).isNotEqualTo(MASTER);
      assertThat(status(gateway, rotated)).isEqualTo(200);
      assertThat(status(gateway, MASTER)).as("within the default 1 h grace").isEqualTo(200);
    }
  }

  @Test
  void masterKeyRotationNeedsAFileToHandTheKeyOver() {
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> LocalOptions.parse(new String[] {"--in-memory", "--master-key-rotation-seconds", "60"}, Map.of()))
        .hasMessageContaining("file-backed");
    var options = LocalOptions.parse(new String[] {"--master-key-rotation-seconds", "60"}, Map.of());
    assertThat(options.masterKeyRotation()).isEqualTo(Duration.ofSeconds(60));
    assertThat(List.of(options.rotationCheck())).containsExactly(Duration.ofSeconds(60));
  }
}

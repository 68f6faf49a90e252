package aigw.rotation;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.admin.AdminHandler;
import aigw.admin.AdminService;
import aigw.core.Gateway;
import aigw.core.GatewaySettings;
import aigw.core.json.Json;
import aigw.core.secrets.InMemorySecretsManager;
import aigw.core.secrets.SecretsManagerSecretSource;
import aigw.core.testing.LocalDynamo;
import aigw.core.testing.MutableClock;
import aigw.core.apigateway.ProxyRequestEvent;
import aigw.core.apigateway.ProxyResponseEvent;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * An admin client keeps calling with its master key while the key rotates: the admin function
 * (over DynamoDB Local) reads the key through Secrets Manager (in memory, with its staging rules),
 * and the rotation function runs each step as Secrets Manager invokes it.
 */
class RotationWithoutFailedRequestsTest {
  private static final String SECRET = "aigw-master-key";
  private static final String FUNCTION = "arn:aws:lambda:us-east-1:000000000000:function:rotation:live";
  private static final String OLD = "sk-old-master-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  private static final Duration RECHECK = Duration.ofSeconds(5);

  private final MutableClock clock = MutableClock.at("2026-03-01T10:00:00Z");
  private final InMemorySecretsManager secrets = new InMemorySecretsManager(clock);
  private final LocalDynamo dynamo = new LocalDynamo();

  @AfterEach
  void stop() {
    dynamo.close();
  }

  private AdminHandler adminFunction(String graceSeconds) {
    secrets.createSecret(r -> r.name(SECRET).secretString("{\"master_key\":\"" + OLD + "\"}"));
    var settings = GatewaySettings.fromEnvironment(Map.of(
        "AIGW_KEYS_TABLE", dynamo.keysTable(),
        "AIGW_MASTER_KEY_GRACE_SECONDS", graceSeconds,
        "AIGW_MASTER_KEY_RECHECK_SECONDS", Long.toString(RECHECK.toSeconds())));
    var gateway = Gateway.over(settings, dynamo.client(), new SecretsManagerSecretSource(secrets, SECRET), List.of(), clock);
    return new AdminHandler(new AdminService(gateway));
  }

  private static ProxyResponseEvent listKeys(AdminHandler admin, String key) {
    return admin.handleRequest(
        new ProxyRequestEvent().withHttpMethod("GET").withPath("/key/list").withHeaders(Map.of("Authorization", "Bearer " + key)),
        null);
  }

  private String currentKey() {
    return SecretsManagerSecretSource.parse(secrets.getSecretValue(r -> r.secretId(SECRET)).secretString(), SECRET);
  }

  /**
   * Rotates while a client thread calls continuously with {@code OLD}, then lets {@code afterwards}
   * pass while it goes on calling; returns the statuses it got.
   */
  private Map<Integer, Integer> rotateUnderLoad(AdminHandler admin, Duration afterwards) throws Exception {
    var statuses = new ConcurrentHashMap<Integer, Integer>();
    var done = new AtomicBoolean();
    var answered = new AtomicInteger();
    var started = new CountDownLatch(1);
    Thread client = Thread.ofPlatform().start(() -> {
      while (!done.get()) {
        statuses.merge(listKeys(admin, OLD).getStatusCode(), 1, Integer::sum);
        answered.incrementAndGet();
        started.countDown();
      }
    });
    assertThat(started.await(30, TimeUnit.SECONDS)).isTrue();
    var rotation = new MasterKeyRotationHandler(new MasterKeyRotation(secrets));
    secrets.registerRotationFunction(FUNCTION, (id, token, step) -> {
      rotation.handleRequest(Map.of("SecretId", id, "ClientRequestToken", token, "Step", step), null);
      awaitMoreAnswers(answered, 5); // the client keeps calling between the steps
    });
    secrets.rotateSecret(r -> r.secretId(SECRET).rotationLambdaARN(FUNCTION));
    awaitMoreAnswers(answered, 5);
    for (Duration passed = Duration.ZERO; passed.compareTo(afterwards) < 0; passed = passed.plusSeconds(30)) {
      clock.advance(Duration.ofSeconds(30));
      awaitMoreAnswers(answered, 2);
    }
    done.set(true);
    client.join(30_000);
    return statuses;
  }

  private static void awaitMoreAnswers(AtomicInteger answered, int more) {
    int target = answered.get() + more;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (answered.get() < target && System.nanoTime() < deadline) {
      Thread.onSpinWait();
    }
    assertThat(answered.get()).as("client answers").isGreaterThanOrEqualTo(target);
  }

  @Test
  void everyRequestSucceedsThroughTheRotationAndTheOldKeyStopsWhenTheGraceEnds() throws Exception {
    AdminHandler admin = adminFunction("3600");
    Instant rotatedAt = clock.instant();
    // Ten minutes of calls after the rotation: past the 5-minute cache, so the admin function has
    // re-read the secret and accepts the old key as AWSPREVIOUS.
    Map<Integer, Integer> statuses = rotateUnderLoad(admin, Duration.ofMinutes(10));
    assertThat(statuses.keySet()).as("statuses during the rotation: %s", statuses).containsExactly(200);
    String newKey = currentKey();
    assertThat(newKey).isNotEqualTo(OLD);

    clock.advance(RECHECK); // a key that matches nothing re-reads the secret at most this often
    assertThat(listKeys(admin, newKey).getStatusCode()).isEqualTo(200);
    assertThat(listKeys(admin, OLD).getStatusCode()).isEqualTo(200);

    clock.advance(Duration.between(clock.instant(), rotatedAt.plus(Duration.ofHours(1))).minusMillis(1));
    assertThat(listKeys(admin, OLD).getStatusCode()).as("the last millisecond of the grace period").isEqualTo(200);
    clock.advance(Duration.ofMillis(1));
    ProxyResponseEvent refused = listKeys(admin, OLD);
    assertThat(refused.getStatusCode()).isEqualTo(401);
    assertThat(Json.MAPPER.readTree(refused.getBody()).at("/error/type").asText()).isEqualTo("token_not_found_in_db");
    assertThat(listKeys(admin, newKey).getStatusCode()).isEqualTo(200);
  }

  @Test
  void withNoGraceTheOldKeyIsRefusedAsSoonAsTheNewOneIsSeen() throws Exception {
    AdminHandler admin = adminFunction("0");
    assertThat(rotateUnderLoad(admin, Duration.ZERO).keySet()).as("the cached key serves until a re-read").containsExactly(200);
    String newKey = currentKey();
    clock.advance(RECHECK);
    assertThat(listKeys(admin, newKey).getStatusCode()).isEqualTo(200);
    assertThat(listKeys(admin, OLD).getStatusCode()).isEqualTo(401);
  }
}

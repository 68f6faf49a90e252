package aigw.core.secrets;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.testing.MutableClock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.secretsmanager.SecretsManagerClient;
import software.amazon.awssdk.services.secretsmanager.model.GetSecretValueRequest;
import software.amazon.awssdk.services.secretsmanager.model.GetSecretValueResponse;

/** The previous master key after a rotation: accepted for the grace period, measured from the rotation. */
class MasterKeyGraceTest {
  private static final String OLD = "sk-old-master-key-aaaaaaaaaaaaaaaa";
  private static final String NEW = "sk-new-master-key-bbbbbbbbbbbbbbbb";
  private static final Duration TTL = Duration.ofHours(2); // longer than the grace: expiry must not wait for a re-read
  private static final Duration RECHECK = Duration.ofSeconds(5);
  private static final Duration GRACE = Duration.ofHours(1);

  private final MutableClock clock = MutableClock.at("2026-03-01T10:00:00Z");
  private final InMemorySecretsManager store = new InMemorySecretsManager(clock);
  private final List<String> reads = new ArrayList<>();
  /** Counts GetSecretValue calls by stage, as Secrets Manager bills them. */
  private final SecretsManagerClient counted = new SecretsManagerClient() {
    @Override
    public GetSecretValueResponse getSecretValue(GetSecretValueRequest request) {
      reads.add(request.versionStage() == null ? "AWSCURRENT" : request.versionStage());
      return store.getSecretValue(request);
    }

    @Override
    public String serviceName() {
      return SERVICE_NAME;
    }

    @Override
    public void close() {}
  };

  private MasterKey masterKey(Duration grace) {
    return new MasterKey(new SecretsManagerSecretSource(counted, "master"), clock, TTL, RECHECK, grace).load();
  }

  /** Rotates as the rotation function would, and returns the moment the new version was created. */
  private Instant rotateTo(String key) {
    Instant at = clock.instant();
    store.putSecretValue(r -> r.secretId("master").secretString("{\"master_key\":\"" + key + "\",\"note\":\"kept\"}"));
    return at;
  }

  @Test
  void theOldKeyWorksUntilTheGraceEndsCountedFromTheRotationNotFromWhenAContainerNoticed() {
    store.createSecret(r -> r.name("master").secretString("{\"master_key\":\"" + OLD + "\"}"));
    MasterKey master = masterKey(GRACE);
    clock.advance(Duration.ofMinutes(10));
    Instant rotated = rotateTo(NEW);

    assertThat(master.matches(OLD)).as("cached, not re-read yet").isTrue();
    clock.advance(Duration.ofMinutes(20)); // this container notices late
    assertThat(master.matches(NEW)).as("a mismatch re-reads the secret").isTrue();
    assertThat(master.matches(OLD)).isTrue();

    clock.advance(Duration.between(clock.instant(), rotated.plus(GRACE)).minusMillis(1));
    assertThat(master.matches(OLD)).isTrue();
    clock.advance(Duration.ofMillis(1));
    assertThat(master.matches(OLD)).as("exactly at rotation + grace").isFalse();
    assertThat(master.matches(NEW)).isTrue();
  }

  @Test
  void aContainerStartedAfterTheRotationStopsAcceptingTheOldKeyAtTheSameInstant() {
    store.createSecret(r -> r.name("master").secretString(OLD)); // a plain-string secret
    Instant rotated = clock.instant();
    store.putSecretValue(r -> r.secretId("master").secretString(NEW));
    clock.advance(Duration.ofMinutes(45));
    MasterKey started = masterKey(GRACE);
    assertThat(reads).containsExactly("AWSCURRENT", "AWSPREVIOUS");
    assertThat(started.matches(NEW)).isTrue();
    assertThat(started.matches(OLD)).isTrue();
    clock.advance(Duration.between(clock.instant(), rotated.plus(GRACE)));
    assertThat(started.matches(OLD)).isFalse();
  }

  @Test
  void outsideTheGraceARefreshIsOneCallAndThePreviousKeyIsRefused() {
    store.createSecret(r -> r.name("master").secretString(OLD));
    store.putSecretValue(r -> r.secretId("master").secretString(NEW));
    clock.advance(Duration.ofDays(3));
    MasterKey master = masterKey(GRACE);
    assertThat(reads).containsExactly("AWSCURRENT");
    assertThat(master.matches(NEW)).isTrue();
    assertThat(master.matches(OLD)).isFalse();
  }

  @Test
  void withNoGraceTheOldKeyStopsAsSoonAsTheRotationIsSeen() {
    store.createSecret(r -> r.name("master").secretString(OLD));
    MasterKey master = masterKey(Duration.ZERO);
    rotateTo(NEW);
    clock.advance(RECHECK);
    assertThat(master.matches(NEW)).isTrue();
    assertThat(master.matches(OLD)).isFalse();
    assertThat(reads).doesNotContain("AWSPREVIOUS");
  }

  @Test
  void aSecretNeverRotatedHasNoPreviousKey() {
    store.createSecret(r -> r.name("master").secretString(OLD));
    MasterKey master = masterKey(GRACE);
    assertThat(reads).containsExactly("AWSCURRENT", "AWSPREVIOUS"); // created just now: AWSPREVIOUS looked for, not found
    assertThat(master.matches(OLD)).isTrue();
    assertThat(master.matches(NEW)).isFalse();
  }

  @Test
  void aStaticKeyHasNoPreviousKey() {
    MasterKey master = new MasterKey(StaticSecretSource.of(OLD), clock, TTL, RECHECK, GRACE).load();
    assertThat(master.matches(OLD)).isTrue();
    assertThat(master.matches(NEW)).isFalse();
  }

  @Test
  void removingTheAwsPreviousLabelAfterALeakEndsTheOldKeysGraceWithinTheRecheckInterval() {
    store.createSecret(r -> r.name("master").secretString(OLD));
    MasterKey master = masterKey(GRACE);
    rotateTo(NEW);
    clock.advance(RECHECK);
    assertThat(master.matches(NEW)).isTrue();
    assertThat(master.matches(OLD)).as("in its grace period").isTrue();
    String previousVersion = store.getSecretValue(r -> r.secretId("master").versionStage("AWSPREVIOUS")).versionId();

    // The documented answer to a leak of the old key (docs/operations.md): the grace period ends now.
    store.updateSecretVersionStage(r -> r.secretId("master").versionStage("AWSPREVIOUS").removeFromVersionId(previousVersion));
    clock.advance(RECHECK); // long before the TTL (2 h) or the grace end (1 h)
    assertThat(master.matches(OLD)).isFalse();
    assertThat(master.matches(NEW)).isTrue();
  }

  @Test
  void theOldKeyInItsGraceReadsTheSecretAtMostOncePerRecheckInterval() {
    store.createSecret(r -> r.name("master").secretString(OLD));
    MasterKey master = masterKey(GRACE);
    rotateTo(NEW);
    clock.advance(RECHECK);
    assertThat(master.matches(NEW)).isTrue();
    reads.clear();
    for (int i = 0; i < 100; i++) {
      assertThat(master.matches(OLD)).isTrue();
      assertThat(master.matches(NEW)).isTrue();
    }
    assertThat(reads).isEmpty();
    clock.advance(RECHECK);
    assertThat(master.matches(OLD)).isTrue();
    assertThat(master.matches(NEW)).isTrue();
    assertThat(reads).containsExactly("AWSCURRENT", "AWSPREVIOUS");
  }
}

package aigw.rotation;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.keys.ApiKeys;
import aigw.core.keys.KeyCache;
import aigw.core.keys.KeyRotation;
import aigw.core.keys.VirtualKey;
import aigw.core.keys.dynamodb.DynamoDbKeyStore;
import aigw.core.rotation.VirtualKeyRotator;
import aigw.core.testing.LocalDynamo;
import aigw.core.testing.MutableClock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.testcontainers.junit.jupiter.Container;
import org.testcontainers.junit.jupiter.Testcontainers;
import org.testcontainers.localstack.LocalStackContainer;
import org.testcontainers.utility.DockerImageName;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.secretsmanager.SecretsManagerClient;
import software.amazon.awssdk.services.secretsmanager.model.ResourceNotFoundException;

/**
 * The virtual-key rotation's Secrets Manager calls (PutSecretValue to a secret target; CreateSecret,
 * GetSecretValue and DeleteSecret for a value waiting for /key/retrieve) against LocalStack's
 * Secrets Manager, so the in-memory stand-in is not the only judge of them. Skipped where no Docker
 * engine runs; KeyRotationAdminTest and LocalKeyRotationTest cover the same behaviour everywhere.
 */
@Testcontainers(disabledWithoutDocker = true)
class LocalStackKeySecretsTest {
  private static final Instant NOW = Instant.parse("2026-11-23T08:00:00Z");

  @Container
  static final LocalStackContainer LOCALSTACK =
      new LocalStackContainer(DockerImageName.parse("localstack/localstack:4.4")).withServices("secretsmanager");

  private static SecretsManagerClient secrets;
  private static LocalDynamo dynamo;

  @BeforeAll
  static void connect() {
    secrets = SecretsManagerClient.builder()
        .endpointOverride(LOCALSTACK.getEndpoint())
        .region(Region.of(LOCALSTACK.getRegion()))
        .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(LOCALSTACK.getAccessKey(), LOCALSTACK.getSecretKey())))
        .httpClient(UrlConnectionHttpClient.create())
        .build();
    dynamo = new LocalDynamo();
  }

  @AfterAll
  static void close() {
    dynamo.close();
  }

  private static VirtualKey dueKey(String target) {
    String value = ApiKeys.generate();
    var rotation = new KeyRotation(true, Duration.ofDays(30), Duration.ofHours(1), target, NOW.minusSeconds(60), null, 0, null);
    return new VirtualKey(ApiKeys.hash(value), UUID.randomUUID().toString(), ApiKeys.mask(value), null, List.of(), null, null,
        Map.of(), NOW, NOW, null, false, null, rotation, null);
  }

  @Test
  void aScheduledRunWritesTheTargetAndHoldsTheOtherValueForOneRetrieval() {
    String target = "aigw/keys/localstack-app";
    secrets.createSecret(r -> r.name(target));
    var store = new DynamoDbKeyStore(dynamo.client(), dynamo.keysTable());
    var withTarget = dueKey(target);
    var withoutTarget = dueKey(null);
    store.create(withTarget);
    store.create(withoutTarget);
    var clock = new MutableClock(NOW);
    var rotator = new VirtualKeyRotator(store, new KeyCache(store, clock, Duration.ZERO), secrets, VirtualKeyRotator.DEFAULT_SECRET_PREFIX,
        event -> {}, clock);

    assertThat(rotator.rotateDue().rotated()).isEqualTo(2);

    String written = secrets.getSecretValue(r -> r.secretId(target)).secretString();
    assertThat(store.findByHash(ApiKeys.hash(written)).orElseThrow().keyId()).isEqualTo(withTarget.keyId());
    var rotatedWithout = store.findByHash(withoutTarget.tokenHash()).orElseThrow(); // through the old value
    String held = rotator.retrieveOnce(rotatedWithout).orElseThrow();
    assertThat(ApiKeys.hash(held)).isEqualTo(rotatedWithout.tokenHash());
    assertThat(rotator.retrieveOnce(rotatedWithout)).isEmpty();
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> secrets.getSecretValue(r -> r.secretId(rotator.retrievalSecret(withoutTarget.keyId(), 1))))
        .isInstanceOf(ResourceNotFoundException.class);
  }
}

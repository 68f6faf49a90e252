package aigw.rotation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.json.Json;
import aigw.core.secrets.SecretSource;
import aigw.core.secrets.SecretsManagerSecretSource;
import java.time.Instant;
import java.util.List;
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
import software.amazon.awssdk.services.secretsmanager.model.DescribeSecretRequest;
import software.amazon.awssdk.services.secretsmanager.model.DescribeSecretResponse;
import software.amazon.awssdk.services.secretsmanager.model.GetSecretValueRequest;
import software.amazon.awssdk.services.secretsmanager.model.GetSecretValueResponse;
import software.amazon.awssdk.services.secretsmanager.model.PutSecretValueRequest;
import software.amazon.awssdk.services.secretsmanager.model.PutSecretValueResponse;
import software.amazon.awssdk.services.secretsmanager.model.ResourceExistsException;
import software.amazon.awssdk.services.secretsmanager.model.ResourceNotFoundException;
import software.amazon.awssdk.services.secretsmanager.model.UpdateSecretVersionStageRequest;
import software.amazon.awssdk.services.secretsmanager.model.UpdateSecretVersionStageResponse;

/**
 * The rotation's Secrets Manager calls against LocalStack's Secrets Manager, so the in-memory model
 * is not the only judge of them. Skipped where no Docker engine runs; MasterKeyRotationTest covers
 * the same steps everywhere.
 *
 * <p>LocalStack would rotate by invoking a real Lambda function, which needs more than a container
 * here; so this test plays Secrets Manager's part: it reports rotation as enabled and starts with
 * createSecret's own calls (Secrets Manager would first stage an empty AWSPENDING version, which no
 * API call can create).
 */
@Testcontainers(disabledWithoutDocker = true)
class LocalStackRotationTest {
  private static final String OLD = "sk-old-master-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

  @Container
  static final LocalStackContainer LOCALSTACK = new LocalStackContainer(DockerImageName.parse("localstack/localstack:4.4")).withServices("secretsmanager");

  private static SecretsManagerClient localstack;
  /** LocalStack's answers, except that rotation counts as enabled (see the class comment). */
  private static SecretsManagerClient rotating;

  @BeforeAll
  static void connect() {
    localstack = SecretsManagerClient.builder()
        .endpointOverride(LOCALSTACK.getEndpoint())
        .region(Region.of(LOCALSTACK.getRegion()))
        .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(LOCALSTACK.getAccessKey(), LOCALSTACK.getSecretKey())))
        .httpClient(UrlConnectionHttpClient.create())
        .build();
    rotating = new SecretsManagerClient() {
      @Override
      public DescribeSecretResponse describeSecret(DescribeSecretRequest r) {
        return localstack.describeSecret(r).toBuilder().rotationEnabled(true).build();
      }

      @Override
      public GetSecretValueResponse getSecretValue(GetSecretValueRequest r) {
        return localstack.getSecretValue(r);
      }

      @Override
      public PutSecretValueResponse putSecretValue(PutSecretValueRequest r) {
        return localstack.putSecretValue(r);
      }

      @Override
      public UpdateSecretVersionStageResponse updateSecretVersionStage(UpdateSecretVersionStageRequest r) {
        return localstack.updateSecretVersionStage(r);
      }

      @Override
      public String serviceName() {
        return SERVICE_NAME;
      }

      @Override
      public void close() {}
    };
  }

  @AfterAll
  static void close() {
    if (localstack != null) {
      localstack.close();
    }
  }

  @Test
  void theFourStepsRotateTheKeyAndEachRetryIsANoOp() throws Exception {
    String id = localstack.createSecret(r -> r.name("aigw-master-" + UUID.randomUUID())
        .secretString("{\"master_key\":\"" + OLD + "\",\"owner\":\"platform-team\"}")).arn();
    String token = UUID.randomUUID().toString();
    var rotation = new MasterKeyRotation(rotating);

    rotation.createSecret(id, token, null);
    String pending = localstack.getSecretValue(r -> r.secretId(id).versionId(token).versionStage("AWSPENDING")).secretString();
    for (String step : List.of("createSecret", "setSecret", "testSecret", "finishSecret")) {
      rotation.run(id, token, step, null);
      rotation.run(id, token, step, null);
    }

    var current = localstack.getSecretValue(r -> r.secretId(id));
    assertThat(current.versionId()).isEqualTo(token);
    assertThat(current.secretString()).isEqualTo(pending);
    assertThat(Json.MAPPER.readTree(current.secretString()).path("owner").asText()).isEqualTo("platform-team");
    assertThat(SecretsManagerSecretSource.parse(current.secretString(), id)).startsWith("sk-").isNotEqualTo(OLD);
    String previous = localstack.getSecretValue(r -> r.secretId(id).versionStage("AWSPREVIOUS")).secretString();
    assertThat(SecretsManagerSecretSource.parse(previous, id)).isEqualTo(OLD);

    // What the gateway reads: both keys, and when the new one became current.
    SecretSource.Versions seen = new SecretsManagerSecretSource(localstack, id).readVersions(Instant.EPOCH);
    assertThat(seen.current()).isEqualTo(SecretsManagerSecretSource.parse(pending, id));
    assertThat(seen.previous()).isEqualTo(OLD);
    assertThat(seen.currentSince()).isNotNull();
  }

  @Test
  void theStagingRulesTheRotationReliesOnHoldThere() {
    String id = localstack.createSecret(r -> r.name("aigw-rules-" + UUID.randomUUID()).secretString("one")).arn();
    assertThatThrownBy(() -> localstack.getSecretValue(r -> r.secretId(id).versionStage("AWSPENDING"))).isInstanceOf(ResourceNotFoundException.class);
    localstack.putSecretValue(r -> r.secretId(id).clientRequestToken("11111111-1111-1111-1111-111111111111").secretString("two").versionStages("AWSPENDING"));
    localstack.putSecretValue(r -> r.secretId(id).clientRequestToken("11111111-1111-1111-1111-111111111111").secretString("two").versionStages("AWSPENDING"));
    assertThatThrownBy(() -> localstack.putSecretValue(r -> r.secretId(id).clientRequestToken("11111111-1111-1111-1111-111111111111").secretString("other")))
        .isInstanceOf(ResourceExistsException.class);
    assertThat(localstack.getSecretValue(r -> r.secretId(id)).secretString()).isEqualTo("one");
  }
}

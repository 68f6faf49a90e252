package aigw.rotation;

import static aigw.core.secrets.InMemorySecretsManager.CURRENT;
import static aigw.core.secrets.InMemorySecretsManager.PENDING;
import static aigw.core.secrets.InMemorySecretsManager.PREVIOUS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.json.Json;
import aigw.core.secrets.InMemorySecretsManager;
import aigw.core.secrets.SecretsManagerSecretSource;
import aigw.core.testing.MutableClock;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.secretsmanager.SecretsManagerClient;
import software.amazon.awssdk.services.secretsmanager.model.DescribeSecretRequest;
import software.amazon.awssdk.services.secretsmanager.model.DescribeSecretResponse;
import software.amazon.awssdk.services.secretsmanager.model.GetSecretValueRequest;
import software.amazon.awssdk.services.secretsmanager.model.GetSecretValueResponse;
import software.amazon.awssdk.services.secretsmanager.model.InternalServiceErrorException;
import software.amazon.awssdk.services.secretsmanager.model.InvalidRequestException;
import software.amazon.awssdk.services.secretsmanager.model.PutSecretValueRequest;
import software.amazon.awssdk.services.secretsmanager.model.PutSecretValueResponse;
import software.amazon.awssdk.services.secretsmanager.model.UpdateSecretVersionStageRequest;
import software.amazon.awssdk.services.secretsmanager.model.UpdateSecretVersionStageResponse;

/** The four rotation steps against the in-memory staging-label model of Secrets Manager. */
class MasterKeyRotationTest {
  private static final String FUNCTION = "arn:aws:lambda:us-east-1:000000000000:function:rotation:live";
  private static final String OLD = "sk-old-master-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

  private final MutableClock clock = MutableClock.at("2026-03-01T10:00:00Z");
  private final InMemorySecretsManager store = new InMemorySecretsManager(clock);
  /** Armed, the next GetSecretValue of an AWSPENDING version fails once, as a throttled call would. */
  private final AtomicBoolean failNextPendingRead = new AtomicBoolean();
  private final SecretsManagerClient flaky = new SecretsManagerClient() {
    @Override
    public DescribeSecretResponse describeSecret(DescribeSecretRequest r) {
      return store.describeSecret(r);
    }

    @Override
    public GetSecretValueResponse getSecretValue(GetSecretValueRequest r) {
      if (PENDING.equals(r.versionStage()) && failNextPendingRead.getAndSet(false)) {
        throw InternalServiceErrorException.builder().message("test: transient failure").build();
      }
      return store.getSecretValue(r);
    }

    @Override
    public PutSecretValueResponse putSecretValue(PutSecretValueRequest r) {
      return store.putSecretValue(r);
    }

    @Override
    public UpdateSecretVersionStageResponse updateSecretVersionStage(UpdateSecretVersionStageRequest r) {
      return store.updateSecretVersionStage(r);
    }

    @Override
    public String serviceName() {
      return SERVICE_NAME;
    }

    @Override
    public void close() {}
  };

  /** The function Secrets Manager would invoke: the handler, given the event it sends. */
  private void register(MasterKeyRotation rotation) {
    var handler = new MasterKeyRotationHandler(rotation);
    store.registerRotationFunction(FUNCTION, (id, token, step) ->
        handler.handleRequest(Map.of("SecretId", id, "ClientRequestToken", token, "Step", step), null));
  }

  private static Supplier<String> keys(String... keys) {
    var queue = new ArrayDeque<>(List.of(keys));
    return queue::remove;
  }

  private void createJsonSecret() {
    store.createSecret(r -> r.name("master").clientRequestToken("v1")
        .secretString("{\"master_key\":\"" + OLD + "\",\"owner\":\"platform-team\"}"));
  }

  private String currentKey() {
    return SecretsManagerSecretSource.parse(store.getSecretValue(r -> r.secretId("master")).secretString(), "master");
  }

  private Map<String, List<String>> stages() {
    return store.describeSecret(r -> r.secretId("master")).versionIdsToStages();
  }

  private void rotate(String token) {
    store.rotateSecret(r -> r.secretId("master").rotationLambdaARN(FUNCTION).clientRequestToken(token));
  }

  @Test
  void aRotationPutsAFreshKeyInTheSameJsonShapeAndMakesTheOldOnePrevious() throws Exception {
    createJsonSecret();
    register(new MasterKeyRotation(flaky));
    rotate("v2");

    JsonNode current = Json.MAPPER.readTree(store.getSecretValue(r -> r.secretId("master")).secretString());
    assertThat(current.path("owner").asText()).isEqualTo("platform-team");
    assertThat(current.path("master_key").asText()).matches("sk-[A-Za-z0-9_-]{43}").isNotEqualTo(OLD);
    assertThat(stages()).isEqualTo(Map.of("v2", List.of(CURRENT), "v1", List.of(PREVIOUS)));
    assertThat(SecretsManagerSecretSource.parse(store.getSecretValue(r -> r.secretId("master").versionStage(PREVIOUS)).secretString(), "master"))
        .isEqualTo(OLD);

    rotate("v3");
    assertThat(stages()).isEqualTo(Map.of("v3", List.of(CURRENT), "v2", List.of(PREVIOUS)));
    assertThat(currentKey()).isNotEqualTo(current.path("master_key").asText());
  }

  @Test
  void aPlainStringSecretStaysAPlainString() {
    store.createSecret(r -> r.name("master").secretString(OLD));
    register(new MasterKeyRotation(flaky));
    rotate("v2");
    assertThat(store.getSecretValue(r -> r.secretId("master")).secretString()).matches("sk-[A-Za-z0-9_-]{43}");
  }

  @Test
  void everyStepRetriedChangesNothing() {
    createJsonSecret();
    var rotation = new MasterKeyRotation(flaky);
    var retried = new ArrayList<String>();
    store.registerRotationFunction(FUNCTION, (id, token, step) -> {
      rotation.run(id, token, step, null);
      var afterFirst = snapshot(token);
      rotation.run(id, token, step, null); // Secrets Manager may deliver a step again
      assertThat(snapshot(token)).as("state after retrying %s", step).isEqualTo(afterFirst);
      retried.add(step);
    });
    rotate("v2");
    assertThat(retried).containsExactly("createSecret", "setSecret", "testSecret", "finishSecret");
    assertThat(stages()).isEqualTo(Map.of("v2", List.of(CURRENT), "v1", List.of(PREVIOUS)));
  }

  private List<Object> snapshot(String token) {
    String pending;
    try {
      pending = store.getSecretValue(r -> r.secretId("master").versionId(token)).secretString();
    } catch (RuntimeException e) {
      pending = "(none)";
    }
    return List.of(stages(), pending, store.getSecretValue(r -> r.secretId("master")).secretString());
  }

  @Test
  void aRotationNotEnabledIsRefused() {
    createJsonSecret();
    store.putSecretValue(r -> r.secretId("master").clientRequestToken("v2").secretString("x").versionStages(PENDING));
    assertThatThrownBy(() -> new MasterKeyRotation(flaky).run("master", "v2", "createSecret", null))
        .isInstanceOf(MasterKeyRotation.RotationRefused.class).hasMessageContaining("not enabled");
  }

  @Test
  void aTokenThatIsNotPendingIsRefusedAndACurrentOneIsANoOp() {
    createJsonSecret();
    var rotation = new MasterKeyRotation(flaky);
    register(rotation);
    rotate("v2"); // enables rotation; v1 is now AWSPREVIOUS
    var before = snapshot("v2");
    assertThatThrownBy(() -> rotation.run("master", "v1", "finishSecret", null))
        .isInstanceOf(MasterKeyRotation.RotationRefused.class).hasMessageContaining("not staged AWSPENDING");
    assertThatThrownBy(() -> rotation.run("master", "v-unknown", "createSecret", null))
        .isInstanceOf(MasterKeyRotation.RotationRefused.class).hasMessageContaining("no stage");
    rotation.run("master", "v2", "finishSecret", null); // already AWSCURRENT: a late retry
    assertThat(snapshot("v2")).isEqualTo(before);
  }

  @Test
  void aTransientFailureInTestSecretLeavesCurrentAloneAndTheRetrySucceeds() {
    createJsonSecret();
    var rotation = new MasterKeyRotation(flaky, keys("sk-next-master-key-cccccccccccccccccccccccccccccc"));
    var testSecretRuns = new ArrayList<String>();
    store.registerRotationFunction(FUNCTION, (id, token, step) -> {
      if (step.equals("testSecret")) {
        testSecretRuns.add(token);
        failNextPendingRead.set(testSecretRuns.size() == 1); // the first testSecret cannot read the pending value
      }
      rotation.run(id, token, step, null);
    });
    assertThatThrownBy(() -> rotate("v2")).isInstanceOf(InvalidRequestException.class).hasMessageContaining("testSecret");
    assertThat(currentKey()).isEqualTo(OLD);
    assertThat(stages()).isEqualTo(Map.of("v1", List.of(CURRENT), "v2", List.of(PENDING)));

    rotate("v2"); // the rotation retried with the same token; createSecret keeps the pending value
    assertThat(testSecretRuns).containsExactly("v2", "v2");
    assertThat(currentKey()).isEqualTo("sk-next-master-key-cccccccccccccccccccccccccccccc");
    assertThat(stages()).isEqualTo(Map.of("v2", List.of(CURRENT), "v1", List.of(PREVIOUS)));
  }

  @ParameterizedTest
  @ValueSource(strings = {"sk-too-short", "no-sk-prefix-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "sk-has spaces aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "sk-"})
  void aMalformedPendingKeyFailsTestSecretAndCurrentStaysUntilThePendingVersionIsDropped(String badKey) {
    createJsonSecret();
    register(new MasterKeyRotation(flaky, keys(badKey, "sk-good-master-key-dddddddddddddddddddddddddddd")));
    assertThatThrownBy(() -> rotate("v2")).isInstanceOf(InvalidRequestException.class).hasMessageContaining("testSecret");
    assertThat(currentKey()).isEqualTo(OLD);
    assertThat(stages()).isEqualTo(Map.of("v1", List.of(CURRENT), "v2", List.of(PENDING)));
    assertThatThrownBy(() -> rotate("v2")).as("the same bad value again").isInstanceOf(InvalidRequestException.class);

    // What an operator does (docs/operations.md): drop the failed version's AWSPENDING, rotate again.
    store.updateSecretVersionStage(r -> r.secretId("master").versionStage(PENDING).removeFromVersionId("v2"));
    rotate("v3");
    assertThat(currentKey()).isEqualTo("sk-good-master-key-dddddddddddddddddddddddddddd");
  }

  @Test
  void theConfigurationTestOfSecretsManagerPassesAndChangesNothing() {
    store.createSecret(r -> r.name("master").clientRequestToken("v1").secretString("{\"master_key\":\"CloudFormationGenerated48LettersAndDigits0000000\"}"));
    register(new MasterKeyRotation(flaky));
    store.rotateSecret(r -> r.secretId("master").rotationLambdaARN(FUNCTION).rotateImmediately(false));
    assertThat(stages()).isEqualTo(Map.of("v1", List.of(CURRENT)));
    assertThat(currentKey()).isEqualTo("CloudFormationGenerated48LettersAndDigits0000000");
  }

  @Test
  void theNewValueKeepsTheSecretsShape() throws Exception {
    assertThat(MasterKeyRotation.withMasterKey("sk-plain", "sk-new")).isEqualTo("sk-new");
    JsonNode json = Json.MAPPER.readTree(MasterKeyRotation.withMasterKey("{\"master_key\":\"a\",\"other\":{\"n\":1}}", "sk-new"));
    assertThat(json.path("master_key").asText()).isEqualTo("sk-new");
    assertThat(json.path("other").path("n").asInt()).isEqualTo(1);
    assertThatThrownBy(() -> MasterKeyRotation.withMasterKey("{\"master_key\": \"sk-leak", "sk-new"))
        .isInstanceOf(MasterKeyRotation.RotationRefused.class).hasMessageNotContaining("sk-leak");
  }
}

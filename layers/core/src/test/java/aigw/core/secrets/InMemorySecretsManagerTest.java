package aigw.core.secrets;

import static aigw.core.secrets.InMemorySecretsManager.CURRENT;
import static aigw.core.secrets.InMemorySecretsManager.PENDING;
import static aigw.core.secrets.InMemorySecretsManager.PREVIOUS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.testing.MutableClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.secretsmanager.model.InvalidParameterException;
import software.amazon.awssdk.services.secretsmanager.model.InvalidRequestException;
import software.amazon.awssdk.services.secretsmanager.model.ResourceExistsException;
import software.amazon.awssdk.services.secretsmanager.model.ResourceNotFoundException;

/** The staging-label rules of Secrets Manager that rotation relies on. */
class InMemorySecretsManagerTest {
  private final MutableClock clock = MutableClock.at("2026-03-01T10:00:00Z");
  private final InMemorySecretsManager secrets = new InMemorySecretsManager(clock);

  private Map<String, List<String>> stages() {
    return secrets.describeSecret(r -> r.secretId("s")).versionIdsToStages();
  }

  private String value(String stage) {
    return secrets.getSecretValue(r -> r.secretId("s").versionStage(stage)).secretString();
  }

  @Test
  void aNewSecretIsCurrentAndReadableByNameOrArnWithItsCreationTime() {
    var created = secrets.createSecret(r -> r.name("s").secretString("one").clientRequestToken("v1"));
    assertThat(created.arn()).startsWith("arn:aws:secretsmanager:").contains(":secret:s-");
    var byArn = secrets.getSecretValue(r -> r.secretId(created.arn()));
    assertThat(byArn.secretString()).isEqualTo("one");
    assertThat(byArn.versionId()).isEqualTo("v1");
    assertThat(byArn.versionStages()).containsExactly(CURRENT);
    assertThat(byArn.createdDate()).isEqualTo(clock.instant());
    assertThatThrownBy(() -> secrets.createSecret(r -> r.name("s").secretString("x"))).isInstanceOf(ResourceExistsException.class);
    assertThatThrownBy(() -> secrets.getSecretValue(r -> r.secretId("nope"))).isInstanceOf(ResourceNotFoundException.class);
  }

  @Test
  void puttingACurrentValueMakesTheOldCurrentPrevious() {
    secrets.createSecret(r -> r.name("s").secretString("one").clientRequestToken("v1"));
    clock.advance(Duration.ofMinutes(1));
    secrets.putSecretValue(r -> r.secretId("s").secretString("two").clientRequestToken("v2"));
    clock.advance(Duration.ofMinutes(1));
    secrets.putSecretValue(r -> r.secretId("s").secretString("three").clientRequestToken("v3"));

    assertThat(stages()).isEqualTo(Map.of("v3", List.of(CURRENT), "v2", List.of(PREVIOUS))); // v1 is deprecated
    assertThat(value(CURRENT)).isEqualTo("three");
    assertThat(value(PREVIOUS)).isEqualTo("two");
    assertThat(secrets.getSecretValue(r -> r.secretId("s").versionId("v1")).secretString()).isEqualTo("one");
    assertThat(secrets.getSecretValue(r -> r.secretId("s")).createdDate()).isEqualTo(clock.instant());
  }

  @Test
  void theSameTokenAgainIsANoOpWithTheSameValueAndAnErrorWithAnother() {
    secrets.createSecret(r -> r.name("s").secretString("one").clientRequestToken("v1"));
    secrets.putSecretValue(r -> r.secretId("s").secretString("two").clientRequestToken("v2").versionStages(PENDING));
    var again = secrets.putSecretValue(r -> r.secretId("s").secretString("two").clientRequestToken("v2").versionStages(PENDING));
    assertThat(again.versionId()).isEqualTo("v2");
    assertThat(stages()).isEqualTo(Map.of("v1", List.of(CURRENT), "v2", List.of(PENDING)));
    assertThatThrownBy(() -> secrets.putSecretValue(r -> r.secretId("s").secretString("other").clientRequestToken("v2")))
        .isInstanceOf(ResourceExistsException.class);
    assertThat(secrets.getSecretValue(r -> r.secretId("s").versionId("v2")).secretString()).isEqualTo("two");
  }

  @Test
  void aStageOrVersionThatDoesNotExistIsNotFound() {
    secrets.createSecret(r -> r.name("s").secretString("one").clientRequestToken("v1"));
    assertThatThrownBy(() -> value(PREVIOUS)).isInstanceOf(ResourceNotFoundException.class).hasMessageContaining("AWSPREVIOUS");
    assertThatThrownBy(() -> value(PENDING)).isInstanceOf(ResourceNotFoundException.class);
    assertThatThrownBy(() -> secrets.getSecretValue(r -> r.secretId("s").versionId("v9"))).isInstanceOf(ResourceNotFoundException.class);
    // Both given: they must name the same version.
    assertThatThrownBy(() -> secrets.getSecretValue(r -> r.secretId("s").versionId("v1").versionStage(PENDING)))
        .isInstanceOf(ResourceNotFoundException.class);
    assertThat(secrets.getSecretValue(r -> r.secretId("s").versionId("v1").versionStage(CURRENT)).secretString()).isEqualTo("one");
  }

  @Test
  void movingAStageNeedsTheVersionThatHoldsIt() {
    secrets.createSecret(r -> r.name("s").secretString("one").clientRequestToken("v1"));
    secrets.putSecretValue(r -> r.secretId("s").secretString("two").clientRequestToken("v2").versionStages(PENDING));

    assertThatThrownBy(() -> secrets.updateSecretVersionStage(r -> r.secretId("s").versionStage(CURRENT).moveToVersionId("v2")))
        .isInstanceOf(InvalidParameterException.class).hasMessageContaining("RemoveFromVersionId");
    assertThatThrownBy(() -> secrets.updateSecretVersionStage(r -> r.secretId("s").versionStage(CURRENT).moveToVersionId("v2").removeFromVersionId("v2")))
        .isInstanceOf(InvalidParameterException.class);
    assertThatThrownBy(() -> secrets.updateSecretVersionStage(r -> r.secretId("s").versionStage(CURRENT).removeFromVersionId("v1")))
        .as("AWSCURRENT cannot just be removed").isInstanceOf(InvalidParameterException.class);
    assertThat(stages()).isEqualTo(Map.of("v1", List.of(CURRENT), "v2", List.of(PENDING)));

    secrets.updateSecretVersionStage(r -> r.secretId("s").versionStage(CURRENT).moveToVersionId("v2").removeFromVersionId("v1"));
    assertThat(stages()).isEqualTo(Map.of("v2", List.of(PENDING, CURRENT), "v1", List.of(PREVIOUS)));

    secrets.updateSecretVersionStage(r -> r.secretId("s").versionStage(PENDING).removeFromVersionId("v2"));
    assertThat(stages()).isEqualTo(Map.of("v2", List.of(CURRENT), "v1", List.of(PREVIOUS)));
  }

  @Test
  void rotationRunsTheFourStepsInOrderAndMovesCurrent() {
    secrets.createSecret(r -> r.name("s").secretString("one").clientRequestToken("v1"));
    var calls = new ArrayList<String>();
    secrets.registerRotationFunction("arn:fn", (id, token, step) -> {
      calls.add(step);
      if (step.equals("createSecret")) {
        // The token's version exists, staged AWSPENDING, without a value, before createSecret runs.
        assertThat(secrets.describeSecret(r -> r.secretId(id)).versionIdsToStages().get(token)).containsExactly(PENDING);
        assertThatThrownBy(() -> secrets.getSecretValue(r -> r.secretId(id).versionId(token).versionStage(PENDING)))
            .isInstanceOf(ResourceNotFoundException.class);
        secrets.putSecretValue(r -> r.secretId(id).clientRequestToken(token).secretString("two").versionStages(PENDING));
      }
      if (step.equals("finishSecret")) {
        secrets.updateSecretVersionStage(r -> r.secretId(id).versionStage(CURRENT).moveToVersionId(token).removeFromVersionId("v1"));
      }
    });
    clock.advance(Duration.ofDays(1));
    var rotated = secrets.rotateSecret(r -> r.secretId("s").rotationLambdaARN("arn:fn").clientRequestToken("v2").rotationRules(x -> x.automaticallyAfterDays(30L)));

    assertThat(rotated.versionId()).isEqualTo("v2");
    assertThat(calls).containsExactly("createSecret", "setSecret", "testSecret", "finishSecret");
    assertThat(stages()).isEqualTo(Map.of("v2", List.of(CURRENT), "v1", List.of(PREVIOUS)));
    var described = secrets.describeSecret(r -> r.secretId("s"));
    assertThat(described.rotationEnabled()).isTrue();
    assertThat(described.rotationLambdaARN()).isEqualTo("arn:fn");
    assertThat(described.rotationRules().automaticallyAfterDays()).isEqualTo(30L);
    assertThat(described.lastRotatedDate()).isEqualTo(clock.instant());
  }

  @Test
  void aFailedStepLeavesCurrentAloneAndOnlyTheSameTokenResumes() {
    secrets.createSecret(r -> r.name("s").secretString("one").clientRequestToken("v1"));
    var failTest = new boolean[] {true};
    secrets.registerRotationFunction("arn:fn", (id, token, step) -> {
      switch (step) {
        case "createSecret" -> {
          try {
            secrets.getSecretValue(r -> r.secretId(id).versionId(token).versionStage(PENDING));
          } catch (ResourceNotFoundException e) {
            secrets.putSecretValue(r -> r.secretId(id).clientRequestToken(token).secretString("two").versionStages(PENDING));
          }
        }
        case "testSecret" -> {
          if (failTest[0]) {
            throw new IllegalStateException("the new value does not work");
          }
        }
        case "finishSecret" -> secrets.updateSecretVersionStage(r -> r.secretId(id).versionStage(CURRENT).moveToVersionId(token).removeFromVersionId("v1"));
        default -> {}
      }
    });
    assertThatThrownBy(() -> secrets.rotateSecret(r -> r.secretId("s").rotationLambdaARN("arn:fn").clientRequestToken("v2")))
        .isInstanceOf(InvalidRequestException.class).hasMessageContaining("testSecret");
    assertThat(stages()).isEqualTo(Map.of("v1", List.of(CURRENT), "v2", List.of(PENDING)));
    assertThat(value(CURRENT)).isEqualTo("one");
    assertThat(secrets.describeSecret(r -> r.secretId("s")).lastRotatedDate()).isNull();

    assertThatThrownBy(() -> secrets.rotateSecret(r -> r.secretId("s").clientRequestToken("v3")))
        .isInstanceOf(InvalidRequestException.class).hasMessageContaining("previous rotation isn't complete");
    failTest[0] = false;
    secrets.rotateSecret(r -> r.secretId("s").clientRequestToken("v2"));
    assertThat(stages()).isEqualTo(Map.of("v2", List.of(CURRENT), "v1", List.of(PREVIOUS)));
    assertThat(value(CURRENT)).isEqualTo("two");
  }

  @Test
  void rotationNeedsARegisteredFunction() {
    secrets.createSecret(r -> r.name("s").secretString("one"));
    assertThatThrownBy(() -> secrets.rotateSecret(r -> r.secretId("s"))).isInstanceOf(InvalidRequestException.class).hasMessageContaining("No Lambda");
    assertThatThrownBy(() -> secrets.rotateSecret(r -> r.secretId("s").rotationLambdaARN("arn:unknown"))).isInstanceOf(InvalidRequestException.class);
    assertThat(secrets.describeSecret(r -> r.secretId("s")).rotationEnabled()).isFalse();
  }

  @Test
  void notRotatingImmediatelyOnlyTestsOnACopyOfTheCurrentValue() {
    secrets.createSecret(r -> r.name("s").secretString("one").clientRequestToken("v1"));
    var seen = new ArrayList<String>();
    secrets.registerRotationFunction("arn:fn", (id, token, step) ->
        seen.add(step + ":" + secrets.getSecretValue(r -> r.secretId(id).versionId(token).versionStage(PENDING)).secretString()));
    secrets.rotateSecret(r -> r.secretId("s").rotationLambdaARN("arn:fn").rotateImmediately(false));
    assertThat(seen).containsExactly("testSecret:one");
    assertThat(stages()).isEqualTo(Map.of("v1", List.of(CURRENT)));
    assertThat(secrets.describeSecret(r -> r.secretId("s")).rotationEnabled()).isTrue();
  }

  @Test
  void randomPasswordsFollowTheRequest() {
    String password = secrets.getRandomPassword(r -> r.passwordLength(40L).excludePunctuation(true).excludeCharacters("aA")).randomPassword();
    assertThat(password).hasSize(40).matches("[b-zB-Z0-9]+").containsPattern("[0-9]").containsPattern("[b-z]").containsPattern("[B-Z]");
    assertThat(secrets.getRandomPassword(r -> r.passwordLength(32L)).randomPassword()).hasSize(32).isNotEqualTo(password);
  }
}

package aigw.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.rotation.LoggedRotationEvents;
import aigw.core.rotation.VirtualKeyRotator;
import aigw.core.secrets.InMemorySecretsManager;
import aigw.core.testing.MutableClock;
import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.secretsmanager.model.SecretsManagerException;

/**
 * A scheduled rotation of a key without a rotation_secret leaves the new value in a secret of its
 * own ($0.40 a month) for /key/retrieve. Once the key is gone for good, the schedule deletes it.
 */
class PendingSecretCleanupTest {
  private AdminApi api;
  private InMemorySecretsManager secrets;
  private VirtualKeyRotator rotator;

  @BeforeEach
  void start() {
    MutableClock clock = MutableClock.at(AdminApi.START);
    secrets = new InMemorySecretsManager(clock);
    api = new AdminApi(clock, gateway -> {
      rotator = new VirtualKeyRotator(gateway.keyStore(), gateway.keyCache(), secrets, VirtualKeyRotator.DEFAULT_SECRET_PREFIX,
          new LoggedRotationEvents(), clock);
      return new AdminService(gateway, rotator);
    });
  }

  @AfterEach
  void stop() {
    api.close();
  }

  private boolean exists(String secret) {
    try {
      secrets.getSecretValue(r -> r.secretId(secret));
      return true;
    } catch (SecretsManagerException gone) {
      return false;
    }
  }

  @Test
  void theWaitingValueOfAnExpiredKeyIsKeptWhileTheKeyCanBeExtendedThenDeleted() {
    JsonNode created = api.generate(Map.of("key_alias", "no-target", "auto_rotate", true, "rotation_interval", "1d", "duration", "2d"));
    String pending = rotator.retrievalSecret(created.path("key_id").asText(), 1);

    api.clock.advance(Duration.ofDays(1));
    assertThat(rotator.rotateDue().rotated()).isEqualTo(1);
    assertThat(exists(pending)).as("the new value waits for /key/retrieve").isTrue();

    // Expired (and due again), but an admin may still extend it for 7 days: the value is kept.
    api.clock.advance(Duration.ofDays(1));
    assertThat(rotator.rotateDue().skipped()).isEqualTo(1);
    api.clock.advance(Duration.ofDays(7).minusSeconds(1));
    rotator.rotateDue();
    assertThat(exists(pending)).as("within the extension window").isTrue();

    // Past it the key is purged: its waiting value opens nothing and would cost $0.40 a month.
    api.clock.advance(Duration.ofSeconds(1));
    assertThat(rotator.rotateDue().skipped()).isEqualTo(1);
    assertThat(exists(pending)).as("deleted with the expired key").isFalse();
  }
}

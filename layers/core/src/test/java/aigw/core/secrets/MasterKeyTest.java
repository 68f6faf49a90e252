package aigw.core.secrets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.testing.MutableClock;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class MasterKeyTest {
  /** A secret that can be rotated or made unreachable, counting reads like Secrets Manager bills them. */
  static final class RotatingSecret implements SecretSource {
    volatile String value;
    volatile boolean down;
    final AtomicInteger reads = new AtomicInteger();

    RotatingSecret(String value) {
      this.value = value;
    }

    @Override
    public String read() {
      reads.incrementAndGet();
      if (down) {
        throw new SecretUnavailable("service down", null);
      }
      return value;
    }

    @Override
    public String describe() {
      return "test secret";
    }
  }

  private final MutableClock clock = MutableClock.at("2026-01-01T00:00:00Z");
  private final RotatingSecret secret = new RotatingSecret("sk-master-one-aaaaaaaaaaaa");
  private final MasterKey master =
      new MasterKey(secret, clock, Duration.ofMinutes(5), Duration.ofSeconds(5)).load();

  /** The proxy function while master-key model calls are off: no secret to read, no key matches. */
  @Test
  void overNoSecretNothingIsReadAndNoKeyMatches() {
    var none = new MasterKey(SecretSource.NOT_HELD, clock, Duration.ofMinutes(5), Duration.ofSeconds(5)).load();
    assertThat(none.held()).isFalse();
    assertThat(none.matches("sk-master-one-aaaaaaaaaaaa")).isFalse();
    assertThat(none.matches(SecretSource.NOT_HELD.describe())).isFalse();
    none.check(); // a readiness check does not fail over it either
    none.expire();
    assertThat(none.matches("anything")).isFalse();
    assertThat(master.held()).isTrue();
  }

  @Test
  void matchesOnlyTheExactKey() {
    assertThat(master.matches("sk-master-one-aaaaaaaaaaaa")).isTrue();
    assertThat(master.matches("sk-master-one-aaaaaaaaaaab")).isFalse();
    assertThat(master.matches("")).isFalse();
    assertThat(master.matches(null)).isFalse();
  }

  /** Model routes compare it first this way (Authenticator#forModelRoute): a call never waits for a read there. */
  @Test
  void asLastReadTheCurrentKeyMatchesWithoutAReadAndAStaleOrMissingReadLeavesItToMatches() {
    int reads = secret.reads.get();
    assertThat(master.matchesAsLastRead("sk-master-one-aaaaaaaaaaaa")).isTrue();
    assertThat(master.matchesAsLastRead("sk-master-one-aaaaaaaaaaab")).isFalse();
    assertThat(master.matchesAsLastRead(null)).isFalse();
    assertThat(secret.reads).as("no read").hasValue(reads);

    clock.advance(Duration.ofMinutes(5)); // past the TTL: only matches, which reads, decides
    assertThat(master.matchesAsLastRead("sk-master-one-aaaaaaaaaaaa")).isFalse();
    assertThat(secret.reads).as("still no read").hasValue(reads);
    assertThat(master.matches("sk-master-one-aaaaaaaaaaaa")).isTrue();
    assertThat(master.matchesAsLastRead("sk-master-one-aaaaaaaaaaaa")).as("read again by matches").isTrue();

    var unread = new MasterKey(secret, clock, Duration.ofMinutes(5), Duration.ofSeconds(5));
    assertThat(unread.matchesAsLastRead("sk-master-one-aaaaaaaaaaaa")).as("never read").isFalse();
    assertThat(new MasterKey(SecretSource.NOT_HELD, clock, Duration.ofMinutes(5), Duration.ofSeconds(5)).load()
        .matchesAsLastRead(SecretSource.NOT_HELD.describe())).isFalse();
  }

  @Test
  void aRotatedKeyIsAcceptedWithoutRestartAfterTheRecheckInterval() {
    secret.value = "sk-master-two-bbbbbbbbbbbb";
    assertThat(master.matches("sk-master-two-bbbbbbbbbbbb")).isFalse(); // read 0 s ago: no re-read
    clock.advance(Duration.ofSeconds(5));
    assertThat(master.matches("sk-master-two-bbbbbbbbbbbb")).isTrue();
    assertThat(master.matches("sk-master-one-aaaaaaaaaaaa")).isFalse();
  }

  @Test
  void wrongKeysCannotHammerSecretsManager() {
    int before = secret.reads.get();
    for (int i = 0; i < 1000; i++) {
      master.matches("sk-wrong-" + i);
    }
    assertThat(secret.reads.get() - before).isZero();
    clock.advance(Duration.ofSeconds(6));
    for (int i = 0; i < 1000; i++) {
      master.matches("sk-wrong-" + i);
    }
    assertThat(secret.reads.get() - before).isEqualTo(1);
  }

  @Test
  void readinessChecksReadTheSecretAtMostOncePerRecheckInterval() {
    int before = secret.reads.get();
    for (int i = 0; i < 100; i++) {
      master.check();
    }
    assertThat(secret.reads.get() - before).isZero();
    clock.advance(Duration.ofSeconds(5));
    master.check();
    assertThat(secret.reads.get() - before).isEqualTo(1);
    secret.down = true;
    clock.advance(Duration.ofSeconds(5));
    assertThatThrownBy(master::check).isInstanceOf(SecretSource.SecretUnavailable.class);
  }

  @Test
  void anOutageKeepsTheCachedKeyWorking() {
    secret.down = true;
    clock.advance(Duration.ofMinutes(6));
    assertThat(master.matches("sk-master-one-aaaaaaaaaaaa")).isTrue();
  }

  @Test
  void duringAnOutageTheCachedKeyWorksForTheMaximumStalenessThenIsRefusedUntilARead() {
    secret.down = true;
    clock.advance(SecretSource.MAX_STALENESS.minusSeconds(1));
    assertThat(master.matches("sk-master-one-aaaaaaaaaaaa")).isTrue();

    clock.advance(Duration.ofSeconds(1));
    assertThatThrownBy(() -> master.matches("sk-master-one-aaaaaaaaaaaa"))
        .isInstanceOf(SecretSource.SecretUnavailable.class)
        .hasMessageContaining("could not be read since 2026-01-01T00:00:00Z");
    int reads = secret.reads.get();
    assertThatThrownBy(() -> master.matches("sk-master-one-aaaaaaaaaaaa")).isInstanceOf(SecretSource.SecretUnavailable.class);
    assertThat(secret.reads.get()).as("not read again within the recheck interval").isEqualTo(reads);

    secret.down = false;
    clock.advance(Duration.ofSeconds(5));
    assertThat(master.matches("sk-master-one-aaaaaaaaaaaa")).isTrue();
    assertThat(master.matches("sk-master-one-aaaaaaaaaaaa")).isTrue();
  }

  @Test
  void withNoReadableSecretTheGatewayDoesNotStart() {
    var broken = new RotatingSecret("x");
    broken.down = true;
    assertThatThrownBy(() -> new MasterKey(broken, clock, Duration.ofMinutes(5), Duration.ofSeconds(5)).load())
        .isInstanceOf(SecretSource.SecretUnavailable.class);
  }
}

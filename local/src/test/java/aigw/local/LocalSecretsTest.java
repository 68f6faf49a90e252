package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.secrets.InMemorySecretsManager;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A local developer can use rotation_secret targets without creating secrets, and read them from files. */
class LocalSecretsTest {
  @Test
  void aWriteCreatesTheSecretAndMirrorsItToAnOwnerOnlyFileUntilItIsDeleted(@TempDir Path dir) throws Exception {
    var memory = new InMemorySecretsManager(Clock.systemUTC());
    var secrets = new LocalSecrets(memory, dir.resolve("secrets"));

    secrets.putSecretValue(r -> r.secretId("aigw/keys/my-app").secretString("sk-first-value-0123456789abcdef"));
    secrets.putSecretValue(r -> r.secretId("aigw/keys/my-app").secretString("sk-second-value-0123456789abcdef"));

    assertThat(memory.getSecretValue(r -> r.secretId("aigw/keys/my-app")).secretString()).isEqualTo("sk-second-value-0123456789abcdef");
    Path file = dir.resolve("secrets").resolve("aigw/keys/my-app");
    assertThat(Files.readString(file).strip()).isEqualTo("sk-second-value-0123456789abcdef");
    if (!System.getProperty("os.name").startsWith("Windows")) {
      assertThat(Files.getPosixFilePermissions(file).toString()).isEqualTo("[OWNER_READ, OWNER_WRITE]");
    }

    // The next run (a new in-memory Secrets Manager) finds the secret again.
    var nextRun = new InMemorySecretsManager(Clock.systemUTC());
    LocalSecrets.load(nextRun, dir.resolve("secrets"));
    assertThat(nextRun.getSecretValue(r -> r.secretId("aigw/keys/my-app")).secretString()).isEqualTo("sk-second-value-0123456789abcdef");

    secrets.deleteSecret(r -> r.secretId("aigw/keys/my-app").forceDeleteWithoutRecovery(true));
    assertThat(file).doesNotExist();
  }

  @Test
  void aNameThatLeavesTheDirectoryIsNotMirrored(@TempDir Path dir) {
    var secrets = new LocalSecrets(new InMemorySecretsManager(Clock.systemUTC()), dir.resolve("secrets"));
    secrets.createSecret(r -> r.name("../escape").secretString("sk-escape-attempt-0123456789abcdef"));
    assertThat(dir.resolve("escape")).doesNotExist();
  }

  @Test
  void withoutADataDirectoryAWriteStillCreatesTheSecret() {
    // --in-memory: no files, but a rotation_secret need not exist first, as in file-backed mode.
    var memory = new InMemorySecretsManager(Clock.systemUTC());
    var secrets = new LocalSecrets(memory, null);
    secrets.putSecretValue(r -> r.secretId("aigw/keys/in-memory-app").secretString("sk-in-memory-value-0123456789abcdef"));
    assertThat(memory.getSecretValue(r -> r.secretId("aigw/keys/in-memory-app")).secretString()).isEqualTo("sk-in-memory-value-0123456789abcdef");
  }
}

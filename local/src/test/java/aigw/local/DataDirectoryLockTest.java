package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Two processes on one data directory: the second is refused, with the first one's pid. */
class DataDirectoryLockTest {
  private static LocalOptions onDirectory(Path data, String... more) {
    var args = new java.util.ArrayList<>(List.of(more));
    args.addAll(List.of("--data-dir", data.toString(), "--port", "0", "--rotation-check-seconds", "0"));
    return LocalOptions.parse(args.toArray(String[]::new), InvokeTest.PROVIDER_ENV);
  }

  @Test
  void aSecondProcessOnTheSameDataDirectoryIsRefusedNamingTheFirst(@TempDir Path data) throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    var first = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), Main.class.getName(),
            "--data-dir", data.toString(), "--port", "0", "--rotation-check-seconds", "0")
        .redirectError(ProcessBuilder.Redirect.DISCARD)
        .start();
    try {
      var out = new BufferedReader(new InputStreamReader(first.getInputStream(), StandardCharsets.UTF_8));
      String line;
      do {
        line = out.readLine();
        assertThat(line).as("the first gateway started").isNotNull();
      } while (!line.contains("listening on"));

      assertThatThrownBy(() -> LocalGateway.create(onDirectory(data, "invoke", "admin", "--event", "x.json")))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("is in use by another aigw process (pid " + first.pid() + ", serve, started ")
          .hasMessageContaining("--data-dir");
    } finally {
      first.destroy(); // SIGTERM: its shutdown hook closes the gateway
      assertThat(first.waitFor(30, TimeUnit.SECONDS)).isTrue();
    }
    // The OS released the lock with the process: the directory is free again.
    LocalGateway.create(onDirectory(data)).close();
  }

  @Test
  void aSecondGatewayInTheSameProcessIsRefusedTooAndTheLockIsFreedOnClose(@TempDir Path data) {
    try (var running = LocalGateway.create(onDirectory(data))) {
      assertThatThrownBy(() -> LocalGateway.create(onDirectory(data)))
          .hasMessageContaining("is in use by another aigw process (pid " + ProcessHandle.current().pid());
    }
    LocalGateway.create(onDirectory(data)).close();
  }

  @Test
  void versionIsAnOption() {
    assertThat(LocalOptions.parse(new String[] {"--version"}, Map.of()).command()).isEqualTo("version");
    assertThat(Main.version()).startsWith("aigw-local ").contains("Java " + Runtime.version().feature());
  }
}

package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the gateway logs while it stops (SIGTERM, Ctrl-C) reaches its log: spend rows or usage that
 * could not be written, and the last line, that it stopped. java.util.logging's own shutdown hook
 * closes every handler, concurrently with the gateway's stop hook, unless {@link StopLogging} holds
 * it back. A child JVM runs {@link Main} as {@code java -jar} does (from classes, so it serves itself:
 * the relaunched child of a jar start runs the same main).
 */
class LocalStopLoggingTest {
  @TempDir Path dir;

  @RepeatedTest(3)
  void theLinesLoggedWhileTheGatewayStopsAreInItsLog() throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Path stderr = dir.resolve("stderr.txt");
    var builder = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), Main.class.getName(),
            "--port", "0", "--in-memory", "--rotation-check-seconds", "0")
        .redirectError(stderr.toFile());
    builder.environment().putAll(Map.of("AIGW_MASTER_KEY", "sk-stop-logging-master-0123456789abcdef"));
    Process gateway = builder.start();
    try {
      var out = new BufferedReader(new InputStreamReader(gateway.getInputStream(), StandardCharsets.UTF_8));
      String line;
      do {
        line = out.readLine();
        assertThat(line).as("the gateway started: " + Files.readString(stderr)).isNotNull();
      } while (!line.contains("listening on"));

      gateway.destroy(); // SIGTERM, as a service manager or kill sends it
      assertThat(gateway.waitFor(60, TimeUnit.SECONDS)).as("the gateway stopped").isTrue();
      assertThat(Files.readString(stderr))
          .as("the line the stop hook logs last, after the gateway closed")
          .contains(Main.STOPPED_MESSAGE);
    } finally {
      gateway.destroyForcibly();
    }
  }
}

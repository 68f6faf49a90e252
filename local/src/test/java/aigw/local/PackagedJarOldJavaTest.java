package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * {@code java -jar aigw-local.jar} under Java 17 (the default JDK of many CI machines; README asks
 * for 21): one line saying so and naming the JVM, exit status 1, not a raw {@code
 * UnsupportedClassVersionError} ({@link Launcher}). Needs a JDK 17 installed under {@code
 * /usr/lib/jvm} (or {@code AIGW_TEST_JDK17}); skipped where there is none. Runs in the verify phase,
 * after the shade plugin built the jar (execution packaged-jar).
 */
class PackagedJarOldJavaTest {
  private static final Path JAR = Path.of("target", "aigw-local.jar");

  @Test
  void underJava17TheJarSaysInOneLineThatItNeedsJava21() throws Exception {
    Path java17 = jdk17().orElse(null);
    Assumptions.assumeTrue(java17 != null, "no JDK 17 under /usr/lib/jvm (nor AIGW_TEST_JDK17)");
    assertThat(JAR).as("built by the package phase").exists();
    Process process = new ProcessBuilder(java17.resolve("bin").resolve("java").toString(), "-jar", JAR.toString(), "--port", "0")
        .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
        .start();
    assertThat(process.waitFor(30, TimeUnit.SECONDS)).as("it ends at once").isTrue();
    String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    String err = new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);

    assertThat(process.exitValue()).as(err).isEqualTo(1);
    assertThat(out).isEmpty();
    assertThat(err.strip().lines()).as(err).hasSize(1);
    assertThat(err).as(err).startsWith("aigw needs Java 21 or newer; this is Java 17 at ")
        .contains(java17.toRealPath().toString())
        .doesNotContain("UnsupportedClassVersionError").doesNotContain("Exception");
  }

  /** A JDK 17's home: {@code AIGW_TEST_JDK17}, else the first directory under /usr/lib/jvm whose {@code release} file says 17. */
  private static Optional<Path> jdk17() throws IOException {
    String set = System.getenv("AIGW_TEST_JDK17");
    if (set != null && !set.isBlank()) {
      return Optional.of(Path.of(set));
    }
    Path jvms = Path.of("/usr/lib/jvm");
    if (!Files.isDirectory(jvms)) {
      return Optional.empty();
    }
    try (Stream<Path> homes = Files.list(jvms)) {
      return homes.filter(home -> Files.isExecutable(home.resolve("bin").resolve("java")))
          .filter(home -> {
            try {
              return Files.readString(home.resolve("release")).contains("JAVA_VERSION=\"17");
            } catch (IOException noReleaseFile) {
              return false;
            }
          })
          .sorted()
          .findFirst();
    }
  }
}

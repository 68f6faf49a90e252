package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import aigw.core.testing.RepoFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;

/**
 * The jars this project builds into the Lambda layer carry the fixed time of
 * project.build.outputTimestamp, not the build's: otherwise every `./mvnw package` gives the layer
 * new bytes, `sam package` a new S3 key (a checksum of the content), and every deploy publishes and
 * snapshots new versions of all functions even when nothing changed (TransformedTemplateTest shows
 * that a new layer key does that).
 */
class ReproducibleBuildTest {
  @Test
  void theLayersOwnJarsAreReproducible() throws IOException {
    String pom = Files.readString(RepoFiles.resolve("pom.xml"));
    var configured = Pattern.compile("<project.build.outputTimestamp>([^<]+)</project.build.outputTimestamp>").matcher(pom);
    assertThat(configured.find()).as("pom.xml sets project.build.outputTimestamp").isTrue();
    Instant fixed = Instant.parse(configured.group(1));

    Path lib = RepoFiles.resolve("layers/core/target/layer/java/lib");
    assumeTrue(Files.isDirectory(lib), "built by `./mvnw package`");
    List<Path> ours;
    try (Stream<Path> jars = Files.list(lib)) {
      ours = jars.filter(j -> j.getFileName().toString().startsWith("aigw-")).toList();
    }
    assertThat(ours).isNotEmpty();
    for (Path jar : ours) {
      Set<Instant> times = new HashSet<>();
      try (var zip = new ZipFile(jar.toFile())) {
        zip.stream().forEach(e -> times.add(e.getLastModifiedTime().toInstant()));
      }
      // One time for every entry, the configured one (zip stores local time: allow a time zone's offset).
      assertThat(times).as("entry times of %s", jar.getFileName()).hasSize(1);
      assertThat(Duration.between(fixed, times.iterator().next()).abs()).as(jar.getFileName().toString()).isLessThanOrEqualTo(Duration.ofHours(14));
    }
  }
}

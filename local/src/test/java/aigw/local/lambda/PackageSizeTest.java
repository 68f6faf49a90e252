package aigw.local.lambda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import aigw.core.testing.RepoFiles;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;

/**
 * What a deploy uploads stays small (issue 14: layer and function zips together at most 8 MB): each
 * directory template.yaml points to, zipped as `sam package` zips it (Python's zipfile, deflate at
 * its default level, which is java.util.zip's default too). The zips are what each cold start
 * downloads and what counts against Lambda's 50 MB (zipped) limit.
 */
class PackageSizeTest {
  private static final long MAX_TOTAL_BYTES = 8_000_000;

  @Test
  void theLayerAndTheFunctionsZipToAtMost8Mb() throws IOException {
    Path layer = RepoFiles.resolve("layers/core/target/layer");
    assumeTrue(Files.isDirectory(layer.resolve("java/lib")), "built by `./mvnw package`");
    var zipped = new LinkedHashMap<String, Long>();
    zipped.put("layers/core/target/layer", zippedSize(layer));
    for (String function : List.of("proxy", "admin", "rotation")) {
      Path directory = RepoFiles.resolve("functions/" + function + "/target/function");
      assumeTrue(Files.isDirectory(directory), "built by `./mvnw package`");
      zipped.put(directory.toString(), zippedSize(directory));
    }
    long total = zipped.values().stream().mapToLong(Long::longValue).sum();
    assertThat(total).as("zipped bytes: %s", zipped).isLessThanOrEqualTo(MAX_TOTAL_BYTES);
  }

  /**
   * The layer's jars are stored, not compressed (layers/core/src/build/StoreJars.java): the deploy
   * zip compresses them together, which is what brings the layer from 10.2 to 7.3 MB.
   */
  @Test
  void theLayersJarsAreStoredForTheDeployZipToCompress() throws IOException {
    Path lib = RepoFiles.resolve("layers/core/target/layer/java/lib");
    assumeTrue(Files.isDirectory(lib), "built by `./mvnw package`");
    List<Path> jars;
    try (Stream<Path> files = Files.list(lib)) {
      jars = files.filter(f -> f.toString().endsWith(".jar")).toList();
    }
    assertThat(jars).isNotEmpty();
    for (Path jar : jars) {
      try (var zip = new ZipFile(jar.toFile())) {
        assertThat(zip.stream().filter(e -> e.getMethod() != ZipEntry.STORED).map(ZipEntry::getName).findFirst())
            .as("a compressed entry in %s", jar.getFileName())
            .isEmpty();
      }
    }
  }

  /** The size of {@code directory} zipped with deflate at the default level, as `sam package` zips it. */
  private static long zippedSize(Path directory) throws IOException {
    var counted = new CountingStream();
    try (var zip = new ZipOutputStream(counted);
        Stream<Path> files = Files.walk(directory)) {
      for (Path file : files.filter(Files::isRegularFile).sorted().toList()) {
        zip.putNextEntry(new ZipEntry(directory.relativize(file).toString().replace('\\', '/')));
        Files.copy(file, zip);
        zip.closeEntry();
      }
    }
    return counted.bytes;
  }

  private static final class CountingStream extends OutputStream {
    long bytes;

    @Override
    public void write(int b) {
      bytes++;
    }

    @Override
    public void write(byte[] b, int off, int len) {
      bytes += len;
    }
  }
}

package aigw.local;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The relaunched child's start on JDK 25 and later: an AOT cache (JEP 483, classes loaded and linked
 * ahead of time; JEP 515, method profiles, so the JIT starts from what an earlier run learned)
 * instead of a dynamic class-data-sharing archive. On the gateway's start it saved about a fifth of
 * the CPU and a quarter of the wall time to the first proxied answer over the archive.
 *
 * <p>A first start records what it loads ({@code -XX:AOTMode=record}, the JDK writes the recording
 * at the child's exit); then the parent, the child having ended, builds the cache from the recording
 * in one more JVM ({@code -XX:AOTMode=create}, a few seconds; its output discarded) and moves it into
 * place atomically: a start never maps a half-written cache, and two first starts at once each
 * build their own and the last move wins. A start that failed (exit code other than 0 or a stop by
 * SIGINT/SIGTERM) builds nothing: its recording is not the gateway's start.
 *
 * <p>The cache's name carries a fingerprint of the jar (absolute path, size, modification time) and of
 * the JVM options, because the JDK uses a cache only with the class path and options it was built
 * with, and otherwise starts without it (correct but slow, and silently): another jar or other
 * options get a first start of their own. The three newest caches of the directory are kept.
 */
final class AotCache {
  /** Exit codes of a child that ran and was stopped, whose recording is worth a cache: normal, SIGINT, SIGTERM. */
  private static final List<Integer> STOPPED = List.of(0, 130, 143);
  static final String SUFFIX = ".aot";
  private static final String RECORDING_SUFFIX = ".aotconf";
  private static final String PARTIAL_SUFFIX = ".aot.part";
  private static final int KEPT_CACHES = 3;
  /** The longest the parent waits for the cache to be built (a few seconds on a 2-core machine). */
  private static final Duration BUILD_TIMEOUT = Duration.ofMinutes(2);

  private AotCache() {}

  /**
   * @param directory where the caches live (the user's cache directory)
   * @param prefix the start of the cache's name, with the JDK's version
   * @param jar the running jar, the child's class path
   * @param jvmOptions the options the child gets from the command line, besides the cache's
   */
  static SharedArchiveRelaunch.Plan plan(Path directory, String prefix, Path jar, List<String> jvmOptions) {
    // No string concatenation, lambda or String.format here: this runs in the parent, before the
    // child starts, in a JVM without the cache (see SharedArchiveRelaunch).
    Path cache = directory.resolve(prefix.concat(fingerprint(jar, jvmOptions)).concat(SUFFIX));
    if (Files.isRegularFile(cache)) {
      return new SharedArchiveRelaunch.Plan(List.of("-XX:AOTCache=".concat(cache.toString())), SharedArchiveRelaunch.NOTHING_AFTER_CHILD);
    }
    String run = new StringBuilder().append(cache.getFileName()).append('.').append(ProcessHandle.current().pid()).toString();
    Path recording = directory.resolve(run.concat(RECORDING_SUFFIX));
    Path partial = directory.resolve(run.concat(PARTIAL_SUFFIX));
    return new SharedArchiveRelaunch.Plan(
        List.of("-XX:AOTMode=record", "-XX:AOTConfiguration=".concat(recording.toString())),
        new BuildAfterRecording(directory, cache, recording, partial, jar, jvmOptions));
  }

  /** After a recording child's end: builds the cache from its recording and moves it into place. */
  private static final class BuildAfterRecording implements java.util.function.IntConsumer {
    private final Path directory;
    private final Path cache;
    private final Path recording;
    private final Path partial;
    private final Path jar;
    private final List<String> jvmOptions;

    BuildAfterRecording(Path directory, Path cache, Path recording, Path partial, Path jar, List<String> jvmOptions) {
      this.directory = directory;
      this.cache = cache;
      this.recording = recording;
      this.partial = partial;
      this.jar = jar;
      this.jvmOptions = jvmOptions;
    }

    @Override
    public void accept(int exit) {
      try {
        if (STOPPED.contains(exit) && Files.isRegularFile(recording) && announced() && build(recording, partial, jar, jvmOptions)) {
          Files.move(partial, cache, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
          keepNewest(directory);
        }
      } catch (IOException | RuntimeException e) {
        // no cache this time: the next start records again
      } finally {
        deleteQuietly(recording);
        deleteQuietly(partial);
      }
    }
  }

  /** What a user who pressed Ctrl-C sees while the process still runs (10-30 s on 2 cores, once); always true. */
  private static boolean announced() {
    System.err.println(BUILDING_MESSAGE);
    return true;
  }

  /** Printed once, after the first stop, while the cache is built. */
  static final String BUILDING_MESSAGE =
      "aigw: building the class cache for faster starts (once, after the first stop; 10-30 s) ...";

  private static boolean build(Path recording, Path partial, Path jar, List<String> jvmOptions) throws IOException {
    String java = SharedArchiveRelaunch.javaExecutable();
    if (java == null) {
      return false;
    }
    var command = new ArrayList<String>();
    command.add(java);
    command.addAll(jvmOptions);
    command.add("-XX:AOTMode=create");
    command.add("-XX:AOTConfiguration=" + recording);
    command.add("-XX:AOTCache=" + partial);
    command.add("-Xlog:cds*=off,aot*=off");
    command.add("-cp");
    command.add(jar.toString());
    Process builder = new ProcessBuilder(command)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD)
        .redirectError(ProcessBuilder.Redirect.DISCARD)
        .start();
    try {
      if (!builder.waitFor(BUILD_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
        builder.destroyForcibly();
        return false;
      }
    } catch (InterruptedException e) {
      builder.destroyForcibly();
      Thread.currentThread().interrupt();
      return false;
    }
    return builder.exitValue() == 0 && Files.isRegularFile(partial);
  }

  /** Which jar at which path, and which options: what the JDK checks a cache against. */
  static String fingerprint(Path jar, List<String> jvmOptions) {
    long size;
    FileTime modified;
    try {
      size = Files.size(jar);
      modified = Files.getLastModifiedTime(jar);
    } catch (IOException e) {
      size = -1;
      modified = FileTime.fromMillis(0);
    }
    var identity = new StringBuilder().append(jar.toAbsolutePath()).append('\n').append(size).append('\n')
        .append(modified.toMillis()).append('\n').append(String.join("\n", jvmOptions));
    String hex = Integer.toHexString(identity.toString().hashCode());
    return "00000000".substring(hex.length()).concat(hex); // as String.format("%08x"), which costs a Formatter here
  }


  /** Deletes all but the newest caches, and what stopped builds of another time left behind. */
  private static void keepNewest(Path directory) throws IOException {
    List<Path> caches;
    try (var files = Files.list(directory)) {
      caches = files.filter(file -> file.getFileName().toString().endsWith(SUFFIX))
          .sorted(Comparator.comparing(AotCache::modified).reversed())
          .toList();
    }
    caches.stream().skip(KEPT_CACHES).forEach(AotCache::deleteQuietly);
    Instant stale = Instant.now().minus(Duration.ofDays(1));
    try (var files = Files.list(directory)) {
      files.filter(file -> file.getFileName().toString().endsWith(RECORDING_SUFFIX) || file.getFileName().toString().endsWith(PARTIAL_SUFFIX))
          .filter(file -> modified(file).toInstant().isBefore(stale))
          .forEach(AotCache::deleteQuietly);
    }
  }

  private static FileTime modified(Path file) {
    try {
      return Files.getLastModifiedTime(file);
    } catch (IOException e) {
      return FileTime.fromMillis(0);
    }
  }

  private static void deleteQuietly(Path file) {
    try {
      Files.deleteIfExists(file);
    } catch (IOException e) {
      // left for keepNewest's next pass
    }
  }
}

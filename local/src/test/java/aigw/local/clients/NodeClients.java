package aigw.local.clients;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.testing.RepoFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * The Node.js clients of {@code local/src/test/js} (package.json with pinned versions and its lock),
 * installed once with {@code npm ci} into {@code local/target/node-clients} and run as child
 * processes. Reinstalled only when package.json or the lock changes. Without {@code node} or
 * {@code npm} on the PATH the calling test is skipped with that reason; every other failure (an
 * install that fails, a Node older than 20) fails the test.
 */
final class NodeClients {
  private static final Path SOURCES = RepoFiles.resolve("local/src/test/js");
  private static final Path INSTALLED = RepoFiles.resolve("local/target/node-clients");
  private static final Duration INSTALL_TIMEOUT = Duration.ofMinutes(5);
  private static final Duration RUN_TIMEOUT = Duration.ofSeconds(90);

  /** What a client printed. */
  record Run(int exitCode, String stdout, String stderr) {}

  private static boolean installed;

  private NodeClients() {}

  /** Installs the clients if needed; skips the calling test when Node.js or npm is absent. */
  static synchronized void install() throws Exception {
    if (installed) {
      return;
    }
    String version = versionOf("node");
    Assumptions.assumeTrue(version != null, "node is not on the PATH: the real Node.js client checks need Node 20+ and npm");
    Assumptions.assumeTrue(versionOf("npm") != null, "npm is not on the PATH: the real Node.js client checks need Node 20+ and npm");
    int major = Integer.parseInt(version.replaceFirst("^v", "").split("\\.")[0]);
    assertThat(major).as("Node.js version (package.json pins clients that run on Node 20+)").isGreaterThanOrEqualTo(20);

    Files.createDirectories(INSTALLED);
    try (var files = Files.list(SOURCES)) {
      for (Path file : files.filter(Files::isRegularFile).toList()) {
        Files.copy(file, INSTALLED.resolve(file.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      }
    }
    Path stamp = INSTALLED.resolve("node_modules/.aigw-installed-from");
    String wanted = sha256(Files.readAllBytes(SOURCES.resolve("package.json")), Files.readAllBytes(SOURCES.resolve("package-lock.json")));
    if (!Files.exists(stamp) || !Files.readString(stamp).equals(wanted)) {
      long start = System.nanoTime();
      var run = run(List.of("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"), Map.of(), INSTALLED, INSTALL_TIMEOUT);
      assertThat(run.exitCode()).as("npm ci in %s failed:%n%s%n%s", INSTALLED, run.stdout(), run.stderr()).isZero();
      Files.writeString(stamp, wanted);
      System.out.printf("npm ci of the real clients: %.1f s into %s%n", (System.nanoTime() - start) / 1e9, INSTALLED);
    }
    installed = true;
  }

  /** Runs {@code node <script> <args>} in the install directory with {@code env} added. */
  static Run node(String script, List<String> args, Map<String, String> env) throws Exception {
    var command = new ArrayList<String>();
    command.add("node");
    command.add(script);
    command.addAll(args);
    return run(command, env, INSTALLED, RUN_TIMEOUT);
  }

  /** Runs a bin of an installed package ({@code node_modules/.bin/<name>}). */
  static Run bin(String name, List<String> args, Map<String, String> env, Path workingDirectory) throws Exception {
    var command = new ArrayList<String>();
    command.add(INSTALLED.resolve("node_modules/.bin").resolve(name).toString());
    command.addAll(args);
    return run(command, env, workingDirectory, RUN_TIMEOUT);
  }

  private static Run run(List<String> command, Map<String, String> env, Path workingDirectory, Duration timeout) throws Exception {
    Path out = Files.createTempFile("node-client", ".out");
    Path err = Files.createTempFile("node-client", ".err");
    try {
      var builder = new ProcessBuilder(command).directory(workingDirectory.toFile())
          .redirectOutput(out.toFile()).redirectError(err.toFile()).redirectInput(ProcessBuilder.Redirect.from(devNull()));
      builder.environment().putAll(env);
      // No update check or telemetry from npm in a test run.
      builder.environment().put("npm_config_update_notifier", "false");
      Process process = builder.start();
      if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly().waitFor();
        throw new AssertionError(String.join(" ", command) + " did not finish within " + timeout + ":\n" + Files.readString(out) + "\n" + Files.readString(err));
      }
      return new Run(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }

  private static java.io.File devNull() {
    return new java.io.File(System.getProperty("os.name").startsWith("Windows") ? "NUL" : "/dev/null");
  }

  /** {@code <tool> --version}, or null when the tool cannot be started. */
  private static String versionOf(String tool) throws InterruptedException {
    try {
      Process process = new ProcessBuilder(tool, "--version").redirectErrorStream(true).start();
      String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
      return process.waitFor() == 0 ? output : null;
    } catch (IOException notInstalled) {
      return null;
    }
  }

  private static String sha256(byte[]... parts) throws Exception {
    var digest = MessageDigest.getInstance("SHA-256");
    for (byte[] part : parts) {
      digest.update(part);
    }
    return HexFormat.of().formatHex(digest.digest());
  }
}

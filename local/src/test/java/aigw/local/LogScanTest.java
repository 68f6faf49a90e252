package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.testing.RepoFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Every log record the test suite produced, scanned for keys, secrets and provider credentials.
 *
 * <p>Runs last in {@code ./mvnw verify}: its own surefire execution in local/pom.xml, in the
 * {@code verify} phase of the last module with tests, after every module's tests have written
 * their output to {@code target/surefire-reports/*-output.txt} ({@code redirectTestOutputToFile}
 * in the parent pom). A log record is what {@code java.util.logging} wrote (its header line, then
 * {@code LEVEL: message} and any stack trace): the gateway's log, locally and on Lambda. A command's
 * deliberate output (the key {@code /key/generate} returns, printed by {@code invoke}) is not a log.
 *
 * <p>It fails on: any {@code sk-} value from the tests' sources (master keys, virtual keys, provider
 * credentials) in full; any other {@code sk-} key longer than its masked form ({@code sk-...abcd});
 * any AWS access key id or secret access key. It cannot pass by scanning nothing: it asserts that it
 * read every module's outputs, many records, and masked keys among them.
 */
class LogScanTest {
  /** JUL's SimpleFormatter header: "Dec 05, 2026 5:07:12 AM aigw.core.Foo bar". */
  private static final Pattern HEADER = Pattern.compile("^[A-Z][a-z]{2} \\d{2}, \\d{4} \\d{1,2}:\\d{2}:\\d{2} [AP]M \\S+( \\S+)?$");
  private static final Pattern LEVEL = Pattern.compile("^(SEVERE|WARNING|INFO|CONFIG|FINE|FINER|FINEST): ");
  /** A key in full: sk- then more than the masked form's four characters, no "..." */
  private static final Pattern UNMASKED_KEY = Pattern.compile("(?<![A-Za-z0-9])sk-(?!\\.\\.\\.)[A-Za-z0-9_-]{8,}");
  private static final Pattern MASKED_KEY = Pattern.compile("sk-\\.\\.\\.[A-Za-z0-9_-]{4}\\b");
  private static final Pattern AWS_ACCESS_KEY_ID = Pattern.compile("\\b(AKIA|ASIA)[0-9A-Z]{16}\\b");
  private static final Pattern AWS_SECRET = Pattern.compile("(?i)(aws_?secret_?access_?key|secretAccessKey)[\"'=: ]+[A-Za-z0-9/+]{30,}");
  /** String literals in the tests' sources that are keys or credentials. */
  private static final Pattern SECRET_LITERAL = Pattern.compile("\"(sk-[A-Za-z0-9_-]{8,}|AIza[A-Za-z0-9_-]{20,})\"");
  /**
   * Not secrets: the documented development default, which the local gateway names in its start-up
   * warning on purpose (the seed guide: "This is logged as a warning on startup").
   */
  private static final Set<String> PUBLIC_KEYS = Set.of("sk-development-only");
  private static final List<String> MODULES = List.of("layers/core", "functions/proxy", "functions/admin", "functions/rotation", "local");

  @Test
  void noLogRecordOfTheSuiteHoldsAKeyASecretOrAProviderCredential() throws IOException {
    String requested = System.getProperty("aigw.requestedTests", "");
    Assumptions.assumeTrue(requested.isEmpty() || requested.startsWith("${"),
        "a run of chosen tests (-Dtest) leaves most outputs out: the scan runs with the whole suite");
    TreeSet<String> knownSecrets = knownSecrets();
    knownSecrets.removeAll(PUBLIC_KEYS);
    assertThat(knownSecrets).as("test secrets found in the sources").hasSizeGreaterThan(10)
        .contains("sk-test-master-key-for-unit-tests-only", "sk-upstream-test-credential");

    var findings = new ArrayList<String>();
    int files = 0;
    long records = 0;
    long masked = 0;
    var modulesWithOutput = new TreeSet<String>();
    for (String module : MODULES) {
      Path reports = RepoFiles.resolve(module + "/target/surefire-reports");
      if (!Files.isDirectory(reports)) {
        continue;
      }
      List<Path> outputs;
      try (Stream<Path> listed = Files.list(reports)) {
        outputs = listed.filter(p -> p.getFileName().toString().endsWith("-output.txt")).sorted().toList();
      }
      for (Path output : outputs) {
        files++;
        modulesWithOutput.add(module);
        String file = module + "/target/surefire-reports/" + output.getFileName();
        List<String> lines = Files.readAllLines(output, StandardCharsets.ISO_8859_1); // any bytes, never a decoding error
        Counts counts = scan(file, lines, knownSecrets, findings);
        records += counts.records();
        masked += counts.masked();
      }
    }

    assertThat(modulesWithOutput).as("modules whose test output was scanned (run ./mvnw verify)").containsAll(MODULES);
    assertThat(files).as("output files scanned").isGreaterThanOrEqualTo(30);
    assertThat(records).as("log records scanned").isGreaterThanOrEqualTo(500);
    assertThat(masked).as("masked keys (sk-...abcd) seen: the gateway does log keys, masked").isPositive();
    System.out.printf("Log scan: %d files, %d log records, %d masked keys, %d test secrets looked for%n", files, records, masked, knownSecrets.size());
    assertThat(findings).as("log records holding a key, a secret or a credential").isEmpty();
  }

  @Test
  void theScannerFindsWhatItLooksForInALogRecordAndNothingOutsideOne() {
    var lines = List.of(
        "Dec 05, 2026 5:07:12 AM aigw.core.Gateway handle",
        "WARNING: key sk-...abcd refused; master was sk-test-master-key-for-unit-tests-only",
        "\tat aigw.core.Foo.bar(Foo.java:1) AKIAIOSFODNN7EXAMPLE",
        "Dec 05, 2026 5:07:13 AM aigw.core.Gateway handle",
        "INFO: generated sk-abcdefghijklmnopqrstuvwxyz0123456789 and kept sk-development-only",
        "{\"key\":\"sk-printed-by-invoke-on-purpose-0123\"}");
    var findings = new ArrayList<String>();

    Counts counts = scan("sample", lines, new TreeSet<>(Set.of("sk-test-master-key-for-unit-tests-only")), findings);

    assertThat(counts).isEqualTo(new Counts(2, 1));
    assertThat(findings).hasSize(4)
        .anySatisfy(f -> assertThat(f).startsWith("sample:2 test secret sk-test-master-key-for-unit-tests-only"))
        .anySatisfy(f -> assertThat(f).startsWith("sample:2 unmasked key sk-test-master-key-for-unit-tests-only"))
        .anySatisfy(f -> assertThat(f).startsWith("sample:3 AWS access key id AKIAIOSFODNN7EXAMPLE"))
        .anySatisfy(f -> assertThat(f).startsWith("sample:5 unmasked key sk-abcdefghijklmnopqrstuvwxyz0123456789"));
  }

  /** What one file held: its log records, and the masked keys in them. */
  record Counts(long records, long masked) {}

  /** Scans the log records among {@code lines} (other output is skipped), adding what it finds to {@code findings}. */
  static Counts scan(String file, List<String> lines, Set<String> knownSecrets, List<String> findings) {
    long records = 0;
    long masked = 0;
    boolean inRecord = false;
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      if (HEADER.matcher(line).matches()) {
        inRecord = false;
        continue;
      }
      if (LEVEL.matcher(line).find() && i > 0 && HEADER.matcher(lines.get(i - 1)).matches()) {
        inRecord = true;
        records++;
      } else if (inRecord && !(line.startsWith("\t") || line.startsWith(" ") || line.startsWith("Caused by") || line.startsWith("Suppressed"))) {
        inRecord = false;
      }
      if (!inRecord) {
        continue;
      }
      Matcher maskedKeys = MASKED_KEY.matcher(line);
      while (maskedKeys.find()) {
        masked++;
      }
      for (String secret : knownSecrets) {
        if (line.contains(secret)) {
          findings.add(file + ":" + (i + 1) + " test secret " + secret + ": " + line);
        }
      }
      Matcher keys = UNMASKED_KEY.matcher(line);
      while (keys.find()) {
        if (!PUBLIC_KEYS.contains(keys.group())) {
          findings.add(file + ":" + (i + 1) + " unmasked key " + keys.group() + ": " + line);
        }
      }
      check(AWS_ACCESS_KEY_ID, "AWS access key id", line, file, i, findings);
      check(AWS_SECRET, "AWS secret access key", line, file, i, findings);
    }
    return new Counts(records, masked);
  }

  private static void check(Pattern pattern, String what, String line, String file, int index, List<String> findings) {
    Matcher m = pattern.matcher(line);
    if (m.find()) {
      findings.add(file + ":" + (index + 1) + " " + what + " " + m.group() + ": " + line);
    }
  }

  /** Every key-like string literal in the tests' sources and events/: what the suite authenticates with. */
  private static TreeSet<String> knownSecrets() throws IOException {
    var secrets = new TreeSet<String>();
    var roots = new ArrayList<Path>();
    for (String module : MODULES) {
      roots.add(RepoFiles.resolve(module + "/src/test"));
    }
    roots.add(RepoFiles.resolve("events"));
    for (Path root : roots) {
      if (!Files.isDirectory(root)) {
        continue;
      }
      try (Stream<Path> walk = Files.walk(root)) {
        for (Path source : walk.filter(p -> p.toString().endsWith(".java") || p.toString().endsWith(".json")).toList()) {
          Matcher m = SECRET_LITERAL.matcher(Files.readString(source, StandardCharsets.ISO_8859_1));
          while (m.find()) {
            secrets.add(m.group(1));
          }
        }
      }
    }
    return secrets;
  }
}

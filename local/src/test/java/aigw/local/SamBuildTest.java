package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import aigw.core.testing.RepoFiles;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `sam build` without SAM CLI: every function and layer of template.yaml is built by the root
 * Makefile, and running its build-&lt;LogicalId&gt; target the way SAM CLI does (make --makefile
 * &lt;ContextPath&gt;/Makefile in WorkingDirectory, ARTIFACTS_DIR in the environment) yields exactly what
 * the CodeUri/ContentUri directory holds, so `sam build && sam deploy` ships what `./mvnw package &&
 * sam deploy` ships. Maven itself is not run here (this runs inside the Maven build): the stamp that
 * makes the Makefile skip Maven is pointed at a fresh temporary file.
 */
class SamBuildTest {
  private static final Set<String> BUILT_TYPES = Set.of("AWS::Serverless::Function", "AWS::Serverless::LayerVersion");

  private static Path root;
  private static JsonNode resources;

  @TempDir Path tmp;

  @BeforeAll
  static void read() throws IOException {
    root = RepoFiles.root();
    resources = new ObjectMapper(new YAMLFactory()).readTree(root.resolve("template.yaml").toFile()).path("Resources");
  }

  /** LogicalId to CodeUri (functions) or ContentUri (layers), for whatever the template declares. */
  private static Map<String, String> builtResources() {
    var built = new LinkedHashMap<String, String>();
    resources.fields().forEachRemaining(r -> {
      JsonNode resource = r.getValue();
      String type = resource.path("Type").asText();
      if (BUILT_TYPES.contains(type)) {
        String uri = type.endsWith("Function") ? "CodeUri" : "ContentUri";
        built.put(r.getKey(), resource.path("Properties").path(uri).asText());
      }
    });
    return built;
  }

  private static Path makefile(String logicalId) {
    return root.resolve(resources.path(logicalId).path("Metadata").path("ContextPath").asText()).normalize().resolve("Makefile");
  }

  @Test
  void everyFunctionAndLayerIsBuiltByAMakefileTarget() throws IOException {
    assertThat(builtResources()).containsKeys("CoreLayer", "ProxyFunction", "AdminFunction");
    for (String logicalId : builtResources().keySet()) {
      JsonNode metadata = resources.path(logicalId).path("Metadata");
      assertThat(metadata.path("BuildMethod").asText()).as("%s Metadata.BuildMethod", logicalId).isEqualTo("makefile");
      // Without ContextPath SAM looks for <CodeUri>/Makefile, and CodeUri is a build output.
      assertThat(makefile(logicalId)).as("%s Metadata.ContextPath names the Makefile's directory", logicalId).isRegularFile();
      assertThat(root.resolve(metadata.path("WorkingDirectory").asText())).as("%s Metadata.WorkingDirectory", logicalId).isDirectory();
      String text = Files.readString(makefile(logicalId), StandardCharsets.UTF_8);
      assertThat(Pattern.compile("^build-" + Pattern.quote(logicalId) + "\\s*:", Pattern.MULTILINE).matcher(text).find())
          .as("%s has a build-%s target in %s", logicalId, logicalId, makefile(logicalId))
          .isTrue();
    }
    assertThat(resources.path("CoreLayer").path("Metadata").path("BuildArchitecture").asText())
        .isIn(toStrings(resources.path("CoreLayer").path("Properties").path("CompatibleArchitectures")));
  }

  @Test
  void eachTargetCopiesWhatTheTemplatePointsTo() throws Exception {
    assumeTrue(makeAvailable(), "GNU make is not installed");
    Path stamp = freshStamp();
    for (var resource : builtResources().entrySet()) {
      String logicalId = resource.getKey();
      Path built = root.resolve(resource.getValue());
      assumeTrue(Files.isDirectory(built), resource.getValue() + " is built by `./mvnw package` (README's `./mvnw verify` runs it first)");
      Path artifacts = tmp.resolve(".aws-sam/build").resolve(logicalId);

      // Dry run first: never start a Maven build from inside this one.
      assertThat(mavenRuns(make(logicalId, artifacts, stamp, true))).as("%s: no Maven when the stamp is fresh", logicalId).isEmpty();
      Result make = make(logicalId, artifacts, stamp, false);

      assertThat(make.exitCode()).as("%s: %s", logicalId, make.output()).isZero();
      assertThat(files(artifacts)).as(logicalId).isNotEmpty().isEqualTo(files(built));
      if (resources.path(logicalId).path("Type").asText().equals("AWS::Serverless::LayerVersion")) {
        assertThat(files(artifacts)).as("%s: Lambda puts /opt/java/lib/*.jar on the classpath", logicalId)
            .anyMatch(f -> f.startsWith("java/lib/") && f.endsWith(".jar"));
      } else {
        assertThat(files(artifacts)).as("%s: classes at the root, jars in lib/", logicalId)
            .anyMatch(f -> f.endsWith(".class") && !f.startsWith("lib/"))
            .anyMatch(f -> f.startsWith("lib/") && f.endsWith(".jar"));
      }
    }
  }

  @Test
  void mavenRunsOnceWhenASourceIsNewerThanTheStampAndNotAgain() throws Exception {
    assumeTrue(makeAvailable(), "GNU make is not installed");
    Path stamp = tmp.resolve("stamp");
    Path artifacts = tmp.resolve("artifacts");

    // Absent stamp (a fresh clone), then one older than every source (an edit since the last build).
    for (boolean exists : List.of(false, true)) {
      if (exists) {
        Files.createFile(stamp);
        Files.setLastModifiedTime(stamp, FileTime.from(Instant.EPOCH));
      }
      Result dryRun = make("ProxyFunction", artifacts, stamp, true);
      assertThat(dryRun.exitCode()).as(dryRun.output()).isZero();
      assertThat(mavenRuns(dryRun))
          .as("stamp %s: one Maven build of the deployable modules", exists ? "stale" : "absent")
          .singleElement()
          .satisfies(l -> assertThat(l).contains(" package ").contains("functions/proxy"));
    }

    Result upToDate = make("ProxyFunction", artifacts, freshStamp(), true);
    assertThat(upToDate.exitCode()).as(upToDate.output()).isZero();
    assertThat(mavenRuns(upToDate)).isEmpty();
    assertThat(upToDate.output()).contains("cp -R");
  }

  @Test
  void samBuildIsConfiguredSequentialAndUncached() throws IOException {
    Map<String, Map<String, String>> config = toml(root.resolve("samconfig.toml"));
    Map<String, String> build = config.getOrDefault("default.build.parameters", Map.of());
    // --cached hashes the CodeUri directory, which here is the build's output, not its source.
    assertThat(build).containsEntry("cached", "false");
    // --parallel would start one Maven per resource in the same tree.
    assertThat(build).containsEntry("parallel", "false");
    Map<String, String> deploy = config.getOrDefault("default.deploy.parameters", Map.of());
    assertThat(deploy).containsEntry("capabilities", "\"CAPABILITY_IAM\"").containsEntry("resolve_s3", "true");
  }

  private Path freshStamp() throws IOException {
    Path stamp = tmp.resolve("fresh.stamp");
    if (!Files.exists(stamp)) {
      Files.createFile(stamp);
    }
    // Newer than every source, so the Makefile only copies (a future time would make make warn).
    Files.setLastModifiedTime(stamp, FileTime.from(Instant.now()));
    return stamp;
  }

  private record Result(int exitCode, String output) {}

  /** The Maven command lines make ran (or, with -n, would run). */
  private static List<String> mavenRuns(Result make) {
    return make.output().lines().filter(l -> l.contains("./mvnw ") && l.contains(" -am")).toList();
  }

  private Result make(String logicalId, Path artifacts, Path stamp, boolean dryRun) throws Exception {
    var command = new ArrayList<>(List.of("make"));
    if (dryRun) {
      command.add("-n");
    }
    command.addAll(List.of("--makefile", makefile(logicalId).toString(), "build-" + logicalId, "AIGW_MAVEN_STAMP=" + stamp));
    // As SAM CLI's custom_make workflow: cwd is Metadata.WorkingDirectory, ARTIFACTS_DIR is in the environment.
    var process = new ProcessBuilder(command)
        .directory(root.resolve(resources.path(logicalId).path("Metadata").path("WorkingDirectory").asText()).toFile())
        .redirectErrorStream(true);
    process.environment().put("ARTIFACTS_DIR", artifacts.toString());
    process.environment().keySet().removeAll(Set.of("AIGW_MAVEN_ARGS", "AIGW_MAVEN_STAMP", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"));
    Process started = process.start();
    String output = new String(started.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(started.waitFor(60, TimeUnit.SECONDS)).isTrue();
    return new Result(started.exitValue(), output);
  }

  private static boolean makeAvailable() {
    try {
      Process p = new ProcessBuilder("make", "--version").redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (IOException | InterruptedException e) {
      return false;
    }
  }

  private static Set<String> files(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return Set.of();
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      return walk.filter(Files::isRegularFile).map(f -> dir.relativize(f).toString().replace('\\', '/')).collect(TreeSet::new, Set::add, Set::addAll);
    }
  }

  private static List<String> toStrings(JsonNode array) {
    var values = new ArrayList<String>();
    array.forEach(v -> values.add(v.asText()));
    return values;
  }

  /** Just enough TOML for samconfig.toml: [section] headers and key = value lines. */
  private static Map<String, Map<String, String>> toml(Path file) throws IOException {
    var sections = new LinkedHashMap<String, Map<String, String>>();
    Map<String, String> current = null;
    for (String raw : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      String line = raw.strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      if (line.startsWith("[")) {
        current = sections.computeIfAbsent(line.substring(1, line.indexOf(']')).strip(), k -> new LinkedHashMap<>());
      } else if (current != null && line.contains("=")) {
        String value = line.substring(line.indexOf('=') + 1);
        int comment = value.indexOf(" #");
        current.put(line.substring(0, line.indexOf('=')).strip(), (comment >= 0 ? value.substring(0, comment) : value).strip());
      }
    }
    return sections;
  }
}

package aigw.local;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.json.Json;
import com.github.tomakehurst.wiremock.WireMockServer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged jar under a plain {@code java -jar}, as README starts it: it relaunches itself once
 * with cached classes ({@link SharedArchiveRelaunch}), the child serves, and stopping the process
 * the user started (SIGTERM, as a service manager or {@code kill} does) stops the child gracefully:
 * what it accepted is written, and the cache is there for the next start, which uses it. Runs in
 * the verify phase, after the shade plugin built the jar (execution packaged-jar).
 */
class PackagedJarRelaunchTest {
  private static final String MASTER = "sk-packaged-jar-relaunch-master-0123456789";
  private static final Path JAR = Path.of("target", "aigw-local.jar");
  private static final String COMPLETION =
      """
      {"id": "chatcmpl-relaunch", "object": "chat.completion", "created": 1767000000, "model": "gpt-4o-mini",
       "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
       "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}
      """;

  @TempDir Path dir;
  /** The jar's temporary directory (java.io.tmpdir, which the child inherits from the command line). */
  private Path tmp;

  @org.junit.jupiter.api.BeforeEach
  void temporaryDirectory() {
    tmp = dir.resolve("tmp");
  }

  private final HttpClient http = HttpClient.newHttpClient();

  @Test
  void theRelaunchedChildServesAndStopsGracefullyWithTheProcessTheUserStarted() throws Exception {
    assertThat(JAR).as("built by the package phase").exists();
    var provider = new WireMockServer(options().dynamicPort());
    provider.start();
    try {
      provider.stubFor(post(urlEqualTo("/v1/chat/completions"))
          .willReturn(aResponse().withHeader("Content-Type", "application/json").withBody(COMPLETION)));
      Path config = dir.resolve("config.yaml");
      Files.writeString(config, """
          model_list:
            - model_name: gpt-4o-mini
              litellm_params:
                model: openai/gpt-4o-mini
                api_base: http://127.0.0.1:%d/v1
                api_key: os.environ/OPENAI_API_KEY
          """.formatted(provider.port()));
      Path data = dir.resolve("data");
      int port;
      try (var socket = new ServerSocket(0)) {
        port = socket.getLocalPort();
      }
      Path cache = dir.resolve("cache");
      Files.createDirectories(tmp);
      boolean aot = Runtime.version().feature() >= SharedArchiveRelaunch.AOT_CACHE_JDK;
      Process parent = startJar(port, config, data, cache);
      try {
        ProcessHandle child = relaunchedChild(parent);
        assertThat(String.join(" ", child.info().arguments().orElse(new String[0])))
            .as("a first start: it records for the cache (JDK 25+) or writes the archive at exit, in the user's cache directory")
            .contains(aot ? "-XX:AOTMode=record -XX:AOTConfiguration=" + cache.resolve("aigw") : "-XX:SharedArchiveFile=" + cache.resolve("aigw"))
            .contains("-D" + SharedArchiveRelaunch.CHILD_PROPERTY + "=true");

        String base = "http://127.0.0.1:" + port;
        var generated = http.send(HttpRequest.newBuilder(URI.create(base + "/key/generate"))
            .header("Authorization", "Bearer " + MASTER).header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString("{\"key_alias\": \"relaunch\"}")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(generated.statusCode()).as(generated.body()).isEqualTo(200);
        var key = Json.MAPPER.readTree(generated.body());
        var answer = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
            .header("Authorization", "Bearer " + key.path("key").asText()).header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString("{\"model\": \"gpt-4o-mini\", \"messages\": [{\"role\": \"user\", \"content\": \"Hello\"}]}"))
            .build(), HttpResponse.BodyHandlers.ofString());
        assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
        assertThat(Json.MAPPER.readTree(answer.body()).path("id").asText()).isEqualTo("chatcmpl-relaunch");

        // The answer's spend log record is accepted on the request's thread just after the answer
        // (a SIGTERM in that gap loses it: a shutdown matter of its own, not the relaunch's), then
        // waits in memory for the next flush (every 1 s) or the shutdown: stop within that second.
        Thread.sleep(200);
        parent.destroy();
        assertThat(parent.waitFor(60, TimeUnit.SECONDS)).as("the parent stopped").isTrue();
        assertThat(parent.exitValue()).as("the child's exit code, forwarded (SIGTERM)").isEqualTo(143);
        assertThat(child.isAlive()).as("the child stopped with it").isFalse();
        assertThat(Files.readString(dir.resolve("stderr.txt")))
            .as("what the child logged while it stopped reached the log (StopLogging in the relaunched child)")
            .contains(Main.STOPPED_MESSAGE);
        if (aot) {
          assertThat(Files.readString(dir.resolve("stderr.txt")))
              .as("the stop that builds the AOT cache says why the process still runs").contains(AotCache.BUILDING_MESSAGE);
        }

        var options = LocalOptions.parse(new String[] {"--port", "0", "--data-dir", data.toString(), "--rotation-check-seconds", "0"},
            Map.of("AIGW_MASTER_KEY", MASTER));
        try (var restarted = LocalGateway.start(options)) {
          var logs = http.send(HttpRequest.newBuilder(URI.create(restarted.baseUrl() + "/spend/logs?api_key=" + key.path("key").asText()))
              .header("Authorization", "Bearer " + MASTER).GET().build(), HttpResponse.BodyHandlers.ofString());
          assertThat(logs.statusCode()).as(logs.body()).isEqualTo(200);
          assertThat(Json.MAPPER.readTree(logs.body()).findValuesAsText("model_group"))
              .as("the child's shutdown wrote the answer's spend record: " + logs.body()).containsExactly("gpt-4o-mini");
        }
        assertThat(Files.list(cache.resolve("aigw")).map(file -> file.getFileName().toString())
                .filter(name -> !name.startsWith(EmbeddedDynamoDb.NATIVE_LIBRARY_PREFIX)).toList())
            .as("the cache the next start uses, built when the child stopped, and nothing half-written beside it")
            .singleElement().satisfies(name -> assertThat(name).endsWith(aot ? AotCache.SUFFIX : ".jsa"));
        assertThat(Files.list(cache.resolve("aigw")).filter(file -> file.getFileName().toString().startsWith(EmbeddedDynamoDb.NATIVE_LIBRARY_PREFIX)))
            .as("SQLite's native library, kept in the user's cache directory for the next start")
            .singleElement().satisfies(kept -> assertThat(kept.resolve(System.mapLibraryName("sqlite4java"))).isRegularFile());
        try (var left = Files.list(tmp)) {
          assertThat(left.map(file -> file.getFileName().toString()).filter(name -> name.startsWith("sqlite-")))
              .as("no copy of the native library left in the temporary directory (DynamoDB Local's own way)").isEmpty();
        }
      } finally {
        parent.descendants().forEach(ProcessHandle::destroyForcibly);
        parent.destroyForcibly();
      }

      Path built = Files.list(cache.resolve("aigw"))
          .filter(file -> !file.getFileName().toString().startsWith(EmbeddedDynamoDb.NATIVE_LIBRARY_PREFIX)).findFirst().orElseThrow();

      Process again = startJar(port, config, data, cache);
      try {
        ProcessHandle child = relaunchedChild(again);
        assertThat(String.join(" ", child.info().arguments().orElse(new String[0])))
            .as("the next start uses the cache")
            .contains((aot ? "-XX:AOTCache=" : "-XX:SharedArchiveFile=") + built);
        again.destroy();
        assertThat(again.waitFor(60, TimeUnit.SECONDS)).as("the second start stopped").isTrue();
      } finally {
        again.descendants().forEach(ProcessHandle::destroyForcibly);
        again.destroyForcibly();
      }
    } finally {
      provider.stop();
    }
  }

  /**
   * Both JVMs of a start read the jar's central directory before main, one entry at a time: the
   * libraries DynamoDB Local declares but the gateway never loads stay out of it (local/pom.xml).
   */
  @Test
  void theJarLeavesOutTheLibrariesNoStartLoads() throws Exception {
    assertThat(JAR).as("built by the package phase").exists();
    try (var jar = new java.util.zip.ZipFile(JAR.toFile())) {
      assertThat(jar.stream().map(java.util.zip.ZipEntry::getName)
              .filter(name -> name.startsWith("io/netty/") || name.startsWith("org/apache/hc/") || name.startsWith("org/mockito/")
                  || name.startsWith("software/amazon/awssdk/http/apache5/") || name.startsWith("software/amazon/awssdk/http/nio/")
                  || name.startsWith("org/apache/logging/log4j/core/"))
              .limit(3))
          .as("the SDK's Apache and Netty HTTP clients, Mockito 1 and log4j-core, unused").isEmpty();
      assertThat(jar.getEntry("org/apache/logging/log4j/simple/SimpleLoggerContextFactory.class"))
          .as("DynamoDB Local's logger context (EmbeddedDynamoDb)").isNotNull();
      assertThat(jar.getEntry("software/amazon/awssdk/http/urlconnection/UrlConnectionHttpClient.class"))
          .as("the HTTP client the aws mode's SDK clients use (AwsClients)").isNotNull();
    }
  }

  /** {@code java -jar aigw-local.jar} as a user starts it, with the user's cache directory in {@code cache}. */
  private Process startJar(int port, Path config, Path data, Path cache) throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    var builder = new ProcessBuilder(java, "-Djava.io.tmpdir=" + tmp, "-jar", JAR.toString(), "--port", Integer.toString(port), "--config", config.toString(),
            "--data-dir", data.toString(), "--rotation-check-seconds", "0")
        .redirectError(dir.resolve("stderr.txt").toFile());
    builder.environment().putAll(Map.of("AIGW_MASTER_KEY", MASTER, "OPENAI_API_KEY", "sk-test-provider-not-a-secret",
        "XDG_CACHE_HOME", cache.toString()));
    builder.environment().remove(SharedArchiveRelaunch.OPT_OUT_ENV);
    return builder.start();
  }

  /** Waits for the banner, then the one child the started process relaunched itself as. */
  private ProcessHandle relaunchedChild(Process parent) throws Exception {
    var out = new BufferedReader(new InputStreamReader(parent.getInputStream(), StandardCharsets.UTF_8));
    String line;
    do {
      line = out.readLine();
      assertThat(line).as("the gateway started: " + Files.readString(dir.resolve("stderr.txt"))).isNotNull();
    } while (!line.contains("listening on"));
    List<ProcessHandle> children = parent.children().toList();
    assertThat(children).as("the jar relaunched itself once").hasSize(1);
    return children.get(0);
  }
}

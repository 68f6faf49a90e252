package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A gateway started with TLS settings the JDK cannot use (here a {@code javax.net.ssl.trustStore}
 * that is not a key store) starts, says so in its log, and answers a call to an {@code https}
 * provider with a 502 that names the cause, in the route's error shape. The JDK makes its default
 * TLS context once per JVM, so the gateway runs in a child JVM of its own ({@link Main}, from
 * classes), started with the broken setting as an operator would start it.
 */
class LocalBrokenTlsSettingsTest {
  private static final String MASTER = "sk-broken-tls-master-0123456789abcdef";
  private static final String TRUST_STORE_PASSWORD = "trust-store-password-4711";

  @TempDir Path dir;

  @Test
  void anHttpsProviderCallGetsA502SayingTheJvmsTlsSettingsAreBroken() throws Exception {
    Path junk = dir.resolve("junk-truststore.jks");
    Files.writeString(junk, "not a key store\n");
    try (var provider = new ServerSocket(0)) { // nothing is sent to it: the connection needs the TLS context first
      Path stderr = dir.resolve("stderr.txt");
      Process gateway = start(provider, stderr, "-Djavax.net.ssl.trustStore=" + junk, "-Djavax.net.ssl.trustStorePassword=" + TRUST_STORE_PASSWORD);
      try {
        String url = baseUrl(gateway, stderr);

        var chat = post(url + "/v1/chat/completions", "{\"model\":\"remote\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertThat(chat.statusCode()).as(chat.body()).isEqualTo(502);
        JsonNode error = new ObjectMapper().readTree(chat.body()).path("error");
        assertThat(error.path("type").asText()).isEqualTo("api_connection_error");
        assertThat(error.path("code").asText()).isEqualTo("502");
        assertThat(error.path("message").asText())
            .contains("cannot make TLS connections", "the JVM's TLS settings are broken", "problem accessing trust store",
                "javax.net.ssl.trustStore", "'remote'", "127.0.0.1:" + provider.getLocalPort())
            .doesNotContain(TRUST_STORE_PASSWORD);

        var messages = post(url + "/v1/messages", "{\"model\":\"remote\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertThat(messages.statusCode()).as(messages.body()).isEqualTo(502);
        JsonNode anthropic = new ObjectMapper().readTree(messages.body());
        assertThat(anthropic.path("type").asText()).isEqualTo("error");
        assertThat(anthropic.path("error").path("type").asText()).isEqualTo("api_error");
        assertThat(anthropic.path("error").path("message").asText()).contains("the JVM's TLS settings are broken", "problem accessing trust store");

        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!Files.readString(stderr).contains("SEVERE") && System.nanoTime() < deadline) {
          Thread.sleep(100); // the log's line comes from the background, 1 s after listening
        }
        assertThat(Files.readString(stderr))
            .contains("SEVERE: The JVM's TLS settings are broken: providers on https:// cannot be called until they are fixed")
            .doesNotContain(TRUST_STORE_PASSWORD);
      } finally {
        gateway.destroy();
        if (!gateway.waitFor(30, TimeUnit.SECONDS)) {
          gateway.destroyForcibly();
        }
      }
    }
  }

  @Test
  void aMissingKeyStoreFilesPathIsNotInTheAnswer() throws Exception {
    Path missing = dir.resolve("private").resolve("client-key-4711.p12");
    try (var provider = new ServerSocket(0)) {
      Path stderr = dir.resolve("stderr.txt");
      Process gateway = start(provider, stderr, "-Djavax.net.ssl.keyStore=" + missing, "-Djavax.net.ssl.keyStorePassword=" + TRUST_STORE_PASSWORD);
      try {
        String url = baseUrl(gateway, stderr);

        var chat = post(url + "/v1/chat/completions", "{\"model\":\"remote\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertThat(chat.statusCode()).as(chat.body()).isEqualTo(502);
        assertThat(new ObjectMapper().readTree(chat.body()).path("error").path("message").asText())
            .contains("the JVM's TLS settings are broken", "javax.net.ssl.keyStore")
            .doesNotContain("client-key-4711", dir.toString(), TRUST_STORE_PASSWORD);
        assertThat(chat.body()).doesNotContain("client-key-4711");

        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!Files.readString(stderr).contains("client-key-4711") && System.nanoTime() < deadline) {
          Thread.sleep(100);
        }
        assertThat(Files.readString(stderr)).as("the operator's log has the JDK's reason").contains(missing.toString())
            .doesNotContain(TRUST_STORE_PASSWORD);
      } finally {
        gateway.destroy();
        if (!gateway.waitFor(30, TimeUnit.SECONDS)) {
          gateway.destroyForcibly();
        }
      }
    }
  }

  /** The gateway in a child JVM started with {@code jvmOptions}, its one model on https at {@code provider}'s port; its log in {@code stderr}. */
  private Process start(ServerSocket provider, Path stderr, String... jvmOptions) throws Exception {
    Path config = dir.resolve("config.yaml");
    Files.writeString(config, """
        model_list:
          - model_name: remote
            litellm_params: {model: openai/m, api_base: "https://127.0.0.1:%d/v1", api_key: os.environ/PROVIDER_KEY}
        """.formatted(provider.getLocalPort()));
    var command = new java.util.ArrayList<String>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(java.util.List.of(jvmOptions));
    command.addAll(java.util.List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(),
        "--port", "0", "--in-memory", "--rotation-check-seconds", "0", "--config", config.toString()));
    var builder = new ProcessBuilder(command).redirectError(stderr.toFile());
    builder.environment().putAll(Map.of(
        "AIGW_MASTER_KEY", MASTER, "AIGW_ALLOW_MASTER_KEY_FOR_MODELS", "true", "PROVIDER_KEY", "sk-provider-broken-tls-0123456789"));
    return builder.start();
  }

  /** The base URL the gateway's banner gives once it listens (a failed assertion with its log if it ends first). */
  private static String baseUrl(Process gateway, Path stderr) throws Exception {
    var out = new BufferedReader(new InputStreamReader(gateway.getInputStream(), StandardCharsets.UTF_8));
    String line;
    do {
      line = out.readLine();
      assertThat(line).as("the gateway started: " + Files.readString(stderr)).isNotNull();
    } while (!line.contains("listening on"));
    return line.substring(line.indexOf("listening on") + "listening on".length()).trim();
  }

  private static HttpResponse<String> post(String url, String body) throws Exception {
    var request = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(20))
        .header("Authorization", "Bearer " + MASTER).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body)).build();
    try (var http = HttpClient.newHttpClient()) {
      return http.send(request, HttpResponse.BodyHandlers.ofString());
    }
  }
}

package aigw.local.clients;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.json.Json;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Node.js clients that users run, unchanged, streaming as they do by default: the official OpenAI
 * Node SDK, the Vercel AI SDK's {@code streamText}, LangChain's {@code ChatOpenAI.stream()} and the
 * Continue CLI ({@code cn -p}). Each first against a plain OpenAI-compatible stand-in (proving the
 * script and the stand-in agree), then through the local gateway with the usage recorded on the key.
 * Scripts and pinned versions: {@code local/src/test/js}. Skipped only when node or npm is absent.
 */
class NodeClientsTest {
  /** One way of calling: a script of local/src/test/js (or the Continue CLI) and what it should see. */
  enum Client {
    OPENAI_NODE_CHAT("openai-node.mjs", "chat", ClientTestbed.CHAT_MODEL, null),
    OPENAI_NODE_CHAT_WITH_USAGE("openai-node.mjs", "chat-with-usage", ClientTestbed.CHAT_MODEL, "/usage/total_tokens"),
    OPENAI_NODE_COMPLETIONS("openai-node.mjs", "completions", ClientTestbed.COMPLETION_MODEL, null),
    VERCEL_AI_STREAM_TEXT("vercel-ai.mjs", null, ClientTestbed.CHAT_MODEL, "/usage/totalTokens"),
    LANGCHAIN_CHAT_OPENAI_STREAM("langchain.mjs", null, ClientTestbed.CHAT_MODEL, "/usage/total_tokens"),
    CONTINUE_CLI_PRINT(null, null, ClientTestbed.CHAT_MODEL, null);

    final String script;
    final String mode;
    final String model;
    /** Where the script prints the streamed usage's total; null when the client does not ask for usage. */
    final String usageTotal;

    Client(String script, String mode, String model, String usageTotal) {
      this.script = script;
      this.mode = mode;
      this.model = model;
      this.usageTotal = usageTotal;
    }
  }

  /** What a client ended with: the streamed text, and the usage it was given (missing if none). */
  record Outcome(String text, JsonNode printed) {}

  @TempDir static Path dir;
  @TempDir Path home;
  private static ClientTestbed testbed;

  @BeforeAll
  static void start() throws Exception {
    NodeClients.install();
    testbed = ClientTestbed.start(dir);
  }

  @AfterAll
  static void stop() {
    if (testbed != null) {
      testbed.close();
    }
  }

  private Outcome run(Client client, String baseUrl, String key) throws Exception {
    Map<String, String> env = Map.of("HOME", home.toString(), "AIGW_BASE_URL", baseUrl, "AIGW_API_KEY", key, "AIGW_MODEL", client.model);
    if (client.script == null) {
      return continueCli(baseUrl, key, env);
    }
    var run = NodeClients.node(client.script, client.mode == null ? List.of() : List.of(client.mode), env);
    assertThat(run.exitCode()).as("%s exited with %d:%n%s%n%s", client, run.exitCode(), run.stdout(), run.stderr()).isZero();
    String lastLine = run.stdout().strip().lines().reduce((first, last) -> last).orElse("{}");
    JsonNode printed = Json.MAPPER.readTree(lastLine);
    assertThat(printed.path("errors")).as("errors %s reported (stderr: %s)", client, run.stderr()).isEmpty();
    return new Outcome(printed.path("text").asText(), printed);
  }

  /** Continue's CLI in print mode, configured as README says, in a home of its own. */
  private Outcome continueCli(String baseUrl, String key, Map<String, String> env) throws Exception {
    Path config = home.resolve("config.yaml");
    Files.writeString(
        config,
        """
        name: aigw test
        version: 1.0.0
        schema: v1
        models:
          - name: %1$s via aigw
            provider: openai
            model: %1$s
            apiBase: %2$s
            apiKey: %3$s
            roles: [chat]
        """
            .formatted(ClientTestbed.CHAT_MODEL, baseUrl, key));
    var run = NodeClients.bin("cn", List.of("-p", "--config", config.toString(), "Say hello"), env, home);
    assertThat(run.exitCode()).as("cn exited with %d:%n%s%n%s", run.exitCode(), run.stdout(), run.stderr()).isZero();
    return new Outcome(run.stdout().strip(), Json.MAPPER.createObjectNode());
  }

  private static void assertUsageAsAsked(Client client, Outcome outcome) {
    if (client.usageTotal == null) {
      assertThat(outcome.printed().path("usage").isNull() || outcome.printed().path("usage").isMissingNode())
          .as("%s did not ask for usage, so no usage chunk reached it: %s", client, outcome.printed())
          .isTrue();
    } else {
      assertThat(outcome.printed().at(client.usageTotal).asInt()).as("%s usage: %s", client, outcome.printed()).isEqualTo(OpenAiStandIn.TOTAL_TOKENS);
    }
  }

  @ParameterizedTest
  @EnumSource(Client.class)
  void eachClientStreamsFromAPlainOpenAiStandIn(Client client) throws Exception {
    var outcome = run(client, testbed.standInBaseUrl(), "sk-direct-to-the-stand-in");

    assertThat(outcome.text()).isEqualTo(OpenAiStandIn.TEXT);
    assertUsageAsAsked(client, outcome);
  }

  @ParameterizedTest
  @EnumSource(Client.class)
  void eachClientStreamsThroughTheGatewayAndTheKeyRecordsTheUsage(Client client) throws Exception {
    String key = testbed.newKey();

    var outcome = run(client, testbed.gatewayBaseUrl(), key);

    assertThat(outcome.text()).isEqualTo(OpenAiStandIn.TEXT);
    assertUsageAsAsked(client, outcome);
    var info = testbed.keyInfoAfter(key, 1);
    assertThat(info.get("request_count").asLong()).isEqualTo(1);
    assertThat(info.get("total_tokens").asLong()).isEqualTo(OpenAiStandIn.TOTAL_TOKENS);
  }
}

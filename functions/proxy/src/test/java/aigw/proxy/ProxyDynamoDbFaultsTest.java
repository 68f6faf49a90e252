package aigw.proxy;

import static com.github.tomakehurst.wiremock.client.WireMock.*;
import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.Gateway;
import aigw.core.GatewaySettings;
import aigw.core.aws.AwsClients;
import aigw.core.config.ModelList;
import aigw.core.config.RouterSettings;
import aigw.core.json.Json;
import aigw.core.keys.ApiKeys;
import aigw.core.providers.Providers;
import aigw.core.providers.openai.OpenAiCompatibleProvider;
import aigw.core.secrets.StaticSecretSource;
import aigw.core.testing.Events;
import aigw.core.testing.FaultyDynamo;
import aigw.core.testing.FaultyDynamo.Fault;
import aigw.core.testing.MutableClock;
import aigw.core.testing.TestGateways;
import aigw.core.usage.FileUsageJournal;
import aigw.core.usage.UsageJournal;
import aigw.core.apigateway.ProxyResponseEvent;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;

/**
 * The proxy function over a DynamoDB that throttles, fails or drops connections on command
 * ({@link FaultyDynamo}: the gateway's own SDK client and retry policy, over HTTP): a client gets
 * 503 with {@code Retry-After}, never 500; usage DynamoDB cannot take is kept and replayed whole.
 */
class ProxyDynamoDbFaultsTest {
  private static final String KEY = Events.EVENTS_VIRTUAL_KEY;
  private static final String COMPLETION =
      """
      {"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini",
       "choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"finish_reason":"stop"}],
       "usage":{"prompt_tokens":11,"completion_tokens":2,"total_tokens":13}}
      """;

  private static WireMockServer upstream;
  private static FaultyDynamo dynamo;
  private final MutableClock clock = MutableClock.at("2026-05-01T12:00:00Z");

  @TempDir Path dataDir;

  @BeforeAll
  static void start() {
    upstream = aigw.core.testing.Upstream.start();
    upstream.stubFor(post("/v1/chat/completions").willReturn(okJson(COMPLETION)));
    dynamo = new FaultyDynamo();
  }

  @AfterAll
  static void stop() {
    upstream.stop();
    dynamo.close();
  }

  @BeforeEach
  void healthy() {
    dynamo.recover();
  }

  @AfterEach
  void recover() {
    dynamo.recover();
  }

  private Gateway gateway(UsageJournal journal) {
    var settings = GatewaySettings.fromEnvironment(Map.of("AIGW_KEYS_TABLE", dynamo.keysTable()));
    var models = new ModelList.Config(List.of(TestGateways.openAi("gpt-4o-mini", "gpt-4o-mini", upstream.baseUrl() + "/v1")), RouterSettings.defaults());
    return Gateway.over(
        settings, dynamo.client(), StaticSecretSource.of(TestGateways.MASTER_KEY), models,
        new Providers(OpenAiCompatibleProvider.defaultHttpClient()), journal, clock);
  }

  private static ProxyResponseEvent chat(Gateway gateway, String key) {
    return new ProxyHandler(new ProxyService(gateway)).handleRequest(Events.withKey(Events.load("proxy-chat-completions.json"), key), null);
  }

  private static JsonNode serviceUnavailable(ProxyResponseEvent response) throws Exception {
    assertThat(response.getStatusCode()).as(response.getBody()).isEqualTo(503);
    assertThat(response.getHeaders()).containsEntry("Retry-After", "1");
    assertThat(response.getBody()).doesNotContain("\tat ").doesNotContain("Exception:");
    JsonNode error = Json.MAPPER.readTree(response.getBody()).get("error");
    assertThat(error.get("type").asText()).isEqualTo("service_unavailable");
    assertThat(error.get("code").asText()).isEqualTo("503");
    return error;
  }

  @ParameterizedTest
  @EnumSource(Fault.class)
  void keyLookupThatDynamoDbRefusesGets503WithRetryAfterAfterTheSdkRetried(Fault fault) throws Exception {
    var gateway = gateway(new FileUsageJournal(dataDir.resolve("usage.jsonl")));
    String key = "sk-faults-lookup-" + fault.name().toLowerCase();
    TestGateways.storeKey(gateway, key, List.of(), null, false);
    int before = dynamo.failedAttempts();
    dynamo.fail("GetItem", fault);

    JsonNode error = serviceUnavailable(chat(gateway, key));

    assertThat(error.get("message").asText()).contains("DynamoDB");
    assertThat(dynamo.failedAttempts() - before).as("attempts the SDK made before giving up").isGreaterThan(1);
    dynamo.recover();
    assertThat(chat(gateway, key).getStatusCode()).isEqualTo(200);
  }

  @Test
  void dynamoDbThatRefusesConnectionsGets503WithRetryAfter() throws Exception {
    var nobodyListens = AwsClients.dynamoDbBuilder()
        .endpointOverride(URI.create("http://127.0.0.1:" + FaultyDynamo.freePort()))
        .region(Region.US_EAST_1)
        .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create("local", "local")))
        .build();
    var settings = GatewaySettings.fromEnvironment(Map.of("AIGW_KEYS_TABLE", dynamo.keysTable()));
    var gateway = Gateway.over(settings, nobodyListens, StaticSecretSource.of(TestGateways.MASTER_KEY), List.of(), clock);

    serviceUnavailable(chat(gateway, "sk-faults-refused-connection"));
  }

  @Test
  void usageDynamoDbRefusesIsKeptAnsweredAndReplayedSoTheCountersAreWhole() throws Exception {
    Path journalFile = dataDir.resolve("usage.jsonl");
    var gateway = gateway(new FileUsageJournal(journalFile));
    String key = "sk-faults-usage-kept";
    var stored = TestGateways.storeKey(gateway, key, List.of(), null, false);
    assertThat(chat(gateway, key).getStatusCode()).isEqualTo(200); // key now cached; 1 request counted
    int before = dynamo.failedAttempts();
    dynamo.fail("UpdateItem", Fault.THROTTLING);

    int duringOutage = 2;
    for (int i = 0; i < duringOutage; i++) {
      var response = chat(gateway, key);
      assertThat(response.getStatusCode()).as(response.getBody()).isEqualTo(200);
    }

    assertThat(dynamo.failedAttempts() - before).as("the SDK retried each write").isGreaterThan(duringOutage);
    assertThat(gateway.keyStore().usageOf(stored.keyId()).requests()).isEqualTo(1);
    assertThat(Files.readAllLines(journalFile)).hasSize(duringOutage).allSatisfy(line -> assertThat(line).contains(stored.keyId()).doesNotContain(key));
    assertThat(gateway.replayKeptUsage()).as("replay while DynamoDB is still down writes nothing").isZero();
    assertThat(Files.readAllLines(journalFile)).hasSize(duringOutage);

    dynamo.recover();
    // A restart: a new gateway over the same journal replays what the last one kept.
    var restarted = gateway(new FileUsageJournal(journalFile));
    assertThat(restarted.replayKeptUsage()).isEqualTo(duringOutage);
    assertThat(chat(restarted, key).getStatusCode()).isEqualTo(200);

    var usage = restarted.keyStore().usageOf(stored.keyId());
    assertThat(usage.requests()).isEqualTo(1 + duringOutage + 1);
    assertThat(usage.promptTokens()).isEqualTo(11L * (duringOutage + 2));
    assertThat(usage.totalTokens()).isEqualTo(13L * (duringOutage + 2));
    assertThat(journalFile).doesNotExist();
    assertThat(restarted.replayKeptUsage()).as("nothing is replayed twice").isZero();
    assertThat(restarted.keyStore().usageOf(stored.keyId()).requests()).isEqualTo(duringOutage + 2);
    assertThat(restarted.keyStore().findByHash(ApiKeys.hash(key))).isPresent();
  }

  @Test
  void usageThatNeitherDynamoDbNorTheJournalCanKeepIsHeldAndWrittenOnceDynamoDbIsBack() throws Exception {
    Path notADirectory = Files.writeString(dataDir.resolve("file"), "x");
    var gateway = gateway(new FileUsageJournal(notADirectory.resolve("usage.jsonl")));
    String key = "sk-faults-usage-nowhere";
    var stored = TestGateways.storeKey(gateway, key, List.of(), null, false);
    assertThat(chat(gateway, key).getStatusCode()).isEqualTo(200);
    dynamo.fail("UpdateItem", Fault.INTERNAL_SERVER_ERROR);

    // The answer was the client's before its usage was written: it stays 200, and the usage that
    // nothing could take stays in the writer's queue (503s start only once that queue is full:
    // WriteBehindUsageRecorderTest).
    assertThat(chat(gateway, key).getStatusCode()).isEqualTo(200);
    assertThat(gateway.usageWriter().backlog()).isEqualTo(1);

    dynamo.recover();
    assertThat(chat(gateway, key).getStatusCode()).isEqualTo(200);
    assertThat(gateway.usageWriter().backlog()).isZero();
    var usage = gateway.keyStore().usageOf(stored.keyId());
    assertThat(usage.requests()).as("every answered request, the held one included").isEqualTo(3);
    assertThat(usage.totalTokens()).isEqualTo(13L * 3);
  }
}

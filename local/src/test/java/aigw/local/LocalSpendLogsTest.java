package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.GatewaySettings;
import aigw.core.audit.AuditEvent;
import aigw.core.aws.TemplateTables;
import aigw.core.json.Json;
import aigw.core.spend.SpendLogEntry;
import aigw.core.spend.SpendLogReader;
import aigw.core.spend.dynamodb.DynamoDbLogs;
import aigw.core.spend.dynamodb.FileLogJournal;
import aigw.core.spend.dynamodb.LogItems;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import java.io.InputStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.math.BigDecimal;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.ProvisionedThroughputExceededException;

/**
 * The local gateway never loses an accepted spend record: the rows are in {@code DATA-DIR/spend-logs.db}
 * after a normal stop, and the rows an earlier version kept in DynamoDB Local's logs table or in
 * {@code logs-journal.jsonl} still show after the upgrade.
 */
class LocalSpendLogsTest {
  private static final String MASTER = "sk-local-spend-logs-master-0123456789";
  @TempDir Path data;
  private final HttpClient http = HttpClient.newHttpClient();

  private Path dataDir() {
    return data.resolve("gateway");
  }

  private LocalGateway start(String... more) {
    var args = new ArrayList<>(List.of("--port", "0", "--data-dir", dataDir().toString(), "--rotation-check-seconds", "0"));
    args.addAll(List.of(more));
    return LocalGateway.start(LocalOptions.parse(args.toArray(String[]::new), Map.of("AIGW_MASTER_KEY", MASTER)));
  }

  private static void record(LocalGateway gateway, int calls) {
    Instant now = Instant.now();
    for (int i = 0; i < calls; i++) {
      gateway.gateway().spendLogs().record(new SpendLogEntry("req-" + i, "key-1", "app", null, "gpt-4o-mini", "openai/gpt-4o-mini",
          3, 2, 5, new BigDecimal("0.001"), 200, 10, false, now.minusSeconds(calls - i)));
    }
  }

  private static List<String> logged(LocalGateway gateway) {
    Instant now = Instant.now();
    return gateway.gateway().spendLogReader().page(new SpendLogReader.Query("key-1", null, now.minus(Duration.ofHours(1)), now, 100, null))
        .entries().stream().map(SpendLogEntry::requestId).toList();
  }

  @Test
  void recordsAcceptedBeforeShutdownAreWrittenAtShutdownIntoTheDataDirectorysSqliteFile() {
    try (var gateway = start()) {
      record(gateway, 3);
    }
    assertThat(dataDir().resolve(SqliteSpendLogs.FILE_NAME)).exists();
    try (var restarted = start()) {
      assertThat(logged(restarted)).containsExactly("req-2", "req-1", "req-0");
    }
  }

  private HttpResponse<String> send(LocalGateway gateway, String method, String path, String key, String body) throws Exception {
    var request = HttpRequest.newBuilder(URI.create(gateway.baseUrl() + path)).timeout(Duration.ofSeconds(10))
        .header("Content-Type", "application/json").header("Authorization", "Bearer " + key)
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private JsonNode admin(LocalGateway gateway, String method, String path, String body) throws Exception {
    var response = send(gateway, method, path, MASTER, body);
    assertThat(response.statusCode()).as("%s %s %s", method, path, response.body()).isEqualTo(200);
    return Json.MAPPER.readTree(response.body());
  }

  @Test
  void everyCallServedBeforeANormalStopIsInSpendLogsAfterTheRestartAsManyAsTheKeysRequestCount() throws Exception {
    WireMockServer upstream = aigw.core.testing.Upstream.answeringChatCompletions();
    try {
      Path config = data.resolve("config.yaml");
      Files.writeString(config, """
          model_list:
            - model_name: model-a
              litellm_params: {model: openai/gpt-4o-mini, api_base: "%s/v1", api_key: sk-provider-spend}
          """.formatted(upstream.baseUrl()));
      int calls = 40;
      String key;
      String keyId;
      try (var gateway = start("--config", config.toString())) {
        JsonNode generated = admin(gateway, "POST", "/key/generate", "{\"key_alias\":\"app-spend\"}");
        key = generated.path("key").asText();
        keyId = generated.path("key_id").asText();
        for (int i = 0; i < calls; i++) {
          var call = send(gateway, "POST", "/v1/chat/completions", key, "{\"model\":\"model-a\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
          assertThat(call.statusCode()).as(call.body()).isEqualTo(200);
        }
      } // a normal stop, right after the last answer: no read flushed the rows before it
      try (var restarted = start("--config", config.toString())) {
        var rows = new ArrayList<JsonNode>();
        String cursor = null;
        do {
          var page = send(restarted, "GET", "/spend/logs?api_key=" + keyId + "&page_size=15" + (cursor == null ? "" : "&cursor=" + cursor), MASTER, null);
          assertThat(page.statusCode()).as(page.body()).isEqualTo(200);
          Json.MAPPER.readTree(page.body()).forEach(rows::add);
          cursor = page.headers().firstValue("x-aigw-next-cursor").orElse(null);
        } while (cursor != null);
        JsonNode info = admin(restarted, "GET", "/key/info?key=" + key, null).path("info");
        assertThat(info.path("request_count").asLong()).isEqualTo(calls);
        assertThat(rows).as("one row per call, as many as the key's request_count").hasSize(calls);
        assertThat(rows.stream().map(row -> row.path("request_id").asText()).distinct().count()).isEqualTo(calls);
        BigDecimal logged = rows.stream().map(row -> row.path("spend").decimalValue()).reduce(BigDecimal.ZERO, BigDecimal::add);
        assertThat(logged).isEqualByComparingTo(info.path("spend").decimalValue());

        var badCursor = send(restarted, "GET", "/spend/logs?cursor=not-a-cursor", MASTER, null);
        assertThat(badCursor.statusCode()).isEqualTo(400);
        JsonNode error = Json.MAPPER.readTree(badCursor.body()).path("error");
        assertThat(error.path("param").asText()).isEqualTo("cursor");
        assertThat(error.path("message").asText()).startsWith("Invalid cursor");
      }
    } finally {
      upstream.stop();
    }
  }

  /** A DynamoDB client that refuses every BatchWriteItem, as a throttled table does. */
  private static DynamoDbClient refusingBatches(DynamoDbClient dynamo) {
    return (DynamoDbClient) Proxy.newProxyInstance(
        DynamoDbClient.class.getClassLoader(), new Class<?>[] {DynamoDbClient.class}, (proxy, method, args) -> {
          if (method.getName().equals("batchWriteItem")) {
            throw ProvisionedThroughputExceededException.builder().message("throttled (SDK Attempt Count: 9)").statusCode(400).build();
          }
          try {
            return method.invoke(dynamo, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
        });
  }

  @Test
  void spendRowsAnEarlierVersionKeptInTheLogsTableAndItsJournalShowAfterTheUpgradeOnce() throws Exception {
    // The data directory as the earlier version left it: spend rows in DynamoDB Local's logs table,
    // more in logs-journal.jsonl (the table refused them), and an audit event.
    var settings = GatewaySettings.fromEnvironment(Map.of());
    String table = settings.logs().table();
    Instant now = Instant.now();
    try (var embedded = EmbeddedDynamoDb.inDirectory(dataDir())) {
      try (InputStream template = LocalGateway.class.getResourceAsStream(LocalGateway.TEMPLATE_RESOURCE)) {
        TemplateTables.createAll(embedded.client(), template, LocalGateway.localTableNames(settings));
      }
      var journal = new FileLogJournal(dataDir().resolve(FileLogJournal.FILE_NAME));
      var earlier = new DynamoDbLogs(embedded.client(), table, settings.logs().retention(), journal);
      for (int i = 0; i < 30; i++) {
        earlier.record(new SpendLogEntry("table-" + i, "key-1", "app", "team-1", "gpt-4o-mini", "openai/gpt-4o-mini",
            3, 2, 5, new BigDecimal("0.001"), 200, 10, false, now.minusSeconds(100 - i)));
      }
      earlier.flush();
      earlier.record(new AuditEvent("key.generate", "key", "key-1", "master_key", null, now.minusSeconds(200), List.of(), Map.of()));
      var refused = new DynamoDbLogs(refusingBatches(embedded.client()), table, settings.logs().retention(), journal);
      refused.record(new SpendLogEntry("journal-0", "key-1", "app", "team-1", "gpt-4o-mini", "openai/gpt-4o-mini",
          3, 2, 5, new BigDecimal("0.001"), 200, 10, false, now.minusSeconds(10)));
      refused.flush();
    }
    assertThat(Files.readAllLines(dataDir().resolve(FileLogJournal.FILE_NAME))).hasSize(1);

    for (int start = 0; start < 2; start++) {
      try (var upgraded = start()) {
        var page = upgraded.gateway().spendLogReader().page(
            new SpendLogReader.Query(null, "team-1", now.minus(Duration.ofHours(1)), now, 100, null));
        assertThat(page.entries()).extracting(SpendLogEntry::requestId).as("start %d", start).hasSize(31).startsWith("journal-0", "table-29")
            .endsWith("table-0").doesNotHaveDuplicates();
        assertThat(page.entries().get(1)).isEqualTo(new SpendLogEntry("table-29", "key-1", "app", "team-1", "gpt-4o-mini", "openai/gpt-4o-mini",
            3, 2, 5, new BigDecimal("0.001"), 200, 10, false, Instant.ofEpochMilli(now.minusSeconds(71).toEpochMilli())));
        var left = upgraded.gateway().auditLogReader().page(
            new aigw.core.audit.AuditLogReader.Query(null, null, null, now.minus(Duration.ofHours(1)), now, 100, null));
        assertThat(left.entries()).as("audit events stay in the table").extracting(e -> e.event().action()).containsExactly("key.generate");
      }
    }
    assertThat(dataDir().resolve(FileLogJournal.FILE_NAME)).doesNotExist();
    try (var embedded = EmbeddedDynamoDb.inDirectory(dataDir())) {
      var items = embedded.client().scan(b -> b.tableName(table)).items();
      assertThat(items).as("the spend rows moved out of the table").noneMatch(LogItems::isSpendItem).hasSize(1);
    }
  }

  @Test
  void aSpendLogDatabaseThatCannotBeWrittenAnswers503WithAShortMessageAndNoPathOrSql() throws Exception {
    try (var gateway = start()) {
      NativeSqlite.load();
      var other = new com.almworks.sqlite4java.SQLiteConnection(dataDir().resolve(SqliteSpendLogs.FILE_NAME).toFile()).open(false);
      other.exec("BEGIN EXCLUSIVE"); // the gateway's writes fail ("database is locked"), as on a full disk
      try {
        record(gateway, 1);
        var response = send(gateway, "GET", "/spend/logs", MASTER, null);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(503);
        JsonNode error = Json.MAPPER.readTree(response.body()).path("error");
        assertThat(error.path("message").asText()).startsWith("The spend-log database cannot be written").contains("See the gateway's log");
        assertThat(response.body()).doesNotContain(dataDir().toString(), "spend-logs.db", "INSERT", "DB[", "locked");
      } finally {
        other.exec("ROLLBACK");
        other.dispose();
      }
      assertThat(send(gateway, "GET", "/spend/logs", MASTER, null).statusCode()).as("written once the file is back").isEqualTo(200);
    }
  }
}

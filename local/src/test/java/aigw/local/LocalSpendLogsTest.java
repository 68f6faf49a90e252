package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.spend.SpendLogEntry;
import aigw.core.spend.SpendLogReader;
import aigw.core.spend.dynamodb.FileLogJournal;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.ProvisionedThroughputExceededException;

/**
 * The local gateway never loses an accepted spend record: what is still in memory is written when
 * it shuts down, and what DynamoDB refused is kept in the data directory and written at the next start.
 */
class LocalSpendLogsTest {
  @TempDir Path data;

  private LocalGateway start(UnaryOperator<DynamoDbClient> decorate) {
    var options = LocalOptions.parse(
        new String[] {"--port", "0", "--data-dir", data.resolve("gateway").toString(), "--rotation-check-seconds", "0"},
        Map.of("AIGW_MASTER_KEY", "sk-local-spend-logs-master-0123456789"));
    return LocalGateway.start(options, decorate);
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
  void recordsAcceptedBeforeShutdownAreWrittenAtShutdown() {
    try (var gateway = start(UnaryOperator.identity())) {
      record(gateway, 3);
    }
    try (var restarted = start(UnaryOperator.identity())) {
      assertThat(logged(restarted)).containsExactly("req-2", "req-1", "req-0");
    }
  }

  @Test
  void recordsDynamoDbRefusedAreKeptInTheDataDirectoryAndWrittenAtTheNextStart() throws Exception {
    UnaryOperator<DynamoDbClient> refusingBatches = dynamo -> (DynamoDbClient) Proxy.newProxyInstance(
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
    try (var gateway = start(refusingBatches)) {
      record(gateway, 4);
    }
    Path journal = data.resolve("gateway").resolve(FileLogJournal.FILE_NAME);
    assertThat(Files.readAllLines(journal)).hasSize(4);
    try (var restarted = start(UnaryOperator.identity())) {
      assertThat(logged(restarted)).containsExactly("req-3", "req-2", "req-1", "req-0");
      assertThat(Files.exists(journal)).isFalse();
    }
  }
}

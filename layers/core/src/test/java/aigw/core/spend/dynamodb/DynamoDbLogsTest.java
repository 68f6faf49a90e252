package aigw.core.spend.dynamodb;

import static aigw.core.spend.SpendLogReadContract.call;
import static aigw.core.spend.SpendLogReadContract.ids;
import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.audit.AuditEvent;
import aigw.core.audit.AuditLogReader;
import aigw.core.spend.SpendLogReader;
import aigw.core.testing.LocalDynamo;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.BatchWriteItemRequest;
import software.amazon.awssdk.services.dynamodb.model.BatchWriteItemResponse;
import software.amazon.awssdk.services.dynamodb.model.WriteRequest;

/**
 * The logs table against DynamoDB Local, created from template.yaml: writes, retries, the journal,
 * audit events. Its spend reads are the shared contract ({@link DynamoDbLogsReadTest}).
 */
class DynamoDbLogsTest {
  private static final Instant DAY_1 = Instant.parse("2026-11-01T10:00:00Z");
  private static final Duration RETENTION = Duration.ofDays(30);

  private final LocalDynamo dynamo = new LocalDynamo();
  @TempDir Path dataDir;
  private final List<Duration> waits = new CopyOnWriteArrayList<>();

  @AfterEach
  void close() {
    dynamo.close();
  }

  private DynamoDbLogs logs(DynamoDbClient client) {
    return new DynamoDbLogs(client, dynamo.logsTable(), RETENTION, new FileLogJournal(dataDir.resolve(FileLogJournal.FILE_NAME)), waits::add);
  }

  @Test
  void eachItemExpiresItsRetentionAfterItsTime() {
    var logs = logs(dynamo.client());
    logs.record(call("r1", "key-a", null, DAY_1));
    logs.flush();
    logs.record(new AuditEvent("key.generate", "key", "key-a", "master_key", "203.0.113.9", DAY_1, List.of("models"), Map.of()));
    var items = dynamo.client().scan(b -> b.tableName(dynamo.logsTable())).items();
    assertThat(items).hasSize(2);
    for (var item : items) {
      assertThat(Long.parseLong(item.get("purge_at").n())).isEqualTo(DAY_1.plus(RETENTION).getEpochSecond());
    }
  }

  /** A client that answers the first {@code refusals} BatchWriteItem calls by holding back all but the first item, as DynamoDB does when throttled. */
  private static DynamoDbClient holdingBack(DynamoDbClient real, int refusals, AtomicInteger calls) {
    return intercepting(real, request -> {
      if (request instanceof BatchWriteItemRequest batch) {
        int call = calls.incrementAndGet();
        if (call <= refusals) {
          var entry = batch.requestItems().entrySet().iterator().next();
          List<WriteRequest> all = entry.getValue();
          real.batchWriteItem(b -> b.requestItems(Map.of(entry.getKey(), all.subList(0, 1))));
          return BatchWriteItemResponse.builder().unprocessedItems(Map.of(entry.getKey(), all.subList(1, all.size()))).build();
        }
      }
      return null;
    });
  }

  static DynamoDbClient intercepting(DynamoDbClient real, Function<Object, Object> answer) {
    return (DynamoDbClient) java.lang.reflect.Proxy.newProxyInstance(DynamoDbClient.class.getClassLoader(), new Class<?>[] {DynamoDbClient.class},
        (self, method, args) -> {
          if (args != null && args.length == 1 && args[0] instanceof java.util.function.Consumer<?>) {
            return InvocationHandler.invokeDefault(self, method, args);
          }
          if (args != null && args.length == 1) {
            Object answered = answer.apply(args[0]);
            if (answered != null) {
              return answered;
            }
          }
          try {
            return method.invoke(real, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
        });
  }

  @Test
  void unprocessedItemsAreSentAgainWithGrowingBackoffUntilAllAreWritten() {
    var calls = new AtomicInteger();
    var logs = logs(holdingBack(dynamo.client(), 3, calls));
    for (int i = 0; i < 10; i++) {
      logs.record(call("r" + i, "key-a", null, DAY_1.plusSeconds(i)));
    }
    logs.flush();
    assertThat(calls.get()).as("three refusals, then the rest at once").isEqualTo(4);
    assertThat(dynamo.client().scan(b -> b.tableName(dynamo.logsTable())).items()).hasSize(10);
    assertThat(waits).hasSize(3);
    assertThat(waits.get(2)).isGreaterThanOrEqualTo(Duration.ofMillis(100)); // the third wait: at least half of 200 ms
    assertThat(Files.exists(dataDir.resolve(FileLogJournal.FILE_NAME))).as("nothing had to be kept").isFalse();
  }

  @Test
  void recordingWritesEachFullBatchOf25AtOnceAndFlushWritesTheRest() {
    var calls = new AtomicInteger();
    var logs = logs(intercepting(dynamo.client(), request -> {
      if (request instanceof BatchWriteItemRequest batch) {
        calls.incrementAndGet();
        assertThat(batch.requestItems().get(dynamo.logsTable()).size()).isLessThanOrEqualTo(25);
      }
      return null;
    }));
    for (int i = 0; i < 30; i++) {
      logs.record(call("r" + i, "key-a", null, DAY_1.plusSeconds(i))); // the 25th starts a batch write in the background
    }
    logs.flush(); // waits for that write, then writes the other 5
    assertThat(calls.get()).as("one batch of 25, one of 5").isEqualTo(2);
    assertThat(logs.pendingCount()).isZero();
    assertThat(dynamo.client().scan(b -> b.tableName(dynamo.logsTable())).items()).hasSize(30);
  }

  @Test
  void itemsStillRefusedAreKeptInTheJournalAndAReplayWritesThemOnce() throws Exception {
    var logs = logs(intercepting(dynamo.client(), request -> request instanceof BatchWriteItemRequest batch
        ? BatchWriteItemResponse.builder().unprocessedItems(batch.requestItems()).build() // throttled: nothing written
        : null));
    for (int i = 0; i < 4; i++) {
      logs.record(call("r" + i, "key-a", null, DAY_1.plusSeconds(i)));
    }
    logs.flush();
    assertThat(waits).hasSize(DynamoDbLogs.MAX_ATTEMPTS - 1);
    Path journal = dataDir.resolve(FileLogJournal.FILE_NAME);
    assertThat(Files.readAllLines(journal)).hasSize(4);
    assertThat(String.join("\n", Files.readAllLines(journal))).doesNotContain("prompt");

    var healthy = logs(dynamo.client());
    assertThat(healthy.replayKept()).isEqualTo(4);
    assertThat(healthy.replayKept()).as("nothing left to replay").isZero();
    assertThat(Files.exists(journal)).isFalse();
    var page = healthy.page(new SpendLogReader.Query("key-a", null, DAY_1, DAY_1.plusSeconds(10), 50, null));
    assertThat(ids(page)).containsExactly("r3", "r2", "r1", "r0");
  }

  @Test
  void auditEventsAreWrittenAtOnceAndReadByObjectActionAndDate() {
    var logs = logs(dynamo.client());
    logs.record(new AuditEvent("key.generate", "key", "key-a", "master_key", "203.0.113.9", DAY_1, List.of("models", "key_alias"), Map.of()));
    logs.record(new AuditEvent("key.block", "key", "key-a", "master_key", "203.0.113.9", DAY_1.plusSeconds(5), List.of("blocked"), Map.of()));
    logs.record(new AuditEvent("team.new", "team", "team-x", "master_key", null, DAY_1.plus(Duration.ofDays(1)), List.of(), Map.of("n", 1)));
    Instant from = DAY_1.minusSeconds(1);
    Instant to = DAY_1.plus(Duration.ofDays(2));
    var byKey = logs.page(new AuditLogReader.Query("key-a", null, null, from, to, 50, null));
    assertThat(byKey.entries()).extracting(e -> e.event().action()).containsExactly("key.block", "key.generate");
    assertThat(byKey.entries().get(1).event())
        .isEqualTo(new AuditEvent("key.generate", "key", "key-a", "master_key", "203.0.113.9", DAY_1, List.of("models", "key_alias"), Map.of()));
    var all = logs.page(new AuditLogReader.Query(null, null, null, from, to, 50, null));
    assertThat(all.entries()).extracting(e -> e.event().action()).containsExactly("team.new", "key.block", "key.generate");
    var blocks = logs.page(new AuditLogReader.Query(null, null, "key.block", from, to, 50, null));
    assertThat(blocks.entries()).extracting(e -> e.event().objectId()).containsExactly("key-a");
    var teams = logs.page(new AuditLogReader.Query(null, "team", null, from, to, 50, null));
    assertThat(teams.entries()).extracting(e -> e.event().details()).containsExactly(Map.of("n", 1));
    var firstOfTwo = logs.page(new AuditLogReader.Query(null, null, null, from, to, 2, null));
    var rest = logs.page(new AuditLogReader.Query(null, null, null, from, to, 2, firstOfTwo.next()));
    assertThat(rest.entries()).extracting(e -> e.event().action()).containsExactly("key.generate");
  }

  @Test
  void anAuditEventDynamoDbRefusesIsKeptInTheJournal() throws Exception {
    var logs = logs(intercepting(dynamo.client(), request -> {
      if (request instanceof software.amazon.awssdk.services.dynamodb.model.PutItemRequest) {
        throw software.amazon.awssdk.services.dynamodb.model.DynamoDbException.builder().message("throttled").build();
      }
      return null;
    }));
    logs.record(new AuditEvent("key.delete", "key", "key-a", "master_key", null, DAY_1, List.of(), Map.of()));
    assertThat(Files.readString(dataDir.resolve(FileLogJournal.FILE_NAME))).contains("key.delete").contains("audit#key-a");
    assertThat(logs(dynamo.client()).replayKept()).isEqualTo(1);
    assertThat(dynamo.client().scan(b -> b.tableName(dynamo.logsTable())).items()).hasSize(1);
  }

  @Test
  void aJournalItemIsDynamoDbsOwnJsonForm() {
    Map<String, AttributeValue> item = LogItems.spendItem(call("r1", "key-a", "team-x", DAY_1), RETENTION);
    String json = LogItems.toJson(item);
    assertThat(json).contains("\"pk\":{\"S\":\"key#key-a\"}").contains("\"c\":{\"N\":\"0.000123\"}");
    assertThat(LogItems.fromJson(LoggedLogJournal.MARKER + " " + json)).isEqualTo(item);
  }
}

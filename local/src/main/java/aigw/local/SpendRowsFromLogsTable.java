package aigw.local;

import aigw.core.spend.SpendLogEntry;
import aigw.core.spend.dynamodb.DynamoDbLogs;
import aigw.core.spend.dynamodb.LogItems;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.logging.Logger;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.ScanResponse;
import software.amazon.awssdk.services.dynamodb.model.WriteRequest;

/**
 * Continuity for a data directory of an earlier version, which kept the spend logs in DynamoDB
 * Local's logs table (and the ones the table refused in {@code logs-journal.jsonl}, which the
 * gateway replays into the table first): at start their rows are moved into {@link SqliteSpendLogs}
 * (written there and committed first, then deleted from the table), so {@code /spend/logs} and the
 * summaries still show them. A stop in between leaves a row in both, and the next start moves it
 * again onto itself (the store replaces a row with the same start, request id and key): never lost,
 * never counted twice. Audit events stay in the table.
 *
 * <p>A Scan of the local table, page by page: once the spend rows are moved, it reads the audit
 * events only (a few per admin action), so later starts pay next to nothing.
 */
final class SpendRowsFromLogsTable {
  private static final Logger LOG = Logger.getLogger(SpendRowsFromLogsTable.class.getName());

  private SpendRowsFromLogsTable() {}

  /** @return how many spend rows were moved */
  static int move(DynamoDbClient dynamo, String table, SqliteSpendLogs store) {
    int moved = 0;
    Map<String, AttributeValue> start = null;
    do {
      final Map<String, AttributeValue> from = start;
      ScanResponse page = dynamo.scan(b -> b.tableName(table).exclusiveStartKey(from)
          .filterExpression("begins_with(#p, :k)").expressionAttributeNames(Map.of("#p", LogItems.PK))
          .expressionAttributeValues(Map.of(":k", AttributeValue.fromS("key#"))));
      var items = page.items().stream().filter(LogItems::isSpendItem).toList();
      if (!items.isEmpty()) {
        var rows = new ArrayList<SpendLogEntry>(items.size());
        long[] purgeAt = new long[items.size()];
        for (int i = 0; i < items.size(); i++) {
          rows.add(LogItems.spendEntry(items.get(i)));
          AttributeValue purge = items.get(i).get(LogItems.PURGE_AT);
          purgeAt[i] = purge == null ? Long.MAX_VALUE : Long.parseLong(purge.n());
        }
        store.insertKept(rows, purgeAt); // committed before anything is deleted from the table
        delete(dynamo, table, items);
        moved += items.size();
      }
      start = page.hasLastEvaluatedKey() && !page.lastEvaluatedKey().isEmpty() ? page.lastEvaluatedKey() : null;
    } while (start != null);
    if (moved > 0) {
      LOG.info("Moved " + moved + " spend-log row(s) of an earlier version from the logs table into " + store.describe());
    }
    return moved;
  }

  private static void delete(DynamoDbClient dynamo, String table, List<Map<String, AttributeValue>> items) {
    for (int i = 0; i < items.size(); i += DynamoDbLogs.BATCH) {
      List<WriteRequest> deletes = new ArrayList<>();
      for (var item : items.subList(i, Math.min(items.size(), i + DynamoDbLogs.BATCH))) {
        deletes.add(WriteRequest.builder()
            .deleteRequest(d -> d.key(Map.of(LogItems.PK, item.get(LogItems.PK), LogItems.SK, item.get(LogItems.SK)))).build());
      }
      for (int attempt = 0; !deletes.isEmpty(); attempt++) {
        final List<WriteRequest> batch = deletes;
        var response = dynamo.batchWriteItem(b -> b.requestItems(Map.of(table, batch)));
        deletes = response.unprocessedItems().getOrDefault(table, List.of());
        if (!deletes.isEmpty() && attempt >= 8) {
          // Left in the table: moved again (onto themselves) at the next start.
          LOG.warning(deletes.size() + " moved spend-log row(s) stay in the logs table too; the next start moves them again");
          break;
        }
      }
    }
  }
}

package aigw.core.spend.dynamodb;

import aigw.core.spend.SpendLogReadContract;
import aigw.core.testing.LocalDynamo;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

/** The spend-log read contract against the logs table in DynamoDB Local (Queries on the table and its ByTeam and ByDay indexes, never a Scan). */
class DynamoDbLogsReadTest extends SpendLogReadContract {
  private final LocalDynamo dynamo = new LocalDynamo();
  @TempDir Path dataDir;
  private DynamoDbLogs logs;

  @AfterEach
  void close() {
    dynamo.close();
  }

  @Override
  protected Store emptyStore() {
    logs = new DynamoDbLogs(dynamo.client(), dynamo.logsTable(), Duration.ofDays(30), new FileLogJournal(dataDir.resolve(FileLogJournal.FILE_NAME)));
    return new Store(logs, logs);
  }

  @Override
  protected int pendingCount() {
    return logs.pendingCount();
  }
}

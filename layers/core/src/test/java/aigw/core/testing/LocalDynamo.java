package aigw.core.testing;

import aigw.core.aws.TemplateTables;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.dynamodb.services.local.embedded.DynamoDBEmbedded;
import software.amazon.dynamodb.services.local.shared.access.AmazonDynamoDBLocal;

/**
 * DynamoDB Local embedded in the test JVM, in memory, with the tables of the repository's
 * template.yaml. Each instance gets its own table names, so tests sharing one engine stay apart.
 */
public final class LocalDynamo implements AutoCloseable {
  private static final AtomicInteger COUNTER = new AtomicInteger();

  private final AmazonDynamoDBLocal local;
  private final DynamoDbClient client;
  private final String keysTable;
  private final String logsTable;

  public LocalDynamo() {
    this.local = DynamoDBEmbedded.create(null, true); // true: telemetry opt-out
    this.client = local.dynamoDbClient();
    int id = COUNTER.incrementAndGet();
    this.keysTable = "keys-" + id;
    this.logsTable = "logs-" + id;
    try (InputStream template = Files.newInputStream(RepoFiles.resolve("template.yaml"))) {
      TemplateTables.createAll(client, template, Map.of("KeysTable", keysTable, "LogsTable", logsTable));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public DynamoDbClient client() {
    return client;
  }

  public String keysTable() {
    return keysTable;
  }

  /** The spend and audit logs table (template.yaml's LogsTable). */
  public String logsTable() {
    return logsTable;
  }

  @Override
  public void close() {
    client.close();
    local.shutdown();
  }
}

package aigw.local;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.dynamodb.services.local.embedded.DynamoDBEmbedded;
import software.amazon.dynamodb.services.local.shared.access.AmazonDynamoDBLocal;

/**
 * DynamoDB Local inside this JVM: no network port, no Docker. In memory, or kept in a data
 * directory between runs. Its worker threads are not daemons, so it must be closed.
 */
public final class EmbeddedDynamoDb implements AutoCloseable {
  private final AmazonDynamoDBLocal local;
  private final DynamoDbClient client;

  private EmbeddedDynamoDb(AmazonDynamoDBLocal local) {
    this.local = local;
    this.client = local.dynamoDbClient();
  }

  public static EmbeddedDynamoDb inMemory() {
    return new EmbeddedDynamoDb(DynamoDBEmbedded.create(null, false)); // false: no telemetry
  }

  public static EmbeddedDynamoDb inDirectory(Path directory) {
    try {
      Files.createDirectories(directory);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("cannot create the data directory " + directory, e);
    }
    // The embedded engine takes the SQLite file itself, not a directory.
    File database = directory.resolve("dynamodb-local.db").toFile();
    return new EmbeddedDynamoDb(DynamoDBEmbedded.create(database, false));
  }

  public DynamoDbClient client() {
    return client;
  }

  @Override
  public void close() {
    client.close();
    local.shutdown();
  }
}

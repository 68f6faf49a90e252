package aigw.local;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.dynamodb.services.local.embedded.DynamoDBEmbedded;
import software.amazon.dynamodb.services.local.shared.access.AmazonDynamoDBLocal;

/**
 * DynamoDB Local inside this JVM: no network port, no Docker. In memory, or kept in a data
 * directory between runs. Its worker threads are not daemons, so it must be closed.
 */
public final class EmbeddedDynamoDb implements AutoCloseable {
  /**
   * DynamoDBEmbedded.create's Boolean is an opt-out: false would start its telemetry client, which
   * calls Cognito and Pinpoint over the network at every start (seconds, with retries, when offline).
   */
  static final boolean TELEMETRY_OPT_OUT = true;

  static {
    // DynamoDB Local logs through log4j2; starting log4j-core (configuration, plugins, JMX) took
    // about a third of the gateway's start-up in a profile. The simple context of log4j-api prints
    // errors only, which is all we want from an embedded database. Set before its classes load.
    setIfAbsent("log4j2.loggerContextFactory", "org.apache.logging.log4j.simple.SimpleLoggerContextFactory");
    setIfAbsent("log4j2.disable.jmx", "true");
  }

  /**
   * sqlite4java warns "SQLite: unknown jar version" at every start: it reads its version from a jar
   * name that shading changed. Harmless, and the first line a newcomer sees; only its errors remain.
   * A field: java.util.logging holds loggers weakly, and a collected one forgets its level.
   */
  private static final java.util.logging.Logger SQLITE_LOG = quietSqlite();

  private static java.util.logging.Logger quietSqlite() {
    var logger = java.util.logging.Logger.getLogger("com.almworks.sqlite4java");
    logger.setLevel(java.util.logging.Level.SEVERE);
    return logger;
  }

  private static void setIfAbsent(String property, String value) {
    if (System.getProperty(property) == null) {
      System.setProperty(property, value);
    }
  }

  private final AmazonDynamoDBLocal local;
  private final DynamoDbClient client;
  /** The SQLite queue threads this database started; see {@link #close()}. */
  private final List<Thread> sqliteQueues;

  private EmbeddedDynamoDb(java.util.function.Supplier<AmazonDynamoDBLocal> create) {
    Set<Thread> before = sqliteQueueThreads();
    this.local = create.get();
    this.client = local.dynamoDbClient();
    var started = new ArrayList<>(sqliteQueueThreads());
    started.removeAll(before);
    this.sqliteQueues = List.copyOf(started);
  }

  /**
   * sqlite4java names each queue's thread {@code SQLiteQueue[<file>]}. DynamoDB Local opens its queue
   * when it is created; only the threads of that moment are ours (one database starts at a time).
   */
  private static Set<Thread> sqliteQueueThreads() {
    var threads = new HashSet<Thread>();
    for (Thread thread : Thread.getAllStackTraces().keySet()) {
      if (thread.getName().startsWith("SQLiteQueue[")) {
        threads.add(thread);
      }
    }
    return threads;
  }

  public static EmbeddedDynamoDb inMemory() {
    return new EmbeddedDynamoDb(() -> DynamoDBEmbedded.create(null, TELEMETRY_OPT_OUT));
  }

  public static EmbeddedDynamoDb inDirectory(Path directory) {
    try {
      Files.createDirectories(directory);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("cannot create the data directory " + directory, e);
    }
    // The embedded engine takes the SQLite file itself, not a directory.
    File database = directory.resolve("dynamodb-local.db").toFile();
    return new EmbeddedDynamoDb(() -> DynamoDBEmbedded.create(database, TELEMETRY_OPT_OUT));
  }

  public DynamoDbClient client() {
    return client;
  }

  /**
   * Shuts the database down and waits until SQLite has closed its file. DynamoDB Local's shutdown
   * only asks sqlite4java's queue to stop (SQLiteQueue.stop without join): its thread closes the
   * connection a moment later. Returning before that left the file open, so the next gateway on the
   * same data directory in this JVM got "database is locked", and a directory deleted right after
   * close (a test's temporary one) made the late close fail with a logged "disk I/O error".
   */
  @Override
  public void close() {
    client.close();
    local.shutdown();
    for (Thread queue : sqliteQueues) {
      try {
        queue.join(10_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }
}

package aigw.local;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.dynamodb.services.local.embedded.DynamoDBEmbedded;
import software.amazon.dynamodb.services.local.shared.access.AmazonDynamoDBLocal;
import software.amazon.dynamodb.services.local.shared.access.sqlite.SQLiteLibraryLoader;
import software.amazon.dynamodb.services.local.shared.access.sqlite.SQLiteLibraryLoaderUtil;

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
    return inMemory(null);
  }

  /**
   * @param nativeLibraryCache where SQLite's native library is kept between starts ({@link
   *     #useKeptNativeLibrary}); null: DynamoDB Local copies it out of the jar as it does by itself
   */
  public static EmbeddedDynamoDb inMemory(Path nativeLibraryCache) {
    useKeptNativeLibrary(nativeLibraryCache);
    return new EmbeddedDynamoDb(() -> DynamoDBEmbedded.create(null, TELEMETRY_OPT_OUT));
  }

  public static EmbeddedDynamoDb inDirectory(Path directory) {
    return inDirectory(directory, null);
  }

  /** @param nativeLibraryCache as {@link #inMemory(Path)} */
  public static EmbeddedDynamoDb inDirectory(Path directory, Path nativeLibraryCache) {
    useKeptNativeLibrary(nativeLibraryCache);
    try {
      Files.createDirectories(directory);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("cannot create the data directory " + directory, e);
    }
    // The embedded engine takes the SQLite file itself, not a directory.
    File database = directory.resolve("dynamodb-local.db").toFile();
    return new EmbeddedDynamoDb(() -> DynamoDBEmbedded.create(database, TELEMETRY_OPT_OUT));
  }

  /** DynamoDB Local's own setting: a directory holding SQLite's native library, loaded from there as it is. */
  static final String NATIVE_LIBRARY_PATH_PROPERTY = "org.sqlite.lib.path";
  /** How many kept copies of the native library (one per DynamoDB Local jar) a cache directory holds. */
  private static final int KEPT_NATIVE_LIBRARIES = 3;
  static final String NATIVE_LIBRARY_PREFIX = "sqlite-native-";

  /**
   * Has DynamoDB Local load SQLite's native library from a copy kept in {@code cache} instead of
   * copying it out of the jar. By itself, at every start, it copies the library (about 0.9 MB) out of
   * the jar into the temporary directory under a new random name, then reads both copies back a byte
   * at a time to compare them: about half of the database's start-up in a profile of the gateway's
   * start, and one more file left in /tmp by each start that is killed. The copy
   * is made once per DynamoDB Local jar (named by that jar's path, size and modification time, as
   * {@link AotCache} names its caches), written under another name and moved into place, so a start
   * never loads a half-written library; its directory is handed to DynamoDB Local's
   * {@code org.sqlite.lib.path} setting, which it loads with {@link System#load}. Nothing changes when
   * that setting was given by the user, when {@code cache} is null, or when the copy cannot be made:
   * then DynamoDB Local copies as before.
   */
  static void useKeptNativeLibrary(Path cache) {
    if (cache == null || System.getProperty(NATIVE_LIBRARY_PATH_PROPERTY) != null) {
      return;
    }
    try {
      String name = SQLiteLibraryLoaderUtil.getNativeLibName();
      // Where DynamoDB Local keeps it in its jar (SQLiteLibraryLoaderUtil.getNativeLibResourcePath, not public).
      String resource = SQLiteLibraryLoader.class.getPackageName().replace('.', '/') + "/native/"
          + SQLiteLibraryLoaderUtil.getNativeLibFolderPathForCurrentOS() + "/" + name;
      var source = SQLiteLibraryLoader.class.getProtectionDomain().getCodeSource();
      if (source == null) {
        return;
      }
      Path jar = Path.of(source.getLocation().toURI());
      Path directory = cache.resolve(NATIVE_LIBRARY_PREFIX + AotCache.fingerprint(jar, List.of()));
      Path library = directory.resolve(name);
      if (!Files.isRegularFile(library)) {
        try (InputStream in = SQLiteLibraryLoader.class.getClassLoader().getResourceAsStream(resource)) {
          if (in == null) {
            return; // no library for this system in the jar: DynamoDB Local says so itself
          }
          Files.createDirectories(directory);
          Path partial = Files.createTempFile(directory, name, ".part");
          try {
            Files.copy(in, partial, StandardCopyOption.REPLACE_EXISTING);
            Files.move(partial, library, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
          } finally {
            Files.deleteIfExists(partial);
          }
        }
        keepNewestNativeLibraries(cache);
      }
      System.setProperty(NATIVE_LIBRARY_PATH_PROPERTY, directory.toString());
    } catch (IOException | RuntimeException | java.net.URISyntaxException e) {
      // DynamoDB Local copies it out of the jar itself, as it always did
    }
  }

  private static void keepNewestNativeLibraries(Path cache) throws IOException {
    List<Path> kept;
    try (var files = Files.list(cache)) {
      kept = files.filter(file -> file.getFileName().toString().startsWith(NATIVE_LIBRARY_PREFIX) && Files.isDirectory(file))
          .sorted(Comparator.comparing(EmbeddedDynamoDb::modified).reversed())
          .toList();
    }
    for (Path old : kept.subList(Math.min(KEPT_NATIVE_LIBRARIES, kept.size()), kept.size())) {
      try (var files = Files.list(old)) {
        for (Path file : files.toList()) {
          Files.deleteIfExists(file);
        }
        Files.deleteIfExists(old);
      } catch (IOException e) {
        // in use elsewhere (Windows) or gone already: the next pass tries again
      }
    }
  }

  private static java.nio.file.attribute.FileTime modified(Path file) {
    try {
      return Files.getLastModifiedTime(file);
    } catch (IOException e) {
      return java.nio.file.attribute.FileTime.fromMillis(0);
    }
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

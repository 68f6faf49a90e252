package aigw.local;

import software.amazon.dynamodb.services.local.shared.access.sqlite.SQLiteLibraryLoader;

/**
 * sqlite4java's native library, as DynamoDB Local ships it: inside DynamoDB Local's jar (and so
 * inside aigw-local.jar), for Linux, macOS and Windows. DynamoDB Local's own loader copies the one
 * for this platform to the temporary directory and loads it with {@code System.load}; sqlite4java
 * then finds it loaded and looks no further (it would otherwise want the library beside its jar or
 * in {@code sqlite4java.library.path}, which neither {@code java -jar aigw-local.jar} nor the tests
 * set). The loader runs once per JVM; calling it again, as DynamoDB Local's start does, is free.
 */
final class NativeSqlite {
  private NativeSqlite() {}

  static void load() {
    try {
      SQLiteLibraryLoader.initialize();
    } catch (Exception e) {
      throw new IllegalStateException("cannot load SQLite's native library (sqlite4java, from DynamoDB Local's jar): " + e.getMessage(), e);
    }
  }
}

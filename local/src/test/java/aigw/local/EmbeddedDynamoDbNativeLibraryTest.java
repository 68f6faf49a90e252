package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.dynamodb.model.AttributeDefinition;
import software.amazon.awssdk.services.dynamodb.model.BillingMode;
import software.amazon.awssdk.services.dynamodb.model.KeySchemaElement;
import software.amazon.dynamodb.services.local.shared.access.sqlite.SQLiteLibraryLoader;
import software.amazon.dynamodb.services.local.shared.access.sqlite.SQLiteLibraryLoaderUtil;

/**
 * SQLite's native library is copied out of DynamoDB Local's jar once into the user's cache
 * directory and loaded from there by every later start, instead of being copied to the temporary
 * directory and compared byte by byte at each start.
 */
class EmbeddedDynamoDbNativeLibraryTest {
  @TempDir Path cache;
  private String before;

  @BeforeEach
  void forgetTheSetting() {
    before = System.clearProperty(EmbeddedDynamoDb.NATIVE_LIBRARY_PATH_PROPERTY);
  }

  @AfterEach
  void restoreTheSetting() {
    if (before == null) {
      System.clearProperty(EmbeddedDynamoDb.NATIVE_LIBRARY_PATH_PROPERTY);
    } else {
      System.setProperty(EmbeddedDynamoDb.NATIVE_LIBRARY_PATH_PROPERTY, before);
    }
  }

  @Test
  void theLibraryIsCopiedOnceAndDynamoDbLocalIsPointedAtTheCopy() throws Exception {
    EmbeddedDynamoDb.useKeptNativeLibrary(cache);

    Path library = keptLibrary();
    assertThat(System.getProperty(EmbeddedDynamoDb.NATIVE_LIBRARY_PATH_PROPERTY)).isEqualTo(library.getParent().toString());
    assertThat(Files.readAllBytes(library)).as("the jar's own library, whole").isEqualTo(jarsLibrary());
    try (Stream<Path> left = Files.list(library.getParent())) {
      assertThat(left).as("nothing half-written beside it").containsExactly(library);
    }

    FileTime old = FileTime.from(Instant.parse("2020-01-01T00:00:00Z"));
    Files.setLastModifiedTime(library, old);
    System.clearProperty(EmbeddedDynamoDb.NATIVE_LIBRARY_PATH_PROPERTY);
    EmbeddedDynamoDb.useKeptNativeLibrary(cache);
    assertThat(Files.getLastModifiedTime(library)).as("the next start uses the copy as it is").isEqualTo(old);
    assertThat(System.getProperty(EmbeddedDynamoDb.NATIVE_LIBRARY_PATH_PROPERTY)).isEqualTo(library.getParent().toString());
  }

  @Test
  void aDatabaseStartsOverTheKeptLibrary() {
    try (var database = EmbeddedDynamoDb.inMemory(cache)) {
      database.client().createTable(r -> r.tableName("things").billingMode(BillingMode.PAY_PER_REQUEST)
          .attributeDefinitions(AttributeDefinition.builder().attributeName("id").attributeType("S").build())
          .keySchema(KeySchemaElement.builder().attributeName("id").keyType("HASH").build()));
      database.client().putItem(r -> r.tableName("things").item(Map.of("id", software.amazon.awssdk.services.dynamodb.model.AttributeValue.fromS("x"))));
      assertThat(database.client().scan(r -> r.tableName("things")).count()).isEqualTo(1);
    }
    assertThat(keptLibrary()).exists();
  }

  @Test
  void aLibraryPathTheUserSetIsLeftAlone() throws Exception {
    System.setProperty(EmbeddedDynamoDb.NATIVE_LIBRARY_PATH_PROPERTY, "/opt/my-sqlite");

    EmbeddedDynamoDb.useKeptNativeLibrary(cache);

    assertThat(System.getProperty(EmbeddedDynamoDb.NATIVE_LIBRARY_PATH_PROPERTY)).isEqualTo("/opt/my-sqlite");
    try (Stream<Path> files = Files.list(cache)) {
      assertThat(files).isEmpty();
    }
  }

  @Test
  void withoutACacheDirectoryNothingChanges() {
    EmbeddedDynamoDb.useKeptNativeLibrary(null);

    assertThat(System.getProperty(EmbeddedDynamoDb.NATIVE_LIBRARY_PATH_PROPERTY)).isNull();
  }

  @Test
  void copiesForOtherDynamoDbLocalJarsAreDeletedButTheNewestThree() throws Exception {
    for (int i = 0; i < 4; i++) {
      Path older = Files.createDirectories(cache.resolve(EmbeddedDynamoDb.NATIVE_LIBRARY_PREFIX + "old" + i));
      Files.writeString(older.resolve(SQLiteLibraryLoaderUtil.getNativeLibName()), "an older copy");
      Files.setLastModifiedTime(older, FileTime.from(Instant.parse("2020-01-0" + (i + 1) + "T00:00:00Z")));
    }

    EmbeddedDynamoDb.useKeptNativeLibrary(cache);

    try (Stream<Path> kept = Files.list(cache)) {
      assertThat(kept.map(path -> path.getFileName().toString()))
          .containsExactlyInAnyOrder(keptLibrary().getParent().getFileName().toString(),
              EmbeddedDynamoDb.NATIVE_LIBRARY_PREFIX + "old3", EmbeddedDynamoDb.NATIVE_LIBRARY_PREFIX + "old2");
    }
  }

  private Path keptLibrary() {
    try (Stream<Path> directories = Files.list(cache)) {
      Path directory = directories
          .filter(path -> path.getFileName().toString().startsWith(EmbeddedDynamoDb.NATIVE_LIBRARY_PREFIX)
              && !path.getFileName().toString().contains("old"))
          .findFirst().orElseThrow(() -> new AssertionError("no kept copy in " + cache));
      return directory.resolve(SQLiteLibraryLoaderUtil.getNativeLibName());
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static byte[] jarsLibrary() throws Exception {
    String resource = SQLiteLibraryLoader.class.getPackageName().replace('.', '/') + "/native/"
        + SQLiteLibraryLoaderUtil.getNativeLibFolderPathForCurrentOS() + "/" + SQLiteLibraryLoaderUtil.getNativeLibName();
    try (InputStream in = SQLiteLibraryLoader.class.getClassLoader().getResourceAsStream(resource)) {
      assertThat(in).as(resource).isNotNull();
      return in.readAllBytes();
    }
  }
}

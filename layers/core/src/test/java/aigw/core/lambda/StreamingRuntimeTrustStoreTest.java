package aigw.core.lambda;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The streaming runtime picks the trust store as the runtime interface client does ({@code
 * AWSLambda}'s static initialiser), so functions under either trust the same CA bundle.
 */
class StreamingRuntimeTrustStoreTest {
  @TempDir Path dir;
  private String before;

  @BeforeEach
  void remember() {
    before = System.getProperty(StreamingRuntime.TRUST_STORE_PROPERTY);
    System.clearProperty(StreamingRuntime.TRUST_STORE_PROPERTY);
  }

  @AfterEach
  void restore() {
    if (before == null) {
      System.clearProperty(StreamingRuntime.TRUST_STORE_PROPERTY);
    } else {
      System.setProperty(StreamingRuntime.TRUST_STORE_PROPERTY, before);
    }
  }

  @Test
  void theSystemCaBundleBecomesTheTrustStoreWhenItExistsAndNoneIsSet() throws Exception {
    Path cacerts = Files.write(dir.resolve("cacerts"), new byte[] {1});

    assertThat(StreamingRuntime.useSystemTrustStore(cacerts.toFile())).isTrue();
    assertThat(System.getProperty("javax.net.ssl.trustStore")).isEqualTo(cacerts.toString());
  }

  @Test
  void aTrustStoreSetByTheFunctionIsKept() throws Exception {
    Path cacerts = Files.write(dir.resolve("cacerts"), new byte[] {1});
    System.setProperty("javax.net.ssl.trustStore", "/somewhere/own.jks");

    assertThat(StreamingRuntime.useSystemTrustStore(cacerts.toFile())).isFalse();
    assertThat(System.getProperty("javax.net.ssl.trustStore")).isEqualTo("/somewhere/own.jks");
  }

  @Test
  void withoutTheBundleFileTheJdkDefaultStays() throws Exception {
    assertThat(StreamingRuntime.useSystemTrustStore(dir.resolve("missing").toFile())).isFalse();
    assertThat(StreamingRuntime.useSystemTrustStore(Files.createDirectory(dir.resolve("a-directory")).toFile())).isFalse();
    assertThat(System.getProperty("javax.net.ssl.trustStore")).isNull();
  }

  @Test
  void theBundleIsTheManagedRuntimesPath() {
    assertThat(StreamingRuntime.SYSTEM_CACERTS).isEqualTo("/etc/pki/java/cacerts");
  }
}

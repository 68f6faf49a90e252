package aigw.core.secrets;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import aigw.core.testing.Logs;
import org.junit.jupiter.api.Test;

class StaticSecretSourceTest {
  private static List<LogRecord> captureWhile(Runnable action) {
    return Logs.of(StaticSecretSource.class, action);
  }

  @Test
  void withoutAigwMasterKeyTheDevelopmentKeyIsUsedWithAWarning() {
    var records = captureWhile(() -> assertThat(StaticSecretSource.fromEnvironment(Map.of()).read()).isEqualTo("sk-development-only"));
    assertThat(records).anySatisfy(r -> {
      assertThat(r.getLevel()).isEqualTo(Level.WARNING);
      assertThat(r.getMessage()).contains("AIGW_MASTER_KEY is not set").contains("sk-development-only");
    });
  }

  @Test
  void aConfiguredKeyIsUsedAndNeverLogged() {
    var records =
        captureWhile(
            () -> assertThat(StaticSecretSource.fromEnvironment(Map.of("AIGW_MASTER_KEY", "sk-configured-secret-value")).read())
                .isEqualTo("sk-configured-secret-value"));
    assertThat(records).noneSatisfy(r -> assertThat(r.getMessage()).contains("sk-configured-secret-value"));
    assertThat(records).noneSatisfy(r -> assertThat(r.getLevel()).isEqualTo(Level.WARNING));
  }
}

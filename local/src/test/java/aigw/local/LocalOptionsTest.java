package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LocalOptionsTest {
  @Test
  void defaultsToLoopbackPort3000AndAKeptDataDirectory() {
    var options = LocalOptions.parse(new String[0], Map.of());
    assertThat(options.command()).isEqualTo("serve");
    assertThat(options.host()).isEqualTo("127.0.0.1");
    assertThat(options.port()).isEqualTo(3000);
    assertThat(options.inMemory()).isFalse();
    assertThat(options.dataDir()).isEqualTo(Path.of(".aigw/data"));
    assertThat(options.config()).isNull();
  }

  @Test
  void flagsWinOverEnvironment() {
    var options =
        LocalOptions.parse(
            new String[] {"--port", "4000", "--config", "my.yaml", "--in-memory"},
            Map.of("AIGW_PORT", "5000", "AIGW_CONFIG", "env.yaml"));
    assertThat(options.port()).isEqualTo(4000);
    assertThat(options.config()).isEqualTo(Path.of("my.yaml"));
    assertThat(options.inMemory()).isTrue();
    assertThat(LocalOptions.parse(new String[0], Map.of("AIGW_PORT", "5000")).port()).isEqualTo(5000);
  }

  @Test
  void invokeNeedsAFunctionAndAnEvent() {
    var options = LocalOptions.parse(new String[] {"invoke", "proxy", "--event", "events/proxy-models.json"}, Map.of());
    assertThat(options.command()).isEqualTo("invoke");
    assertThat(options.function()).isEqualTo("proxy");
    assertThatThrownBy(() -> LocalOptions.parse(new String[] {"invoke", "proxy"}, Map.of())).hasMessageContaining("--event");
    assertThatThrownBy(() -> LocalOptions.parse(new String[] {"invoke"}, Map.of())).hasMessageContaining("function");
  }

  @Test
  void mistakesAreExplained() {
    assertThatThrownBy(() -> LocalOptions.parse(new String[] {"--port", "x"}, Map.of())).hasMessageContaining("port");
    assertThatThrownBy(() -> LocalOptions.parse(new String[] {"--bogus"}, Map.of())).hasMessageContaining("--bogus");
    assertThatThrownBy(() -> LocalOptions.parse(new String[] {"--aws"}, Map.of())).hasMessageContaining("--master-key-secret");
  }
}

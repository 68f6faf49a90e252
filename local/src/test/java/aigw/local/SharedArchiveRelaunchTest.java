package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The relaunched child's JVM options: the collector the gateway picks, and the user's choice over it. */
class SharedArchiveRelaunchTest {

  @Test
  void theChildRunsTheSerialCollectorAfterTheUsersOwnOptionsWhenTheUserChoseNone() {
    assertThat(SharedArchiveRelaunch.childJvmOptions(List.of("-Xmx512m", "-Daigw.startTimeline=true"), Map.of("JAVA_TOOL_OPTIONS", "-Xss1m")))
        .containsExactly("-Xmx512m", "-Daigw.startTimeline=true", "-XX:+UseSerialGC");
    assertThat(SharedArchiveRelaunch.childJvmOptions(List.of(), Map.of())).containsExactly("-XX:+UseSerialGC");
  }

  @Test
  void aCollectorTheUserChoseOnTheCommandLineIsTheChildsOnly() {
    for (String chosen : List.of("-XX:+UseG1GC", "-XX:+UseParallelGC", "-XX:+UseZGC", "-XX:+UseSerialGC", "-XX:G1HeapRegionSize=4m")) {
      assertThat(SharedArchiveRelaunch.childJvmOptions(List.of("-Xmx1g", chosen), Map.of()))
          .as(chosen).containsExactly("-Xmx1g", chosen);
    }
  }

  @Test
  void aCollectorTheUserChoseInTheEnvironmentKeepsTheGatewaysOffTheCommandLine() {
    for (String variable : List.of("JDK_JAVA_OPTIONS", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS")) {
      assertThat(SharedArchiveRelaunch.childJvmOptions(List.of("-Xmx1g"), Map.of(variable, " -Xss1m  -XX:+UseShenandoahGC ")))
          .as(variable + ": two collectors would stop the JVM at its start").containsExactly("-Xmx1g");
    }
  }
}

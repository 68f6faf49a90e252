package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * How the relaunching parent reads its own command line: from {@code /proc/self/cmdline} (not
 * through ProcessHandle, whose first use would start the JDK's process reaper before the child is
 * spawned), with the same result ProcessHandle would give. PackagedJarRelaunchTest checks that the
 * child of a packaged jar gets the parent's options.
 */
class SharedArchiveRelaunchTest {
  @Test
  void aCmdlineIsSplitAtItsNulsWithoutTheProgramName() {
    byte[] cmdline = "/usr/bin/java\0-Xmx64m\0-Dgreeting=a b\0-jar\0/opt/aigw-local.jar\0--in-memory\0".getBytes(StandardCharsets.UTF_8);

    assertThat(SharedArchiveRelaunch.cmdlineArguments(cmdline, StandardCharsets.UTF_8))
        .containsExactly("-Xmx64m", "-Dgreeting=a b", "-jar", "/opt/aigw-local.jar", "--in-memory");
  }

  @Test
  void anEmptyArgumentAndANonAsciiPathAreKept() {
    byte[] cmdline = "java\0\0-jar\0/home/zoë/aigw-local.jar\0".getBytes(StandardCharsets.UTF_8);

    assertThat(SharedArchiveRelaunch.cmdlineArguments(cmdline, StandardCharsets.UTF_8))
        .containsExactly("", "-jar", "/home/zoë/aigw-local.jar");
  }

  @Test
  void aLastArgumentWithoutItsNulAndAnEmptyCmdline() {
    assertThat(SharedArchiveRelaunch.cmdlineArguments("java\0-version".getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8))
        .containsExactly("-version");
    assertThat(SharedArchiveRelaunch.cmdlineArguments(new byte[0], StandardCharsets.UTF_8)).isEmpty();
  }

  @Test
  void thisJvmsOptionsAndJavaAreWhatProcessHandleReports() {
    var info = ProcessHandle.current().info();
    List<String> arguments = List.of(info.arguments().orElse(new String[0]));
    // Surefire starts its forks with -jar (a manifest-only jar): then there are options to compare.
    assumeThat(arguments).contains("-jar");

    assertThat(SharedArchiveRelaunch.commandLineJvmOptions()).contains(arguments.subList(0, arguments.indexOf("-jar")));
    assertThat(SharedArchiveRelaunch.javaExecutable()).isEqualTo(info.command().orElseThrow());
  }
}

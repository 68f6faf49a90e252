package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class StartTimelineTest {
  @Test
  void aMarkSaysWhenWhichThreadWhatAndWhereLinuxTellsTheThreadsCpuTime() throws Exception {
    String[] line = StartTimeline.line("database started").split(" ");

    assertThat(line[0]).isEqualTo("aigw-start");
    assertThat(Long.parseLong(line[1])).isBetween(System.currentTimeMillis() - 60_000, System.currentTimeMillis());
    assertThat(line[2]).isEqualTo(Thread.currentThread().getName());
    assertThat(line[3] + " " + line[4]).isEqualTo("database started");
    if (Files.isReadable(Path.of("/proc/thread-self/schedstat"))) {
      assertThat(line).hasSize(7);
      assertThat(line[5]).isEqualTo("cpu");
      assertThat(Long.parseLong(line[6])).isNotNegative();
    } else {
      assertThat(line).hasSize(5); // no CPU figure where the system does not give one
    }
  }
}

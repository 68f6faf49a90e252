package aigw.local;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Marks of the start-up's steps on standard error, for finding where the time to the first answer
 * goes: {@code java -Daigw.startTimeline=true -jar aigw-local.jar ...} (the relaunched child gets the
 * same option). Each line is {@code aigw-start <epoch ms> <thread> <step> [cpu <ms>]}: wall-clock
 * milliseconds, so the parent's and the child's lines (and a driver's own clock) share one time base,
 * then, where Linux tells ({@code /proc/thread-self/schedstat}), the CPU time the marking thread has
 * used since it started: on a start that is CPU-bound (two cores shared with the JIT compilers), a
 * step's CPU says what it costs, its wall time only what it waited for. Off, a mark costs one read of
 * a constant.
 */
final class StartTimeline {
  static final boolean ON = Boolean.getBoolean("aigw.startTimeline");
  private static final Path THREAD_CPU = Path.of("/proc/thread-self/schedstat");

  private StartTimeline() {}

  static void mark(String step) {
    if (ON) {
      System.err.println(line(step));
    }
  }

  /** The line a mark prints for this thread now. */
  static String line(String step) {
    return "aigw-start " + System.currentTimeMillis() + " " + Thread.currentThread().getName() + " " + step + threadCpu();
  }

  /** " cpu N" (milliseconds this thread has run), or "" where the system does not tell. */
  private static String threadCpu() {
    try {
      String schedstat = Files.readString(THREAD_CPU); // "<ns on cpu> <ns waiting> <slices>"
      return " cpu " + Long.parseLong(schedstat.substring(0, schedstat.indexOf(' '))) / 1_000_000;
    } catch (IOException | RuntimeException e) {
      return "";
    }
  }
}

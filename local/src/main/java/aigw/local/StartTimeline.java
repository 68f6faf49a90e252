package aigw.local;

/**
 * Marks of the start-up's steps on standard error, for finding where the time to the first answer
 * goes: {@code java -Daigw.startTimeline=true -jar aigw-local.jar ...} (the relaunched child gets the
 * same option). Each line is {@code aigw-start <epoch ms> <thread> <step>}: wall-clock milliseconds,
 * so the parent's and the child's lines (and a driver's own clock) share one time base. Off, a mark
 * costs one read of a constant.
 */
final class StartTimeline {
  static final boolean ON = Boolean.getBoolean("aigw.startTimeline");

  private StartTimeline() {}

  static void mark(String step) {
    if (ON) {
      System.err.println("aigw-start " + System.currentTimeMillis() + " " + Thread.currentThread().getName() + " " + step);
    }
  }
}

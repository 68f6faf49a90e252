package aigw.admin;

import aigw.core.errors.BadRequest;
import java.time.Duration;
import java.util.regex.Pattern;

/** LiteLLM's duration strings: {@code 30s}, {@code 30m}, {@code 30h}, {@code 30d}, {@code 2w}, {@code 1mo}, {@code 1y}. */
final class Durations {
  private static final Pattern FORMAT = Pattern.compile("(\\d+)(s|m|h|d|w|mo|y)");

  private Durations() {}

  /** Months count as 30 days and years as 365: a key's lifetime, not a calendar. */
  static Duration parse(String text, String param) {
    var match = FORMAT.matcher(text.trim());
    if (!match.matches()) {
      throw new BadRequest(
          "'" + param + "' must look like 30s, 30m, 30h, 30d, 2w, 1mo or 1y; got '" + text + "'.", param);
    }
    long amount = Long.parseLong(match.group(1));
    return switch (match.group(2)) {
      case "s" -> Duration.ofSeconds(amount);
      case "m" -> Duration.ofMinutes(amount);
      case "h" -> Duration.ofHours(amount);
      case "d" -> Duration.ofDays(amount);
      case "w" -> Duration.ofDays(7 * amount);
      case "mo" -> Duration.ofDays(30 * amount);
      default -> Duration.ofDays(365 * amount);
    };
  }
}

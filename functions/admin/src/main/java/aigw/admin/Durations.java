package aigw.admin;

import aigw.core.errors.BadRequest;
import java.time.DateTimeException;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.regex.Pattern;

/** LiteLLM's duration strings: {@code 30s}, {@code 30m}, {@code 30h}, {@code 30d}, {@code 2w}, {@code 1mo}, {@code 1y}. */
final class Durations {
  private static final Pattern FORMAT = Pattern.compile("(\\d+)(s|m|h|d|w|mo|y)");

  private Durations() {}

  /** Months count as 30 days and years as 365: a key's lifetime, not a calendar. */
  static Duration parse(String text, String param) {
    return parse(text, param, false);
  }

  /** A grace period may be zero: the previous key stops at once. */
  static Duration parseAllowingZero(String text, String param) {
    return parse(text, param, true);
  }

  private static Duration parse(String text, String param, boolean zeroAllowed) {
    var match = FORMAT.matcher(text.trim());
    if (!match.matches()) {
      throw invalid(text, param);
    }
    long amount;
    try {
      amount = Long.parseLong(match.group(1));
    } catch (NumberFormatException e) { // more digits than a long holds
      throw tooLong(text, param);
    }
    if (amount == 0 && !zeroAllowed) {
      // A key that is expired the moment it is created is never what the caller meant.
      throw new BadRequest("'" + param + "' must be longer than 0"
          + (param.equals("duration") ? "; leave it out for a key that never expires." : "."), param);
    }
    try {
      return switch (match.group(2)) {
        case "s" -> Duration.ofSeconds(amount);
        case "m" -> Duration.ofMinutes(amount);
        case "h" -> Duration.ofHours(amount);
        case "d" -> Duration.ofDays(amount);
        case "w" -> Duration.ofDays(Math.multiplyExact(7, amount));
        case "mo" -> Duration.ofDays(Math.multiplyExact(30, amount));
        default -> Duration.ofDays(Math.multiplyExact(365, amount));
      };
    } catch (NumberFormatException | ArithmeticException e) { // more digits than a Duration holds
      throw tooLong(text, param);
    }
  }

  /**
   * The expiry {@code text} from {@code now}, in whole seconds: the keys table keeps epoch seconds,
   * so the expiry a response shows is the one that is stored and enforced.
   */
  static Instant expiry(Instant now, String text, String param) {
    Duration duration = parse(text, param);
    try {
      return now.plus(duration).truncatedTo(ChronoUnit.SECONDS);
    } catch (DateTimeException | ArithmeticException e) {
      throw tooLong(text, param);
    }
  }

  /**
   * A key's lifetime as a request gives it ({@code "duration": "30d"}): checked when read, turned
   * into an expiry when the time of the change is known.
   */
  record Lifetime(String text, Duration length, String param) {
    /** {@code now} plus the lifetime, in whole seconds; see {@link Durations#expiry}. */
    Instant expiresAt(Instant now) {
      try {
        return now.plus(length).truncatedTo(ChronoUnit.SECONDS);
      } catch (DateTimeException | ArithmeticException e) {
        throw tooLong(text, param);
      }
    }
  }

  /** The lifetime {@code text} names. @throws BadRequest when it is malformed or zero */
  static Lifetime lifetime(String text, String param) {
    return new Lifetime(text, parse(text, param), param);
  }

  private static BadRequest invalid(String text, String param) {
    return new BadRequest(
        "'" + param + "' must look like 30s, 30m, 30h, 30d, 2w, 1mo or 1y; got '" + text + "'.", param);
  }

  private static BadRequest tooLong(String text, String param) {
    return new BadRequest("'" + param + "' is too long; got '" + text + "'.", param);
  }

  /** The shortest of LiteLLM's forms for a duration of whole seconds: {@code 30d}, {@code 12h}, {@code 90s}. */
  static String format(Duration duration) {
    long seconds = duration.toSeconds();
    if (seconds != 0 && seconds % 86_400 == 0) {
      return seconds / 86_400 + "d";
    }
    if (seconds != 0 && seconds % 3_600 == 0) {
      return seconds / 3_600 + "h";
    }
    if (seconds != 0 && seconds % 60 == 0) {
      return seconds / 60 + "m";
    }
    return seconds + "s";
  }
}

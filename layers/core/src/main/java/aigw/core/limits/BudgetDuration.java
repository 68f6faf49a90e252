package aigw.core.limits;

import aigw.core.errors.BadRequest;
import java.time.DayOfWeek;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalTime;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.temporal.ChronoUnit;
import java.time.temporal.TemporalAdjusters;
import java.util.regex.Pattern;

/**
 * LiteLLM's {@code budget_duration}: a whole number and a unit, {@code s}, {@code m}, {@code h},
 * {@code d}, {@code w} or {@code mo} ({@code 30s}, {@code 30m}, {@code 1h}, {@code 1d}, {@code
 * 30d}, {@code 1mo}), and when a period that runs at some instant ends.
 *
 * <p>The ends are LiteLLM's "standardized" reset times ({@code
 * litellm/litellm_core_utils/duration_parser.py}, {@code get_next_standardized_reset_time}, in UTC,
 * LiteLLM's default time zone): {@code 1d} the next midnight, {@code 7d} (and {@code 1w}) the next
 * Monday at midnight, {@code 30d} and {@code 1mo} the first of the next month at midnight, other
 * {@code Nd} midnight today plus N days, {@code Nmo} the first of the month N months on; {@code Nh},
 * {@code Nm}, {@code Ns} the next multiple of N hours, minutes or seconds within the day (a period
 * running past midnight ends at the first multiple of the next day).
 */
public final class BudgetDuration {
  private static final Pattern FORMAT = Pattern.compile("([1-9][0-9]{0,5})(s|m|h|d|w|mo)");

  private BudgetDuration() {}

  /**
   * Checks {@code text} and returns it unchanged.
   *
   * @throws BadRequest not a duration of this form (400 naming {@code field})
   */
  public static String parse(String text, String field) {
    if (text == null || !FORMAT.matcher(text).matches()) {
      throw new BadRequest(
          "'" + field + "' must be a whole number of seconds, minutes, hours, days, weeks or months, such as 30s, 30m, 1h, 1d, 7d, 30d or 1mo; got '"
              + text + "'.",
          field);
    }
    return text;
  }

  /** The end of the period of {@code duration} that runs at {@code now}: always after {@code now}. */
  public static Instant nextReset(String duration, Instant now) {
    var matcher = FORMAT.matcher(duration);
    if (!matcher.matches()) {
      throw new IllegalArgumentException("not a budget duration: " + duration);
    }
    int value = Integer.parseInt(matcher.group(1));
    String unit = matcher.group(2);
    ZonedDateTime time = now.atZone(ZoneOffset.UTC);
    ZonedDateTime midnight = time.toLocalDate().atStartOfDay(ZoneOffset.UTC);
    return switch (unit) {
      case "s" -> within(time, midnight, ChronoUnit.SECONDS, time.getLong(java.time.temporal.ChronoField.SECOND_OF_DAY), value);
      case "m" -> within(time, midnight, ChronoUnit.MINUTES, time.getLong(java.time.temporal.ChronoField.MINUTE_OF_DAY), value);
      case "h" -> within(time, midnight, ChronoUnit.HOURS, time.getHour(), value);
      case "w" -> days(time, midnight, value * 7);
      case "d" -> days(time, midnight, value);
      default -> firstOfMonth(time.toLocalDate().withDayOfMonth(1).plusMonths(value));
    };
  }

  private static Instant days(ZonedDateTime time, ZonedDateTime midnight, int days) {
    if (days == 1) {
      return midnight.plusDays(1).toInstant();
    }
    if (days == 7) {
      return time.toLocalDate().with(TemporalAdjusters.next(DayOfWeek.MONDAY)).atStartOfDay(ZoneOffset.UTC).toInstant();
    }
    if (days == 30) {
      return firstOfMonth(time.toLocalDate().withDayOfMonth(1).plusMonths(1));
    }
    return midnight.plusDays(days).toInstant();
  }

  /** The next multiple of {@code value} units since midnight, after {@code elapsed} whole units. */
  private static Instant within(ZonedDateTime time, ZonedDateTime midnight, ChronoUnit unit, long elapsed, int value) {
    long next = (elapsed / value + 1) * value;
    long perDay = ChronoUnit.DAYS.getDuration().dividedBy(unit.getDuration());
    if (next >= perDay) {
      return midnight.plusDays(1).plus(next % perDay, unit).toInstant();
    }
    return midnight.plus(next, unit).toInstant();
  }

  private static Instant firstOfMonth(LocalDate first) {
    return first.atTime(LocalTime.MIDNIGHT).toInstant(ZoneOffset.UTC);
  }
}

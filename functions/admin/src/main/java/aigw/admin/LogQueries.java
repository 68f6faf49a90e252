package aigw.admin;

import aigw.core.Gateway;
import aigw.core.errors.BadRequest;
import aigw.core.http.GatewayRequest;
import aigw.core.spend.dynamodb.LogItems;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Base64;
import java.util.Set;
import java.util.TreeSet;

/**
 * What the spend and audit routes read from a request (the dispatcher has checked the method and
 * the master key): their query parameters checked (an unknown one is a 400 naming it), the date range and the page.
 *
 * <p>Dates are LiteLLM's: {@code start_date}/{@code end_date} as {@code YYYY-MM-DD} (the whole day,
 * UTC: an end date includes its day), {@code YYYY-MM-DD HH:MM:SS} (UTC, as LiteLLM's UI sends), or an
 * ISO-8601 instant ({@code 2026-11-01T10:00:00Z}). Without {@code end_date}: now; without {@code
 * start_date}: the retention before the end, or before now when the end is later. Nothing older than the retention exists, so the range
 * is cut there (a day more: DynamoDB's TTL deletes a little after {@code purge_at}).
 */
final class LogQueries {
  static final int DEFAULT_PAGE_SIZE = 100;
  static final int MAX_PAGE_SIZE = 1000;
  /** The response header that carries the next page's cursor (the body stays LiteLLM's array). */
  static final String NEXT_CURSOR_HEADER = "x-aigw-next-cursor";
  private static final DateTimeFormatter LITELLM_UI_TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss");

  /** A range may be empty: {@code from} after {@code to} when it lies wholly outside the retention. */
  record Range(Instant from, Instant to) {}

  private static final Instant LATEST = Instant.parse("9999-12-31T23:59:59Z");

  private LogQueries() {}

  /** Refuses query parameters this route does not take, naming them. */
  static void onlyParams(GatewayRequest request, Set<String> known) {
    var unknown = new TreeSet<String>(request.query().keySet());
    unknown.removeAll(known);
    if (!unknown.isEmpty()) {
      throw new BadRequest("Unsupported query parameter(s) " + String.join(", ", unknown) + " on " + request.path()
          + "; this route takes " + String.join(", ", new TreeSet<>(known)) + ".", unknown.first());
    }
  }

  static Range range(GatewayRequest request, Gateway gateway) {
    Instant now = gateway.clock().instant();
    Duration retention = gateway.settings().logs().retention();
    Instant to = date(request.queryParam("end_date"), "end_date", true);
    Instant from = date(request.queryParam("start_date"), "start_date", false);
    if (to == null) {
      to = now;
    }
    if (from == null) {
      // Everything kept up to the end: the retention before now, not before the end date (an end
      // date in the future would otherwise start the range after every record there is).
      from = (to.isBefore(now) ? to : now).minus(retention);
    }
    if (from.isAfter(to)) {
      throw new BadRequest("start_date " + request.queryParam("start_date") + " is after end_date " + to + ".", "start_date");
    }
    // Nothing is kept before the retention nor written after now (a day's margin each way): the
    // range is cut to that, so a far date never makes one Query per day of centuries.
    Instant oldest = now.minus(retention).minus(Duration.ofDays(1));
    Instant newest = now.plus(Duration.ofDays(1));
    return new Range(from.isBefore(oldest) ? oldest : from, to.isAfter(newest) ? newest : to);
  }

  private static Instant date(String text, String param, boolean endOfDay) {
    if (text == null || text.isBlank()) {
      return null;
    }
    String value = text.strip();
    try {
      if (value.length() == 10) {
        LocalDate day = LocalDate.parse(value);
        return endOfDay ? day.plusDays(1).atStartOfDay(ZoneOffset.UTC).toInstant().minusMillis(1) : day.atStartOfDay(ZoneOffset.UTC).toInstant();
      }
      if (value.length() == 19 && value.charAt(10) == ' ') {
        return LocalDateTime.parse(value, LITELLM_UI_TIME).toInstant(ZoneOffset.UTC);
      }
      Instant instant = Instant.parse(value);
      if (instant.isBefore(Instant.EPOCH) || instant.isAfter(LATEST)) {
        throw new DateTimeParseException("out of range", value, 0);
      }
      return instant;
    } catch (DateTimeParseException e) {
      throw new BadRequest("Invalid " + param + " '" + value + "': use YYYY-MM-DD, 'YYYY-MM-DD HH:MM:SS' (UTC) or an ISO-8601 instant"
          + " such as 2026-11-01T10:00:00Z.", param);
    }
  }

  static int pageSize(GatewayRequest request, String param) {
    String text = request.queryParam(param);
    if (text == null || text.isBlank()) {
      return DEFAULT_PAGE_SIZE;
    }
    try {
      int size = Integer.parseInt(text.strip());
      if (size >= 1 && size <= MAX_PAGE_SIZE) {
        return size;
      }
    } catch (NumberFormatException e) {
      // refused below
    }
    throw new BadRequest(param + " must be a whole number from 1 to " + MAX_PAGE_SIZE + ", got '" + text + "'.", param);
  }

  /** The position a {@code cursor} parameter names (as the previous page gave it), or null. */
  static String cursor(GatewayRequest request) {
    String text = request.queryParam("cursor");
    if (text == null || text.isBlank()) {
      return null;
    }
    try {
      String position = new String(Base64.getUrlDecoder().decode(text.strip()), StandardCharsets.UTF_8);
      if (LogItems.isSortKey(position)) {
        return position;
      }
    } catch (IllegalArgumentException e) {
      // refused below
    }
    throw new BadRequest("Invalid cursor: pass the " + NEXT_CURSOR_HEADER + " (or next_cursor) of the previous page unchanged.", "cursor");
  }

  static String encodeCursor(String position) {
    return position == null ? null : Base64.getUrlEncoder().withoutPadding().encodeToString(position.getBytes(StandardCharsets.UTF_8));
  }
}

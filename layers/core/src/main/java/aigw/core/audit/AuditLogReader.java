package aigw.core.audit;

import java.time.Instant;
import java.util.List;

/** Reads the audit log back, newest first, one page at a time (the admin API's {@code /audit}). */
public interface AuditLogReader {
  /** Reads nothing: wiring without a logs table. */
  AuditLogReader NONE = query -> new Page(List.of(), null);

  /**
   * @param objectId one key id or team id, or null for all
   * @param objectType {@code key} or {@code team}, or null for both
   * @param action one action ({@code key.generate}, …), or null for all
   * @param from earliest time, inclusive
   * @param to latest time, inclusive
   * @param limit most events in the page, 1 or more
   * @param after the {@link Page#next} of the previous page, or null for the first
   */
  record Query(String objectId, String objectType, String action, Instant from, Instant to, int limit, String after) {}

  /** One stored event and its id (unique in the log). */
  record Entry(String id, AuditEvent event) {}

  /** @param next where the next page starts; null when this page ends the range */
  record Page(List<Entry> entries, String next) {}

  Page page(Query query);
}

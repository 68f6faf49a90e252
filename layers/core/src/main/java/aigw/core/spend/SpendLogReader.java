package aigw.core.spend;

import java.time.Instant;
import java.util.List;

/** Reads the spend logs back, newest first, one page at a time (the admin API's {@code /spend/logs}). */
public interface SpendLogReader {
  /** Reads nothing: wiring without a logs table. */
  SpendLogReader NONE = query -> new Page(List.of(), null);

  /**
   * Which records: those of one key, or of one team, or all, that started within [from, to].
   *
   * @param keyId the key's stable id, or null for every key
   * @param teamId the team, or null for every team (with {@code keyId}: that key's calls in that team)
   * @param from earliest start time, inclusive
   * @param to latest start time, inclusive
   * @param limit most records in the page, 1 or more
   * @param after the {@link Page#next} of the previous page, or null for the first
   */
  record Query(String keyId, String teamId, Instant from, Instant to, int limit, String after) {}

  /**
   * @param entries newest first
   * @param next where the next page starts (pass as {@link Query#after}); null when this page ends the range
   */
  record Page(List<SpendLogEntry> entries, String next) {}

  Page page(Query query);
}

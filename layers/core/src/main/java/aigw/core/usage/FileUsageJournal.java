package aigw.core.usage;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Logger;

/**
 * The local gateway's journal: one JSON line per kept delta ({@link UsageRecords}), appended to a
 * file in the data directory and forced to disk before {@link #keep} returns.
 *
 * <p>{@link #replay} merges the kept deltas per key (one write per key: counters are sums), writes
 * each key, and after each write rewrites the file with what is left (a new file moved over the old
 * one), so a crash loses nothing. A crash in the moment between one key's write and that rewrite
 * would count that key's kept deltas twice: at least once, never lost. A line torn by a crash while
 * it was appended is skipped with a warning.
 */
public final class FileUsageJournal implements UsageJournal {
  private static final Logger LOG = Logger.getLogger(FileUsageJournal.class.getName());

  private final Path file;
  private final JournalFile journal;

  public FileUsageJournal(Path file) {
    this.file = file;
    this.journal = new JournalFile(file);
  }

  @Override
  public synchronized void keep(String keyId, UsageDelta delta) {
    journal.append(UsageRecords.toJson(keyId, delta));
  }

  /** The journal's file (the spend and audit log journal is kept beside it). */
  public Path file() {
    return file;
  }

  @Override
  public synchronized int replay(UsageRecorder store) {
    Map<String, UsageDelta> pending = new LinkedHashMap<>();
    Map<String, Integer> records = new LinkedHashMap<>();
    for (String line : journal.lines()) {
      try {
        var kept = UsageRecords.parse(line);
        pending.merge(kept.keyId(), kept.delta(), UsageDelta::plus);
        records.merge(kept.keyId(), 1, Integer::sum);
      } catch (IllegalArgumentException torn) {
        LOG.warning("Skipping an unreadable line of " + file + " (torn by a crash?): " + torn.getMessage());
      }
    }
    int written = 0;
    for (String keyId : new ArrayList<>(pending.keySet())) {
      try {
        store.record(keyId, pending.get(keyId));
      } catch (RuntimeException stillDown) {
        LOG.warning("Kept usage not replayed yet (" + stillDown.getMessage() + "); " + remaining(records) + " record(s) stay in " + file);
        break;
      }
      pending.remove(keyId);
      written += records.remove(keyId);
      rewrite(pending);
    }
    if (written > 0) {
      LOG.info("Replayed " + written + " kept usage record(s) from " + file);
    }
    return written;
  }

  private static int remaining(Map<String, Integer> records) {
    return records.values().stream().mapToInt(Integer::intValue).sum();
  }

  private void rewrite(Map<String, UsageDelta> pending) {
    List<String> lines = new ArrayList<>();
    pending.forEach((keyId, delta) -> lines.add(UsageRecords.toJson(keyId, delta)));
    journal.replaceWith(lines);
  }

  @Override
  public String describe() {
    return file.toString();
  }
}

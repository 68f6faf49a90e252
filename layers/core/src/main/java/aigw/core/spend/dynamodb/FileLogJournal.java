package aigw.core.spend.dynamodb;

import aigw.core.usage.JournalFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.logging.Logger;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/**
 * The local gateway's log journal: one item a line ({@link LogItems#toJson}), in {@code
 * DATA-DIR/logs-journal.jsonl} beside the usage journal, through the same {@link JournalFile}.
 * {@link #replay} writes 25 items at a time and rewrites the file with the rest after each batch;
 * a crash in between writes a batch twice, which leaves the same items. A torn line is skipped with
 * a warning.
 */
public final class FileLogJournal implements LogJournal {
  private static final Logger LOG = Logger.getLogger(FileLogJournal.class.getName());
  /** The file's name in the data directory. */
  public static final String FILE_NAME = "logs-journal.jsonl";

  private final JournalFile file;

  public FileLogJournal(Path file) {
    this.file = new JournalFile(file);
  }

  @Override
  public synchronized void keep(Map<String, AttributeValue> item) {
    file.append(LogItems.toJson(item));
  }

  @Override
  public synchronized int replay(Writer writer) {
    List<String> lines = new ArrayList<>();
    List<Map<String, AttributeValue>> items = new ArrayList<>();
    for (String line : file.lines()) {
      try {
        items.add(LogItems.fromJson(line));
        lines.add(line);
      } catch (IllegalArgumentException torn) {
        LOG.warning("Skipping an unreadable line of " + file + " (torn by a crash?): " + torn.getMessage());
      }
    }
    int written = 0;
    while (written < items.size()) {
      int end = Math.min(items.size(), written + DynamoDbLogs.BATCH);
      try {
        writer.write(items.subList(written, end));
      } catch (RuntimeException stillDown) {
        LOG.warning("Kept log items not replayed yet (" + stillDown.getMessage() + "); " + (items.size() - written) + " stay in " + file);
        break;
      }
      written = end;
      file.replaceWith(lines.subList(written, lines.size()));
    }
    if (written > 0) {
      LOG.info("Replayed " + written + " kept log item(s) from " + file);
    }
    return written;
  }

  @Override
  public String describe() {
    return file.toString();
  }
}

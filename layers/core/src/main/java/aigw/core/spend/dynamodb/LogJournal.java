package aigw.core.spend.dynamodb;

import java.util.List;
import java.util.Map;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/**
 * Where spend and audit items the logs table refused are kept until they can be written: the same
 * two kinds as the usage journal ({@link aigw.core.usage.UsageJournal}), over the same file
 * mechanism. {@link FileLogJournal} locally (a file in the data directory, replayed at start and
 * periodically), {@link LoggedLogJournal} on Lambda (a structured log record an operator replays
 * with {@code aws dynamodb put-item}). A log item is written with PutItem under its own key, so
 * writing one twice leaves one item: a replay may repeat, never double-count.
 */
public interface LogJournal {
  /** Writes items to the table; throws when it could not write them all. */
  interface Writer {
    void write(List<Map<String, AttributeValue>> items);
  }

  /**
   * Keeps one item durably.
   *
   * @throws RuntimeException when it cannot be kept
   */
  void keep(Map<String, AttributeValue> item);

  /**
   * Writes the kept items through {@code writer} and forgets those written; stops at the first
   * failure and keeps the rest.
   *
   * @return how many kept items were written
   */
  int replay(Writer writer);

  String describe();
}

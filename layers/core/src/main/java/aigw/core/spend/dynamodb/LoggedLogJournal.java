package aigw.core.spend.dynamodb;

import java.util.Map;
import java.util.logging.Logger;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/**
 * Lambda's log journal, as {@link aigw.core.usage.LoggedUsageJournal} for usage: each item the
 * logs table refused becomes one SEVERE log record, {@code aigw_unwritten_log_item {item}}, the item
 * in DynamoDB's JSON form, which an operator writes back with {@code aws dynamodb put-item --item}
 * (docs/operations.md). Nothing is replayed in-process: a container's memory and {@code /tmp} do
 * not outlive it.
 */
public final class LoggedLogJournal implements LogJournal {
  /** The word every record starts with, for a CloudWatch Logs filter pattern. */
  public static final String MARKER = "aigw_unwritten_log_item";

  private static final Logger LOG = Logger.getLogger(LoggedLogJournal.class.getName());

  @Override
  public void keep(Map<String, AttributeValue> item) {
    LOG.severe(MARKER + " " + LogItems.toJson(item));
  }

  @Override
  public int replay(Writer writer) {
    return 0;
  }

  @Override
  public String describe() {
    return "the log (" + MARKER + " records)";
  }
}

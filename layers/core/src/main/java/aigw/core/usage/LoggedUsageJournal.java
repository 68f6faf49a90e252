package aigw.core.usage;

import java.util.logging.Logger;

/**
 * Lambda's journal: each delta the store refused becomes one structured log record, {@code
 * aigw_unwritten_usage {json}}, at SEVERE. The Lambda service sends a function's output to
 * CloudWatch Logs, which keeps it for the log group's retention; a container's memory and {@code
 * /tmp} are lost when Lambda recycles it, and another AWS store (SQS, S3) would be one more
 * permission and client for an outage of DynamoDB alone. An operator replays the records with the
 * shell recipe in docs/operations.md ("Usage that cannot be written"), within the log group's
 * retention ({@code FunctionLogRetentionDays}); it keeps the CloudWatch Logs event id of each record
 * it has added, since DynamoDB's {@code ADD} is not idempotent. Nothing is replayed in-process:
 * replaying here too would count the record twice once the operator replays the log.
 */
public final class LoggedUsageJournal implements UsageJournal {
  /** The word every record starts with, for a CloudWatch Logs filter pattern. */
  public static final String MARKER = "aigw_unwritten_usage";

  private static final Logger LOG = Logger.getLogger(LoggedUsageJournal.class.getName());

  @Override
  public void keep(String keyId, UsageDelta delta) {
    LOG.severe(MARKER + " " + UsageRecords.toJson(keyId, delta));
  }

  @Override
  public int replay(UsageRecorder store) {
    return 0;
  }

  @Override
  public String describe() {
    return "the log (" + MARKER + " records)";
  }
}

package aigw.core.usage;

import aigw.core.errors.ServiceUnavailable;
import java.util.logging.Logger;

/**
 * Usage that the key store cannot take is kept, not lost, and the client still gets its answer.
 *
 * <p>The store's own client retries first: DynamoDB's SDK retries a throttled or failed call with
 * backoff, bounded by the call timeout ({@code AwsClients.dynamoDbBuilder}). When the write still
 * fails ({@link ServiceUnavailable}), the delta goes to the {@link UsageJournal} and {@link
 * #replayKept} writes it later. Only when the journal cannot keep it either does this throw; {@link
 * WriteBehindUsageRecorder}, which runs it after the answer, then keeps the delta and tries again.
 */
public final class DurableUsageRecorder implements UsageRecorder {
  private static final Logger LOG = Logger.getLogger(DurableUsageRecorder.class.getName());

  private final UsageRecorder store;
  private final UsageJournal journal;

  public DurableUsageRecorder(UsageRecorder store, UsageJournal journal) {
    this.store = store;
    this.journal = journal;
  }

  @Override
  public void record(String keyId, UsageDelta delta) {
    try {
      store.record(keyId, delta);
    } catch (ServiceUnavailable storeDown) {
      try {
        keepRefused(keyId, delta, storeDown);
      } catch (RuntimeException keepFailed) {
        storeDown.addSuppressed(keepFailed);
        throw storeDown;
      }
    }
  }

  /**
   * Keeps {@code delta} in the journal without asking the store again: the same write of it was
   * just refused by DynamoDB after the SDK's retries ({@code refused}), made elsewhere ({@link
   * AfterAnswerWrites} writing it alone), so that during an outage each write is refused once, not
   * twice.
   *
   * @throws RuntimeException when the journal cannot keep it (the caller keeps it and tries again)
   */
  public void keepRefused(String keyId, UsageDelta delta, RuntimeException refused) {
    journal.keep(keyId, delta);
    LOG.warning("Usage of key id " + keyId + " (" + delta.requests() + " request(s)) kept in " + journal.describe()
        + " to replay: " + refused.getMessage());
  }

  /** Writes what the journal kept; see {@link UsageJournal#replay}. Never throws for a store still down. */
  public int replayKept() {
    return journal.replay(store);
  }

  public UsageJournal journal() {
    return journal;
  }
}

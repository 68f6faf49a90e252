package aigw.core.usage;

import java.util.List;
import software.amazon.awssdk.services.dynamodb.model.TransactWriteItem;

/**
 * Writes taken out of a write-behind queue (usage counters, limit settlements, spend-log rows) to go
 * into one DynamoDB {@code TransactWriteItems} with the other queues' writes, so that what a flush
 * after the answer writes takes one call ({@link AfterAnswerWrites}, docs/limits.md "One
 * write after the answer"). Until {@link #end} the queue treats them as a write in flight.
 */
public interface WrittenTogether {
  /** The transaction's items, one per DynamoDB item (a transaction may touch an item only once). */
  List<TransactWriteItem> items();

  /**
   * @param written true: the transaction landed, they are durable; false: they go back to their
   *     queue, which writes them its own way (and keeps or retries what fails, as always)
   */
  void end(boolean written);

  /**
   * Ends them when the call was their one item written alone (a plain UpdateItem or PutItem, not a
   * transaction) and DynamoDB refused it after the SDK's own retries for another reason than a
   * condition (throttled, unavailable, out of reach): the very write the queue's own writer would
   * make next. By default they go back to their queue all the same ({@code end(false)}); a queue
   * that keeps refused writes elsewhere (the usage: its journal) keeps them there at once, so that
   * an outage costs one refused call per write, not two.
   *
   * @param refused what DynamoDB's client threw
   */
  default void endRefused(RuntimeException refused) {
    end(false);
  }

  /** Nothing taken. */
  WrittenTogether NOTHING = new WrittenTogether() {
    @Override
    public List<TransactWriteItem> items() {
      return List.of();
    }

    @Override
    public void end(boolean written) {}
  };
}

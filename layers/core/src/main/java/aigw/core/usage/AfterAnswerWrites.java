package aigw.core.usage;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.function.IntFunction;
import java.util.logging.Level;
import java.util.logging.Logger;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.ProvisionedThroughputExceededException;
import software.amazon.awssdk.services.dynamodb.model.TransactWriteItem;
import software.amazon.awssdk.services.dynamodb.model.TransactionCanceledException;

/**
 * What answers handed over to be written after them (limit settlements, usage counters, spend-log
 * rows), taken out of their write-behind queues and written with <b>one</b> {@code
 * TransactWriteItems} call (docs/limits.md, "One write after the answer").
 *
 * <p>DynamoDB's rules (TransactWriteItems, API reference): at most 100 actions, over tables of one
 * account and region, no two on the same item, all or none applied; each item costs 2 write units
 * per KB (twice a plain write), and a {@code ClientRequestToken} makes a repeat of the same call
 * within 10 minutes change nothing more. So each queue hands over one item per DynamoDB item (the
 * usage of a key merged, the settlements of a scope folded into one update) and the call is sent
 * again with its token when its outcome is unknown.
 *
 * <p>This is an optimisation over the queues' own writers, never a second path to lose things: when
 * the transaction is cancelled (a settlement whose reservation entry was reclaimed, a key deleted
 * meanwhile, a conflicting write) or DynamoDB cannot be reached, everything taken goes back to its
 * queue, whose own writer then writes it one by one and keeps or retries what fails, as it always
 * did; except a single item written alone that DynamoDB refused after the SDK's retries, which a queue
 * may keep its own way without sending the same write again ({@link WrittenTogether#endRefused}: the
 * usage goes to its journal). A single item is never sent as a transaction: it goes as a plain UpdateItem or PutItem, at
 * half the units (a usage update merging several requests, or a settlement update folding several).
 *
 * <p>Taking and ending happen on the calling thread ({@link aigw.core.spend.dynamodb.DynamoDbLogs}
 * holds its write lock in between).
 */
public final class AfterAnswerWrites {
  private static final Logger LOG = Logger.getLogger(AfterAnswerWrites.class.getName());
  /** TransactWriteItems' limit: at most 100 actions a call. */
  public static final int MAX_ITEMS = 100;
  /** Calls one {@link #write} makes at most (a source may give less than the room left: a scope folds 25 ends a call). */
  static final int MAX_ROUNDS = 32;

  private final DynamoDbClient dynamo;

  public AfterAnswerWrites(DynamoDbClient dynamo) {
    this.dynamo = dynamo;
  }

  /**
   * Writes together what {@code sources} give (each asked, in order, for at most what room is left
   * in the call), call after call until they give nothing more (at most {@link #MAX_ROUNDS} calls);
   * stops at the first call that fails (what it took is back in the queues).
   *
   * @return how many calls were written
   */
  public int write(List<IntFunction<WrittenTogether>> sources) {
    return rounds(sources).calls();
  }

  /**
   * As {@link #write}, and whether every call it made landed (nothing taken went back to its queue);
   * true when nothing waited.
   */
  public boolean writeLanded(List<IntFunction<WrittenTogether>> sources) {
    return rounds(sources).landed();
  }

  /**
   * {@code source} asked once, for one write (make a new one for each): what it holds when the write
   * begins goes in its first call, and what reaches it while that call is in flight waits for the
   * next write. For the local group commit's usage when no limit settlement leads it ({@link
   * #leadAndRider}): asked at every call, a key under steady traffic had its usage written in each of
   * the window's calls, about three UpdateItems per window at one connection (the second and third
   * for the one or two requests answered during the first).
   */
  public static IntFunction<WrittenTogether> oncePerWrite(IntFunction<WrittenTogether> source) {
    boolean[] asked = {false}; // one write's: a write runs on one thread
    return max -> {
      if (asked[0]) {
        return WrittenTogether.NOTHING;
      }
      asked[0] = true;
      return source.apply(max);
    };
  }

  /**
   * Two sources for one write (make new ones for each): {@code lead} asked at every call; {@code
   * rider} asked at the first call, and at a later call only when {@code lead} gave something for it.
   * So {@code rider} never costs a call of its own after the first (as {@link #oncePerWrite}), and
   * what reaches it meanwhile rides in a call that is made anyway. The local group commit's window:
   * the limit settlements lead, the usage rides.
   *
   * <p>Why the usage rides rather than waiting for the next window (session 12): without it, the
   * settlements handed over during the window's first call went in calls of their own, each a plain
   * UpdateItem of the scope's {@code limits#} item. On DynamoDB Local those queued behind a busy
   * key's reservations for the table's write lock (an UpdateItem reads the table's description
   * through the database's one SQLite thread before it asks for the lock; a TransactWriteItems asks
   * first), each then found the 25 ends one call folds waiting ({@code LimitTable.MAX_ENDS_TOGETHER}),
   * the item's reservation map grew (to its 1,000 {@code max_parallel_requests} in an instrumented
   * bench), and every write of the item grew slower with it: a key with every limit fell from about
   * 800 to 250 requests/s at 16 connections. Riding, the usage turns those calls back into the
   * two-item transactions they were; the number of calls is the same (docs/architecture.md, "Usage
   * recording: write-behind and group commit").
   */
  public static List<IntFunction<WrittenTogether>> leadAndRider(IntFunction<WrittenTogether> lead, IntFunction<WrittenTogether> rider) {
    boolean[] state = {false, false}; // one write's (it runs on one thread): rider asked; lead gave items for this call
    IntFunction<WrittenTogether> leading = max -> {
      WrittenTogether part = lead.apply(max);
      state[1] = !part.items().isEmpty();
      return part;
    };
    IntFunction<WrittenTogether> riding = max -> {
      if (state[0] && !state[1]) {
        return WrittenTogether.NOTHING;
      }
      state[0] = true;
      return rider.apply(max);
    };
    return List.of(leading, riding);
  }

  /** How many calls a write made, and whether the last one landed. */
  private record Rounds(int calls, boolean landed) {}

  private Rounds rounds(List<IntFunction<WrittenTogether>> sources) {
    int transactions = 0;
    while (true) {
      var taken = new ArrayList<WrittenTogether>(sources.size());
      var items = new ArrayList<TransactWriteItem>();
      boolean written = false;
      SdkException refused = null; // the one item's plain write, refused by DynamoDB (not a condition)
      try {
        for (IntFunction<WrittenTogether> source : sources) {
          WrittenTogether part = source.apply(MAX_ITEMS - items.size());
          taken.add(part);
          items.addAll(part.items());
        }
        if (items.isEmpty()) {
          return new Rounds(transactions, true);
        }
        if (items.size() == 1) {
          Alone alone = writeAlone(items.getFirst());
          written = alone.landed();
          refused = alone.refused();
        } else {
          written = transact(items);
        }
      } finally { // whatever happens, everything taken is ended: a queue waits for it until then
        RuntimeException endFailed = null;
        for (int i = taken.size() - 1; i >= 0; i--) { // the reverse of taking (the spend logs' lock last taken, first released)
          try {
            if (refused != null) {
              taken.get(i).endRefused(refused);
            } else {
              taken.get(i).end(written);
            }
          } catch (RuntimeException e) {
            endFailed = e;
          }
        }
        if (endFailed != null) {
          throw endFailed;
        }
      }
      if (!written) {
        return new Rounds(transactions, false);
      }
      transactions++;
      if (transactions >= MAX_ROUNDS) {
        return new Rounds(transactions, true); // under load the next flush takes the rest
      }
    }
  }

  /**
   * How a plain write of one item went: landed; or not, and then {@code refused} is what DynamoDB's
   * client threw when it refused the call after its own retries (throttled, unavailable, out of
   * reach), null when a condition failed (a key deleted meanwhile, an entry reclaimed: the queue's
   * own writer tells the cases apart).
   */
  private record Alone(boolean landed, SdkException refused) {
    static final Alone LANDED = new Alone(true, null);
    static final Alone NOT_APPLIED = new Alone(false, null);
  }

  /** One item: the plain write of the same update or put (1 unit per KB instead of 2). */
  private Alone writeAlone(TransactWriteItem item) {
    try {
      if (item.update() != null) {
        var update = item.update();
        dynamo.updateItem(r -> r.tableName(update.tableName()).key(update.key()).updateExpression(update.updateExpression())
            .conditionExpression(update.conditionExpression())
            .expressionAttributeNames(update.hasExpressionAttributeNames() ? update.expressionAttributeNames() : null)
            .expressionAttributeValues(update.hasExpressionAttributeValues() ? update.expressionAttributeValues() : null));
      } else if (item.put() != null) {
        var put = item.put();
        dynamo.putItem(r -> r.tableName(put.tableName()).item(put.item()).conditionExpression(put.conditionExpression())
            .expressionAttributeNames(put.hasExpressionAttributeNames() ? put.expressionAttributeNames() : null)
            .expressionAttributeValues(put.hasExpressionAttributeValues() ? put.expressionAttributeValues() : null));
      } else {
        return Alone.NOT_APPLIED;
      }
      return Alone.LANDED;
    } catch (SdkException notWritten) {
      // Out of reach, throttled or failing after the SDK's own retries: the same write made again at
      // once by the queue's own writer would only be refused again (WrittenTogether.endRefused).
      // Anything else (a condition that failed, a request DynamoDB rejects as such) goes back to the
      // queue, whose own writer tells the cases apart.
      return refusedForNow(notWritten) ? new Alone(false, notWritten) : Alone.NOT_APPLIED;
    }
  }

  /**
   * Whether DynamoDB's client gave up on a call for want of DynamoDB (no connection, a timeout,
   * throttling, a 5xx), not because of the request (a condition, a validation error).
   */
  private static boolean refusedForNow(SdkException e) {
    if (!(e instanceof AwsServiceException service)) {
      return true; // the client's own: no connection, a timeout
    }
    return e instanceof ProvisionedThroughputExceededException || service.isThrottlingException() || service.statusCode() >= 500;
  }

  private boolean transact(List<TransactWriteItem> items) {
    String token = UUID.randomUUID().toString();
    for (int attempt = 1; ; attempt++) {
      try {
        dynamo.transactWriteItems(r -> r.transactItems(items).clientRequestToken(token));
        return true;
      } catch (TransactionCanceledException cancelled) {
        // Nothing was applied: a condition failed (an entry reclaimed, a period over, a key deleted)
        // or another write conflicted. The queues write each on its own and tell the cases apart.
        LOG.fine(() -> "Writes after the answer go one by one: the transaction was cancelled (" + cancelled.cancellationReasons() + ")");
        return false;
      } catch (SdkException unknownOutcome) {
        // After the SDK's own retries (same token). Once more with the same token: if an earlier
        // attempt landed, this one changes nothing; only then back to the queues' own writers.
        if (attempt >= 2) {
          LOG.log(Level.WARNING, "Writes after the answer could not be written together (" + unknownOutcome.getMessage()
              + "); writing them one by one");
          return false;
        }
      }
    }
  }
}

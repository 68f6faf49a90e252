package aigw.core.usage;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.testing.LocalDynamo;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.TransactWriteItem;

/**
 * How many DynamoDB calls the writes after the answer take, on DynamoDB Local: the flush after an
 * answer (Lambda) writes until nothing waits; the local group commit's window writes the settlements
 * until none waits, each call with the usage that waits then, and no call for usage alone after the
 * first: what answers hand over after its last call waits for the next window.
 */
class AfterAnswerWritesTest {
  private final LocalDynamo dynamo = new LocalDynamo();
  /** Write calls that reached DynamoDB Local (PutItem, UpdateItem, TransactWriteItems). */
  private final AtomicInteger calls = new AtomicInteger();
  private final AtomicInteger putItems = new AtomicInteger();
  /** Of {@link #calls}, the TransactWriteItems (the others wrote one item alone). */
  private final AtomicInteger transactions = new AtomicInteger();
  private final List<Boolean> ended = new ArrayList<>();

  @AfterEach
  void close() {
    dynamo.close();
  }

  private DynamoDbClient counted() {
    DynamoDbClient client = dynamo.client();
    return (DynamoDbClient) Proxy.newProxyInstance(DynamoDbClient.class.getClassLoader(), new Class<?>[] {DynamoDbClient.class},
        (proxy, method, args) -> {
          if (method.getName().equals("putItem") || method.getName().equals("updateItem") || method.getName().equals("transactWriteItems")) {
            calls.incrementAndGet();
          }
          if (method.getName().equals("transactWriteItems")) {
            transactions.incrementAndGet();
          }
          try {
            return method.invoke(client, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
        });
  }

  /**
   * A queue whose k-th taking gives {@code sizes[k]} new items (0 once the list is used up): the
   * first what waited, the later ones what answers handed over while the previous call was in flight.
   */
  private IntFunction<WrittenTogether> arriving(int... sizes) {
    AtomicInteger taking = new AtomicInteger();
    return max -> {
      int k = taking.getAndIncrement();
      int size = Math.min(max, k < sizes.length ? sizes[k] : 0);
      var items = new ArrayList<TransactWriteItem>(size);
      for (int i = 0; i < size; i++) {
        int n = putItems.incrementAndGet();
        items.add(TransactWriteItem.builder().put(p -> p.tableName(dynamo.keysTable())
            .item(Map.of("token_hash", AttributeValue.fromS("item#" + n), "n", AttributeValue.fromN(Integer.toString(n))))).build());
      }
      return new WrittenTogether() {
        @Override
        public List<TransactWriteItem> items() {
          return items;
        }

        @Override
        public void end(boolean written) {
          if (!items.isEmpty()) {
            ended.add(written);
          }
        }
      };
    };
  }

  private long itemsInTable() {
    return dynamo.client().scanPaginator(r -> r.tableName(dynamo.keysTable())).items().stream().count();
  }

  @Test
  void theFlushAfterAnAnswerWritesUntilNothingWaits() {
    var writes = new AfterAnswerWrites(counted());

    int made = writes.write(List.of(arriving(1, 1, 1)));

    assertThat(made).isEqualTo(3);
    assertThat(calls).hasValue(3);
    assertThat(itemsInTable()).isEqualTo(3);
  }

  @Test
  void theGroupCommitWindowWritesTheSettlementsUntilNoneWaitsEachCallCarryingTheUsageThatWaits() {
    var writes = new AfterAnswerWrites(counted());
    var settlements = new CountingSource(arriving(1, 1, 1));
    var usage = new CountingSource(arriving(1, 1, 1, 1));

    assertThat(writes.writeLanded(AfterAnswerWrites.leadAndRider(settlements, usage))).as("landed").isTrue();

    // Call 1: a settlement and the key's usage; calls 2 and 3: the settlements answered meanwhile
    // (each frees a slot), each with the usage of the same answers: two-item transactions, not a
    // settlement written alone (on DynamoDB Local those queued behind the reservations and a key
    // with every limit fell from about 800 to 250 requests/s at 16 connections). No call for usage
    // alone: once no settlement waits, what arrives waits for the next window.
    assertThat(calls).hasValue(3);
    assertThat(transactions).as("every call carried a settlement and the usage").hasValue(3);
    assertThat(settlements.asked).as("settlements taken until none waited").hasValue(4);
    assertThat(usage.asked).as("usage taken beside each settlement call, never for a call of its own").hasValue(3);
    assertThat(itemsInTable()).isEqualTo(6);

    assertThat(writes.writeLanded(AfterAnswerWrites.leadAndRider(settlements, usage))).isTrue();
    assertThat(usage.asked).as("the next window takes what arrived").hasValue(4);
    assertThat(calls).as("the usage alone: one plain write").hasValue(4);
    assertThat(itemsInTable()).isEqualTo(7);
  }

  @Test
  void withoutSettlementsTheGroupCommitWindowWritesAKeysUsageOnce() {
    var writes = new AfterAnswerWrites(counted());
    var settlements = new CountingSource(arriving());
    var usage = new CountingSource(arriving(1, 1, 1));

    assertThat(writes.writeLanded(AfterAnswerWrites.leadAndRider(settlements, usage))).isTrue();

    // A key without limits: its usage answered during the call waits for the next window rather
    // than costing a write of its own (about three UpdateItems per window at one connection before).
    assertThat(calls).hasValue(1);
    assertThat(usage.asked).hasValue(1);
    assertThat(itemsInTable()).isEqualTo(1);
  }

  @Test
  void theGroupCommitWindowWritesEveryKeyThatWaitedInCallsOfAtMostOneHundred() {
    var writes = new AfterAnswerWrites(counted());

    // 150 keys waited: a call takes at most 100 (TransactWriteItems' limit); asked once, the usage
    // source gives its first 100, and the 50 left go in the next window.
    assertThat(writes.writeLanded(List.of(AfterAnswerWrites.oncePerWrite(arriving(AfterAnswerWrites.MAX_ITEMS, 50, 7))))).isTrue();

    assertThat(calls).hasValue(1);
    assertThat(itemsInTable()).isEqualTo(100);
  }

  /** Counts how often a write asked its source. */
  private static final class CountingSource implements IntFunction<WrittenTogether> {
    final AtomicInteger asked = new AtomicInteger();
    private final IntFunction<WrittenTogether> source;

    CountingSource(IntFunction<WrittenTogether> source) {
      this.source = source;
    }

    @Override
    public WrittenTogether apply(int max) {
      asked.incrementAndGet();
      return source.apply(max);
    }
  }

  @Test
  void aWindowWhoseCallDidNotLandSaysSoAndPutsWhatItTookBack() {
    var writes = new AfterAnswerWrites(counted());
    // Two puts of the same item in one transaction: DynamoDB refuses the whole call.
    IntFunction<WrittenTogether> conflicting = max -> new WrittenTogether() {
      private final TransactWriteItem same = TransactWriteItem.builder().put(p -> p.tableName(dynamo.keysTable())
          .item(Map.of("token_hash", AttributeValue.fromS("same")))).build();

      @Override
      public List<TransactWriteItem> items() {
        return List.of(same, same);
      }

      @Override
      public void end(boolean written) {
        ended.add(written);
      }
    };

    assertThat(writes.writeLanded(List.of(conflicting))).isFalse();

    assertThat(ended).as("given back to its queue, whose own writer writes it").containsExactly(false);
    assertThat(itemsInTable()).isZero();
  }

  /**
   * A key's usage written alone (a plain UpdateItem) that DynamoDB refuses after the SDK's retries
   * goes to the journal at once: the queue's own writer does not send the same UpdateItem again, to
   * be refused a second time (during an outage each group-commit window, and on Lambda each flush
   * after an answer, asked DynamoDB twice for the same usage until session 15).
   */
  @Test
  void aKeysUsageThatDynamoDbRefusesIsJournalledWithoutASecondUpdate() {
    DynamoDbClient client = dynamo.client();
    var updates = new AtomicInteger();
    DynamoDbClient refusing = (DynamoDbClient) Proxy.newProxyInstance(DynamoDbClient.class.getClassLoader(), new Class<?>[] {DynamoDbClient.class},
        (proxy, method, args) -> {
          if (method.getName().equals("updateItem")) {
            updates.incrementAndGet();
            throw software.amazon.awssdk.services.dynamodb.model.ProvisionedThroughputExceededException.builder()
                .message("The level of configured provisioned throughput for the table was exceeded. (SDK Attempt Count: 9)").statusCode(400).build();
          }
          try {
            return method.invoke(client, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
        });
    var kept = new ArrayList<UsageDelta>();
    UsageJournal journal = new UsageJournal() {
      @Override
      public void keep(String keyId, UsageDelta delta) {
        kept.add(delta);
      }

      @Override
      public int replay(UsageRecorder store) {
        return 0;
      }

      @Override
      public String describe() {
        return "a list";
      }
    };
    var store = new aigw.core.keys.dynamodb.DynamoDbUsageRecorder(refusing, dynamo.keysTable());
    var usage = new WriteBehindUsageRecorder(new DurableUsageRecorder(store, journal), WriteBehindUsageRecorder.DEFAULT_MAX_BACKLOG);
    usage.record("key-1", UsageDelta.oneRequest(new TokenUsage(5, 3, 8), java.time.Instant.parse("2026-12-06T09:00:00Z")));
    usage.record("key-1", UsageDelta.oneRequest(new TokenUsage(5, 3, 8), java.time.Instant.parse("2026-12-06T09:00:01Z")));

    // As the local group commit's window and Lambda's flush after an answer write: together, then the queue's own writer.
    assertThat(new AfterAnswerWrites(refusing).writeLanded(List.of(max -> usage.takeTogether(store::transactItem, max)))).isFalse();
    assertThat(usage.flush()).as("nothing left unkept").isTrue();

    assertThat(updates).as("UpdateItems sent").hasValue(1);
    assertThat(kept).as("journalled: both requests in one record").hasSize(1);
    assertThat(kept.getFirst().requests()).isEqualTo(2);
    assertThat(kept.getFirst().tokens().totalTokens()).isEqualTo(16);
    assertThat(usage.backlog()).isZero();
  }
}

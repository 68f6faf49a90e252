package aigw.core.spend;

import static org.assertj.core.api.Assertions.assertThat;

import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What every spend-log store answers to the admin API's reads ({@code /spend/logs}, the summaries):
 * by key, by team, by key in a team, or all; within [from, to] inclusive to the millisecond; newest
 * first; pages that follow each other through the opaque {@code next} without gap or repeat, and
 * {@code next} null at the end. Each store's test extends this with a store of its own.
 */
public abstract class SpendLogReadContract {
  protected static final Instant DAY_1 = Instant.parse("2026-11-01T10:00:00Z");

  /** One store, as the gateway sees it: where records go, and where they are read back. */
  public record Store(WriteBehindSpendLogs writes, SpendLogReader reads) {
    void record(SpendLogEntry entry) {
      writes.record(entry);
    }

    void flush() {
      writes.flush();
    }

    SpendLogReader.Page page(SpendLogReader.Query query) {
      return reads.page(query);
    }
  }

  /** A new, empty store; closed by the subclass after each test. */
  protected abstract Store emptyStore();

  /** The last store's records accepted and not yet written (record does no I/O), or -1 if it does not tell. */
  protected int pendingCount() {
    return -1;
  }

  /** A model call's record with fixed usage and cost (also DynamoDbLogsTest's). */
  public static SpendLogEntry call(String requestId, String keyId, String teamId, Instant start) {
    return new SpendLogEntry(requestId, keyId, "alias-" + keyId, teamId, "gpt-4o-mini", "openai/gpt-4o-mini",
        10, 5, 15, new BigDecimal("0.000123"), 200, 321, false, start);
  }

  /** The request ids of a page, in its order. */
  public static List<String> ids(SpendLogReader.Page page) {
    return page.entries().stream().map(SpendLogEntry::requestId).toList();
  }

  @Test
  void callsAreReadBackByKeyByTeamAndByDateNewestFirst() {
    var logs = emptyStore();
    logs.record(call("r1", "key-a", "team-x", DAY_1));
    logs.record(call("r2", "key-b", null, DAY_1.plusSeconds(60)));
    logs.record(call("r3", "key-a", "team-x", DAY_1.plus(Duration.ofDays(1))));
    logs.record(call("r4", "key-c", "team-x", DAY_1.plus(Duration.ofDays(2))));
    logs.record(call("r5", "key-a", null, DAY_1.plus(Duration.ofDays(2)).plusSeconds(1)));
    if (pendingCount() >= 0) {
      assertThat(pendingCount()).as("accepted in memory, not written yet").isEqualTo(5);
    }
    logs.flush();
    if (pendingCount() >= 0) {
      assertThat(pendingCount()).isZero();
    }

    Instant from = DAY_1.minus(Duration.ofDays(1));
    Instant to = DAY_1.plus(Duration.ofDays(3));
    assertThat(ids(logs.page(new SpendLogReader.Query("key-a", null, from, to, 50, null)))).containsExactly("r5", "r3", "r1");
    assertThat(ids(logs.page(new SpendLogReader.Query(null, "team-x", from, to, 50, null)))).containsExactly("r4", "r3", "r1");
    assertThat(ids(logs.page(new SpendLogReader.Query("key-a", "team-x", from, to, 50, null)))).containsExactly("r3", "r1");
    assertThat(ids(logs.page(new SpendLogReader.Query(null, null, from, to, 50, null)))).containsExactly("r5", "r4", "r3", "r2", "r1");
    // The range is inclusive to the millisecond at both ends.
    assertThat(ids(logs.page(new SpendLogReader.Query(null, null, DAY_1.plusSeconds(60), DAY_1.plus(Duration.ofDays(2)), 50, null))))
        .containsExactly("r4", "r3", "r2");
    assertThat(logs.page(new SpendLogReader.Query(null, null, from, to, 50, null)).next()).as("one page holds them all").isNull();

    SpendLogEntry read = logs.page(new SpendLogReader.Query("key-a", null, DAY_1, DAY_1, 50, null)).entries().get(0);
    assertThat(read).isEqualTo(call("r1", "key-a", "team-x", DAY_1));
  }

  @Test
  void aRecordWithoutKeyTeamOrOptionalFieldsReadsBackAsWritten() {
    var logs = emptyStore();
    var bare = new SpendLogEntry("r-master", null, null, null, "gpt-4o", null, 0, 0, 0, new BigDecimal("0"), 499, 0, true, DAY_1);
    logs.record(bare);
    logs.flush();
    var page = logs.page(new SpendLogReader.Query(null, null, DAY_1, DAY_1, 10, null));
    assertThat(page.entries()).hasSize(1);
    SpendLogEntry read = page.entries().get(0);
    assertThat(read.requestId()).isEqualTo("r-master");
    assertThat(read.keyId()).isNull();
    assertThat(read.teamId()).isNull();
    assertThat(read.keyAlias()).isNull();
    assertThat(read.deployment()).isNull();
    assertThat(read.cost()).isEqualByComparingTo("0");
    assertThat(read.status()).isEqualTo(499);
    assertThat(read.estimated()).isTrue();
  }

  @Test
  void pagesFollowEachOtherAcrossDaysWithNeitherGapNorRepeat() {
    var logs = emptyStore();
    var expected = new ArrayList<String>();
    for (int i = 0; i < 7; i++) {
      logs.record(call("r" + i, "key-a", null, DAY_1.plus(Duration.ofHours(10L * i))));
      expected.add(0, "r" + i);
    }
    // Two calls in one millisecond: the cursor tells them apart by their request ids.
    logs.record(call("r7a", "key-a", null, DAY_1.plus(Duration.ofHours(70))));
    logs.record(call("r7b", "key-a", null, DAY_1.plus(Duration.ofHours(70))));
    expected.add(0, "r7a");
    expected.add(0, "r7b");
    logs.flush();
    for (String key : new String[] {"key-a", null}) {
      var seen = new ArrayList<String>();
      String after = null;
      int pages = 0;
      do {
        var page = logs.page(new SpendLogReader.Query(key, null, DAY_1, DAY_1.plus(Duration.ofDays(5)), 4, after));
        assertThat(page.entries().size()).isLessThanOrEqualTo(4);
        seen.addAll(ids(page));
        after = page.next();
        pages++;
      } while (after != null);
      assertThat(seen).as("key %s", key).isEqualTo(expected);
      assertThat(pages).isEqualTo(3);
    }
  }
}

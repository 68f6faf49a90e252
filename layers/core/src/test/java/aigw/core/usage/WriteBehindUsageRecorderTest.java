package aigw.core.usage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.errors.ServiceUnavailable;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The usage writer over a store and a journal that refuse on command. */
class WriteBehindUsageRecorderTest {
  private static final Instant NOW = Instant.parse("2026-05-01T12:00:00Z");

  private final List<UsageDelta> stored = new ArrayList<>();
  private final List<UsageDelta> journalled = new ArrayList<>();
  private boolean storeDown;
  private boolean journalBroken;

  private final UsageRecorder store = (keyId, delta) -> {
    if (storeDown) {
      throw new ServiceUnavailable("DynamoDB refused the write", null);
    }
    stored.add(delta);
  };

  private final UsageJournal journal = new UsageJournal() {
    @Override
    public void keep(String keyId, UsageDelta delta) {
      if (journalBroken) {
        throw new IllegalStateException("disk full");
      }
      journalled.add(delta);
    }

    @Override
    public int replay(UsageRecorder target) {
      return 0;
    }

    @Override
    public String describe() {
      return "the test's journal";
    }
  };

  @Test
  void usageDynamoDbRefusesGoesToTheJournalAtTheFlush() {
    var usage = new WriteBehindUsageRecorder(new DurableUsageRecorder(store, journal), 10);
    storeDown = true;
    usage.record("key-1", UsageDelta.oneRequest(new TokenUsage(1, 2, 3), NOW));
    usage.record("key-1", UsageDelta.oneRequest(new TokenUsage(1, 2, 3), NOW));
    assertThat(journalled).as("handed over only").isEmpty();

    assertThat(usage.flush()).isTrue();

    assertThat(stored).isEmpty();
    assertThat(journalled).as("one record for both requests").containsExactly(new UsageDelta(2, new TokenUsage(2, 4, 6), NOW, 0));
  }

  @Test
  void whenNeitherDynamoDbNorTheJournalTakesUsageAFullBacklogRefusesTheNextRequestWith503() {
    var usage = new WriteBehindUsageRecorder(new DurableUsageRecorder(store, journal), 1);
    storeDown = true;
    journalBroken = true;
    usage.record("key-1", UsageDelta.oneRequest(new TokenUsage(1, 2, 3), NOW));
    assertThat(usage.flush()).isFalse();

    assertThatThrownBy(() -> usage.record("key-1", UsageDelta.oneRequest(TokenUsage.NONE, NOW)))
        .isInstanceOf(ServiceUnavailable.class)
        .hasMessageStartingWith("Usage cannot be recorded");

    storeDown = false;
    assertThat(usage.flush()).isTrue();
    assertThat(stored).as("the held request, written once DynamoDB is back").containsExactly(UsageDelta.oneRequest(new TokenUsage(1, 2, 3), NOW));
  }
}

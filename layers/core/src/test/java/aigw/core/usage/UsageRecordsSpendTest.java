package aigw.core.usage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigDecimal;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Spend kept while the key store is down: written in the journal's JSON, exact, and replayed. */
class UsageRecordsSpendTest {
  private static final Instant NOW = Instant.parse("2026-03-01T10:00:00Z");

  @Test
  void aKeptRecordCarriesItsSpendAsAnExactDecimalString() {
    var delta = UsageDelta.oneRequest(new TokenUsage(3, 2, 5), new BigDecimal("0.0000375"), false, NOW);

    String json = UsageRecords.toJson("key-1", delta);

    assertThat(json).contains("\"spend\":\"0.0000375\"");
    assertThat(UsageRecords.parse(json).delta().spend()).isEqualTo(new BigDecimal("0.0000375"));
  }

  @Test
  void aRecordKeptBeforeSpendExistedAddsNothing() {
    String old = "{\"key_id\":\"key-1\",\"requests\":1,\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5,"
        + "\"estimated_requests\":0,\"last_used_at\":\"2026-03-01T10:00:00Z\"}";

    assertThat(UsageRecords.parse(old).delta().spend()).isZero();
  }

  @Test
  void aNegativeOrMalformedSpendMakesTheRecordUnreadable() {
    String negative = UsageRecords.toJson("key-1", UsageDelta.oneRequest(TokenUsage.NONE, NOW)).replace("\"spend\":\"0\"", "\"spend\":\"-5\"");
    String malformed = negative.replace("\"-5\"", "\"lots\"");

    assertThatThrownBy(() -> UsageRecords.parse(negative)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> UsageRecords.parse(malformed)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void spendKeptInTheLocalJournalIsReplayedWhole(@TempDir Path dir) {
    var journal = new FileUsageJournal(dir.resolve("usage-journal.jsonl"));
    journal.keep("key-1", UsageDelta.oneRequest(new TokenUsage(3, 2, 5), new BigDecimal("0.1"), false, NOW));
    journal.keep("key-1", UsageDelta.oneRequest(new TokenUsage(3, 2, 5), new BigDecimal("0.2"), true, NOW));
    Map<String, UsageDelta> written = new HashMap<>();

    int replayed = journal.replay((keyId, delta) -> written.merge(keyId, delta, UsageDelta::plus));

    assertThat(replayed).isEqualTo(2);
    assertThat(written.get("key-1").spend()).isEqualTo(new BigDecimal("0.3"));
    assertThat(written.get("key-1").estimatedRequests()).isEqualTo(1);
  }
}

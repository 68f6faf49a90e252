package aigw.core.keys.dynamodb;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.keys.ApiKeys;
import aigw.core.keys.VirtualKey;
import aigw.core.testing.LocalDynamo;
import aigw.core.usage.TokenUsage;
import aigw.core.usage.UsageDelta;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** A key's spend on its usage item, against DynamoDB Local: added atomically and exactly. */
class DynamoDbSpendTest {
  private static final Instant NOW = Instant.parse("2026-03-01T10:00:00Z");
  private static LocalDynamo dynamo;
  private static DynamoDbKeyStore store;
  private static DynamoDbUsageRecorder usage;

  @BeforeAll
  static void start() {
    dynamo = new LocalDynamo();
    store = new DynamoDbKeyStore(dynamo.client(), dynamo.keysTable());
    usage = new DynamoDbUsageRecorder(dynamo.client(), dynamo.keysTable());
  }

  @AfterAll
  static void stop() {
    dynamo.close();
  }

  private static VirtualKey newKey(String alias) {
    String plaintext = ApiKeys.generate();
    var key = new VirtualKey(
        ApiKeys.hash(plaintext), "id-" + alias, ApiKeys.mask(plaintext), alias, List.of(), null, null, Map.of(), NOW, NOW, null, false, null);
    store.create(key);
    return key;
  }

  @Test
  void aNewKeyHasSpentNothing() {
    var key = newKey("spend-new");

    assertThat(store.usageOf(key.keyId()).spend()).isEqualByComparingTo("0");
  }

  @Test
  void concurrentSpendIsAddedExactlyWithoutALostUpdate() throws Exception {
    var key = newKey("spend-concurrent");
    var pool = Executors.newFixedThreadPool(8);
    for (int i = 0; i < 200; i++) {
      // 0.1 has no exact double: 200 doubles of it add up to 20.000000000000004.
      pool.submit(() -> usage.record(key.keyId(), UsageDelta.oneRequest(new TokenUsage(1, 1, 2), new BigDecimal("0.1"), false, NOW)));
    }
    pool.shutdown();
    assertThat(pool.awaitTermination(60, TimeUnit.SECONDS)).isTrue();

    var counted = store.usageOf(key.keyId());
    assertThat(counted.requests()).isEqualTo(200);
    assertThat(counted.spend()).isEqualByComparingTo("20");
  }

  @Test
  void tinyCostsKeepEveryDigit() {
    var key = newKey("spend-tiny");
    usage.record(key.keyId(), UsageDelta.oneRequest(new TokenUsage(1, 0, 1), new BigDecimal("0.000000125"), false, NOW));
    usage.record(key.keyId(), UsageDelta.oneRequest(new TokenUsage(3, 2, 5), new BigDecimal("0.000001650000000001"), true, NOW));

    var counted = store.usageOf(key.keyId());
    assertThat(counted.spend()).isEqualByComparingTo("0.000001775000000001");
    assertThat(counted.estimatedRequests()).isEqualTo(1);
  }
}

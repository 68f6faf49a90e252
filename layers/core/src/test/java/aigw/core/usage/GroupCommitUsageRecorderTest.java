package aigw.core.usage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

class GroupCommitUsageRecorderTest {
  /** A slow single-writer store, like one DynamoDB item: records every write it receives. */
  static final class SlowStore implements UsageRecorder {
    final List<UsageDelta> writes = new CopyOnWriteArrayList<>();
    final AtomicBoolean failNext = new AtomicBoolean();

    @Override
    public void record(String tokenHash, UsageDelta delta) {
      try {
        Thread.sleep(2);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      if (failNext.getAndSet(false)) {
        throw new IllegalStateException("write failed");
      }
      writes.add(delta);
    }

    long requests() {
      return writes.stream().mapToLong(UsageDelta::requests).sum();
    }

    long tokens() {
      return writes.stream().mapToLong(d -> d.tokens().totalTokens()).sum();
    }
  }

  private static final Instant NOW = Instant.parse("2026-01-01T00:00:00Z");

  @Test
  void concurrentWritesOfOneKeyAreCoalescedAndNoneIsLost() throws Exception {
    var store = new SlowStore();
    var recorder = new GroupCommitUsageRecorder(store);
    int threads = 16;
    int perThread = 50;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    var start = new CountDownLatch(1);
    var futures = new ArrayList<Future<?>>();
    for (int t = 0; t < threads; t++) {
      futures.add(
          pool.submit(
              () -> {
                start.await();
                for (int i = 0; i < perThread; i++) {
                  recorder.record("k", UsageDelta.oneRequest(new TokenUsage(1, 2, 3), NOW));
                  // Written before returning: the store already counts this request.
                }
                return null;
              }));
    }
    start.countDown();
    for (var f : futures) {
      f.get();
    }
    pool.shutdown();
    assertThat(store.requests()).isEqualTo(threads * perThread);
    assertThat(store.tokens()).isEqualTo(3L * threads * perThread);
    assertThat(store.writes.size()).isLessThan(threads * perThread / 2);
  }

  @Test
  void eachCallerReturnsOnlyAfterItsOwnDeltaIsStored() {
    var store = new SlowStore();
    var recorder = new GroupCommitUsageRecorder(store);
    recorder.record("k", UsageDelta.oneRequest(new TokenUsage(5, 5, 10), NOW));
    assertThat(store.requests()).isEqualTo(1);
    assertThat(store.tokens()).isEqualTo(10);
  }

  @Test
  void aFailedWriteIsReportedToTheCaller() {
    var store = new SlowStore();
    var recorder = new GroupCommitUsageRecorder(store);
    store.failNext.set(true);
    assertThatThrownBy(() -> recorder.record("k", UsageDelta.oneRequest(TokenUsage.NONE, NOW)))
        .isInstanceOf(IllegalStateException.class);
    recorder.record("k", UsageDelta.oneRequest(TokenUsage.NONE, NOW));
    assertThat(store.requests()).isEqualTo(1);
  }
}

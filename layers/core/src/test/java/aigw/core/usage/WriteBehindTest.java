package aigw.core.usage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The write-behind queue with a store stand-in that can hold a write until the test releases it,
 * or fail: no timing, only latches and thread states.
 */
class WriteBehindTest {
  /** Records each write; holds writes while {@code hold} is closed; fails the next {@code failures} writes. */
  static final class Store implements WriteBehind.Writer<String, Long> {
    final List<Map.Entry<String, Long>> writes = new CopyOnWriteArrayList<>();
    final CountDownLatch release = new CountDownLatch(1);
    final CountDownLatch firstWriteEntered = new CountDownLatch(1);
    final AtomicBoolean holding = new AtomicBoolean();
    final AtomicInteger failures = new AtomicInteger();

    @Override
    public void write(String key, Long delta) {
      firstWriteEntered.countDown();
      if (holding.get()) {
        try {
          assertThat(release.await(30, TimeUnit.SECONDS)).as("the test released the write").isTrue();
        } catch (InterruptedException e) {
          throw new IllegalStateException(e);
        }
      }
      if (failures.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
        throw new IllegalStateException("the store and the journal refused it");
      }
      writes.add(Map.entry(key, delta));
    }

    long sum(String key) {
      return writes.stream().filter(w -> w.getKey().equals(key)).mapToLong(Map.Entry::getValue).sum();
    }
  }

  private final Store store = new Store();
  private final List<WriteBehind<String, Long>> opened = new ArrayList<>();

  private WriteBehind<String, Long> queue(int maxBacklog) {
    var queue = new WriteBehind<>("test", Long::sum, store, maxBacklog, Duration.ofSeconds(30));
    opened.add(queue);
    return queue;
  }

  @AfterEach
  void release() {
    store.release.countDown();
    opened.forEach(q -> q.close((k, d) -> {}));
  }

  private static void awaitWaiting(Thread thread) {
    while (thread.getState() != Thread.State.WAITING && thread.isAlive()) {
      Thread.onSpinWait();
    }
  }

  @Test
  void submitReturnsWhileTheWriteIsStillHeldAndFlushReturnsOnlyOnceItIsWritten() throws Exception {
    var queue = queue(100);
    queue.startWriters(1);
    store.holding.set(true);

    queue.submit("k", 5L); // returns: the writer thread writes it
    assertThat(store.firstWriteEntered.await(30, TimeUnit.SECONDS)).isTrue();
    assertThat(store.writes).as("the write is still held").isEmpty();

    var flushed = new CountDownLatch(1);
    Thread flusher = Thread.ofPlatform().start(() -> {
      queue.flush();
      flushed.countDown();
    });
    awaitWaiting(flusher);
    assertThat(flushed.getCount()).as("flush waits for the held write").isEqualTo(1);

    store.release.countDown();
    assertThat(flushed.await(30, TimeUnit.SECONDS)).isTrue();
    assertThat(store.sum("k")).isEqualTo(5);
    assertThat(queue.backlog()).isZero();
  }

  @Test
  void deltasOfOneKeyHandedOverWhileItsWriteIsInFlightAreWrittenTogetherAndTheirSumIsExact() throws Exception {
    var queue = queue(100_000);
    queue.startWriters(2);
    store.holding.set(true);
    queue.submit("k", 1L);
    assertThat(store.firstWriteEntered.await(30, TimeUnit.SECONDS)).isTrue();

    int threads = 16;
    int perThread = 200;
    var start = new CountDownLatch(1);
    var workers = new ArrayList<Thread>();
    for (int t = 0; t < threads; t++) {
      workers.add(Thread.ofPlatform().start(() -> {
        try {
          start.await();
        } catch (InterruptedException e) {
          throw new IllegalStateException(e);
        }
        for (int i = 0; i < perThread; i++) {
          queue.submit("k", 1L);
          queue.submit("other", 2L);
        }
      }));
    }
    start.countDown();
    for (Thread worker : workers) {
      worker.join(); // every submit returned while the first write was held
    }
    assertThat(store.writes).isEmpty();

    store.release.countDown();
    assertThat(queue.flush()).isTrue();
    long handedOver = 1L + threads * perThread;
    assertThat(store.sum("k")).isEqualTo(handedOver);
    assertThat(store.sum("other")).isEqualTo(2L * threads * perThread);
    assertThat(store.writes.stream().filter(w -> w.getKey().equals("k")))
        .as("the held write, then one for all that came meanwhile").hasSize(2);
    assertThat(queue.backlog()).isZero();
  }

  @Test
  void atTheBoundSubmitWaitsUntilAWriteEndsAndDropsNothing() throws Exception {
    var queue = queue(2);
    queue.startWriters(1);
    store.holding.set(true);
    queue.submit("k", 1L);
    assertThat(store.firstWriteEntered.await(30, TimeUnit.SECONDS)).isTrue();
    queue.submit("k", 10L); // the backlog is now at its bound: 1 in flight, 1 waiting

    var returned = new AtomicBoolean();
    Thread third = Thread.ofPlatform().start(() -> {
      queue.submit("k", 100L);
      returned.set(true);
    });
    awaitWaiting(third);
    assertThat(returned).as("back-pressure: the third waits").isFalse();
    assertThat(queue.backlog()).isEqualTo(2);

    store.release.countDown();
    third.join();
    assertThat(returned).isTrue();
    assertThat(queue.flush()).isTrue();
    assertThat(store.sum("k")).isEqualTo(111);
  }

  @Test
  void withoutWriterThreadsTheCallerAtTheBoundWritesItselfInsteadOfWaitingForever() {
    var queue = queue(1);

    queue.submit("k", 1L);
    assertThat(store.writes).as("handed over, not written").isEmpty();
    queue.submit("k", 2L); // at the bound: this caller writes the first

    assertThat(store.writes).containsExactly(Map.entry("k", 1L));
    assertThat(queue.flush()).isTrue();
    assertThat(store.sum("k")).isEqualTo(3);
  }

  @Test
  void aWriteThatFailsIsPutBackAndWrittenWholeByTheNextFlush() {
    var queue = queue(100);
    store.failures.set(1);
    queue.submit("k", 7L);

    assertThat(queue.flush()).as("the write failed").isFalse();
    assertThat(queue.backlog()).as("kept, not dropped").isEqualTo(1);
    queue.submit("k", 3L);

    assertThat(queue.flush()).isTrue();
    assertThat(store.writes).containsExactly(Map.entry("k", 10L));
    assertThat(queue.backlog()).isZero();
  }

  @Test
  void atTheBoundWhileWritesFailSubmitRefusesRatherThanWaitForever() {
    var queue = queue(1);
    store.failures.set(Integer.MAX_VALUE);
    queue.submit("k", 1L);
    assertThat(queue.flush()).isFalse();

    assertThatThrownBy(() -> queue.submit("k", 2L)).isInstanceOf(WriteBehind.Unavailable.class)
        .hasMessageContaining("last write failed");

    store.failures.set(0);
    assertThat(queue.flush()).isTrue();
    assertThat(store.writes).as("the kept delta, once the store is back").containsExactly(Map.entry("k", 1L));
  }

  @Test
  void flushOfOneKeyWritesThatKeyOnly() {
    var queue = queue(100);
    queue.submit("a", 1L);
    queue.submit("b", 2L);

    assertThat(queue.flush("a")).isTrue();

    assertThat(store.writes).containsExactly(Map.entry("a", 1L));
    assertThat(queue.backlog()).isEqualTo(1);
  }

  @Test
  void closeWritesWhatIsLeftAndHandsWhatCannotBeWrittenToTheLastResort() {
    var queue = queue(100);
    queue.startWriters(2);
    store.failures.set(Integer.MAX_VALUE);
    queue.submit("k", 4L);
    queue.submit("k", 5L);
    var lastResort = new ConcurrentHashMap<String, Long>();

    assertThat(queue.close(lastResort::put)).isFalse();

    assertThat(lastResort).containsExactly(Map.entry("k", 9L));
    assertThat(store.writes).isEmpty();
  }

  @Test
  void discardPendingForgetsWhatIsNotWrittenYet() {
    var queue = queue(100);
    queue.submit("k", 4L);
    queue.submit("j", 5L);

    assertThat(queue.discardPending()).isEqualTo(2);

    assertThat(queue.flush()).isTrue();
    assertThat(store.writes).isEmpty();
    assertThat(queue.backlog()).isZero();
  }
}

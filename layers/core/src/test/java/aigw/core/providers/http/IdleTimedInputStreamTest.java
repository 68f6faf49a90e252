package aigw.core.providers.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A provider's body whose every read must end within the call's timeout: a read that waits longer
 * fails with {@link IdleTimeout}, however the reads before it went, and a stream read quickly does
 * not pay a timer operation per read.
 */
class IdleTimedInputStreamTest {
  /** A body that hands out the bytes it is given and blocks between them until it is closed (as the JDK client's does). */
  private static final class Trickle extends InputStream {
    private static final int CLOSED = -2;
    private final LinkedBlockingQueue<Integer> bytes = new LinkedBlockingQueue<>();
    final CountDownLatch closed = new CountDownLatch(1);

    void give(int b) {
      bytes.add(b);
    }

    @Override
    public int read() throws IOException {
      try {
        int b = bytes.take();
        if (b == CLOSED) {
          throw new IOException("closed");
        }
        return b;
      } catch (InterruptedException e) {
        throw new IOException(e);
      }
    }

    @Override
    public int read(byte[] buffer, int offset, int length) throws IOException {
      int b = read();
      buffer[offset] = (byte) b;
      return 1;
    }

    @Override
    public void close() {
      closed.countDown();
      bytes.add(CLOSED);
    }
  }

  @Test
  void aReadThatWaitsLongerThanTheTimeoutFailsAndClosesTheBody() {
    var body = new Trickle();
    var stream = new IdleTimedInputStream(body, Duration.ofMillis(200));
    assertThatThrownBy(() -> stream.read(new byte[1], 0, 1)).isInstanceOf(IdleTimeout.class).hasMessage("no byte within 0.2 s");
    assertThat(body.closed.getCount()).isZero();
  }

  @Test
  void aReadAfterAPauseLongerThanTheTimeoutIsStillBoundedByIt() throws Exception {
    var body = new Trickle();
    var stream = new IdleTimedInputStream(body, Duration.ofMillis(200));
    body.give('a');
    assertThat(stream.read(new byte[1], 0, 1)).isEqualTo(1);
    // The caller is busy elsewhere (writing to a slow client) for longer than the timeout: that is
    // not the provider's silence, and the watch of the first read lapses meanwhile.
    Thread.sleep(600);
    body.give('b');
    assertThat(stream.read(new byte[1], 0, 1)).as("a pause between reads is not a timeout").isEqualTo(1);
    assertThatThrownBy(() -> stream.read(new byte[1], 0, 1)).as("the next read, unanswered, is still watched")
        .isInstanceOf(IdleTimeout.class);
  }

  /**
   * Bytes every 20 ms, for twice the timeout of 1 s: the watch looks at each read, not at the
   * stream's start, so it never fires. Not a race against the clock: a byte may come 50 times later
   * than planned (a loaded machine; the 0.3 s timeout this had once failed at load 15) and the test
   * still holds, while a watch timed from the stream's start, or one that kept a read's start after
   * it returned, would fire within the span, which ends by the clock, however slow the bytes are.
   */
  @Test
  void readsThatKeepComingWithinTheTimeoutNeverTimeOut() throws Exception {
    var body = new Trickle();
    Duration timeout = Duration.ofSeconds(1);
    var stream = new IdleTimedInputStream(body, timeout);
    var done = new java.util.concurrent.atomic.AtomicBoolean();
    var provider = Thread.ofPlatform().daemon().start(() -> {
      for (int i = 0; !done.get(); i++) {
        try {
          Thread.sleep(20);
        } catch (InterruptedException e) {
          return;
        }
        body.give(i % 100);
      }
    });
    long start = System.nanoTime();
    int reads = 0;
    while (System.nanoTime() - start < 2 * timeout.toNanos()) {
      assertThat(stream.read(new byte[1], 0, 1)).as("read %d", reads).isEqualTo(1);
      reads++;
    }
    done.set(true);
    provider.join(TimeUnit.SECONDS.toMillis(10));
    assertThat(reads).as("bytes kept coming across twice the timeout").isGreaterThan(2);
    assertThat(body.closed.getCount()).as("never closed by the timer").isEqualTo(1);
  }

  @Test
  void aStreamReadQuicklyPaysOneWatchNotOnePerRead() throws Exception {
    long before = IdleTimedInputStream.WATCHES_SCHEDULED.sum();
    try (var stream = new IdleTimedInputStream(new ByteArrayInputStream(new byte[10_000]), Duration.ofSeconds(600))) {
      byte[] one = new byte[1];
      while (stream.read(one, 0, 1) > 0) {
        // a read per byte: 10,000 reads, as a stream of small events makes
      }
    }
    // Other tests' streams may schedule meanwhile (surefire runs classes in one JVM): a margin, far below 10,000.
    assertThat(IdleTimedInputStream.WATCHES_SCHEDULED.sum() - before).isLessThan(50);
  }

  @Test
  void readsOfBytesAlreadyInScheduleNoWatch() throws Exception {
    // A read that cannot wait needs no watch: the first event of a stream is in when its caller
    // wakes (UpstreamHttp#open), and scheduling a watch wakes the timer's thread (issue 14).
    long before = IdleTimedInputStream.WATCHES_SCHEDULED.sum();
    for (int i = 0; i < 1_000; i++) {
      try (var stream = new IdleTimedInputStream(new ByteArrayInputStream(new byte[100]), Duration.ofSeconds(600))) {
        assertThat(stream.readNBytes(100)).hasSize(100);
      }
    }
    // Other tests' streams may schedule meanwhile (surefire runs classes in one JVM): a margin, far below 1,000.
    assertThat(IdleTimedInputStream.WATCHES_SCHEDULED.sum() - before).isLessThan(50);
  }

  @Test
  void aFinishedAnswerLeavesNoWatchOnTheTimer() throws Exception {
    // A watch holds its stream (and the JDK's body buffers) until it fires, up to the request
    // timeout: at 3,000 answers a second a soak's heap grew by 2 GB in five minutes.
    int before = IdleTimedInputStream.Timer.INSTANCE.getQueue().size();
    for (int i = 0; i < 1_000; i++) {
      try (var stream = new IdleTimedInputStream(new ByteArrayInputStream(new byte[100]), Duration.ofSeconds(600))) {
        stream.readNBytes(100); // a declared length read whole, without reading the end
      }
    }
    var read = new IdleTimedInputStream(new ByteArrayInputStream(new byte[100]), Duration.ofSeconds(600));
    read.readAllBytes(); // and one read to its end, not closed
    // Other tests' streams may be watched meanwhile (surefire runs classes in one JVM): a margin, far below 1,000.
    assertThat(IdleTimedInputStream.Timer.INSTANCE.getQueue().size() - before).isLessThan(20);
  }
}

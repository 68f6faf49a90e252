package aigw.core.providers.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The body a streamed provider answer is read from ({@link StreamedBody}), driven as the JDK's HTTP
 * client drives a body subscriber: pieces delivered only against demand, and, as the client does,
 * on the thread that asks for them when it has them already read.
 */
class StreamedBodyTest {
  /** The HTTP client's side: records what was asked and delivers queued pieces against the demand, inside request() as the JDK does. */
  private static final class Client implements Flow.Subscription {
    final List<Long> asked = new ArrayList<>();
    final List<List<ByteBuffer>> waiting = new ArrayList<>();
    StreamedBody body;
    long demand;
    boolean cancelled;
    int delivered;
    boolean ending;

    @Override
    public synchronized void request(long n) {
      asked.add(n);
      demand = demand + n < 0 ? Long.MAX_VALUE : demand + n; // Long.MAX_VALUE: unbounded, as Flow says
      deliver();
    }

    synchronized void deliver() {
      while (demand > 0 && !waiting.isEmpty()) {
        demand--;
        delivered++;
        body.onNext(waiting.remove(0));
      }
      if (ending && waiting.isEmpty()) {
        ending = false;
        body.onComplete();
      }
    }

    synchronized void endAfterTheLastPiece() {
      ending = true;
      deliver();
    }

    synchronized void send(String... pieces) {
      for (String piece : pieces) {
        waiting.add(List.of(ByteBuffer.wrap(piece.getBytes(StandardCharsets.UTF_8))));
      }
      deliver();
    }

    @Override
    public void cancel() {
      cancelled = true;
    }
  }

  private static StreamedBody subscribed(Client client, CompletableFuture<InputStream> inHand) {
    var body = new StreamedBody(inHand);
    client.body = body;
    body.onSubscribe(client);
    return body;
  }

  @Test
  void theFirstEventIsReadWithoutAskingTheClientForMore() throws Exception {
    var client = new Client();
    var inHand = new CompletableFuture<InputStream>();
    var body = subscribed(client, inHand);
    assertThat(inHand).as("nothing of the body is in yet").isNotDone();

    client.send("data: {\"id\":\"1\"}\n\n");

    assertThat(inHand).isCompletedWithValue(body);
    ServerSentEvent first = new ServerSentEvents(body).next();
    assertThat(first.data()).isEqualTo("{\"id\":\"1\"}");
    // The JDK's own stream asked for the next piece as it took the first one, running the client's
    // receiver (or waking its selector) on this thread before the event could be relayed.
    assertThat(client.asked).as("only the window asked at the subscription").containsExactly((long) StreamedBody.WINDOW);
  }

  @Test
  void aLongBodyIsReadWholeAndInOrderWithNoMoreThanTheWindowWaiting() throws Exception {
    var client = new Client();
    var body = subscribed(client, null);
    var expected = new StringBuilder();
    for (int i = 0; i < 50; i++) {
      String piece = "data: {\"n\":" + i + "}\n\n";
      expected.append(piece);
      client.send(piece);
    }
    client.endAfterTheLastPiece();
    assertThat(client.delivered).as("pieces delivered before any was read: the window, the rest held back").isEqualTo(StreamedBody.WINDOW);

    var read = new ByteArrayOutputStream();
    byte[] buffer = new byte[7]; // smaller than a piece: reads end inside pieces too
    for (int n = body.read(buffer); n >= 0; n = body.read(buffer)) {
      read.write(buffer, 0, n);
    }

    assertThat(read.toString(StandardCharsets.UTF_8)).isEqualTo(expected.toString());
    assertThat(client.asked.size()).as("asked once per half window, not once per piece").isLessThanOrEqualTo(2 + 50 / (StreamedBody.WINDOW / 2));
    assertThat(client.cancelled).isFalse();
  }

  @Test
  void anEmptyPieceIsAskedForAgainAndDoesNotCountAsBytesIn() throws Exception {
    var client = new Client();
    var inHand = new CompletableFuture<InputStream>();
    var body = subscribed(client, inHand);

    body.onNext(List.of(ByteBuffer.allocate(0)));

    assertThat(client.asked).containsExactly((long) StreamedBody.WINDOW, 1L);
    assertThat(body.available()).as("a read would wait").isZero();
    assertThat(inHand).isNotDone();
  }

  @Test
  void closingFromAnotherThreadEndsAWaitingReadAndCancelsTheExchange() throws Exception {
    var client = new Client();
    var body = subscribed(client, null);
    var outcome = new CompletableFuture<Object>();
    Thread reader = Thread.ofPlatform().daemon().start(() -> {
      try {
        outcome.complete(body.read());
      } catch (IOException e) {
        outcome.complete(e);
      }
    });
    while (reader.getState() != Thread.State.WAITING) {
      Thread.onSpinWait(); // the read waits for the body
    }

    body.close(); // as the idle timer or a departing client does

    assertThat(outcome.get(10, TimeUnit.SECONDS)).isInstanceOf(IOException.class);
    assertThat(client.cancelled).as("the exchange ends: its connection is not reused").isTrue();
    assertThatThrownBy(body::read).isInstanceOf(IOException.class);
  }

  @Test
  void aFailureOfTheBodyIsWhatTheNextReadThrowsAfterWhatCameBeforeIt() throws Exception {
    var client = new Client();
    var inHand = new CompletableFuture<InputStream>();
    var body = subscribed(client, inHand);
    client.send("ab");
    var reset = new IOException("connection reset");

    body.onError(reset);

    assertThat(body.read()).isEqualTo('a');
    assertThat(body.read()).isEqualTo('b');
    assertThatThrownBy(body::read).isInstanceOf(IOException.class).hasCause(reset);
  }

  @Test
  void aFailureBeforeAnyByteHandsTheBodyOverSoThatItsFirstReadThrowsIt() {
    var client = new Client();
    var inHand = new CompletableFuture<InputStream>();
    var body = subscribed(client, inHand);
    var reset = new IOException("connection reset");

    body.onError(reset);

    assertThat(inHand).isCompletedWithValue(body);
    assertThatThrownBy(body::read).isInstanceOf(IOException.class).hasCause(reset);
  }

  @Test
  void theEndOfTheBodyIsReadAsTheEndAndClosingAfterItCancelsNothing() throws Exception {
    var client = new Client();
    var inHand = new CompletableFuture<InputStream>();
    var body = subscribed(client, inHand);

    body.onComplete();

    assertThat(inHand).isCompletedWithValue(body);
    assertThat(body.read()).isEqualTo(-1);
    assertThat(body.read(new byte[4], 0, 4)).isEqualTo(-1);
    body.close();
    assertThat(client.cancelled).isFalse();
  }

  @Test
  void closingAtTheEndReadsTheBodysEndAndCancelsNothing() throws Exception {
    var client = new Client();
    var body = subscribed(client, null);
    client.send("data: [DONE]\n\n");
    assertThat(body.readNBytes(14)).asString(StandardCharsets.UTF_8).isEqualTo("data: [DONE]\n\n");

    body.closeAtEnd(1024, java.time.Duration.ofMinutes(1));
    client.send("", "more than the window", "allows", "to come", "unasked");
    client.endAfterTheLastPiece();

    assertThat(client.waiting).as("all of the rest taken").isEmpty();
    assertThat(client.cancelled).as("the exchange ended by itself: its connection is kept").isFalse();
  }

  @Test
  void closingAtTheEndOfABodyThatDoesNotEndCancelsItAfterTheGrace() throws Exception {
    var client = new Client();
    var body = subscribed(client, null);
    client.send("data: [DONE]\n\n");

    body.closeAtEnd(1024, java.time.Duration.ofMillis(50));
    assertThat(client.cancelled).as("within the grace").isFalse();

    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!client.cancelled && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertThat(client.cancelled).as("the body never ended: its connection is closed").isTrue();
  }

  @Test
  void closingAtTheEndCancelsABodyWithMoreThanTheBoundStillToCome() {
    var client = new Client();
    var body = subscribed(client, null);
    body.closeAtEnd(8, java.time.Duration.ofMinutes(1));
    client.send("0123", "4567");
    assertThat(client.cancelled).as("8 bytes: within the bound").isFalse();
    client.send("8");
    assertThat(client.cancelled).as("more than a body's end").isTrue();
  }
}

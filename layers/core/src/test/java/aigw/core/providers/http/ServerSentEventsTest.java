package aigw.core.providers.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The WHATWG event-stream rules, as providers exercise them. */
class ServerSentEventsTest {
  private static List<ServerSentEvent> read(String stream) throws Exception {
    var events = new ServerSentEvents(new ByteArrayInputStream(stream.getBytes(StandardCharsets.UTF_8)));
    var all = new ArrayList<ServerSentEvent>();
    ServerSentEvent event;
    while ((event = events.next()) != null) {
      all.add(event);
    }
    return all;
  }

  @Test
  void namedEventsAsAnthropicSendsThem() throws Exception {
    assertThat(read("event: message_start\ndata: {\"a\":1}\n\nevent: ping\ndata: {}\n\n"))
        .containsExactly(new ServerSentEvent("message_start", "{\"a\":1}"), new ServerSentEvent("ping", "{}"));
  }

  @Test
  void aByteOrderMarkAtTheStartIsSkippedNotTakenForPartOfTheFirstField() throws Exception {
    assertThat(read("\uFEFFdata: {\"a\":1}\n\ndata: [DONE]\n\n"))
        .containsExactly(new ServerSentEvent(null, "{\"a\":1}"), new ServerSentEvent(null, "[DONE]"));
    assertThat(read("data: \uFEFF\n\n")).as("only at the start").containsExactly(new ServerSentEvent(null, "\uFEFF"));
  }

  @Test
  void everyLineEndingIsALineEnd() throws Exception {
    assertThat(read("data: a\r\n\r\ndata: b\r\rdata: c\n\n"))
        .containsExactly(new ServerSentEvent(null, "a"), new ServerSentEvent(null, "b"), new ServerSentEvent(null, "c"));
  }

  @Test
  void dataLinesAreJoinedWithLineFeedsAndOnlyOneLeadingSpaceIsDropped() throws Exception {
    assertThat(read("data:first\ndata:  second\n\n")).containsExactly(new ServerSentEvent(null, "first\n second"));
  }

  @Test
  void commentsIdsAndEventsWithoutDataAreNotDispatched() throws Exception {
    assertThat(read(": keep-alive\n\nid: 7\nretry: 10\n\nevent: lonely\n\ndata: x\n\n")).containsExactly(new ServerSentEvent(null, "x"));
  }

  @Test
  void anEventCutOffByTheEndOfTheStreamIsDropped() throws Exception {
    assertThat(read("data: whole\n\ndata: cut")).containsExactly(new ServerSentEvent(null, "whole"));
  }

  @Test
  void multiByteCharactersSurviveAnyBuffering() throws Exception {
    assertThat(read("data: {\"content\":\"héllo 😀\"}\n\n")).containsExactly(new ServerSentEvent(null, "{\"content\":\"héllo 😀\"}"));
  }

  /**
   * A body whose bytes arrive piece by piece, as a provider's do: {@code available()} is what has
   * arrived, and a read that would wait for more fails the test.
   */
  private static final class Arriving extends InputStream {
    private final ArrayDeque<byte[]> pieces = new ArrayDeque<>();
    private int offset; // into the first piece

    void arrive(byte... bytes) {
      pieces.add(bytes);
    }

    void arrive(String text) {
      arrive(text.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public int available() {
      return pieces.isEmpty() ? 0 : pieces.peek().length - offset;
    }

    @Override
    public int read() {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] into, int at, int length) {
      if (pieces.isEmpty()) {
        throw new AssertionError("a read that would wait for the provider");
      }
      byte[] piece = pieces.peek();
      int n = Math.min(length, piece.length - offset);
      System.arraycopy(piece, offset, into, at, n);
      offset += n;
      if (offset == piece.length) {
        pieces.poll();
        offset = 0;
      }
      return n;
    }
  }

  @Test
  void anEventIsTakenWithoutWaitingOnlyOnceAllOfItHasArrivedAndWhatCameOfItBeforeIsKept() throws Exception {
    var body = new Arriving();
    var events = new ServerSentEvents(body);
    assertThat(events.nextIfInHand()).as("nothing arrived").isNull();
    body.arrive("event: delta\ndata: {\"a\":");
    assertThat(events.nextIfInHand()).as("half a line").isNull();
    body.arrive("1}\r");
    assertThat(events.nextIfInHand()).as("a whole line, no blank line yet").isNull();
    body.arrive("\n\r\ndata: b\n\ndata: c");
    assertThat(events.nextIfInHand()).isEqualTo(new ServerSentEvent("delta", "{\"a\":1}"));
    assertThat(events.nextIfInHand()).isEqualTo(new ServerSentEvent(null, "b"));
    assertThat(events.nextIfInHand()).as("c has no end yet").isNull();
    body.arrive("\n\n");
    assertThat(events.next()).as("next() goes on from where the poll stopped").isEqualTo(new ServerSentEvent(null, "c"));
  }

  @Test
  void aByteOrderMarkSplitAcrossArrivalsIsStillSkipped() throws Exception {
    var body = new Arriving();
    var events = new ServerSentEvents(body);
    body.arrive((byte) 0xEF);
    assertThat(events.nextIfInHand()).isNull();
    body.arrive((byte) 0xBB, (byte) 0xBF);
    body.arrive("data: x\n\n");
    assertThat(events.nextIfInHand()).isEqualTo(new ServerSentEvent(null, "x"));
  }
}

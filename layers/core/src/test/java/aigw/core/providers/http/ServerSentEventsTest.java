package aigw.core.providers.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
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
}

package aigw.proxy;

import aigw.core.errors.ErrorEnvelope;
import aigw.core.errors.GatewayException;
import aigw.core.errors.UpstreamTimeout;
import aigw.core.http.StreamingBody;
import aigw.core.json.Json;
import aigw.core.providers.ProviderStream;
import aigw.core.providers.StreamChunk;
import aigw.core.usage.TokenUsage;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Anthropic's events written to a client of {@code /v1/messages}: each chunk of {@code events}
 * (already Anthropic event data, passed through from Anthropic or made by {@link
 * ChatToMessages.EventStream}) as {@code event: <its type>} and {@code data: <it>}, flushed at once.
 * Anthropic's SDKs dispatch on the {@code event:} name
 * (anthropic-sdk-typescript {@code src/core/streaming.ts}), so it is always written.
 *
 * <p>Same rules as {@link StreamRelay}, in Anthropic's words:
 *
 * <ul>
 *   <li><b>Usage</b> is the last one a chunk reports ({@code message_start}, then {@code
 *       message_delta}'s cumulative counts), recorded on the key before {@code message_stop} is
 *       written; estimated ({@link StreamRelay#estimate}) when none came.
 *   <li><b>A failure mid-stream</b> (the provider's {@code error} event, a cut connection, a
 *       timeout): what was generated is recorded, then one {@code event: error} with Anthropic's
 *       error body ({@link ErrorEnvelope#anthropic}), as Anthropic ends a failed stream; the SDKs
 *       throw it as an {@code APIError}.
 *   <li><b>The client going away</b>: the provider stream is closed (the upstream call ends), what
 *       was generated is recorded, the failure rethrown.
 *   <li><b>The function's time limit</b> ({@link #endBeforeTimeLimit}): as a failure, with a
 *       {@code timeout_error} saying so.
 * </ul>
 */
final class MessagesRelay implements StreamingBody {
  private static final Logger LOG = Logger.getLogger(MessagesRelay.class.getName());

  private final ProviderStream events;
  private final String requestId;
  private final long requestBytes;
  private final CallAccounting.Finish accounting;

  private StreamChunk first;
  private TokenUsage reported;
  private long generatedChars;
  private boolean recorded;
  private volatile boolean timeLimitReached;

  /** @param accounting where the call is accounted when the stream ends ({@link CallAccounting}) */
  MessagesRelay(ProviderStream events, String requestId, long requestBytes, CallAccounting.Finish accounting) {
    this.events = events;
    this.requestId = requestId;
    this.requestBytes = requestBytes;
    this.accounting = accounting;
  }

  /**
   * Waits for the first event, so that a failure before it is a normal error response.
   *
   * @throws GatewayException the provider's failure; nothing was sent or recorded
   */
  void awaitFirstEvent() {
    first = events.next();
  }

  @Override
  public void writeTo(OutputStream out) throws IOException {
    try {
      StreamChunk event = first;
      while (event != null) {
        if (!pass(event, out)) {
          return;
        }
        try {
          if (timeLimitReached) {
            throw timeLimit();
          }
          event = events.next();
        } catch (GatewayException failed) {
          try {
            recordOnce();
          } catch (RuntimeException notRecorded) {
            LOG.log(Level.WARNING, "usage of a Messages stream that failed mid-way could not be recorded", notRecorded);
          }
          writeError(out, timeLimitReached ? timeLimit() : failed);
          return;
        }
      }
      try {
        recordOnce(); // a stream without message_stop (none seen): counted all the same
      } catch (GatewayException notRecorded) {
        writeError(out, notRecorded);
      }
    } catch (IOException clientGone) {
      events.close();
      try {
        recordOnce();
      } catch (RuntimeException notRecorded) {
        clientGone.addSuppressed(notRecorded);
        LOG.log(Level.WARNING, "usage of a Messages stream the client left could not be recorded", notRecorded);
      }
      throw clientGone;
    } finally {
      events.close();
    }
  }

  @Override
  public void endBeforeTimeLimit() {
    timeLimitReached = true;
    events.close();
  }

  private static GatewayException timeLimit() {
    return new UpstreamTimeout(
        "The stream was ended before the provider finished: it reached the time limit of the gateway's function "
            + "(on AWS Lambda, the function timeout). The answer is incomplete; ask for a shorter one (a lower max_tokens).");
  }

  /** Writes one event; false when the stream had to end instead (its usage could not be recorded: an error event was written). */
  private boolean pass(StreamChunk event, OutputStream out) throws IOException {
    generatedChars += event.generatedChars();
    if (event.usage() != null) {
      reported = event.usage();
    }
    String type = typeOf(event.json());
    if (type.equals("message_stop")) {
      try {
        recordOnce(); // before the end is told: a client told the message is complete is always counted
      } catch (GatewayException notRecorded) {
        writeError(out, notRecorded);
        return false;
      }
    }
    writeEvent(out, type, event.json());
    return true;
  }

  private void writeError(OutputStream out, GatewayException e) throws IOException {
    writeEvent(out, "error", Json.bytes(ErrorEnvelope.anthropic(e, requestId)));
  }

  /** Accounts the call once: the provider's usage if it came, else an estimate marked as such. */
  private void recordOnce() {
    if (recorded) {
      return;
    }
    recorded = true;
    if (reported != null) {
      accounting.finished(reported, false);
    } else {
      accounting.finished(StreamRelay.estimate(requestBytes, generatedChars), true);
    }
  }

  /** The event's {@code type} member, which names it; Anthropic's event data always has one. */
  private static String typeOf(byte[] json) {
    try {
      String type = Json.MAPPER.readTree(json).path("type").asText("");
      return type.isEmpty() ? "message" : type;
    } catch (IOException e) {
      return "message"; // cannot happen: every chunk was parsed or built as JSON
    }
  }

  private static void writeEvent(OutputStream out, String type, byte[] data) throws IOException {
    out.write(("event: " + type + "\ndata: ").getBytes(StandardCharsets.UTF_8));
    // Event data is one JSON text: a line break can only be whitespace between its tokens (one in a
    // string is escaped), and would end the data line, so it is left out.
    int from = 0;
    for (int i = 0; i <= data.length; i++) {
      if (i == data.length || data[i] == '\n' || data[i] == '\r') {
        out.write(data, from, i - from);
        from = i + 1;
      }
    }
    out.write("\n\n".getBytes(StandardCharsets.US_ASCII));
    out.flush();
  }
}

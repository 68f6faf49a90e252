package aigw.proxy;

import aigw.core.errors.GatewayException;
import aigw.core.errors.UpstreamTimeout;
import aigw.core.http.StreamingBody;
import aigw.core.providers.ProviderStream;
import aigw.core.providers.StreamChunk;
import aigw.core.usage.TokenUsage;
import aigw.proxy.responses.ResponseEvent;
import aigw.proxy.responses.ResponseEventSource;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A Responses stream written to the client: each event as {@code event: <type>} and {@code data:
 * <json>}, flushed at once. The rules of {@link StreamRelay}, for this protocol:
 *
 * <ul>
 *   <li><b>Usage</b> is recorded on the key before the event that ends the stream ({@code
 *       response.completed}, the provider's own for a passed-through stream), so a client told the
 *       answer is complete is always counted; without the provider's usage, an estimate marked so.
 *   <li><b>A provider failure mid-stream</b> or the function's time limit ({@link
 *       #endBeforeTimeLimit}): what was generated is recorded, then the source's failure events
 *       ({@code response.failed} and {@code error}) end the stream.
 *   <li><b>The client going away</b>: the provider stream is closed (ending the upstream call), what
 *       was generated recorded, and the write failure rethrown.
 * </ul>
 */
final class ResponsesRelay implements StreamingBody {
  private static final Logger LOG = Logger.getLogger(ResponsesRelay.class.getName());

  private static final byte[] DATA = "data: ".getBytes(StandardCharsets.US_ASCII);

  private final ProviderStream chunks;
  private final ResponseEventSource source;
  private final long requestBytes;
  private final CallAccounting.Finish accounting;

  private StreamChunk first;
  private TokenUsage reported;
  private long generatedChars;
  private boolean recorded;
  private volatile boolean timeLimitReached;

  /** @param accounting where the call is accounted when the stream ends ({@link CallAccounting}) */
  ResponsesRelay(ProviderStream chunks, ResponseEventSource source, long requestBytes, CallAccounting.Finish accounting) {
    this.chunks = chunks;
    this.source = source;
    this.requestBytes = requestBytes;
    this.accounting = accounting;
  }

  /**
   * Waits for the provider's first chunk, so that a failure before it is a normal error response.
   *
   * @throws GatewayException the provider's failure; nothing was sent or recorded
   */
  void awaitFirstChunk() {
    first = chunks.next();
  }

  @Override
  public void writeTo(OutputStream out) throws IOException {
    try {
      write(out, source.opening(first));
      StreamChunk chunk = first;
      while (chunk != null) {
        generatedChars += chunk.generatedChars();
        if (chunk.usage() != null) {
          reported = chunk.usage();
        }
        List<ResponseEvent> events = source.onChunk(chunk);
        if (source.ended() && !recordedOrFailed(out)) { // a passed-through response.completed: counted before it is sent
          return;
        }
        write(out, events);
        if (source.ended()) {
          return;
        }
        try {
          if (timeLimitReached) {
            throw timeLimit();
          }
          chunk = chunks.next();
        } catch (GatewayException failed) {
          try {
            recordOnce();
          } catch (RuntimeException notRecorded) {
            LOG.log(Level.WARNING, "usage of a Responses stream that failed mid-way could not be recorded", notRecorded);
          }
          write(out, source.failure(timeLimitReached ? timeLimit() : failed));
          return;
        }
      }
      if (recordedOrFailed(out)) {
        write(out, source.closing(recordedUsage()));
      }
    } catch (IOException clientGone) {
      chunks.close(); // ends the upstream call: nobody reads what it would still generate
      try {
        recordOnce();
      } catch (RuntimeException notRecorded) {
        clientGone.addSuppressed(notRecorded);
        LOG.log(Level.WARNING, "usage of a Responses stream the client left could not be recorded", notRecorded);
      }
      throw clientGone;
    } finally {
      chunks.close();
    }
  }

  @Override
  public void endBeforeTimeLimit() {
    timeLimitReached = true;
    chunks.close();
  }

  /** Records the call; when that fails, the stream ends with the failure's events instead. */
  private boolean recordedOrFailed(OutputStream out) throws IOException {
    try {
      recordOnce();
      return true;
    } catch (GatewayException notRecorded) {
      write(out, source.failure(notRecorded));
      return false;
    }
  }

  private static GatewayException timeLimit() {
    return new UpstreamTimeout(
        "The stream was ended before the provider finished: it reached the time limit of the gateway's function "
            + "(on AWS Lambda, the function timeout). The answer is incomplete; ask for a shorter one (for example with max_output_tokens).");
  }

  private TokenUsage recordedUsage() {
    return reported != null ? reported : StreamRelay.estimate(requestBytes, generatedChars);
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

  private static void write(OutputStream out, List<ResponseEvent> events) throws IOException {
    if (events.isEmpty()) {
      return;
    }
    for (ResponseEvent event : events) {
      out.write(("event: " + event.type() + "\n").getBytes(StandardCharsets.UTF_8));
      byte[] data = event.json();
      int from = 0;
      for (int i = 0; i <= data.length; i++) { // a provider's event may span lines: one data: line each (SSE joins them)
        if (i == data.length || data[i] == '\n') {
          out.write(DATA);
          int to = i > from && data[i - 1] == '\r' ? i - 1 : i;
          out.write(data, from, to - from);
          out.write('\n');
          from = i + 1;
        }
      }
      out.write('\n');
    }
    out.flush();
  }
}

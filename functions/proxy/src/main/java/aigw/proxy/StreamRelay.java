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
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A provider's streamed answer written to the client as OpenAI's Server-Sent Events
 * (https://platform.openai.com/docs/api-reference/chat-streaming): one {@code data: <chunk>} event
 * per chunk, flushed at once, then {@code data: [DONE]}.
 *
 * <ul>
 *   <li><b>Usage</b>: the provider is asked for it (unless it refuses {@code stream_options}:
 *       {@code Provider#acceptsStreamOptions}) and read from whichever chunk carries it, the last
 *       one winning; a usage chunk ({@code choices: []}) is passed on only when the client asked
 *       ({@code stream_options.include_usage}). The call is
 *       recorded on the key before {@code [DONE]} is written (and so before {@link #writeTo}
 *       returns: on Lambda the invocation must not end before the write).
 *   <li><b>A provider failure mid-stream</b> (its error event, a broken or cut-off connection,
 *       nothing for the deployment's timeout): one {@code data: {"error":{...}}} event in OpenAI's
 *       envelope, then the end, without {@code [DONE]}. The OpenAI SDKs (Python, Node, Java's
 *       {@code SseHandler}) raise on a {@code data:} event carrying {@code error}; a client that
 *       does not check sees a stream without its {@code [DONE]}, which says it was cut off.
 *   <li><b>The client going away</b> (a write fails): the provider stream is closed, which ends the
 *       upstream call, and what was generated is recorded before the failure is rethrown. On AWS a
 *       client's disconnect is usually not seen here (Lambda keeps the stream running), see
 *       docs/architecture.md.
 *   <li><b>The function's time limit</b> ({@link #endBeforeTimeLimit}, from the Lambda streaming
 *       runtime's timer shortly before the invocation's deadline): the provider stream is closed
 *       from that thread, which also ends a {@code chunks.next()} blocked waiting on the provider;
 *       what was generated is recorded and the stream ends with an error event ({@code timeout})
 *       saying it reached the time limit, as for a provider failure.
 * </ul>
 *
 * A call that ends without the provider's usage is recorded with estimated tokens, marked so
 * ({@code estimated_request_count}): prompt = request body bytes / 4, completion = generated
 * characters / 4, both rounded up (OpenAI's rule of thumb of about 4 characters per token); the
 * prompt is the provider's own count instead when a chunk reported it before the stream was cut
 * ({@link StreamChunk#promptTokens}, Anthropic's {@code message_start}).
 */
final class StreamRelay implements StreamingBody {
  private static final Logger LOG = Logger.getLogger(StreamRelay.class.getName());

  /** OpenAI's headers for a stream; {@code X-Accel-Buffering: no} keeps nginx-style proxies from buffering it. */
  static final Map<String, String> HEADERS =
      Map.of("Content-Type", "text/event-stream; charset=utf-8", "Cache-Control", "no-cache", "X-Accel-Buffering", "no");

  private static final byte[] DATA = "data: ".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] DONE = "[DONE]".getBytes(StandardCharsets.US_ASCII);

  private final ProviderStream chunks;
  private final boolean clientWantsUsage;
  private final long requestBytes;
  private final CallAccounting.Finish accounting;

  private StreamChunk first;
  private TokenUsage reported;
  private Long reportedPromptTokens; // from a chunk before the final usage; null: none
  private long generatedChars;
  private boolean recorded;
  /** Set by {@link #endBeforeTimeLimit} (another thread); read by the writer before and after each wait. */
  private volatile boolean timeLimitReached;

  /** @param accounting where the call is accounted when the stream ends (cost, the key's usage and spend, the spend log) */
  StreamRelay(ProviderStream chunks, boolean clientWantsUsage, long requestBytes, CallAccounting.Finish accounting) {
    this.chunks = chunks;
    this.clientWantsUsage = clientWantsUsage;
    this.requestBytes = requestBytes;
    this.accounting = accounting;
  }

  /**
   * Waits for the provider's first chunk, so that a failure before it is a normal error response.
   *
   * @throws GatewayException the provider's failure (the stream is then closed); nothing was sent to
   *     the client, and nothing is recorded, as for any failed call
   */
  void awaitFirstChunk() {
    first = chunks.next();
  }

  @Override
  public void writeTo(OutputStream out) throws IOException {
    try {
      StreamChunk chunk = first;
      boolean more = chunk != null;
      while (more) {
        pass(chunk, out);
        try {
          if (timeLimitReached) {
            throw timeLimit();
          }
          chunk = chunks.next();
        } catch (GatewayException failed) {
          try {
            recordOnce(); // what was generated until the failure
          } catch (RuntimeException notRecorded) {
            LOG.log(Level.WARNING, "usage of a stream that failed mid-way could not be recorded", notRecorded);
          }
          // A next() ended by endBeforeTimeLimit's close fails as a broken connection: say why it broke.
          writeEvent(out, Json.bytes(ErrorEnvelope.of(timeLimitReached ? timeLimit() : failed)));
          return;
        }
        more = chunk != null;
      }
      try {
        recordOnce(); // before [DONE]: a client told the stream is complete is always counted
      } catch (GatewayException notRecorded) {
        writeEvent(out, Json.bytes(ErrorEnvelope.of(notRecorded)));
        return;
      }
      writeEvent(out, DONE);
    } catch (IOException clientGone) {
      chunks.close(); // ends the upstream call: nobody reads what it would still generate
      try {
        recordOnce();
      } catch (RuntimeException notRecorded) {
        clientGone.addSuppressed(notRecorded);
        LOG.log(Level.WARNING, "usage of a stream the client left could not be recorded", notRecorded);
      }
      throw clientGone;
    } finally {
      chunks.close();
    }
  }

  /**
   * Ends the stream early because the function is about to reach its time limit: closes the
   * provider stream (thread-safe, per {@link ProviderStream#close}), so the writer's wait for the
   * next chunk ends and {@link #writeTo} records the call and writes the time-limit error event.
   */
  @Override
  public void endBeforeTimeLimit() {
    timeLimitReached = true;
    chunks.close();
  }

  private static GatewayException timeLimit() {
    return new UpstreamTimeout(
        "The stream was ended before the provider finished: it reached the time limit of the gateway's function "
            + "(on AWS Lambda, the function timeout). The answer is incomplete; ask for a shorter one (for example with max_tokens).");
  }

  private void pass(StreamChunk chunk, OutputStream out) throws IOException {
    generatedChars += chunk.generatedChars();
    if (chunk.usage() != null) {
      reported = chunk.usage();
    }
    if (chunk.promptTokens() != null) {
      reportedPromptTokens = chunk.promptTokens();
    }
    if (chunk.usageOnly() && !clientWantsUsage) {
      return; // asked for by the gateway, not the client: OpenAI sends it only to those who ask
    }
    writeEvent(out, chunk.json());
  }

  /**
   * Accounts the call once ({@link CallAccounting}): the provider's usage if it came, else an
   * estimate, costed on it and marked as such.
   */
  private void recordOnce() {
    if (recorded) {
      return;
    }
    recorded = true;
    if (reported != null) {
      accounting.finished(reported, false);
    } else {
      TokenUsage estimate = estimate(requestBytes, generatedChars);
      if (reportedPromptTokens != null) {
        estimate = new TokenUsage(reportedPromptTokens, estimate.completionTokens(), reportedPromptTokens + estimate.completionTokens());
      }
      accounting.finished(estimate, true);
    }
  }

  /** About 4 characters (or bytes of a JSON request) per token, rounded up. */
  static TokenUsage estimate(long requestBytes, long generatedChars) {
    long prompt = (requestBytes + 3) / 4;
    long completion = (generatedChars + 3) / 4;
    return new TokenUsage(prompt, completion, prompt + completion);
  }

  /** One {@code data:} event, flushed; data with line breaks is sent as several {@code data:} lines (SSE joins them). */
  private static void writeEvent(OutputStream out, byte[] data) throws IOException {
    int from = 0;
    for (int i = 0; i <= data.length; i++) {
      if (i == data.length || data[i] == '\n') {
        out.write(DATA);
        int to = i > from && data[i - 1] == '\r' ? i - 1 : i;
        out.write(data, from, to - from);
        out.write('\n');
        from = i + 1;
      }
    }
    out.write('\n');
    out.flush();
  }
}

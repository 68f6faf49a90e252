package aigw.proxy;

import aigw.core.errors.ErrorEnvelope;
import aigw.core.errors.GatewayException;
import aigw.core.errors.UpstreamTimeout;
import aigw.core.http.ClientClosedRequest;
import aigw.core.http.ClientDeparture;
import aigw.core.http.StreamingBody;
import aigw.core.providers.ProviderStream;
import aigw.core.providers.StreamChunk;
import aigw.core.providers.http.UpstreamHttp;
import aigw.core.usage.TokenUsage;
import aigw.proxy.stream.StreamFormat;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A provider's streamed answer written to the client as Server-Sent Events, in the client's
 * protocol ({@link StreamFormat}: OpenAI's chat chunks ending {@code data: [DONE]}, Anthropic's
 * Messages events, the Responses API's events), the events of the chunks that have arrived flushed
 * together before the relay waits for more ({@link #writeTo}). The same rules for every protocol:
 *
 * <ul>
 *   <li><b>Usage</b> is read from whichever chunk of the provider's stream reports it, the last one
 *       winning, and the call is recorded ({@link CallAccounting}) before the client is told the
 *       answer is complete: before the format's ending event ({@code [DONE]}, {@code message_stop},
 *       {@code response.completed}), and so before {@link #writeTo} returns (on Lambda the
 *       invocation must not end before the write). When that record fails, the stream ends with the
 *       format's failure events instead.
 *   <li><b>A provider failure mid-stream</b> (its error event, a broken or cut-off connection,
 *       nothing for the deployment's timeout): what was generated is recorded, then the format's
 *       failure events end the stream (OpenAI's {@code data: {"error":...}} without {@code [DONE]},
 *       Anthropic's {@code event: error}, {@code response.failed} and {@code error}); the SDKs raise
 *       on them.
 *   <li><b>The client going away</b> (a write fails): the provider stream is closed, which ends the
 *       upstream call, and what was generated is recorded before the failure is rethrown. Once the
 *       provider has finished generating (its finish chunk came), its last events are still read
 *       for its usage first ({@link #readUsageAfterGeneration}). On AWS a
 *       client's disconnect is usually not seen here (Lambda keeps the stream running), see
 *       docs/architecture.md.
 *   <li><b>The function's time limit</b> ({@link #endBeforeTimeLimit}, from the Lambda streaming
 *       runtime's timer shortly before the invocation's deadline): the provider stream is closed
 *       from that thread, which also ends a {@code next()} blocked waiting on the provider; what was
 *       generated is recorded and the stream ends as for a failure, with a {@code timeout} error
 *       saying it reached the time limit.
 * </ul>
 *
 * A call that ends without the provider's usage is recorded with estimated tokens, marked so
 * ({@code estimated_request_count}): completion = generated characters / 4, rounded up (OpenAI's
 * rule of thumb of about 4 characters per token); prompt = the provider's own count when a chunk
 * reported it before the stream was cut ({@link StreamChunk#promptTokens}, Anthropic's {@code
 * message_start}: {@link StreamFormat#reportsPromptOnly}), else request body bytes / 4.
 */
final class StreamRelay implements StreamingBody {
  private static final Logger LOG = Logger.getLogger(StreamRelay.class.getName());

  /** The headers of every stream; {@code X-Accel-Buffering: no} keeps nginx-style proxies from buffering it. */
  static final Map<String, String> HEADERS =
      Map.of("Content-Type", "text/event-stream; charset=utf-8", "Cache-Control", "no-cache", "X-Accel-Buffering", "no");

  private static final byte[] DATA = "data: ".getBytes(StandardCharsets.US_ASCII);

  private final StreamFormat format;
  /** What the format reads: the provider's stream, counted as it is read ({@link Counted}), or the format's translation of it. */
  private final ProviderStream chunks;
  /** The provider's stream, counted: read on its own (not through the format) when the client left after the generation finished. */
  private final Counted counted;
  private final long requestBytes;
  private final CallAccounting.Finish accounting;

  private StreamChunk first;
  private TokenUsage reported;
  private TokenUsage promptReported; // the prompt's count from a chunk before the final usage; null: none
  private long generatedChars;
  private boolean recorded;
  /** Set by {@link #endBeforeTimeLimit} (another thread); read by the writer before and after each wait. */
  private volatile boolean timeLimitReached;

  /**
   * @param requestBytes the client's request body's size, for the prompt's estimate
   * @param accounting where the call is accounted when the stream ends (cost, the key's usage and spend, the spend log)
   */
  StreamRelay(ProviderStream provider, StreamFormat format, long requestBytes, CallAccounting.Finish accounting) {
    this.format = format;
    this.counted = new Counted(provider);
    this.chunks = format.reading(counted);
    this.requestBytes = requestBytes;
    this.accounting = accounting;
  }

  /**
   * Waits for the provider's first chunk, so that a failure before it is a normal error response.
   *
   * <p>The provider's stream has begun (its 2xx status and first chunk came: {@link
   * ProxyService#call} returned it), so a failure here comes after the provider started generating,
   * as when a stream is cut later: the call is accounted once, with the estimate and the failure's
   * status (a translated stream, {@code /v1/messages} or {@code /v1/responses} over a chat provider,
   * may read several provider chunks before its first event, e.g. Azure's filter-only first chunk).
   *
   * @throws GatewayException the provider's failure, or the client's departure (the stream is then
   *     closed); nothing was sent to the client
   */
  void awaitFirstChunk() {
    try {
      first = chunks.next();
    } catch (ClientClosedRequest gone) {
      throw endedBeforeTheFirstEvent(gone, CLIENT_CLOSED_REQUEST);
    } catch (GatewayException failed) {
      throw endedBeforeTheFirstEvent(failed, ErrorEnvelope.status(failed));
    }
    firstInHand = true;
  }

  /** Closes the provider's stream and accounts the call with {@code status}; returns {@code ended} to be thrown. */
  private <E extends RuntimeException> E endedBeforeTheFirstEvent(E ended, int status) {
    chunks.close();
    try {
      recordOnce(status);
    } catch (RuntimeException notRecorded) {
      ended.addSuppressed(notRecorded);
      LOG.log(Level.WARNING, "usage of a stream that ended before its first event could not be recorded", notRecorded);
    }
    return ended;
  }

  /** Set by {@link #awaitFirstChunk}: {@link #writeTo} then flushes the first chunk's events before it waits for the next. */
  private boolean firstInHand;

  @Override
  public boolean firstEventInHand() {
    return firstInHand;
  }

  /**
   * Writes the first event at once (with the status and headers, {@link #firstEventInHand}), then
   * the events of every chunk that has arrived, flushed together, once, just before it would wait
   * for the provider ({@link ProviderStream#nextInHand} false) or when {@link #MAX_UNFLUSHED_BYTES}
   * are written: an event that arrived is on its way to the client before the relay waits, and one
   * that arrived with others leaves in their write. A provider that sends a token at a time gets a
   * flush per token, as before; one whose events come in bursts (a loopback stub, a fast model,
   * a buffering proxy in front of the provider) costs one write per burst instead of one per event:
   * each write is a system call, and on a busy machine the gateway's writes of the rest of a burst
   * held the CPU the client needed to read the first event (session 14, docs/architecture.md
   * "Performance"). The first event does not wait for the ones that came with it: it is what the
   * client's time to first byte is.
   */
  @Override
  public void writeTo(OutputStream out) throws IOException {
    try {
      long unflushed = write(out, format.opening(first)); // bytes written since the last flush
      boolean eventSent = false; // until an event has left, each chunk's events leave at once
      StreamChunk chunk = first;
      while (chunk != null) {
        List<StreamFormat.Event> events = format.onChunk(chunk);
        if (format.ended()) { // they tell the client the answer is complete: counted before they are sent
          out.flush(); // what came before leaves now: recording may wait (a full write-behind backlog)
          if (recordedOrFailed(out)) {
            write(out, events);
          }
          out.flush();
          return;
        }
        unflushed += write(out, events);
        try {
          if (timeLimitReached) {
            throw timeLimit();
          }
          if (!eventSent || unflushed >= MAX_UNFLUSHED_BYTES || !chunks.nextInHand()) {
            // firstEventInHand: the status and headers leave with this flush at the latest, even
            // when no chunk has made an event yet.
            out.flush();
            eventSent |= unflushed > 0;
            unflushed = 0;
          }
          chunk = chunks.next();
        } catch (ClientClosedRequest gone) {
          // The transport saw the client close its connection while the provider was quiet, and
          // ended the provider call: as for a failed write below.
          throw new IOException("the client closed its connection", gone);
        } catch (GatewayException failed) {
          // A next() ended by endBeforeTimeLimit's close fails as a broken connection: say why it broke.
          GatewayException endedBy = timeLimitReached ? timeLimit() : failed;
          try {
            recordOnce(ErrorEnvelope.status(endedBy)); // what was generated until the failure
          } catch (RuntimeException notRecorded) {
            LOG.log(Level.WARNING, "usage of a stream that failed mid-way could not be recorded", notRecorded);
          }
          write(out, format.failure(endedBy));
          out.flush();
          return;
        }
      }
      out.flush(); // the events written since the last wait, before the call is recorded
      if (recordedOrFailed(out)) { // before the end is told: a client told the stream is complete is always counted
        write(out, format.closing(counted()));
      }
      out.flush();
    } catch (IOException clientGone) {
      readUsageAfterGeneration();
      chunks.close(); // ends the upstream call: nobody reads what it would still generate
      try {
        recordOnce(CLIENT_CLOSED_REQUEST);
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
   * next chunk ends and {@link #writeTo} records the call and writes the time-limit error.
   */
  @Override
  public void endBeforeTimeLimit() {
    timeLimitReached = true;
    chunks.close();
  }

  private GatewayException timeLimit() {
    return new UpstreamTimeout(
        "The stream was ended before the provider finished: it reached the time limit of the gateway's function "
            + "(on AWS Lambda, the function timeout). The answer is incomplete; ask for a shorter one (for example with "
            + format.outputLimitField() + ").");
  }

  /**
   * A client that left once the provider had finished generating (its finish chunk came): the
   * provider bills the answer whether or not anyone reads the rest, so the rest (the usage chunk,
   * Anthropic's {@code message_stop} after {@code message_delta}) is read, not written, for at most
   * {@link UpstreamHttp#DEPARTED_GRACE}, and the call counted with the provider's usage rather than
   * an estimate. The transport keeps such a stream open that long after a departure too ({@link
   * ProviderStream#generationFinished}). A client that left mid-generation gets none of this: the
   * call is ended at once, which stops the generation, and estimated.
   */
  private void readUsageAfterGeneration() {
    if (reported != null || timeLimitReached || !counted.provider.generationFinished()) {
      return;
    }
    long until = System.nanoTime() + UpstreamHttp.DEPARTED_GRACE.toNanos();
    // The bound holds even where no departure watch ends the provider's stream (on Lambda a write
    // fails instead, and each read could wait for the deployment's timeout): closing the stream
    // from another thread ends a read waiting on it.
    Thread closer = Thread.ofVirtual().name("aigw-departed-grace").start(() -> {
      try {
        Thread.sleep(UpstreamHttp.DEPARTED_GRACE);
      } catch (InterruptedException readInTime) {
        return;
      }
      counted.provider.close();
    });
    try {
      while (reported == null && System.nanoTime() - until < 0 && counted.next() != null) {
        // read for its usage only: nobody is there to write it to
      }
    } catch (RuntimeException endedOrFailed) {
      // the grace ended it, or the provider failed: counted with what came
    } finally {
      closer.interrupt();
    }
  }

  /**
   * Records the call; when that fails, the stream ends with the format's failure events instead.
   * Recorded with 499 when the client left meanwhile (after the generation finished, the transport
   * reads on to the provider's end: {@link ProviderStream#generationFinished}).
   */
  private boolean recordedOrFailed(OutputStream out) throws IOException {
    try {
      recordOnce(ClientDeparture.clientLeft() ? CLIENT_CLOSED_REQUEST : 200);
      return true;
    } catch (GatewayException notRecorded) {
      write(out, format.failure(notRecorded));
      return false;
    }
  }

  /**
   * Accounts the call once ({@link CallAccounting}): the provider's usage if it came, else {@link
   * #counted}'s estimate, marked so.
   *
   * @param endStatus 200 for a stream told complete; else the status of the error event it ended
   *     with, or {@link #CLIENT_CLOSED_REQUEST} when the client left (the spend log's status)
   */
  private void recordOnce(int endStatus) {
    if (!recorded) {
      recorded = true;
      accounting.finished(counted(), reported == null, endStatus);
    }
  }

  /** nginx's status for a request its client closed before the answer ended; no HTTP status says it. */
  static final int CLIENT_CLOSED_REQUEST = ClientClosedRequest.STATUS;

  /** The provider's usage, else the estimate: its reported prompt (cache counts included) or one from the request, and the generated text. */
  private TokenUsage counted() {
    if (reported != null) {
      return reported;
    }
    TokenUsage estimate = estimate(requestBytes, generatedChars);
    if (promptReported == null) {
      return estimate;
    }
    long prompt = promptReported.promptTokens();
    long completion = estimate.completionTokens();
    return new TokenUsage(prompt, completion, prompt + completion, promptReported.cacheReadTokens(), promptReported.cacheWriteTokens());
  }

  /**
   * About 4 characters (or bytes of a JSON request, or of an answer the gateway could not relay)
   * per token, rounded up.
   */
  static TokenUsage estimate(long requestBytes, long generatedChars) {
    long prompt = (requestBytes + 3) / 4;
    long completion = (generatedChars + 3) / 4;
    return new TokenUsage(prompt, completion, prompt + completion);
  }

  /**
   * The most bytes written before a flush while chunks keep arriving: a provider's burst (or a
   * client's slow reads letting the provider's bytes pile up) still leaves in parts of this size,
   * so the events at its start do not wait for the whole of it, nor does the transport buffer it all.
   */
  static final int MAX_UNFLUSHED_BYTES = 16 * 1024;

  /**
   * Events, not flushed ({@link #writeTo} flushes before it waits); data with line breaks is sent
   * as several {@code data:} lines (SSE joins them).
   *
   * @return the bytes written
   */
  private static long write(OutputStream out, List<StreamFormat.Event> events) throws IOException {
    long bytes = 0;
    for (StreamFormat.Event event : events) {
      if (event.type() != null) {
        byte[] line = ("event: " + event.type() + "\n").getBytes(StandardCharsets.UTF_8);
        out.write(line);
        bytes += line.length;
      }
      byte[] data = event.json();
      int from = 0;
      for (int i = 0; i <= data.length; i++) {
        if (i == data.length || data[i] == '\n') {
          out.write(DATA);
          int to = i > from && data[i - 1] == '\r' ? i - 1 : i;
          out.write(data, from, to - from);
          out.write('\n');
          bytes += DATA.length + to - from + 1;
          from = i + 1;
        }
      }
      out.write('\n');
      bytes++;
    }
    return bytes;
  }

  /** The provider's stream, whose chunks are counted as they are read, whatever the format makes of them. */
  private final class Counted implements ProviderStream {
    private final ProviderStream provider;

    Counted(ProviderStream provider) {
      this.provider = provider;
    }

    @Override
    public StreamChunk next() {
      StreamChunk chunk = provider.next();
      if (chunk != null) {
        generatedChars += chunk.generatedChars();
        if (chunk.promptTokens() != null) {
          promptReported = new TokenUsage(chunk.promptTokens(), 0, chunk.promptTokens());
        }
        if (chunk.usage() != null) {
          if (format.reportsPromptOnly(chunk)) {
            promptReported = chunk.usage();
          } else {
            reported = chunk.usage();
          }
        }
      }
      return chunk;
    }

    @Override
    public boolean nextInHand() {
      return provider.nextInHand();
    }

    @Override
    public void close() {
      provider.close();
    }
  }
}

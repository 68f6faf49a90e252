package aigw.core.providers.http;

import aigw.core.errors.ServiceUnavailable;
import aigw.core.errors.UpstreamFailed;
import aigw.core.errors.UpstreamTimeout;
import aigw.core.errors.UpstreamUnreachable;
import aigw.core.http.ClientClosedRequest;
import aigw.core.http.ClientDeparture;
import aigw.core.keys.ApiKeys;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.List;
import java.util.regex.Pattern;
import javax.net.ssl.SSLHandshakeException;

/**
 * The one HTTP transport every provider over plain HTTPS shares (the JDK's HttpClient): timeouts,
 * the connect-versus-sent classification that decides whether another deployment may be tried,
 * redirect refusal, masking of provider credentials in messages. It knows no provider API: a
 * translator ({@link HttpApiTranslator}) builds the {@link UpstreamCall} and reads the answer.
 *
 * <p>Failures are thrown as the gateway's exceptions:
 *
 * <ul>
 *   <li>{@link UpstreamUnreachable} with {@code beforeSending() == true}: no connection or no TLS
 *       session, so no byte of the request left (another deployment may be tried);
 *   <li>{@link UpstreamUnreachable} with {@code beforeSending() == false}: the connection failed
 *       once the request was (partly) sent (it may have run: no retry);
 *   <li>{@link UpstreamTimeout}: no response headers within the call's timeout, or (streamed body)
 *       no byte within it between two reads;
 *   <li>{@link UpstreamFailed} 502 for a redirect (never followed: a moved provider URL is a
 *       configuration error, and following one would resend the credential elsewhere).
 * </ul>
 *
 * When the client of the request the thread serves closes its connection ({@link ClientDeparture},
 * locally), the exchange being waited on is cancelled (its connection closed) or the open reply's
 * body closed, and the waiting thread gets {@link ClientClosedRequest} at once; a call is not
 * started for a client already gone. Except once a whole (not streamed) answer's success status
 * has come ({@link #exchange}): the provider has generated it and bills it, so its body is read to
 * its end and the call accounted with the provider's usage, not an estimate without the answer;
 * for at most {@link #DEPARTED_GRACE} after the client left, so a provider that sends its status
 * before it generates does not hold the worker and the key's parallel slot for the whole timeout.
 * A streamed answer likewise once its provider has finished generating ({@link
 * OpenReply#readOnAfterClientLeaves}): its last events (the usage) are read, not cancelled.
 *
 * Error statuses (4xx/5xx) are not thrown here: the provider's translator reads its error body.
 */
public final class UpstreamHttp {
  /** How long a provider has to accept a connection (TCP and TLS). */
  public static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);

  /** The most of an error body read (a provider's error is a small JSON object); more is not read. */
  static final int MAX_ERROR_BODY_BYTES = 64 * 1024;

  /**
   * The default bound of a whole (not streamed) answer: 64 MiB. What the transports carry does not
   * bind first: on AWS every proxy answer leaves through the streaming runtime, and a streamed Lambda
   * response carries up to 200 MB
   * (https://docs.aws.amazon.com/lambda/latest/dg/configuration-response-streaming.html), which API
   * Gateway's STREAM mode passes on (past 10 MB at 2 MB/s,
   * https://docs.aws.amazon.com/apigateway/latest/developerguide/response-transfer-mode.html). Memory
   * binds: the answer is held whole, a few times over while it is read and its usage parsed, in a
   * 512 MB function. 64 MiB keeps that within bounds and is far above any chat answer and above a
   * large embeddings batch (500 inputs of 1536 floats are about 8 MB). With {@code
   * ProxyResponseStreaming=false} Lambda's own 6 MB buffered limit cuts larger answers first.
   * Locally {@code AIGW_MAX_PROVIDER_ANSWER_BYTES} sets another bound. Streamed answers are bounded
   * per event ({@link ServerSentEvents#MAX_EVENT_BYTES}).
   */
  public static final int DEFAULT_MAX_ANSWER_BYTES = 64 * 1024 * 1024;

  private final HttpClient http;
  private final int maxAnswerBytes;

  public UpstreamHttp(HttpClient http) {
    this(http, DEFAULT_MAX_ANSWER_BYTES);
  }

  /** @param maxAnswerBytes the most of a whole answer read; a longer one is a 502 and its connection is closed */
  public UpstreamHttp(HttpClient http, int maxAnswerBytes) {
    if (maxAnswerBytes < 1) {
      throw new IllegalArgumentException("the bound of a provider's answer must be at least 1 byte, got " + maxAnswerBytes);
    }
    this.http = http;
    this.maxAnswerBytes = maxAnswerBytes;
  }

  /** The client every provider shares: HTTP/2 where the server offers it, a bounded connect time. */
  public static HttpClient defaultHttpClient() {
    return defaultHttpClientBuilder().build();
  }

  /**
   * As {@link #defaultHttpClient()}, with this TLS context instead of the JDK's default one, which
   * the client would otherwise make when it is built (the local gateway passes one made at its first
   * {@code https} connection).
   */
  public static HttpClient defaultHttpClient(javax.net.ssl.SSLContext tls) {
    return defaultHttpClientBuilder().sslContext(tls).build();
  }

  private static HttpClient.Builder defaultHttpClientBuilder() {
    return HttpClient.newBuilder()
        .connectTimeout(CONNECT_TIMEOUT)
        .followRedirects(HttpClient.Redirect.NEVER)
        // Completions run on the client's selector thread instead of hopping to a pool thread: the
        // body handlers used here (byte arrays, an input stream's queue) never block, and one thread
        // hand-off less per call is measurable in bench/.
        .executor(Runnable::run);
  }

  /**
   * How long a generated answer's rest is still read after its client left (see the class comment).
   * Once the status came, a whole answer's body follows within milliseconds from the providers this
   * gateway calls; the bound is for one that sends its status before it generates.
   */
  public static final Duration DEPARTED_GRACE = Duration.ofSeconds(5);

  /**
   * How long a streamed body whose reader has the whole answer is still read for its own end
   * (chunked encoding's last chunk, which follows the last event at once), so that the connection
   * is kept ({@link OpenReply#closeAtEnd}); past it, the connection is closed.
   */
  static final Duration END_OF_BODY_GRACE = Duration.ofSeconds(1);

  /** The most bytes read and dropped after the whole answer for its body's end: more is not a body's end. */
  static final long END_OF_BODY_BYTES = 16 * 1024;

  /** Runs {@code then} {@link #DEPARTED_GRACE} from now, on a virtual thread of its own (a departure is rare: no timer kept). */
  private static void afterDepartedGrace(Runnable then) {
    Thread.ofVirtual().name("aigw-departed-grace").start(() -> {
      try {
        Thread.sleep(DEPARTED_GRACE);
      } catch (InterruptedException stopped) {
        return;
      }
      then.run();
    });
  }

  /** A whole answer: status, headers and body. */
  public record Reply(int status, HttpHeaders headers, byte[] body) {
    public boolean ok() {
      return status / 100 == 2;
    }
  }

  /**
   * An answer whose status and headers have arrived and whose body is still coming. {@link #body()}
   * fails a read that waits longer than the call's timeout ({@link IdleTimeout}); {@link #close()}
   * ends the exchange (the connection is not reused), which is how a streamed call is cancelled.
   */
  public static final class OpenReply implements AutoCloseable {
    private final int status;
    private final HttpHeaders headers;
    private final IdleTimedInputStream body;
    /** Closes this reply when the client of the request leaves ({@link ClientDeparture}); ended with it. */
    private volatile ClientDeparture.Registration whileOpen = ClientDeparture.Registration.NONE;

    OpenReply(int status, HttpHeaders headers, IdleTimedInputStream body) {
      this.status = status;
      this.headers = headers;
      this.body = body;
    }

    /** A read waiting on the body fails at once when the client leaves: {@link #midStream} then says so. */
    OpenReply closedWhenClientLeaves() {
      whileOpen = ClientDeparture.whileWaiting(this::closeBody);
      return this;
    }

    /** As {@link #closedWhenClientLeaves}, {@link #DEPARTED_GRACE} after the client leaves: a generated answer's rest is still read. */
    OpenReply closedAfterGraceWhenClientLeaves() {
      whileOpen = ClientDeparture.whileWaiting(() -> afterDepartedGrace(this::closeBody));
      return this;
    }

    /**
     * From now on as {@link #closedAfterGraceWhenClientLeaves}: a streamed answer whose provider has
     * finished generating ({@link aigw.core.providers.ProviderStream#generationFinished}) is still
     * read when its client leaves, for its usage. On the reading thread (the request's scope).
     */
    void readOnAfterClientLeaves() {
      whileOpen.close();
      closedAfterGraceWhenClientLeaves();
    }

    public int status() {
      return status;
    }

    public boolean ok() {
      return status / 100 == 2;
    }

    public HttpHeaders headers() {
      return headers;
    }

    public InputStream body() {
      return body;
    }

    /** The body's bytes read so far: what the provider had sent of its answer when it broke off ({@link UpstreamUnreachable#answerBytes}). */
    public long bytesRead() {
      return body.bytesRead();
    }

    /** The rest of the body, at most {@link #MAX_ERROR_BODY_BYTES}, then closes: for an error status. */
    public byte[] readErrorBody() {
      try (body) {
        return body.readNBytes(MAX_ERROR_BODY_BYTES);
      } catch (IOException unreadable) {
        return new byte[0]; // the status alone still says what happened
      }
    }

    @Override
    public void close() {
      whileOpen.close();
      closeBody();
    }

    /**
     * Closes once the reader has the whole answer (an event stream's {@code [DONE]} or last event):
     * the body's own end, if still to come, is read and dropped, so that the provider's connection
     * is reused rather than closed ({@link StreamedBody#closeAtEnd}: at most {@link
     * #END_OF_BODY_BYTES}, for at most {@link #END_OF_BODY_GRACE}).
     */
    public void closeAtEnd() {
      whileOpen.close();
      try {
        body.closeAtEnd(END_OF_BODY_BYTES, END_OF_BODY_GRACE);
      } catch (IOException alreadyGone) {
        // closing is all that was asked
      }
    }

    private void closeBody() {
      try {
        body.close();
      } catch (IOException alreadyGone) {
        // closing is all that was asked
      }
    }
  }

  /**
   * Sends {@code call} and reads the whole answer: at most the bound of a whole answer ({@link
   * #DEFAULT_MAX_ANSWER_BYTES} unless set), an error's body at most {@link #MAX_ERROR_BODY_BYTES}.
   * Each read waits at most the call's timeout. A whole answer's bytes also come out of the
   * process's {@link AnswerBudget} when the thread has a scope open.
   *
   * @throws UpstreamUnreachable (502, not {@code beforeSending}) for an answer over the bound: no
   *     byte past it is read and its connection is closed
   * @throws aigw.core.errors.ServiceUnavailable (503) when the {@link AnswerBudget} cannot take it
   */
  public Reply exchange(UpstreamCall call) {
    var forwarded = new WatchedBody(HttpRequest.BodyPublishers.ofByteArray(call.body()));
    var handler = new WholeOrStream(maxAnswerBytes);
    HttpResponse<Object> response = send(call, forwarded, handler, handler);
    if (response.body() instanceof byte[] whole) { // WholeOrStream: the answer came whole with its headers' length
      String what = "the provider of '" + call.modelName() + "' at " + hostAndPort(call.uri());
      AnswerBudget.hold(whole.length, what);
      return new Reply(response.statusCode(), response.headers(), whole);
    }
    // Not closed when the client leaves: the answer is generated and billed once its status came (see the class comment).
    try (OpenReply reply = opened(call, response, false)) {
      if (!reply.ok()) {
        return new Reply(reply.status(), reply.headers(), reply.readErrorBody());
      }
      byte[] body;
      try {
        body = AnswerBudget.read(reply.body(), declaredLength(reply), maxAnswerBytes,
            "the provider of '" + call.modelName() + "' at " + hostAndPort(call.uri()));
      } catch (IOException e) {
        throw midStream(call, e, true, reply.bytesRead());
      }
      if (body.length > maxAnswerBytes) {
        // Closing the reply (the try) ends the exchange: the HTTP client closes the connection of a
        // body not read to its end, so the provider's further bytes are never read.
        throw new UpstreamUnreachable(
            "The provider of '" + call.modelName() + "' at " + hostAndPort(call.uri()) + " sent an answer of more than " + maxAnswerBytes
                + " bytes, the most the gateway reads of a whole answer; it was not read further. Ask for less (max_tokens), or stream it.",
            null, false, true, body.length); // after its 2xx: the answer was generated and is billed, so the call is counted (estimated)
      }
      return new Reply(reply.status(), reply.headers(), body);
    }
  }

  /** Whole answers the HTTP client read whole before the caller woke ({@link WholeOrStream}): what tests count. */
  static final java.util.concurrent.atomic.LongAdder READ_WHOLE = new java.util.concurrent.atomic.LongAdder();

  /**
   * How a whole answer's body is received. A success over HTTP/1.1 that declares a {@code
   * Content-Length} of at most {@link AnswerBudget#PIECE_BYTES} (and the bound of a whole answer),
   * and no {@code Transfer-Encoding}, is collected by the HTTP client itself: HTTP/1.1 frames such
   * a body by its length, so no more than that is read, and the waiting thread wakes once, when all
   * of it is in. Through an input stream it woke at the headers and, about half the time on
   * loopback (the provider writes headers and body apart), waited once more for the body. Anything
   * else (an error status, HTTP/2, which does not hold a body to its declared length, a chunked or
   * larger body) is read through a stream as before ({@link AnswerBudget#read}). Also notes when
   * the headers and each piece of the body arrived, so that a body still coming is waited for as a
   * streamed body's reads are: at most the call's timeout without a byte ({@link #send}).
   */
  private static final class WholeOrStream implements HttpResponse.BodyHandler<Object>, Progress {
    private final int maxAnswerBytes;
    /** {@link System#nanoTime()} of the headers or of the body's latest piece; 0 before the headers. */
    private volatile long lastProgress;
    private volatile boolean whole;
    private volatile boolean bodyStarted;
    private volatile long bodyBytes;
    private volatile boolean succeeded;

    WholeOrStream(int maxAnswerBytes) {
      this.maxAnswerBytes = maxAnswerBytes;
    }

    @Override
    public HttpResponse.BodySubscriber<Object> apply(HttpResponse.ResponseInfo info) {
      long headersAt = System.nanoTime();
      long declared;
      try {
        declared = info.headers().firstValueAsLong("content-length").orElse(-1);
      } catch (NumberFormatException notALength) {
        declared = -1;
      }
      whole = info.statusCode() / 100 == 2 && info.version() == HttpClient.Version.HTTP_1_1 && declared >= 0
          && declared <= Math.min(maxAnswerBytes, AnswerBudget.PIECE_BYTES) && info.headers().firstValue("transfer-encoding").isEmpty();
      // After whole: the deadline sweeper reads lastProgress, then whole (bodyAwaited), and must not
      // see the headers' time without knowing a body is awaited.
      lastProgress = headersAt;
      // A non-streamed answer's headers come once it is generated (and billed): from here a client's
      // departure lets it be read whole and counted. A redirect is refused anyway.
      succeeded = info.statusCode() / 100 == 2;
      if (!whole) {
        return HttpResponse.BodySubscribers.mapping(new StreamedBody(null), stream -> stream);
      }
      READ_WHOLE.increment();
      var bytes = HttpResponse.BodySubscribers.ofByteArray();
      return new HttpResponse.BodySubscriber<>() {
        @Override
        public java.util.concurrent.CompletionStage<Object> getBody() {
          return bytes.getBody().thenApply(body -> body);
        }

        @Override
        public void onSubscribe(java.util.concurrent.Flow.Subscription subscription) {
          bytes.onSubscribe(subscription);
        }

        @Override
        public void onNext(List<java.nio.ByteBuffer> pieces) {
          lastProgress = System.nanoTime();
          long piece = 0;
          for (java.nio.ByteBuffer buffer : pieces) {
            piece += buffer.remaining();
          }
          bodyStarted |= piece > 0;
          bodyBytes += piece; // the selector thread's alone: pieces come one after another
          bytes.onNext(pieces);
        }

        @Override
        public void onError(Throwable failure) {
          bytes.onError(failure);
        }

        @Override
        public void onComplete() {
          bytes.onComplete();
        }
      };
    }

    @Override
    public long lastProgress() {
      return lastProgress;
    }

    @Override
    public boolean bodyAwaited() {
      return whole;
    }

    @Override
    public boolean answerGenerated() {
      return succeeded;
    }

    @Override
    public boolean bodyStarted() {
      return bodyStarted;
    }

    @Override
    public long bodyBytes() {
      return bodyBytes;
    }
  }

  /** What {@link #send} waits for besides the headers: a body the handler collects whole, and when it last moved. */
  private interface Progress {
    /** {@link System#nanoTime()} of the headers or the body's latest piece; 0 before the headers. */
    long lastProgress();

    /** Whether the answer's future completes only with its whole body (so a wait past the headers is the body's). */
    boolean bodyAwaited();

    /** Whether any byte of a body collected whole has come (so a failure is in the middle of the answer). */
    boolean bodyStarted();

    /** The bytes of a body collected whole that have come (what a broken-off answer had sent of itself). */
    default long bodyBytes() {
      return 0;
    }

    /** Whether a whole answer's success status came: generated and billed, so a client's departure no longer cancels it. */
    default boolean answerGenerated() {
      return false;
    }

    /**
     * Whether the answer's status came and was 2xx (a body that then stalls or breaks off was being
     * generated: {@link UpstreamTimeout#afterSuccessStatus}, {@link UpstreamUnreachable#afterSuccessStatus}).
     */
    default boolean successStatus() {
      return answerGenerated();
    }

    Progress HEADERS_ONLY = new Progress() {
      @Override
      public long lastProgress() {
        return 0;
      }

      @Override
      public boolean bodyAwaited() {
        return false;
      }

      @Override
      public boolean bodyStarted() {
        return false;
      }
    };
  }

  /** The answer's {@code Content-Length}; -1 when it has none or one that is not a number. */
  private static long declaredLength(OpenReply reply) {
    try {
      return reply.headers().firstValueAsLong("content-length").orElse(-1);
    } catch (NumberFormatException notALength) {
      return -1;
    }
  }

  /**
   * Sends {@code call} and returns once the status and headers and the body's first bytes have
   * arrived (or its end, or its failure), the headers within the call's timeout and the first bytes
   * within the same time after them ({@link FirstBytes}); the rest of the body is read by the
   * caller, each read bounded by the same timeout.
   *
   * @throws UpstreamTimeout no status and headers within the timeout, or (not {@code beforeSending})
   *     no byte of the body for the timeout after them, "before any part of its answer"
   */
  public OpenReply open(UpstreamCall call) {
    var forwarded = new WatchedBody(HttpRequest.BodyPublishers.ofByteArray(call.body()));
    var firstBytes = new FirstBytes();
    return opened(call, send(call, forwarded, firstBytes, firstBytes), true);
  }

  /**
   * How a streamed answer's body is received: as a {@link StreamedBody}, and the answer is handed to
   * the waiting caller only with the body's first bytes (or its end or failure), not at its headers.
   * A provider writes its headers and its first event apart, so a caller woken at the headers
   * blocked at once on its first read and was woken a second time by the first event: two thread
   * hand-offs, the second one on the stream's time to first byte (issue 14). Now the caller reads
   * the first event from what is already in.
   */
  private static final class FirstBytes implements HttpResponse.BodyHandler<InputStream>, Progress {
    /** {@link System#nanoTime()} of the headers; 0 before them. */
    private volatile long headersAt;
    private volatile boolean succeeded;

    @Override
    public HttpResponse.BodySubscriber<InputStream> apply(HttpResponse.ResponseInfo info) {
      succeeded = info.statusCode() / 100 == 2;
      headersAt = System.nanoTime();
      return new StreamedBody(new java.util.concurrent.CompletableFuture<>());
    }

    @Override
    public long lastProgress() {
      return headersAt;
    }

    @Override
    public boolean bodyAwaited() {
      return true;
    }

    @Override
    public boolean bodyStarted() {
      return false; // the wait ends with the body's first bytes: a wait that times out saw none
    }

    /** Not {@link #answerGenerated}: a stream's status comes before its generation, which a departure still stops. */
    @Override
    public boolean successStatus() {
      return succeeded;
    }
  }

  /**
   * {@code response}, whose body is a stream, as an {@link OpenReply}; a redirect is refused (and its
   * exchange ended). {@code closedWhenClientLeaves}: whether the client's departure closes its body.
   */
  private static OpenReply opened(UpstreamCall call, HttpResponse<?> response, boolean closedWhenClientLeaves) {
    var reply = new OpenReply(response.statusCode(), response.headers(), new IdleTimedInputStream((InputStream) response.body(), call.timeout()));
    if (response.statusCode() / 100 == 3) {
      reply.close();
      refuseRedirect(call, response.statusCode());
    }
    return closedWhenClientLeaves ? reply.closedWhenClientLeaves() : reply.closedAfterGraceWhenClientLeaves();
  }

  private <T> HttpResponse<T> send(UpstreamCall call, WatchedBody forwarded, HttpResponse.BodyHandler<T> handler, Progress progress) {
    URI uri = call.uri();
    // No HttpRequest.timeout(): the JDK client keeps such a timer in a list its selector thread
    // watches, and adding one wakes that thread up (HttpClientImpl.registerTimer), once per call.
    // The calling thread waits for the response headers anyway, so it bounds the wait itself
    // (below), with the same meaning: no status and headers within the call's timeout.
    var builder = HttpRequest.newBuilder(uri).POST(forwarded);
    call.headers().forEach(builder::header);
    if ("http".equals(uri.getScheme())) {
      // Plain-text servers (Ollama, vLLM, test stubs) speak HTTP/1.1; skip the h2c upgrade dance.
      builder.version(HttpClient.Version.HTTP_1_1);
    }
    if (ClientDeparture.clientLeft()) {
      throw new ClientClosedRequest(false, null); // nobody to answer: the provider is not called
    }
    HttpRequest request = builder.build();
    // The blocking send(), not sendAsync(): the JDK client hands each answer of sendAsync() to the
    // common ForkJoinPool before its future completes (HttpClientImpl.sendAsync, "so that dependent
    // actions happen in the default executor"), whose thread then wakes this one: a thread hand-off
    // more per call (session 12's profile: the pool's thread alone about 5 % of the gateway's CPU).
    // send() completes on the client's selector thread and wakes this one directly. Its wait is
    // bounded by interrupting this thread, which makes send() cancel the exchange (its connection
    // is closed, not reused): at the call's timeout (Deadlines), or when the client leaves.
    var wait = new Wait(Thread.currentThread(), call.timeout().toNanos(), progress);
    try (var watching = ClientDeparture.whileWaiting(() -> {
      if (progress.answerGenerated()) {
        afterDepartedGrace(wait::interrupt); // a no-op if the answer is in by then (Wait.end)
      } else {
        wait.interrupt();
      }
    })) {
      Deadlines.add(wait);
      try {
        return http.send(request, handler);
      } finally {
        Deadlines.remove(wait);
        wait.end();
      }
    } catch (InterruptedException e) {
      if (ClientDeparture.clientLeft()) {
        throw new ClientClosedRequest(forwarded.requested(), null);
      }
      if (wait.timedOut()) {
        // A body collected whole is waited for as a stream's reads are: each piece within the timeout.
        throw progress.lastProgress() != 0 && progress.bodyAwaited()
            ? midStream(call, new IdleTimeout("no byte of the body for " + seconds(call.timeout()) + " s"), !progress.bodyStarted(),
                progress.successStatus(), progress.bodyBytes())
            : timedOut(call);
      }
      Thread.currentThread().interrupt();
      throw new UpstreamUnreachable("Interrupted while calling the provider of '" + call.modelName() + "' at " + hostAndPort(uri) + ".", e, false);
    } catch (IOException thrown) {
      // send() throws a new exception of the failure's kind, the exchange's own failure as its cause
      // (HttpClientImpl.send); that one is what is classified, as sendAsync's future gave it.
      Throwable cause = thrown.getCause() != null ? thrown.getCause() : thrown;
      if (ClientDeparture.clientLeft()) {
        throw new ClientClosedRequest(forwarded.requested(), null);
      }
      if (progress.lastProgress() != 0 && progress.bodyAwaited() && cause instanceof IOException broken) {
        throw midStream(call, broken, !progress.bodyStarted(), progress.successStatus(), progress.bodyBytes()); // the headers came; their body broke off
      }
      throw failed(call, forwarded, cause);
    } catch (java.util.concurrent.CancellationException cancelled) {
      if (ClientDeparture.clientLeft()) {
        throw new ClientClosedRequest(forwarded.requested(), null);
      }
      throw cancelled;
    }
  }

  /**
   * A thread waiting in {@link #send}, and why it was interrupted: its call's timeout ({@link
   * Deadlines}) or its client's departure. No interrupt is sent after {@link #end}, and one sent
   * just before it (the answer came at the same moment) is cleared there, so none reaches the
   * thread's later work (writing the answer).
   */
  private static final class Wait {
    private final Thread thread;
    private final long started = System.nanoTime();
    private final long timeoutNanos;
    private final Progress progress;
    private boolean ended;
    private boolean interrupted;
    private volatile boolean timedOut;

    Wait(Thread thread, long timeoutNanos, Progress progress) {
      this.thread = thread;
      this.timeoutNanos = timeoutNanos;
      this.progress = progress;
    }

    /** Whether nothing came for the call's timeout at {@code now}: no headers since the start, or no piece of a body collected whole. */
    boolean overdue(long now) {
      long last = progress.lastProgress();
      long since = last != 0 && progress.bodyAwaited() ? last : started;
      return now - since > timeoutNanos;
    }

    void timeOut() {
      timedOut = true;
      interrupt();
    }

    boolean timedOut() {
      return timedOut;
    }

    synchronized void interrupt() {
      if (!ended) {
        interrupted = true;
        thread.interrupt();
      }
    }

    synchronized void end() {
      ended = true;
      if (interrupted) {
        Thread.interrupted();
      }
    }
  }

  /**
   * The calls waiting in {@link #send}, swept every {@link #SWEEP_MILLIS} by one daemon thread
   * that interrupts those past their timeout: a call fails between its timeout and that much later,
   * never earlier. Adding a call wakes no thread (a per-call timer would: the JDK client's own
   * {@code HttpRequest.timeout} wakes its selector thread once per call); the sweeper sleeps
   * without a deadline only after a second with no call, and the next call wakes it.
   */
  private static final class Deadlines {
    static final long SWEEP_MILLIS = 50;
    private static final java.util.Set<Wait> WAITING = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private static volatile boolean idle;
    private static final Thread SWEEPER = Thread.ofPlatform().name("aigw-upstream-deadlines").daemon(true).unstarted(Deadlines::sweep);

    static {
      SWEEPER.start();
    }

    static void add(Wait wait) {
      WAITING.add(wait);
      if (idle) {
        idle = false;
        java.util.concurrent.locks.LockSupport.unpark(SWEEPER);
      }
    }

    static void remove(Wait wait) {
      WAITING.remove(wait);
    }

    private static void sweep() {
      long emptySince = System.nanoTime();
      while (true) {
        if (WAITING.isEmpty()) {
          if (System.nanoTime() - emptySince > 1_000_000_000L) {
            idle = true;
            if (WAITING.isEmpty()) {
              java.util.concurrent.locks.LockSupport.park();
            }
            idle = false;
            emptySince = System.nanoTime();
            continue;
          }
        } else {
          emptySince = System.nanoTime();
          long now = System.nanoTime();
          for (Wait wait : WAITING) {
            if (wait.overdue(now)) {
              WAITING.remove(wait);
              wait.timeOut();
            }
          }
        }
        java.util.concurrent.locks.LockSupport.parkNanos(SWEEP_MILLIS * 1_000_000L);
      }
    }
  }

  private static UpstreamTimeout timedOut(UpstreamCall call) {
    return new UpstreamTimeout(
        "The provider of '" + call.modelName() + "' at " + hostAndPort(call.uri()) + " did not answer within " + seconds(call.timeout()) + " s.");
  }

  /** A failed exchange's cause as the gateway's exception (what {@link HttpClient#send} would have thrown, classified). */
  private RuntimeException failed(UpstreamCall call, WatchedBody forwarded, Throwable cause) {
    URI uri = call.uri();
    // Only while the body was never asked for: a security exception after it was (the provider may
    // have the request) is a failure after sending, never "nothing sent", so never tried elsewhere.
    String brokenTls = forwarded.requested() ? null : ConnectionFailures.tlsSettingsBroken(cause);
    if (brokenTls != null) {
      // The client's TLS context could not be made (the JDK's default one, which the local gateway
      // makes at its first https connection), before any connection: the context's own unchecked
      // exception, which would otherwise pass for the gateway's bug (a 500). Not the provider's
      // failure, but no byte was sent, so a deployment over http:// may still be tried.
      return new UpstreamUnreachable(
          "The gateway cannot make TLS connections, so the provider of '" + call.modelName() + "' at " + hostAndPort(uri)
              + " was not called: the JVM's TLS settings are broken (" + brokenTls + "). Check the javax.net.ssl.* options given to java,"
              + " then restart the gateway.",
          cause, true);
    }
    if (cause instanceof HttpConnectTimeoutException || cause instanceof ConnectException || cause instanceof SSLHandshakeException) {
      // Checked before HttpTimeoutException, the parent of the first: no connection (or no TLS
      // session) means no byte of the request was sent, so another deployment may be tried.
      return cannotConnect(call, (IOException) cause);
    }
    if (cause instanceof HttpTimeoutException) {
      return timedOut(call);
    }
    if (cause instanceof IOException e) {
      if (!forwarded.requested()) {
        // The client never asked for the body, so the request never left: for https it waits for the
        // TLS handshake (HTTP/2 negotiation) before it starts an exchange. The JDK raises a plain
        // SSLException, not an SSLHandshakeException, when e.g. a plain-HTTP port answers the handshake.
        return cannotConnect(call, e);
      }
      return new UpstreamUnreachable(
          "The connection to the provider of '" + call.modelName() + "' at " + hostAndPort(uri) + " failed after the request was sent: "
              + ConnectionFailures.afterSending(e) + ".",
          e, false);
    }
    if (cause instanceof RuntimeException runtime) {
      return runtime;
    }
    if (cause instanceof Error error) {
      throw error;
    }
    return new UpstreamUnreachable(
        "The connection to the provider of '" + call.modelName() + "' at " + hostAndPort(uri) + " failed: " + cause + ".", cause, !forwarded.requested());
  }

  /**
   * A failure while a streamed body was being read, as the gateway's exception: the request was
   * sent and the provider was answering, so it is never {@code beforeSending}. The answer's status
   * was a success (2xx): a timeout is {@link UpstreamTimeout#afterSuccessStatus}, a connection that
   * broke off {@link UpstreamUnreachable#afterSuccessStatus}.
   *
   * @param beforeFirstChunk true when no chunk came yet (the client then gets a normal error
   *     response, and the message must not speak of "the middle of its answer")
   */
  public static RuntimeException midStream(UpstreamCall call, IOException e, boolean beforeFirstChunk) {
    return midStream(call, e, beforeFirstChunk, true, 0);
  }

  /**
   * As {@link #midStream(UpstreamCall, IOException, boolean)}, knowing how much of the answer came.
   *
   * @param answerBytes the bytes of the answer's body read before the failure ({@link
   *     OpenReply#bytesRead}), from which its completion is estimated ({@link UpstreamUnreachable#answerBytes})
   */
  public static RuntimeException midStream(UpstreamCall call, IOException e, boolean beforeFirstChunk, long answerBytes) {
    return midStream(call, e, beforeFirstChunk, true, answerBytes);
  }

  /** As {@link #midStream(UpstreamCall, IOException, boolean, long)}; {@code afterSuccessStatus}: whether the answer's status was 2xx. */
  private static RuntimeException midStream(
      UpstreamCall call, IOException e, boolean beforeFirstChunk, boolean afterSuccessStatus, long answerBytes) {
    if (ClientDeparture.clientLeft()) {
      return new ClientClosedRequest(true, null); // the body was closed because the client left (OpenReply)
    }
    String where = beforeFirstChunk ? "after its response headers, before any part of its answer" : "in the middle of its answer";
    if (e instanceof IdleTimeout) {
      return new UpstreamTimeout(
          "The provider of '" + call.modelName() + "' at " + hostAndPort(call.uri()) + " sent nothing for " + seconds(call.timeout())
              + " s " + where + ".",
          afterSuccessStatus);
    }
    if (e instanceof ServerSentEvents.TooLarge tooLarge) {
      return new UpstreamUnreachable(
          "The provider of '" + call.modelName() + "' at " + hostAndPort(call.uri()) + " sent " + tooLarge.getMessage()
              + "; the stream was ended.",
          e, false, afterSuccessStatus, answerBytes);
    }
    return new UpstreamUnreachable(
        "The connection to the provider of '" + call.modelName() + "' at " + hostAndPort(call.uri()) + " failed " + where + ": "
            + ConnectionFailures.whileAnswering(e) + ".",
        e, false, afterSuccessStatus, answerBytes);
  }

  private static void refuseRedirect(UpstreamCall call, int status) {
    if (status / 100 == 3) {
      throw new UpstreamFailed(
          502, "The provider of '" + call.modelName() + "' answered with a redirect (HTTP " + status + "); check its api_base.",
          "upstream_error", null, null, null);
    }
  }

  /**
   * An AWS access key id: {@code AKIA} (an IAM user's) or {@code ASIA} (temporary, STS) and 16
   * upper-case letters or digits (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html,
   * "Access key ID" format). Masked in every answer whoever sent it, not only the gateway's own: an
   * access key id in a provider's answer is a credential's name, never content a client needs.
   */
  private static final Pattern AWS_ACCESS_KEY_ID = Pattern.compile("(?<![A-Z0-9])(AKIA|ASIA)[A-Z0-9]{12}([A-Z0-9]{4})(?![A-Z0-9])");

  /**
   * {@code text} with every one of {@code secrets} (8 characters or more) replaced by its mask, and
   * every AWS access key id by its prefix and last four characters ({@code AKIA...WXYZ}), also
   * where a JSON string in {@code text} spells them with escapes ({@link JsonEscapedSecrets}).
   */
  public static String mask(String text, List<String> secrets) {
    return JsonEscapedSecrets.mask(maskLiterally(text, secrets), decoded -> maskLiterally(decoded, secrets), false);
  }

  private static String maskLiterally(String text, List<String> secrets) {
    String masked = maskAwsAccessKeyIds(text); // first, so that the gateway's own key id keeps its AKIA/ASIA prefix
    for (String secret : secrets) {
      if (masked != null && secret != null && secret.length() >= 8) {
        masked = masked.replace(secret, ApiKeys.mask(secret));
      }
    }
    return masked;
  }

  private static String maskAwsAccessKeyIds(String text) {
    if (text == null || (!text.contains("AKIA") && !text.contains("ASIA"))) {
      return text;
    }
    return AWS_ACCESS_KEY_ID.matcher(text).replaceAll("$1...$2");
  }

  /**
   * {@code body} (a provider's answer, UTF-8 JSON or event text) with every one of {@code secrets}
   * (8 characters or more) replaced by its mask, also where a JSON string spells it with escapes
   * ({@link JsonEscapedSecrets}), byte for byte elsewhere; the same array when no secret occurs, so the common answer costs one search per secret and no copy. Some providers
   * echo their credential in an answer they report as a success (an OpenAI Responses object with
   * {@code status: failed}, a model repeating its prompt); a passed-through answer reaches the client
   * as these bytes.
   */
  public static byte[] mask(byte[] body, List<String> secrets) {
    byte[] masked = body;
    if (masked != null && (indexOf(masked, AKIA, 0) >= 0 || indexOf(masked, ASIA, 0) >= 0)) {
      // ISO-8859-1 maps each byte to one char and back, so the UTF-8 around an (ASCII) key id is kept byte for byte.
      String text = new String(masked, java.nio.charset.StandardCharsets.ISO_8859_1);
      String ids = maskAwsAccessKeyIds(text);
      masked = ids.equals(text) ? masked : ids.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
    }
    for (String secret : secrets) {
      if (masked != null && secret != null && secret.length() >= 8) {
        masked = replace(masked, secret.getBytes(java.nio.charset.StandardCharsets.UTF_8),
            ApiKeys.mask(secret).getBytes(java.nio.charset.StandardCharsets.UTF_8));
      }
    }
    if (masked != null && indexOf(masked, BACKSLASH, 0) >= 0) { // a secret may be written with escapes
      String text = new String(masked, java.nio.charset.StandardCharsets.ISO_8859_1);
      String escaped = JsonEscapedSecrets.mask(text, decoded -> maskLiterally(decoded, secrets), true);
      masked = escaped == text ? masked : escaped.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
    }
    return masked;
  }

  private static final byte[] BACKSLASH = {'\\'};

  private static final byte[] AKIA = {'A', 'K', 'I', 'A'};
  private static final byte[] ASIA = {'A', 'S', 'I', 'A'};

  /** {@code bytes} with each occurrence of {@code target} replaced; {@code bytes} itself when there is none. */
  private static byte[] replace(byte[] bytes, byte[] target, byte[] replacement) {
    int found = indexOf(bytes, target, 0);
    if (found < 0) {
      return bytes;
    }
    var out = new java.io.ByteArrayOutputStream(bytes.length);
    int from = 0;
    while (found >= 0) {
      out.write(bytes, from, found - from);
      out.writeBytes(replacement);
      from = found + target.length;
      found = indexOf(bytes, target, from);
    }
    out.write(bytes, from, bytes.length - from);
    return out.toByteArray();
  }

  private static int indexOf(byte[] bytes, byte[] target, int from) {
    int last = bytes.length - target.length;
    for (int i = from; i <= last; i++) {
      if (bytes[i] == target[0] && java.util.Arrays.equals(bytes, i, i + target.length, target, 0, target.length)) {
        return i;
      }
    }
    return -1;
  }

  /**
   * {@code failure} with the call's credentials masked in every string taken from the provider's
   * error (message, type, param, code): some providers quote the credential they were given, in
   * any of them, and it must not reach the client. The provider's {@code Retry-After} and {@code
   * retry-after-ms} headers pass on only in their own grammar ({@link #retryAfterOrNull}, {@link
   * #millisOrNull}): a header is copied to the client's answer, so anything else in it is dropped.
   */
  public static UpstreamFailed masked(UpstreamFailed failure, List<String> secrets) {
    String message = mask(failure.getMessage(), secrets);
    String type = mask(failure.upstreamType(), secrets);
    String param = mask(failure.param(), secrets);
    String code = mask(failure.upstreamCode(), secrets);
    String retryAfter = retryAfterOrNull(failure.retryAfter());
    String retryAfterMs = millisOrNull(failure.retryAfterMs());
    if (java.util.Objects.equals(message, failure.getMessage()) && java.util.Objects.equals(type, failure.upstreamType())
        && java.util.Objects.equals(param, failure.param()) && java.util.Objects.equals(code, failure.upstreamCode())
        && java.util.Objects.equals(retryAfter, failure.retryAfter()) && java.util.Objects.equals(retryAfterMs, failure.retryAfterMs())) {
      return failure;
    }
    return new UpstreamFailed(failure.upstreamStatus(), message, type, param, code, retryAfter, retryAfterMs);
  }

  /**
   * Any failure a provider call raised, with the call's credentials masked in every string the
   * client will see: an {@link UpstreamFailed} as above; the message of an {@link
   * UpstreamUnreachable}, {@link UpstreamTimeout} (they may quote a provider's header, such as
   * its Content-Type) or {@link ServiceUnavailable} (a provider's "overloaded" message). Other failures are built from the client's own request and pass unchanged.
   */
  public static RuntimeException masked(RuntimeException failure, List<String> secrets) {
    if (failure instanceof UpstreamFailed upstream) {
      return masked(upstream, secrets);
    }
    if (failure instanceof UpstreamUnreachable unreachable) {
      String message = mask(unreachable.getMessage(), secrets);
      return java.util.Objects.equals(message, unreachable.getMessage())
          ? unreachable
          : new UpstreamUnreachable(message, unreachable.getCause(), unreachable.beforeSending(), unreachable.afterSuccessStatus(),
              unreachable.answerBytes());
    }
    if (failure instanceof UpstreamTimeout timeout) {
      String message = mask(timeout.getMessage(), secrets);
      return java.util.Objects.equals(message, timeout.getMessage()) ? timeout : new UpstreamTimeout(message, timeout.afterSuccessStatus());
    }
    if (failure instanceof ServiceUnavailable unavailable && !unavailable.gatewayBusy()) { // a provider's "cannot serve now", quoting its message
      String message = mask(unavailable.getMessage(), secrets);
      return java.util.Objects.equals(message, unavailable.getMessage())
          ? unavailable
          : new ServiceUnavailable(message, unavailable.getCause(), unavailable.providerOverloaded());
    }
    return failure;
  }

  /**
   * A {@code Retry-After} value as RFC 9110 section 10.2.3 defines it (delay-seconds, or an
   * HTTP-date in the IMF-fixdate form), trimmed; null for anything else.
   */
  static String retryAfterOrNull(String value) {
    if (value == null) {
      return null;
    }
    String trimmed = value.strip();
    if (trimmed.matches("\\d{1,10}")) {
      return trimmed;
    }
    try {
      java.time.format.DateTimeFormatter.RFC_1123_DATE_TIME.parse(trimmed);
      return trimmed.length() <= 40 ? trimmed : null;
    } catch (java.time.format.DateTimeParseException notADate) {
      return null;
    }
  }

  /** A {@code retry-after-ms} value (a number of milliseconds, Azure OpenAI's header), trimmed; null for anything else. */
  static String millisOrNull(String value) {
    if (value == null) {
      return null;
    }
    String trimmed = value.strip();
    return trimmed.matches("\\d{1,9}(\\.\\d{1,9})?") ? trimmed : null;
  }

  /** No request left: a failure of the connection or its TLS handshake; another deployment may be tried. */
  private UpstreamUnreachable cannotConnect(UpstreamCall call, IOException e) {
    URI uri = call.uri();
    return new UpstreamUnreachable(
        "Cannot connect to the provider of '" + call.modelName() + "' at " + hostAndPort(uri) + ": "
            + ConnectionFailures.beforeSending(e, uri.getHost(), port(uri), http.connectTimeout().orElse(CONNECT_TIMEOUT)) + ".",
        e, true);
  }

  /** Seconds with up to millisecond precision and no trailing zeros: {@code 0.3}, {@code 10}. */
  public static String seconds(Duration timeout) {
    return java.math.BigDecimal.valueOf(timeout.toMillis(), 3).stripTrailingZeros().toPlainString();
  }

  /**
   * {@code host:port} of a provider URL, the port filled in from the scheme. Never the rest of the
   * URL: an {@code api_base} may carry a credential in its user info or query.
   */
  public static String hostAndPort(URI uri) {
    String host = uri.getHost() == null ? "?" : uri.getHost();
    return (host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host) + ":" + port(uri);
  }

  private static int port(URI uri) {
    return uri.getPort() != -1 ? uri.getPort() : "https".equals(uri.getScheme()) ? 443 : 80;
  }

  /**
   * The request body, noting whether the HTTP client ever asked for it. It asks when it sends the
   * request, after the connection is open and, for https, the TLS handshake is complete (the client
   * negotiates HTTP/2 first). A failure before that means the provider cannot have received a whole
   * request, so it cannot have run or billed one, and another deployment may be tried.
   */
  private static final class WatchedBody implements HttpRequest.BodyPublisher {
    private final HttpRequest.BodyPublisher bytes;
    private volatile boolean requested;

    WatchedBody(HttpRequest.BodyPublisher bytes) {
      this.bytes = bytes;
    }

    boolean requested() {
      return requested;
    }

    @Override
    public long contentLength() {
      return bytes.contentLength();
    }

    @Override
    public void subscribe(java.util.concurrent.Flow.Subscriber<? super java.nio.ByteBuffer> subscriber) {
      requested = true;
      bytes.subscribe(subscriber);
    }
  }
}

package aigw.core.lambda;

import aigw.core.apigateway.ApiGatewayEvents;
import aigw.core.errors.BadRequest;
import aigw.core.errors.ErrorEnvelope;
import aigw.core.http.GatewayApplication;
import aigw.core.http.GatewayRequest;
import aigw.core.http.GatewayResponse;
import aigw.core.http.StreamingBody;
import aigw.core.json.Json;
import aigw.core.lambda.crac.Core;
import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.security.Security;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * aigw's Lambda runtime loop for functions behind an API Gateway integration in {@code STREAM}
 * response transfer mode: it takes each invocation from the Runtime API ({@link RuntimeApi}), runs
 * the function's {@link GatewayApplication} on the API Gateway event, and streams the answer back
 * in the "Lambda proxy integration format for response streaming" (API Gateway developer guide,
 * "Set up a Lambda proxy integration with payload response streaming"): a JSON prelude with {@code
 * statusCode} and {@code headers}, 8 NUL bytes, then the body, flushed event by event.
 *
 * <p>Every answer goes this way, buffered ones too: an integration in {@code STREAM} mode reads
 * the prelude format from every invocation. A failure after the prelude (a bug in a stream) ends
 * the body with the Runtime API's error trailers: Lambda counts the invocation as an error and the
 * client's response ends where it was.
 *
 * <p>Why this class and not the managed runtime's interface client: that client posts one
 * buffered payload per invocation and has no streaming mode (aws/aws-lambda-java-libs#476). On the
 * managed {@code java21} runtime it is started through {@code AWS_LAMBDA_EXEC_WRAPPER} (the layer's
 * {@code aigw/streaming-runtime} script replaces the client's main class with this one), so the JDK,
 * the layer and SnapStart stay as they are.
 *
 * <p>SnapStart (when {@code AWS_LAMBDA_INITIALIZATION_TYPE} is {@code snap-start}) follows the Java
 * runtime interface client ({@code AWSLambda.onInitComplete}, aws-lambda-java-libs 2.x): after the
 * handler is constructed, the CRaC {@code beforeCheckpoint} hooks run ({@link Core}), then {@code
 * GET /runtime/restore/next} returns once the environment is restored from the snapshot, then the
 * {@code afterRestore} hooks run. A failure before the snapshot is reported to {@code
 * /runtime/init/error} as {@code Runtime.BeforeCheckpointError}, one after the restore to {@code
 * /runtime/restore/error} as {@code Runtime.AfterRestoreError}; the process then exits with 64.
 *
 * <p>The invocation's deadline ({@code Lambda-Runtime-Deadline-Ms}): a stream still running {@link
 * #TIME_LIMIT_MARGIN} before it is asked to end ({@link StreamingBody#endBeforeTimeLimit}, from a
 * timer thread), so that it closes its upstream call, records its usage and writes an error event
 * the client can read, and the invocation ends by itself. Otherwise Lambda stops the function at the
 * timeout: the client's stream just stops, what is not yet recorded is lost, and the execution
 * environment is reset (the next request pays a cold start).
 *
 * <p>The trust store follows the runtime interface client too (see {@link #main}).
 */
public final class StreamingRuntime {
  private static final Logger LOG = Logger.getLogger(StreamingRuntime.class.getName());
  /** Separates the prelude from the body (8 NUL bytes). */
  static final byte[] PRELUDE_END = new byte[8];
  /** The system property X-Ray's SDK reads the trace header from (as the runtime interface client sets it). */
  static final String TRACE_PROPERTY = "com.amazonaws.xray.traceHeader";
  static final String CRAC_COMPAT_PROPERTY = "org.crac.Core.Compat";
  static final String TRUST_STORE_PROPERTY = "javax.net.ssl.trustStore";
  /** The managed runtime's system CA bundle (the {@code ca-certificates} package's Java trust store). */
  static final String SYSTEM_CACERTS = "/etc/pki/java/cacerts";

  /**
   * How long before the invocation's deadline a running stream is ended. In that time the body
   * closes its upstream call, records its usage (one DynamoDB write, tens of milliseconds), writes
   * its error event, and this runtime ends the chunked body and reads the Runtime API's answer; all
   * of it must be done before Lambda stops the function at the deadline. 2 s leaves ample room for
   * that and takes at most 2 s from a stream of up to 900 s.
   */
  public static final Duration TIME_LIMIT_MARGIN = Duration.ofSeconds(2);

  /**
   * One daemon timer thread for the process, created at the first stream (so never inside a
   * SnapStart snapshot); a cancelled cut-off is removed at once.
   */
  private static final class TimeLimitTimer {
    static final ScheduledThreadPoolExecutor INSTANCE = create();

    private static ScheduledThreadPoolExecutor create() {
      var timer = new ScheduledThreadPoolExecutor(1, task -> {
        var thread = new Thread(task, "aigw-time-limit-timer");
        thread.setDaemon(true);
        return thread;
      });
      timer.setRemoveOnCancelPolicy(true);
      return timer;
    }
  }

  private final RuntimeApi api;
  private final GatewayApplication application;
  /** {@link StreamingFunction#afterResponse}: after each response, before the next {@code /next}. */
  private final Runnable afterResponse;

  /**
   * @param runtimeApi {@code AWS_LAMBDA_RUNTIME_API}, {@code host:port}
   * @param application what answers each event
   */
  public StreamingRuntime(String runtimeApi, GatewayApplication application) {
    this(new RuntimeApi(runtimeApi), application, () -> {});
  }

  /**
   * @param function what answers each event, and what runs after each response ({@link
   *     StreamingFunction#afterResponse})
   */
  public StreamingRuntime(String runtimeApi, StreamingFunction function) {
    this(new RuntimeApi(runtimeApi), function.application(), function::afterResponse);
  }

  private StreamingRuntime(RuntimeApi api, GatewayApplication application, Runnable afterResponse) {
    this.api = api;
    this.application = application;
    this.afterResponse = afterResponse;
  }

  /**
   * Entry point (through the exec wrapper): {@code args} end with the function's handler as
   * Lambda gives it ({@code aigw.proxy.ProxyHandler::handleRequest}); {@code _HANDLER} otherwise.
   */
  public static void main(String[] args) {
    // org.crac reads this when it first loads, which is in the handler's constructor: from here on
    // Priming and every other org.crac resource registers with aigw.core.lambda.crac.Core.
    System.setProperty(CRAC_COMPAT_PROPERTY, Core.class.getPackageName());
    ApiGatewayEventSerializer.Ahead.unusedInThisProcess(); // this runtime reads its events itself
    useSystemTrustStore(new File(SYSTEM_CACERTS));
    if (System.getenv("AWS_LAMBDA_JAVA_NETWORKADDRESS_CACHE_NEGATIVE_TTL") == null) {
      Security.setProperty("networkaddress.cache.negative.ttl", "1"); // as the runtime interface client does
    }
    var api = new RuntimeApi(System.getenv("AWS_LAMBDA_RUNTIME_API"));
    String handler = args.length > 0 ? args[args.length - 1] : System.getenv("_HANDLER");
    StreamingFunction function;
    try {
      function = load(handler);
    } catch (Throwable e) {
      LOG.log(Level.SEVERE, "The function " + handler + " could not start", e);
      reportAndExit(() -> api.initError("Runtime.BadFunctionCode", e), 1);
      return;
    }
    if ("snap-start".equals(System.getenv("AWS_LAMBDA_INITIALIZATION_TYPE"))) {
      snapshot(api);
    }
    var runtime = new StreamingRuntime(api, function.application(), function::afterResponse);
    while (true) {
      try {
        runtime.serveNext();
      } catch (IOException e) { // the Runtime API itself failed: nothing to answer to (as the client, end)
        LOG.log(Level.SEVERE, "The Runtime API failed; the runtime ends", e);
        System.exit(1);
      }
    }
  }

  /**
   * Trusts the system's CA bundle, as the runtime interface client does for the functions it runs
   * (aws-lambda-java-libs, {@code AWSLambda}'s static initialiser: when {@code
   * javax.net.ssl.trustStore} is not set and {@code /etc/pki/java/cacerts} exists and is a file, it
   * becomes the trust store), so that the streaming proxy and the admin and rotation functions under
   * that client trust the same certificate authorities. Only this rule is copied, not the client's
   * {@code jdk.tls.disabledAlgorithms} override (which re-allows old algorithms).
   *
   * @return whether the property was set
   */
  static boolean useSystemTrustStore(File systemCacerts) {
    if (System.getProperty(TRUST_STORE_PROPERTY) == null && systemCacerts.exists() && systemCacerts.isFile()) {
      System.setProperty(TRUST_STORE_PROPERTY, systemCacerts.getPath());
      return true;
    }
    return false;
  }

  /** Loads {@code class::method} (the method is not used) through its public no-argument constructor. */
  static StreamingFunction load(String handler) throws ReflectiveOperationException {
    if (handler == null || handler.isBlank()) {
      throw new IllegalArgumentException("No handler: the exec wrapper passes it last, or set _HANDLER");
    }
    String className = handler.contains("::") ? handler.substring(0, handler.indexOf("::")) : handler;
    Object instance = Class.forName(className, true, StreamingRuntime.class.getClassLoader()).getConstructor().newInstance();
    if (!(instance instanceof StreamingFunction function)) {
      throw new IllegalArgumentException(className + " does not implement " + StreamingFunction.class.getName() + ", so it cannot stream");
    }
    return function;
  }

  /** SnapStart's init end: hooks before the snapshot, wait for the restore, hooks after it. */
  static void snapshot(RuntimeApi api) {
    try {
      Core.beforeCheckpoint();
      api.restoreNext();
    } catch (Exception e) {
      LOG.log(Level.SEVERE, "Before the SnapStart snapshot", e);
      reportAndExit(() -> api.initError("Runtime.BeforeCheckpointError", e), 64);
    }
    try {
      Core.afterRestore();
    } catch (Exception e) {
      LOG.log(Level.SEVERE, "After the SnapStart restore", e);
      reportAndExit(() -> api.restoreError("Runtime.AfterRestoreError", e), 64);
    }
  }

  /**
   * Takes the next invocation, answers it, then runs {@link StreamingFunction#afterResponse} (the
   * usage writes): after the response's last byte went to the Runtime API, before the next {@code
   * /next}. Lambda keeps the invocation running, and billed, until the runtime asks for the next
   * one, and freezes the environment only then ("the runtime calls /next when it is ready for the
   * next event"), so nothing is frozen half written; the client has its whole answer meanwhile.
   * Returns normally when the answer was sent or could not be (the client went away, a stream
   * failed: logged, and reported with the error trailers).
   *
   * @throws IOException when the Runtime API could not be reached for the next invocation
   */
  public void serveNext() throws IOException {
    RuntimeApi.Invocation invocation = api.next();
    try {
      respond(invocation);
    } finally {
      try {
        afterResponse.run();
      } catch (RuntimeException e) {
        LOG.log(Level.SEVERE, "After the response to " + invocation.requestId() + ", its usage could not be written", e);
      }
    }
  }

  private void respond(RuntimeApi.Invocation invocation) throws IOException {
    if (invocation.traceId() != null) {
      System.setProperty(TRACE_PROPERTY, invocation.traceId());
    } else {
      System.clearProperty(TRACE_PROPERTY);
    }
    GatewayResponse response;
    try {
      response = answer(invocation.event());
    } catch (RuntimeException e) { // GatewayApplication never throws; this is a bug in it, answered as the client would
      LOG.log(Level.SEVERE, "The invocation " + invocation.requestId() + " failed", e);
      api.invocationError(invocation.requestId(), e.getClass().getName(), e);
      return;
    }
    boolean bodyRan = false;
    try (var post = api.streamResponse(invocation.requestId())) {
      OutputStream body = post.body();
      body.write(prelude(response));
      body.write(PRELUDE_END);
      if (response.isStreaming() && !response.stream().firstEventInHand()) {
        body.flush(); // status and headers reach the client before the body waits for its first token
      } // else they leave with the body's first flush, which comes at once: one chunk and one write less before the first byte
      bodyRan = true;
      try {
        if (response.isStreaming()) {
          ScheduledFuture<?> cutOff = armTimeLimit(invocation, response.stream());
          try {
            response.stream().writeTo(body);
          } finally {
            if (cutOff != null) {
              cutOff.cancel(false);
            }
          }
        } else {
          body.write(response.body());
        }
      } catch (RuntimeException e) {
        LOG.log(Level.SEVERE, "The response to " + invocation.requestId() + " failed after it started; its stream ends with an error", e);
        check(post.fail(e.getClass().getName(), e), invocation);
        return;
      }
      check(post.complete(), invocation);
    } catch (IOException e) {
      // The Runtime API stopped taking the body (the stream, per the StreamingBody contract, already
      // ended and accounted for its upstream call). Not a client's disconnect on AWS: Lambda keeps
      // taking a stream whose client went away (see docs/architecture.md).
      LOG.warning("The response to " + invocation.requestId() + " could not be sent to its end: " + e);
      if (!bodyRan && response.isStreaming()) {
        abandon(response.stream(), invocation);
      }
    }
  }

  /**
   * Runs a stream whose answer could not even be started (the Runtime API refused its prelude)
   * against an output that fails at once: per the {@link StreamingBody} contract it then ends the
   * upstream call it holds (opened before the answer, to learn its status) and records its usage.
   */
  private static void abandon(StreamingBody stream, RuntimeApi.Invocation invocation) {
    OutputStream closed = OutputStream.nullOutputStream();
    try {
      closed.close(); // every write and flush now throws IOException("Stream closed")
      stream.writeTo(closed);
    } catch (IOException expected) {
      // the body saw the failure, closed its upstream call and accounted for it
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "The unsent stream of " + invocation.requestId() + " failed while ending", e);
    }
  }

  /**
   * Schedules {@link StreamingBody#endBeforeTimeLimit} at {@link #TIME_LIMIT_MARGIN} before the
   * invocation's deadline (at once when that is already past); null when the Runtime API gave no
   * deadline.
   */
  private static ScheduledFuture<?> armTimeLimit(RuntimeApi.Invocation invocation, StreamingBody stream) {
    if (invocation.deadlineEpochMillis() == Long.MAX_VALUE) {
      return null;
    }
    long delay = invocation.deadlineEpochMillis() - TIME_LIMIT_MARGIN.toMillis() - System.currentTimeMillis();
    return TimeLimitTimer.INSTANCE.schedule(() -> {
      LOG.warning("The stream of " + invocation.requestId() + " is ended " + TIME_LIMIT_MARGIN.toSeconds()
          + " s before the invocation's deadline (the function's timeout)");
      try {
        stream.endBeforeTimeLimit();
      } catch (RuntimeException e) {
        LOG.log(Level.SEVERE, "The stream of " + invocation.requestId() + " could not be ended before the deadline", e);
      }
    }, Math.max(0, delay), TimeUnit.MILLISECONDS);
  }

  /** The application's answer to one event; an event that is no API Gateway proxy event is a 400. */
  private GatewayResponse answer(byte[] event) {
    GatewayRequest request;
    try {
      request = ApiGatewayEvents.toRequest(ApiGatewayEvents.parseEvent(event));
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "An invocation's event could not be read as an API Gateway proxy event", e);
      return ErrorEnvelope.response(new BadRequest("The request could not be read: " + e.getMessage()));
    }
    return application.handle(request); // never throws
  }

  /** The metadata prelude: {@code {"statusCode":200,"headers":{...}}}. */
  static byte[] prelude(GatewayResponse response) {
    var prelude = new LinkedHashMap<String, Object>();
    prelude.put("statusCode", response.status());
    prelude.put("headers", Map.copyOf(response.headers()));
    return Json.bytes(prelude);
  }

  private static void check(RuntimeApi.Reply reply, RuntimeApi.Invocation invocation) {
    if (reply.status() != 202) {
      LOG.warning("The Runtime API refused the response to " + invocation.requestId() + ": " + reply.status() + " " + reply.bodyText());
    }
  }

  private interface Report {
    void send() throws IOException;
  }

  private static void reportAndExit(Report report, int status) {
    try {
      report.send();
    } catch (IOException e) {
      LOG.log(Level.SEVERE, "The failure could not be reported to the Runtime API", e);
    }
    System.exit(status);
  }
}

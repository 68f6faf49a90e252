package aigw.local.lambda;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.errors.NotFound;
import aigw.core.http.CorsPolicy;
import aigw.core.http.GatewayApplication;
import aigw.core.http.GatewayRequest;
import aigw.core.http.GatewayResponse;
import aigw.core.http.StreamingBody;
import aigw.core.json.Json;
import aigw.core.lambda.StreamingRuntime;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * aigw's streaming runtime against the Runtime API stand-in: what goes over the wire for each kind
 * of answer (the protocol of "Implementing response streaming in a custom runtime" and API
 * Gateway's "Lambda proxy integration format for response streaming").
 */
class StreamingRuntimeTest {
  private final CountDownLatch releaseLastEvent = new CountDownLatch(1);
  private final CountDownLatch unsentStreamSawItsOutputFail = new CountDownLatch(1);
  private RuntimeApiStandIn api;
  private StreamingRuntime runtime;

  private GatewayResponse routes(GatewayRequest request) {
    return switch (request.path()) {
      case "/stream" -> GatewayResponse.streaming(200, Map.of("Content-Type", "text/event-stream"), out -> {
        out.write("data: one\n\n".getBytes(StandardCharsets.UTF_8));
        out.flush();
        try {
          releaseLastEvent.await(10, TimeUnit.SECONDS); // the test lets it go once the first event has arrived
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        out.write("data: two\n\n".getBytes(StandardCharsets.UTF_8));
        out.flush();
      });
      case "/stream-first-in-hand" -> GatewayResponse.streaming(200, Map.of("Content-Type", "text/event-stream"), new StreamingBody() {
        @Override
        public boolean firstEventInHand() {
          return true; // as the gateway's relays, which await the provider's first chunk before they answer
        }

        @Override
        public void writeTo(java.io.OutputStream out) throws IOException {
          out.write("data: one\n\n".getBytes(StandardCharsets.UTF_8));
          out.flush();
          try {
            releaseLastEvent.await(10, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          out.write("data: two\n\n".getBytes(StandardCharsets.UTF_8));
          out.flush();
        }
      });
      case "/stream-that-fails" -> GatewayResponse.streaming(200, Map.of("Content-Type", "text/event-stream"), out -> {
        out.write("data: one\n\n".getBytes(StandardCharsets.UTF_8));
        out.flush();
        throw new IllegalStateException("a bug in the middle of the stream");
      });
      case "/stream-unsent" -> GatewayResponse.streaming(200, Map.of("Content-Type", "text/event-stream"), out -> {
        try {
          out.write("data: one\n\n".getBytes(StandardCharsets.UTF_8));
          out.flush();
          // until the reset connection makes a write fail: up to 256 MiB, far more than loopback's
          // socket buffers can take in before the reset arrives (1 MiB sometimes fit in them all)
          for (int i = 0; i < 262_144; i++) {
            out.write(new byte[1024]);
            out.flush();
          }
        } catch (IOException gone) {
          unsentStreamSawItsOutputFail.countDown(); // where a relay closes its provider call and records usage
          throw gone;
        }
      });
      case "/models" -> GatewayResponse.json(200, Map.of("object", "list"));
      default -> throw new NotFound("no route " + request.path(), null);
    };
  }

  @BeforeEach
  void start() throws Exception {
    api = new RuntimeApiStandIn();
    runtime = new StreamingRuntime(api.address(), GatewayApplication.of(CorsPolicy.DISABLED, this::routes));
  }

  @AfterEach
  void stop() throws Exception {
    api.close();
  }

  private static byte[] event(String method, String path) {
    return Json.bytes(Map.of("httpMethod", method, "path", path, "headers", Map.of("Content-Type", "application/json"),
        "body", "{}", "isBase64Encoded", false, "requestContext", Map.of("requestId", "req-1")));
  }

  /** Serves one invocation on another thread, as the runtime's loop would. */
  private Thread serveOne() {
    return Thread.ofPlatform().daemon(true).start(() -> {
      try {
        runtime.serveNext();
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
  }

  @Test
  void aStreamedAnswerReachesTheRuntimeApiEventByEventAfterItsPrelude() throws Exception {
    serveOne();
    var call = api.call(event("POST", "/stream"));

    RuntimeApiStandIn.Chunk prelude = call.arriving().poll(10, TimeUnit.SECONDS);
    assertThat(prelude).as("the prelude is sent before the body").isNotNull();
    assertThat(prelude.text()).startsWith("{").endsWith("\0\0\0\0\0\0\0\0");
    RuntimeApiStandIn.Chunk first = call.arriving().poll(10, TimeUnit.SECONDS);
    assertThat(first).isNotNull();
    assertThat(first.text()).isEqualTo("data: one\n\n");
    assertThat(releaseLastEvent.getCount()).as("the first event arrived while the last was not yet written").isEqualTo(1);
    releaseLastEvent.countDown();

    var outcome = call.outcome().get(10, TimeUnit.SECONDS);
    assertThat(outcome.kind()).isEqualTo("response");
    assertThat(outcome.header("Lambda-Runtime-Function-Response-Mode")).isEqualTo("streaming");
    assertThat(outcome.header("Content-Type")).isEqualTo("application/vnd.awslambda.http-integration-response");
    assertThat(outcome.chunked()).isTrue();
    assertThat(outcome.header("Trailer")).contains("Lambda-Runtime-Function-Error-Type").contains("Lambda-Runtime-Function-Error-Body");
    assertThat(outcome.prelude()).isEqualTo(Json.MAPPER.readTree("{\"statusCode\":200,\"headers\":{\"Content-Type\":\"text/event-stream\"}}"));
    assertThat(outcome.payload()).isEqualTo("data: one\n\ndata: two\n\n");
    assertThat(outcome.chunks()).extracting(RuntimeApiStandIn.Chunk::text).endsWith("data: one\n\n", "data: two\n\n");
    assertThat(outcome.trailers()).as("no error").isEmpty();
  }

  @Test
  void aStreamHoldingItsFirstEventSendsItWithThePreludeInOneChunkAndTheNextEventsAsTheyCome() throws Exception {
    serveOne();
    var call = api.call(event("POST", "/stream-first-in-hand"));

    RuntimeApiStandIn.Chunk first = call.arriving().poll(10, TimeUnit.SECONDS);
    assertThat(first).isNotNull();
    assertThat(first.text()).as("prelude, separator and first event in one chunk: one write less before the client's first byte")
        .startsWith("{\"statusCode\":200").endsWith("\0\0\0\0\0\0\0\0data: one\n\n");
    assertThat(releaseLastEvent.getCount()).as("the first event arrived while the last was not yet written").isEqualTo(1);
    releaseLastEvent.countDown();

    var outcome = call.outcome().get(10, TimeUnit.SECONDS);
    assertThat(outcome.prelude()).isEqualTo(Json.MAPPER.readTree("{\"statusCode\":200,\"headers\":{\"Content-Type\":\"text/event-stream\"}}"));
    assertThat(outcome.payload()).isEqualTo("data: one\n\ndata: two\n\n");
    assertThat(outcome.chunks()).extracting(RuntimeApiStandIn.Chunk::text).endsWith("data: two\n\n");
    assertThat(outcome.trailers()).as("no error").isEmpty();
  }

  @Test
  void aBufferedAnswerIsSentWithItsPreludeInOneChunk() throws Exception {
    serveOne();
    var outcome = api.invoke(event("GET", "/models")).get(10, TimeUnit.SECONDS);

    assertThat(outcome.chunks()).as("prelude and body in one chunk, one write").hasSize(1);
    assertThat(outcome.chunks().get(0).text()).startsWith("{\"statusCode\":200").endsWith("\0\0\0\0\0\0\0\0{\"object\":\"list\"}");
  }

  @Test
  void aBufferedAnswerIsSentInTheSameFormatForAStreamIntegration() throws Exception {
    serveOne();
    var outcome = api.invoke(event("GET", "/models")).get(10, TimeUnit.SECONDS);

    assertThat(outcome.header("Lambda-Runtime-Function-Response-Mode")).isEqualTo("streaming");
    assertThat(outcome.header("Content-Type")).isEqualTo("application/vnd.awslambda.http-integration-response");
    assertThat(outcome.prelude().get("statusCode").asInt()).isEqualTo(200);
    assertThat(outcome.prelude().at("/headers/Content-Type").asText()).isEqualTo("application/json");
    assertThat(Json.MAPPER.readTree(outcome.payload())).isEqualTo(Json.MAPPER.readTree("{\"object\":\"list\"}"));
    assertThat(outcome.trailers()).isEmpty();
  }

  @Test
  void anErrorAnswerIsAnEnvelopeWithItsStatusInThePrelude() throws Exception {
    serveOne();
    var outcome = api.invoke(event("GET", "/nowhere")).get(10, TimeUnit.SECONDS);

    assertThat(outcome.prelude().get("statusCode").asInt()).isEqualTo(404);
    assertThat(Json.MAPPER.readTree(outcome.payload()).at("/error/code").asText()).isEqualTo("404");
    assertThat(outcome.trailers()).isEmpty();
  }

  @Test
  void anEventThatIsNoApiGatewayEventIsAnswered400() throws Exception {
    serveOne();
    var outcome = api.invoke("[1, 2".getBytes(StandardCharsets.UTF_8)).get(10, TimeUnit.SECONDS);

    assertThat(outcome.prelude().get("statusCode").asInt()).isEqualTo(400);
    assertThat(Json.MAPPER.readTree(outcome.payload()).at("/error/type").asText()).isEqualTo("invalid_request_error");
  }

  @Test
  void aStreamThatFailsMidwayEndsWithTheErrorTrailersAndTheNextInvocationIsServed() throws Exception {
    Thread serving = serveOne();
    var outcome = api.invoke(event("POST", "/stream-that-fails")).get(10, TimeUnit.SECONDS);
    serving.join(10_000);

    assertThat(outcome.prelude().get("statusCode").asInt()).as("the status was sent before the failure").isEqualTo(200);
    assertThat(outcome.payload()).isEqualTo("data: one\n\n");
    assertThat(outcome.trailers()).containsEntry("lambda-runtime-function-error-type", "java.lang.IllegalStateException");
    assertThat(outcome.errorTrailerBody().get("errorMessage").asText()).isEqualTo("a bug in the middle of the stream");
    assertThat(outcome.errorTrailerBody().get("errorType").asText()).isEqualTo("java.lang.IllegalStateException");

    serveOne();
    var next = api.invoke(event("GET", "/models")).get(10, TimeUnit.SECONDS);
    assertThat(next.prelude().get("statusCode").asInt()).isEqualTo(200);
    assertThat(next.trailers()).isEmpty();
  }

  @Test
  void aStreamWhoseResponseTheRuntimeApiRefusesStillRunsToSeeItsOutputFail() throws Exception {
    // The body holds a provider call opened before the answer (to learn its status): when the
    // Runtime API takes no response, the body must still run to close that call and record it.
    api.resetResponses = true;
    Thread serving = serveOne();
    api.call(event("POST", "/stream-unsent"));

    assertThat(unsentStreamSawItsOutputFail.await(10, TimeUnit.SECONDS)).as("the stream ran and saw its output fail").isTrue();
    serving.join(10_000);
    assertThat(serving.isAlive()).as("the runtime went on to its next invocation").isFalse();
  }
}

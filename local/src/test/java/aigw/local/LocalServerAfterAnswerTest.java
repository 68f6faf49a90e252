package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.http.CorsPolicy;
import aigw.core.http.GatewayApplication;
import aigw.core.http.GatewayResponse;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The wait the local gateway puts after a model call's answer (room in the spend-log backlog,
 * {@link LocalServer#afterEachModelAnswer}): the client has its whole answer while the wait lasts,
 * the connection's next request is read only after it, and admin answers skip it.
 */
class LocalServerAfterAnswerTest {
  private final CountDownLatch release = new CountDownLatch(1);
  private final CountDownLatch entered = new CountDownLatch(1);
  private final AtomicInteger hookRuns = new AtomicInteger();
  private LocalServer server;

  @BeforeEach
  void start() throws IOException {
    var routes = new LocalServer.Routes(path -> LocalServer.MAX_BODY_BYTES, path -> path.startsWith("/key/"));
    server = LocalServer.start("127.0.0.1", 0,
        GatewayApplication.of(CorsPolicy.allowing(List.of()), request -> GatewayResponse.json(200, Map.of("path", request.path()))),
        ServerLimits.DEFAULTS, AllowedHosts.of(null), routes);
    server.afterEachModelAnswer(() -> {
      hookRuns.incrementAndGet();
      entered.countDown();
      try {
        release.await(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
  }

  @AfterEach
  void stop() {
    release.countDown();
    server.stop();
  }

  @Test
  void aModelCallsAnswerIsWholeWhileTheWaitLastsAndTheNextRequestIsReadAfterIt() throws Exception {
    try (var socket = new Socket("127.0.0.1", server.port())) {
      socket.setSoTimeout(10_000);
      socket.getOutputStream().write(get("/v1/models"));
      assertThat(RawHttp.readAnswer(socket.getInputStream())).contains("\"path\":\"/v1/models\"");
      assertThat(entered.await(10, TimeUnit.SECONDS)).as("the wait runs after the answer").isTrue();

      socket.getOutputStream().write(get("/v1/chat/completions"));
      socket.setSoTimeout(500);
      boolean answeredDuringTheWait;
      try {
        answeredDuringTheWait = socket.getInputStream().read() >= 0;
      } catch (SocketTimeoutException expected) {
        answeredDuringTheWait = false;
      }
      assertThat(answeredDuringTheWait).as("the next request on the connection waits for the wait").isFalse();

      release.countDown();
      socket.setSoTimeout(10_000);
      assertThat(RawHttp.readAnswer(socket.getInputStream())).contains("\"path\":\"/v1/chat/completions\"");
    }
  }

  /**
   * After a model call's answer the worker that wrote it reads the connection's next request itself
   * (LocalServer.IoThreads): requests pipelined behind model calls, sent in one write, are each
   * answered, in order, on the one connection.
   */
  @Test
  void requestsPipelinedBehindModelCallsAreEachAnsweredInOrder() throws Exception {
    release.countDown(); // no wait after the answers here
    try (var socket = new Socket("127.0.0.1", server.port())) {
      socket.setSoTimeout(10_000);
      var pipelined = new java.io.ByteArrayOutputStream();
      for (int i = 0; i < 3; i++) {
        pipelined.writeBytes(get("/v1/models/m" + i));
      }
      socket.getOutputStream().write(pipelined.toByteArray());
      for (int i = 0; i < 3; i++) {
        assertThat(RawHttp.readAnswer(socket.getInputStream())).contains("\"path\":\"/v1/models/m" + i + "\"");
      }
    }
  }

  @Test
  void adminAnswersSkipTheWait() throws Exception {
    try (var socket = new Socket("127.0.0.1", server.port())) {
      socket.setSoTimeout(10_000);
      for (int i = 0; i < 3; i++) {
        socket.getOutputStream().write(get("/key/list"));
        assertThat(RawHttp.readAnswer(socket.getInputStream())).contains("\"path\":\"/key/list\"");
      }
    }
    assertThat(hookRuns.get()).isZero();
  }

  private static byte[] get(String path) {
    return ("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
  }
}

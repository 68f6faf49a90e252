package aigw.core.providers.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.errors.ErrorEnvelope;
import aigw.core.errors.UpstreamTimeout;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The call's timeout (no status and headers within it: 504) is kept by the calling thread, not by
 * a per-request timer of the JDK client: each such timer wakes the client's selector thread up once
 * per call, which costs every proxied request a thread switch (issue 14).
 */
class UpstreamHttpTimeoutTest {
  /** The JDK client, noting each request it is given. */
  private static final class Recording extends HttpClient {
    final HttpClient client = UpstreamHttp.defaultHttpClient();
    final List<HttpRequest> sent = new CopyOnWriteArrayList<>();

    @Override
    public <T> HttpResponse<T> send(HttpRequest request, HttpResponse.BodyHandler<T> handler) throws java.io.IOException, InterruptedException {
      sent.add(request);
      return client.send(request, handler);
    }

    @Override
    public <T> CompletableFuture<HttpResponse<T>> sendAsync(HttpRequest request, HttpResponse.BodyHandler<T> handler) {
      sent.add(request);
      return client.sendAsync(request, handler);
    }

    @Override
    public <T> CompletableFuture<HttpResponse<T>> sendAsync(
        HttpRequest request, HttpResponse.BodyHandler<T> handler, HttpResponse.PushPromiseHandler<T> promises) {
      sent.add(request);
      return client.sendAsync(request, handler, promises);
    }

    @Override public java.util.Optional<java.net.CookieHandler> cookieHandler() { return client.cookieHandler(); }
    @Override public java.util.Optional<Duration> connectTimeout() { return client.connectTimeout(); }
    @Override public Redirect followRedirects() { return client.followRedirects(); }
    @Override public java.util.Optional<java.net.ProxySelector> proxy() { return client.proxy(); }
    @Override public javax.net.ssl.SSLContext sslContext() { return client.sslContext(); }
    @Override public javax.net.ssl.SSLParameters sslParameters() { return client.sslParameters(); }
    @Override public java.util.Optional<java.net.Authenticator> authenticator() { return client.authenticator(); }
    @Override public Version version() { return client.version(); }
    @Override public java.util.Optional<java.util.concurrent.Executor> executor() { return client.executor(); }
  }

  private static UpstreamCall call(int port, Duration timeout) {
    return new UpstreamCall("m", URI.create("http://127.0.0.1:" + port + "/v1/chat/completions"), Map.of("Content-Type", "application/json"),
        "{\"model\":\"m\"}".getBytes(StandardCharsets.UTF_8), timeout, List.of());
  }

  @Test
  void aProviderSilentPastTheTimeoutIs504AndItsConnectionIsClosedWithoutAJdkTimerPerCall() throws Exception {
    var client = new Recording();
    try (var provider = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
      var accepted = new CompletableFuture<Socket>();
      Thread.ofPlatform().daemon().start(() -> {
        try {
          accepted.complete(provider.accept()); // reads nothing, answers nothing
        } catch (java.io.IOException e) {
          accepted.completeExceptionally(e);
        }
      });
      long started = System.nanoTime();
      assertThatThrownBy(() -> new UpstreamHttp(client).exchange(call(provider.getLocalPort(), Duration.ofMillis(300))))
          .isInstanceOfSatisfying(UpstreamTimeout.class, e -> {
            assertThat(ErrorEnvelope.status(e)).isEqualTo(504);
            assertThat(e.getMessage()).isEqualTo("The provider of 'm' at 127.0.0.1:" + provider.getLocalPort() + " did not answer within 0.3 s.");
          });
      assertThat(Duration.ofNanos(System.nanoTime() - started)).isBetween(Duration.ofMillis(300), Duration.ofSeconds(5));
      assertThat(Thread.currentThread().isInterrupted()).as("the timeout interrupted the wait only").isFalse();
      // The exchange was ended, not left waiting: the provider sees its connection closed.
      try (Socket connection = accepted.get(5, java.util.concurrent.TimeUnit.SECONDS)) {
        connection.setSoTimeout(5000);
        InputStream in = connection.getInputStream();
        while (in.read() >= 0) {
          // the request's bytes, then the end of the stream
        }
      }
    }
    assertThat(client.sent).hasSize(1);
    assertThat(client.sent.get(0).timeout()).as("no per-request timer of the JDK client").isEmpty();
  }

  /** A provider on raw sockets: answers each request with {@code answer(request number)} written by the given steps. */
  private interface Steps {
    void answer(java.io.OutputStream out) throws Exception;
  }

  private static ServerSocket provider(Steps steps) throws java.io.IOException {
    var server = new ServerSocket(0, 8, InetAddress.getLoopbackAddress());
    Thread.ofPlatform().daemon().start(() -> {
      try (Socket connection = server.accept()) {
        var in = connection.getInputStream();
        var head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
          head.append((char) in.read());
        }
        in.readNBytes(Integer.parseInt(head.toString().replaceAll("(?s).*[Cc]ontent-[Ll]ength: (\\d+).*", "$1")));
        steps.answer(connection.getOutputStream());
        Thread.sleep(2000);
      } catch (Exception ignored) {
        // the test's client went away
      }
    });
    return server;
  }

  private static final String HEAD = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n";

  /**
   * One whole exchange before the timed ones: {@code HttpClient.send} does the start of an exchange
   * on the calling thread, inside the call's timeout, and a JVM's first exchange loads the JDK
   * client's classes there. On a loaded machine that took this class's 0.3 s, so a test meant to
   * time out after the headers timed out before them (session 12's review: 1 run in 3 at load 10).
   */
  @BeforeAll
  static void loadTheJdkClientsClassesFirst() throws Exception {
    try (var provider = provider(out -> {
      out.write((HEAD + "{\"a\":\"bcd\"}").getBytes(StandardCharsets.US_ASCII));
      out.flush();
    })) {
      new UpstreamHttp(UpstreamHttp.defaultHttpClient()).exchange(call(provider.getLocalPort(), Duration.ofSeconds(30)));
    }
  }

  @Test
  void aSmallDeclaredAnswerIsReadWholeByTheClientAndItsBodyMayComeAfterItsHeadersWithinTheTimeoutPerPiece() throws Exception {
    long before = UpstreamHttp.READ_WHOLE.sum();
    try (var provider = provider(out -> {
      out.write(HEAD.getBytes(StandardCharsets.US_ASCII));
      out.flush();
      Thread.sleep(200);
      out.write("{\"a\":".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      Thread.sleep(200); // 0.4 s after the headers in all, each piece within the 0.3 s timeout
      out.write("\"bcd\"}".getBytes(StandardCharsets.US_ASCII));
      out.flush();
    })) {
      var reply = new UpstreamHttp(UpstreamHttp.defaultHttpClient()).exchange(call(provider.getLocalPort(), Duration.ofMillis(300)));
      assertThat(reply.status()).isEqualTo(200);
      assertThat(new String(reply.body(), StandardCharsets.UTF_8)).isEqualTo("{\"a\":\"bcd\"}");
    }
    assertThat(UpstreamHttp.READ_WHOLE.sum() - before).as("read whole by the HTTP client: the caller woke once").isEqualTo(1);
  }

  @Test
  void aSmallDeclaredAnswerWhoseBodyStopsIs504SayingSoInTheMiddleOfItsAnswer() throws Exception {
    try (var provider = provider(out -> {
      out.write((HEAD + "{\"a\"").getBytes(StandardCharsets.US_ASCII));
      out.flush();
    })) {
      assertThatThrownBy(() -> new UpstreamHttp(UpstreamHttp.defaultHttpClient()).exchange(call(provider.getLocalPort(), Duration.ofMillis(300))))
          .isInstanceOfSatisfying(UpstreamTimeout.class, e -> assertThat(e.getMessage()).isEqualTo("The provider of 'm' at 127.0.0.1:"
              + provider.getLocalPort() + " sent nothing for 0.3 s in the middle of its answer."));
    }
  }

  @Test
  void aSmallDeclaredAnswerWhoseBodyNeverStartsIs504SayingSoAfterItsHeaders() throws Exception {
    try (var provider = provider(out -> {
      out.write(HEAD.getBytes(StandardCharsets.US_ASCII));
      out.flush();
    })) {
      assertThatThrownBy(() -> new UpstreamHttp(UpstreamHttp.defaultHttpClient()).exchange(call(provider.getLocalPort(), Duration.ofMillis(300))))
          .isInstanceOfSatisfying(UpstreamTimeout.class, e -> assertThat(e.getMessage()).isEqualTo("The provider of 'm' at 127.0.0.1:"
              + provider.getLocalPort() + " sent nothing for 0.3 s after its response headers, before any part of its answer."));
    }
  }

  @Test
  void aSmallDeclaredAnswerCutShortIs502SayingSoInTheMiddleOfItsAnswer() throws Exception {
    try (var provider = provider(out -> {
      out.write((HEAD + "{\"a\"").getBytes(StandardCharsets.US_ASCII));
      out.flush();
      out.close();
    })) {
      assertThatThrownBy(() -> new UpstreamHttp(UpstreamHttp.defaultHttpClient()).exchange(call(provider.getLocalPort(), Duration.ofSeconds(5))))
          .isInstanceOfSatisfying(aigw.core.errors.UpstreamUnreachable.class, e -> {
            assertThat(ErrorEnvelope.status(e)).isEqualTo(502);
            assertThat(e.beforeSending()).isFalse();
            assertThat(ErrorEnvelope.of(e).error().message()).as("what the client reads").isEqualTo("The connection to the provider of 'm' at 127.0.0.1:"
                + provider.getLocalPort() + " failed in the middle of its answer: the provider closed the connection.");
          });
    }
  }
}

package aigw.core.providers.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.http.ClientClosedRequest;
import aigw.core.http.ClientDeparture;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A request whose client leaves ({@link ClientDeparture#left}, which the local server calls when
 * the client closes its connection) ends the provider exchange its thread waits on: the provider
 * sees its connection closed, and the waiting thread gets {@link ClientClosedRequest} at once
 * instead of the answer or the call's timeout.
 */
class UpstreamHttpClientDepartureTest {
  private static final Duration PROVIDER_TIMEOUT = Duration.ofSeconds(30);

  private static UpstreamCall call(int port) {
    return new UpstreamCall("m", URI.create("http://127.0.0.1:" + port + "/v1/chat/completions"), Map.of("Content-Type", "application/json"),
        "{\"model\":\"m\"}".getBytes(StandardCharsets.UTF_8), PROVIDER_TIMEOUT, List.of());
  }

  /** A provider that takes one request, sends {@code answerStart} (maybe nothing), and says whether its connection was then closed. */
  private static CompletableFuture<Boolean> provider(ServerSocket server, String answerStart, CompletableFuture<Void> requested) {
    var closed = new CompletableFuture<Boolean>();
    Thread.ofPlatform().daemon().start(() -> {
      try (Socket connection = server.accept()) {
        InputStream in = connection.getInputStream();
        var head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
          head.append((char) in.read());
        }
        in.readNBytes(Integer.parseInt(head.toString().replaceAll("(?is).*content-length: *(\\d+).*", "$1")));
        connection.getOutputStream().write(answerStart.getBytes(StandardCharsets.US_ASCII));
        connection.getOutputStream().flush();
        requested.complete(null);
        connection.setSoTimeout(10_000);
        closed.complete(in.read() < 0);
      } catch (SocketTimeoutException stillOpen) {
        closed.complete(false);
      } catch (IOException reset) {
        closed.complete(true);
      }
    });
    return closed;
  }

  private static void leaveWhen(CompletableFuture<Void> requested, ClientDeparture departure) {
    requested.thenRunAsync(departure::left, CompletableFuture.delayedExecutor(100, TimeUnit.MILLISECONDS));
  }

  @Test
  void aClientLeavingWhileTheProviderHasNotAnsweredEndsTheExchange() throws Exception {
    try (var server = new ServerSocket(0, 8, InetAddress.getLoopbackAddress()); var departure = ClientDeparture.open()) {
      var requested = new CompletableFuture<Void>();
      var closed = provider(server, "", requested);
      leaveWhen(requested, departure);

      assertThatThrownBy(() -> new UpstreamHttp(UpstreamHttp.defaultHttpClient()).exchange(call(server.getLocalPort())))
          .isInstanceOfSatisfying(ClientClosedRequest.class, gone -> assertThat(gone.sent()).as("the request had left").isTrue());
      // The wait is ended by interrupting the thread (UpstreamHttp.send): nothing of it may reach
      // what the thread does next (writing an answer, the next request on a worker).
      assertThat(Thread.currentThread().isInterrupted()).as("the thread's interrupt status").isFalse();
      assertThat(closed.get(5, TimeUnit.SECONDS)).as("the provider's connection is closed").isTrue();
    }
  }

  @Test
  void aClientLeavingWhileAStreamedBodyIsAwaitedClosesIt() throws Exception {
    try (var server = new ServerSocket(0, 8, InetAddress.getLoopbackAddress()); var departure = ClientDeparture.open()) {
      var requested = new CompletableFuture<Void>();
      String event = "data: {\"choices\":[]}\n\n";
      var closed = provider(server, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
          + Integer.toHexString(event.length()) + "\r\n" + event + "\r\n", requested);
      var upstream = new UpstreamHttp(UpstreamHttp.defaultHttpClient());
      UpstreamCall call = call(server.getLocalPort());
      try (var reply = upstream.open(call)) {
        assertThat(new String(reply.body().readNBytes(event.length()), StandardCharsets.UTF_8)).isEqualTo(event);
        leaveWhen(requested, departure);
        assertThatThrownBy(() -> reply.body().read()).isInstanceOfSatisfying(IOException.class,
            broken -> assertThat(UpstreamHttp.midStream(call, broken, false)).isInstanceOf(ClientClosedRequest.class));
      }
      assertThat(closed.get(5, TimeUnit.SECONDS)).as("the provider's connection is closed").isTrue();
    }
  }

  @Test
  void aClientGoneBeforeTheCallIsMadeIsNotSentToTheProvider() throws Exception {
    try (var server = new ServerSocket(0, 8, InetAddress.getLoopbackAddress()); var departure = ClientDeparture.open()) {
      departure.left();
      server.setSoTimeout(500);

      assertThatThrownBy(() -> new UpstreamHttp(UpstreamHttp.defaultHttpClient()).exchange(call(server.getLocalPort())))
          .isInstanceOfSatisfying(ClientClosedRequest.class, gone -> assertThat(gone.sent()).isFalse());
      assertThatThrownBy(server::accept).as("no connection was made").isInstanceOf(SocketTimeoutException.class);
    }
  }

  /**
   * The local server watches a model call's client from before the request reaches a worker
   * (LocalServer.dispatch): a client that left while its request waited for one is not sent on.
   */
  @Test
  void aClientGoneWhileItsRequestWaitedForAThreadIsNotSentToTheProvider() throws Exception {
    var departure = ClientDeparture.unopened();
    CompletableFuture.runAsync(departure::left).get(5, TimeUnit.SECONDS); // the transport's thread sees it go
    try (var server = new ServerSocket(0, 8, InetAddress.getLoopbackAddress()); var scope = departure.openOnThisThread()) {
      server.setSoTimeout(500);

      assertThat(ClientDeparture.clientLeft()).isTrue();
      assertThatThrownBy(() -> new UpstreamHttp(UpstreamHttp.defaultHttpClient()).exchange(call(server.getLocalPort())))
          .isInstanceOfSatisfying(ClientClosedRequest.class, gone -> assertThat(gone.sent()).isFalse());
      assertThatThrownBy(server::accept).as("no connection was made").isInstanceOf(SocketTimeoutException.class);
    }
    assertThat(ClientDeparture.clientLeft()).as("the scope ends with the request").isFalse();
  }

  @Test
  void aThreadWithNoDepartureScopeIsUnaffected() {
    assertThat(ClientDeparture.clientLeft()).isFalse();
    try (var registration = ClientDeparture.whileWaiting(() -> {
      throw new AssertionError("nothing watches this thread");
    })) {
      assertThat(registration).isSameAs(ClientDeparture.Registration.NONE);
    }
  }
}

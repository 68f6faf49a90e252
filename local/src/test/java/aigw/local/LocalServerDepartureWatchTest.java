package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.http.ClientDeparture;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.io.AbstractEndPoint;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The watch for a model call's departing client ({@link LocalServer.DepartureWatch}) on a real
 * Jetty connection: a readiness with nothing to read while the client still waits (a stale task of
 * Jetty's selector, run after Jetty's own read took the bytes it was made for) is not a departure,
 * however many of them come; a client that closed its side is one at its first readiness.
 */
class LocalServerDepartureWatchTest {
  private Server server;

  @AfterEach
  void stop() throws Exception {
    if (server != null) {
      server.stop();
    }
  }

  /**
   * Session 12: under load two late selector tasks called one watch, which took the second for the
   * client's end; the call was cancelled and its connection closed, and the waiting client got
   * {@code HTTP/1.1 header parser received no bytes}.
   */
  @Test
  void staleReadinessWhileTheClientWaitsIsNotADepartureAndTheConnectionServesItsNextRequest() throws Exception {
    int port = start(endPoint -> {
      try (var departure = ClientDeparture.open()) {
        var watch = LocalServer.DepartureWatch.start(endPoint, departure);
        for (int i = 0; i < 3; i++) {
          // What a late selector task does: it calls the read interest pending when it runs.
          ((AbstractEndPoint) endPoint).getFillInterest().fillable();
        }
        boolean left = departure.hasLeft();
        watch.stop();
        return left;
      }
    });
    try (var client = new Socket(InetAddress.getLoopbackAddress(), port)) {
      client.setSoTimeout(10_000);
      for (int call = 0; call < 2; call++) {
        client.getOutputStream().write(get(port).getBytes(StandardCharsets.US_ASCII));
        client.getOutputStream().flush();
        assertThat(RawHttp.readAnswer(client.getInputStream())).as("call %d", call).startsWith("HTTP/1.1 200").endsWith("left=false");
      }
    }
  }

  /** A client that shuts its sending side after its request is taken as gone (as nginx does), from the socket's own readiness. */
  @Test
  void aClientThatClosedItsSideIsADeparture() throws Exception {
    int port = start(endPoint -> {
      try (var departure = ClientDeparture.open()) {
        var watch = LocalServer.DepartureWatch.start(endPoint, departure);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!departure.hasLeft() && System.nanoTime() < deadline) {
          Thread.onSpinWait();
        }
        boolean left = departure.hasLeft();
        watch.stop();
        return left;
      }
    });
    try (var client = new Socket(InetAddress.getLoopbackAddress(), port)) {
      client.setSoTimeout(15_000);
      client.getOutputStream().write(get(port).getBytes(StandardCharsets.US_ASCII));
      client.getOutputStream().flush();
      client.shutdownOutput();
      // Half-closed, it can still read what this test's handler says it saw.
      assertThat(RawHttp.readAnswer(client.getInputStream())).endsWith("left=true");
    }
  }

  /** What a handler saw of its client: true when the watch told the departure. */
  private interface Watched {
    boolean left(EndPoint endPoint) throws Exception;
  }

  private int start(Watched watched) throws Exception {
    server = new Server();
    var connector = new ServerConnector(server);
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    server.addConnector(connector);
    server.setHandler(new Handler.Abstract() {
      @Override
      public boolean handle(Request request, Response response, Callback callback) throws Exception {
        boolean left = watched.left(request.getConnectionMetaData().getConnection().getEndPoint());
        response.setStatus(200);
        Content.Sink.write(response, true, "left=" + left, callback);
        return true;
      }
    });
    server.start();
    return connector.getLocalPort();
  }

  private static String get(int port) {
    return "GET /watch HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\n\r\n";
  }
}

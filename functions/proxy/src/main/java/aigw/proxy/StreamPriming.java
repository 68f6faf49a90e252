package aigw.proxy;

import aigw.core.auth.Caller;
import aigw.core.config.Deployment;
import aigw.core.config.Provider;
import aigw.core.providers.ForwardedBody;
import aigw.core.providers.Operation;
import aigw.core.providers.ProviderRequest;
import aigw.core.providers.ProviderStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

/**
 * SnapStart priming of the streamed path ({@code "stream": true}): one streamed chat completion
 * through the proxy's own stream code (the failover call, the provider's server-sent-event reader
 * over the JDK HTTP client, {@link StreamRelay} with {@link ChatChunkEvents} and its usage chunk,
 * the call's accounting) against a one-shot stand-in on the loopback address, so the restored
 * container's first stream does not load and link those classes.
 *
 * <p>Nothing of it outlives priming: the stand-in listens on 127.0.0.1 on a port of the system's
 * choosing for exactly one request and answers {@code Connection: close}, so no provider connection
 * is pooled into the snapshot; the answer is written to nowhere; the usage and spend-log entry it
 * hands over are dropped by {@code Priming} before the snapshot (the master key's call has no key
 * usage anyway); the stand-in's deployment is not in the router, and the cooldowns it could leave
 * are forgotten at restore ({@code Gateway#renewAfterRestore}).
 */
final class StreamPriming {
  static final String MODEL = "aigw-priming";
  private static final byte[] REQUEST =
      ("{\"model\":\"" + MODEL + "\",\"messages\":[{\"role\":\"user\",\"content\":\"\"}],\"stream\":true,"
              + "\"stream_options\":{\"include_usage\":true}}")
          .getBytes(StandardCharsets.UTF_8);
  /** An OpenAI-style stream: a role chunk, a content chunk, the finish chunk, the usage chunk, [DONE]. */
  private static final String EVENTS =
      event("{\"id\":\"chatcmpl-prime\",\"object\":\"chat.completion.chunk\",\"created\":0,\"model\":\"" + MODEL + "\","
              + "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}")
          + event("{\"id\":\"chatcmpl-prime\",\"object\":\"chat.completion.chunk\",\"created\":0,\"model\":\"" + MODEL + "\","
              + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"primed\"},\"finish_reason\":null}]}")
          + event("{\"id\":\"chatcmpl-prime\",\"object\":\"chat.completion.chunk\",\"created\":0,\"model\":\"" + MODEL + "\","
              + "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}")
          + event("{\"id\":\"chatcmpl-prime\",\"object\":\"chat.completion.chunk\",\"created\":0,\"model\":\"" + MODEL + "\","
              + "\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}")
          + event("[DONE]");

  private StreamPriming() {}

  private static String event(String data) {
    return "data: " + data + "\n\n";
  }

  /**
   * Streams one chat completion from a loopback stand-in through {@code proxy}'s stream path.
   *
   * @return the bytes the client would have received (the relayed events), for the caller to check
   * @throws IOException the stand-in could not listen or answer
   * @throws aigw.core.errors.GatewayException the stream path refused the answer (as for a provider's)
   */
  static byte[] prime(ProxyService proxy) throws IOException {
    try (var standIn = new OneShotStandIn()) {
      var deployment = new Deployment(MODEL, Provider.OPENAI, MODEL, standIn.baseUrl(), "sk-priming-not-a-key", null, Duration.ofSeconds(5));
      var rotation = List.of(deployment);
      var chunks = (ProviderStream) proxy.call(rotation, ProviderRequest.streamed(Operation.CHAT_COMPLETIONS, ForwardedBody.of(REQUEST)));
      var admitted = new ProxyService.Admitted(
          new Caller.Master(), null, MODEL, rotation, rotation, "priming", proxy.gateway().clock().instant(), null);
      var relay = new StreamRelay(chunks, new ChatChunkEvents(true), REQUEST.length, proxy.streamAccounting(admitted, chunks));
      relay.awaitFirstChunk();
      var client = new ByteArrayOutputStream();
      relay.writeTo(client);
      standIn.awaitAnswered();
      return client.toByteArray();
    }
  }

  /** Answers one request on 127.0.0.1 with {@link #EVENTS}, then closes; a thread of its own serves it. */
  private static final class OneShotStandIn implements AutoCloseable {
    private final ServerSocket socket;
    private final Thread server;
    private volatile IOException failure;

    OneShotStandIn() throws IOException {
      socket = new ServerSocket();
      socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 1);
      socket.setSoTimeout(5_000);
      server = Thread.ofPlatform().daemon().name("aigw-priming-stand-in").start(this::answerOne);
    }

    URI baseUrl() {
      return URI.create("http://127.0.0.1:" + socket.getLocalPort() + "/v1");
    }

    private void answerOne() {
      try (Socket connection = socket.accept()) {
        connection.setSoTimeout(5_000);
        readRequest(connection.getInputStream());
        byte[] body = EVENTS.getBytes(StandardCharsets.UTF_8);
        OutputStream out = connection.getOutputStream();
        out.write(("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: " + body.length
                + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(body);
        out.flush();
      } catch (IOException e) {
        failure = e;
      }
    }

    /** Reads the request's head and its Content-Length body, so the client sees its request taken whole. */
    private static void readRequest(InputStream in) throws IOException {
      var head = new StringBuilder();
      while (!head.toString().endsWith("\r\n\r\n")) {
        int b = in.read();
        if (b < 0) {
          throw new IOException("the priming request ended in its head");
        }
        head.append((char) b);
      }
      long length = 0;
      for (String line : head.toString().split("\r\n")) {
        int colon = line.indexOf(':');
        if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase("content-length")) {
          length = Long.parseLong(line.substring(colon + 1).trim());
        }
      }
      in.skipNBytes(length);
    }

    void awaitAnswered() throws IOException {
      try {
        server.join(5_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      if (failure != null) {
        throw failure;
      }
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }
}

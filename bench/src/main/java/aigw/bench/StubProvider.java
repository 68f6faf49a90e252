package aigw.bench;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.regex.Pattern;

/**
 * A loopback OpenAI-compatible provider. A chat completion is answered at once with a fixed body;
 * one that asks {@code "stream": true} is answered as OpenAI streams: {@code text/event-stream},
 * chunked, one {@code data: {chat.completion.chunk}} event per write, each flushed on its own, then
 * a usage chunk when {@code stream_options.include_usage} is asked, then {@code data: [DONE]}.
 *
 * <p>The chunk format is OpenAI's (https://platform.openai.com/docs/api-reference/chat-streaming):
 * a first chunk with the role, {@code contentChunks} chunks of one token of content each, a last
 * chunk with {@code finish_reason}, and the usage chunk with empty {@code choices}.
 */
final class StubProvider implements AutoCloseable {
  static final byte[] COMPLETION =
      """
      {"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench-model",\
      "choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?"},"finish_reason":"stop"}],\
      "usage":{"prompt_tokens":12,"completion_tokens":9,"total_tokens":21}}"""
          .getBytes(StandardCharsets.UTF_8);

  // The gateway may re-serialise the body, so whitespace around ':' is allowed.
  private static final Pattern STREAM = Pattern.compile("\"stream\"\\s*:\\s*true");
  private static final Pattern INCLUDE_USAGE = Pattern.compile("\"include_usage\"\\s*:\\s*true");
  private static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8);
  private static final String CHUNK_HEAD =
      "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"bench-model\",";

  private final HttpServer server;
  private final ExecutorService workers;
  private final byte[] firstChunk;
  private final byte[][] contentChunks;
  private final byte[] lastChunk;
  private final byte[] usageChunk;

  StubProvider() throws IOException {
    this(20);
  }

  /** @param contentChunks how many one-token content chunks a streamed answer carries (1 or more) */
  StubProvider(int contentChunks) throws IOException {
    if (contentChunks < 1) {
      throw new IllegalArgumentException("contentChunks must be 1 or more, was " + contentChunks);
    }
    firstChunk = event(CHUNK_HEAD + "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}");
    this.contentChunks = new byte[contentChunks][];
    for (int i = 0; i < contentChunks; i++) {
      this.contentChunks[i] =
          event(CHUNK_HEAD + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"tok" + i + " \"},\"finish_reason\":null}]}");
    }
    lastChunk = event(CHUNK_HEAD + "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}");
    usageChunk =
        event(CHUNK_HEAD + "\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":"
            + contentChunks + ",\"total_tokens\":" + (12 + contentChunks) + "}}");

    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 512);
    workers = Executors.newFixedThreadPool(32, Thread.ofPlatform().daemon(true).name("stub-", 0).factory());
    server.setExecutor(workers);
    server.createContext(
        "/",
        exchange -> {
          try (exchange) {
            String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            if (STREAM.matcher(body).find()) {
              stream(exchange, INCLUDE_USAGE.matcher(body).find());
            } else {
              exchange.getResponseHeaders().set("Content-Type", "application/json");
              exchange.sendResponseHeaders(200, COMPLETION.length);
              exchange.getResponseBody().write(COMPLETION);
            }
          }
        });
    server.start();
  }

  /** Chunks a streamed answer carries before {@code data: [DONE]}: role, content, finish, and usage if asked. */
  int streamedChunks(boolean includeUsage) {
    return contentChunks.length + 2 + (includeUsage ? 1 : 0);
  }

  private void stream(HttpExchange exchange, boolean includeUsage) throws IOException {
    exchange.getResponseHeaders().set("Content-Type", "text/event-stream");
    exchange.getResponseHeaders().set("Cache-Control", "no-cache");
    exchange.sendResponseHeaders(200, 0); // 0: chunked transfer encoding
    OutputStream out = exchange.getResponseBody();
    send(out, firstChunk);
    for (byte[] chunk : contentChunks) {
      send(out, chunk);
    }
    send(out, lastChunk);
    if (includeUsage) {
      send(out, usageChunk);
    }
    send(out, DONE);
  }

  private static void send(OutputStream out, byte[] event) throws IOException {
    out.write(event);
    out.flush(); // one HTTP chunk per event, on the wire at once, as a model's tokens arrive
  }

  private static byte[] event(String line) {
    return (line + "\n\n").getBytes(StandardCharsets.UTF_8);
  }

  String baseUrl() {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  @Override
  public void close() {
    server.stop(0);
    workers.shutdownNow();
  }
}

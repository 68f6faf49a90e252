package aigw.local.lambda;

import aigw.core.json.Json;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A loopback stand-in of the Lambda Runtime API (2018-06-01) for one function process: hands out
 * the invocations it is given and records what the runtime posts back, byte for byte.
 * https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
 *
 * <p>Its own small HTTP/1.1 server on a socket rather than the JDK's HttpServer, so that it sees
 * what a streaming runtime sends on the wire ("Implementing response streaming in a custom
 * runtime"): the request headers, each chunk of a chunked body as it arrives (with the time it
 * arrived) and the trailer fields the JDK server cannot read. Keep-alive connections (the runtime
 * interface client's) and {@code Expect: 100-continue} are served too.
 */
final class RuntimeApiStandIn implements AutoCloseable {
  /** One chunk of a chunked request body and when it arrived ({@link System#nanoTime}). */
  record Chunk(byte[] data, long arrivedNanos) {
    String text() {
      return new String(data, StandardCharsets.UTF_8);
    }
  }

  /**
   * What the runtime posted for one invocation: kind {@code response}, {@code error}, {@code
   * init-error} or {@code restore-error}; its headers (names lower-cased), its body as a whole and,
   * for a chunked body, its chunks and trailer fields.
   */
  record Outcome(String kind, byte[] raw, Map<String, String> headers, List<Chunk> chunks, Map<String, String> trailers) {
    String body() {
      return new String(raw, StandardCharsets.UTF_8);
    }

    String header(String name) {
      return headers.get(name.toLowerCase(Locale.ROOT));
    }

    boolean chunked() {
      return "chunked".equalsIgnoreCase(header("Transfer-Encoding"));
    }

    /** Index of the 8 NUL bytes that end the streaming prelude, or -1. */
    int preludeEnd() {
      for (int i = 0; i + 8 <= raw.length; i++) {
        if (Arrays.equals(raw, i, i + 8, new byte[8], 0, 8)) {
          return i;
        }
      }
      return -1;
    }

    /** The JSON prelude of a response in API Gateway's streaming format. */
    JsonNode prelude() throws IOException {
      int end = preludeEnd();
      if (end < 0) {
        throw new AssertionError("no 8-NUL prelude separator in: " + body());
      }
      return Json.MAPPER.readTree(Arrays.copyOf(raw, end));
    }

    /** The body after the prelude and its separator. */
    String payload() {
      int end = preludeEnd();
      return new String(raw, end + 8, raw.length - end - 8, StandardCharsets.UTF_8);
    }

    /** The buffered response event's shape ({@code statusCode}, {@code headers}, {@code body}) of a streamed answer. */
    JsonNode asResponseEvent() throws IOException {
      var event = Json.MAPPER.createObjectNode();
      JsonNode prelude = prelude();
      event.set("statusCode", prelude.get("statusCode"));
      event.set("headers", prelude.get("headers"));
      event.put("body", payload());
      return event;
    }

    /** The error trailer's body, decoded from base64. */
    JsonNode errorTrailerBody() throws IOException {
      return Json.MAPPER.readTree(Base64.getDecoder().decode(trailers.get("lambda-runtime-function-error-body")));
    }
  }

  /** One queued invocation: its outcome, and the chunks of its response as they arrive. */
  record Call(String requestId, CompletableFuture<Outcome> outcome, BlockingQueue<Chunk> arriving) {}

  private final ServerSocket server;
  private final BlockingQueue<Map.Entry<String, byte[]>> pending = new LinkedBlockingQueue<>();
  private final Map<String, Call> calls = new ConcurrentHashMap<>();
  private final List<String> requestLines = java.util.Collections.synchronizedList(new ArrayList<>());
  final CompletableFuture<Long> firstPollNanos = new CompletableFuture<>();
  final CompletableFuture<Long> restoreNextNanos = new CompletableFuture<>();
  final CompletableFuture<Outcome> initError = new CompletableFuture<>();
  final CompletableFuture<Outcome> restoreError = new CompletableFuture<>();
  /**
   * Each invocation's time limit, from when it is handed out ({@code Lambda-Runtime-Deadline-Ms});
   * the longest Timeout in template.yaml's functions unless a test shortens it.
   */
  volatile Duration timeLimit = Duration.ofSeconds(900);
  /** When set, a function's response is refused by resetting its connection on its request line. */
  volatile boolean resetResponses;

  RuntimeApiStandIn() throws IOException {
    server = new ServerSocket(0, 16, InetAddress.getLoopbackAddress());
    Thread.ofPlatform().daemon(true).name("runtime-api-stand-in").start(this::accept);
  }

  String address() {
    return "127.0.0.1:" + server.getLocalPort();
  }

  /** Every request line received, in order ("GET /2018-06-01/runtime/invocation/next"). */
  List<String> requestLines() {
    synchronized (requestLines) {
      return List.copyOf(requestLines);
    }
  }

  /** Queues one invocation; the future completes when the function answers it. */
  CompletableFuture<Outcome> invoke(byte[] event) {
    return call(event).outcome();
  }

  /** Queues one invocation and gives access to its response's chunks while they arrive. */
  Call call(byte[] event) {
    String id = UUID.randomUUID().toString();
    var call = new Call(id, new CompletableFuture<>(), new LinkedBlockingQueue<>());
    calls.put(id, call);
    pending.add(Map.entry(id, event));
    return call;
  }

  private void accept() {
    while (!server.isClosed()) {
      try {
        Socket socket = server.accept();
        Thread.ofPlatform().daemon(true).start(() -> serve(socket));
      } catch (IOException closed) {
        return;
      }
    }
  }

  private void serve(Socket socket) {
    try (socket) {
      var in = new BufferedInputStream(socket.getInputStream());
      OutputStream out = socket.getOutputStream();
      while (true) {
        String requestLine = readLine(in);
        if (requestLine == null || requestLine.isEmpty()) {
          return;
        }
        var headers = readFields(in);
        String[] parts = requestLine.split(" ");
        String method = parts[0];
        String path = parts[1];
        requestLines.add(method + " " + path);
        if ("100-continue".equalsIgnoreCase(headers.get("expect"))) {
          out.write("HTTP/1.1 100 Continue\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
          out.flush();
        }
        boolean keepAlive = !"close".equalsIgnoreCase(headers.getOrDefault("connection", ""));
        if (!respond(socket, method, path, headers, in, out)) {
          return;
        }
        if (!keepAlive) {
          return;
        }
      }
    } catch (IOException | InterruptedException e) {
      // the runtime went away; what it posted so far was recorded
    }
  }

  /** Answers one request; false when the connection cannot be used further. */
  private boolean respond(Socket socket, String method, String path, Map<String, String> headers, InputStream in, OutputStream out)
      throws IOException, InterruptedException {
    if (method.equals("GET") && path.endsWith("/runtime/invocation/next")) {
      firstPollNanos.complete(System.nanoTime());
      Map.Entry<String, byte[]> next = pending.poll(120, TimeUnit.SECONDS);
      if (next == null) {
        send(out, 500, Map.of(), new byte[0]);
        return false;
      }
      var answer = new LinkedHashMap<String, String>();
      answer.put("Lambda-Runtime-Aws-Request-Id", next.getKey());
      answer.put("Lambda-Runtime-Deadline-Ms", Long.toString(System.currentTimeMillis() + timeLimit.toMillis()));
      answer.put("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:test");
      answer.put("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0");
      answer.put("Content-Type", "application/json");
      send(out, 200, answer, next.getValue());
      return true;
    }
    if (method.equals("GET") && path.endsWith("/runtime/restore/next")) {
      restoreNextNanos.complete(System.nanoTime()); // restored at once
      send(out, 200, Map.of(), new byte[0]);
      return true;
    }
    if (resetResponses && method.equals("POST") && path.endsWith("/response")) {
      socket.setSoLinger(true, 0); // close with RST: the function's next write fails
      return false;
    }
    String[] segments = path.split("/");
    String last = segments[segments.length - 1];
    Call call = path.contains("/runtime/invocation/") ? calls.get(segments[segments.length - 2]) : null;
    Outcome outcome = readBody(headers, in, call == null ? null : call.arriving());
    String kind = path.endsWith("/init/error") ? "init-error" : path.endsWith("/restore/error") ? "restore-error" : last;
    outcome = new Outcome(kind, outcome.raw(), outcome.headers(), outcome.chunks(), outcome.trailers());
    switch (kind) {
      case "init-error" -> initError.complete(outcome);
      case "restore-error" -> restoreError.complete(outcome);
      default -> {
        if (call == null) {
          send(out, 400, Map.of("Content-Type", "application/json"), "{\"errorType\":\"InvalidRequestID\"}".getBytes(StandardCharsets.UTF_8));
          return true;
        }
        call.outcome().complete(outcome);
      }
    }
    send(out, 202, Map.of("Content-Type", "application/json"), "{\"status\":\"OK\"}".getBytes(StandardCharsets.UTF_8));
    return true;
  }

  /** Reads a body by Content-Length, or chunk by chunk (each chunk also put on {@code arriving}) with its trailers. */
  private static Outcome readBody(Map<String, String> headers, InputStream in, BlockingQueue<Chunk> arriving) throws IOException {
    var whole = new ByteArrayOutputStream();
    var chunks = new ArrayList<Chunk>();
    var trailers = new LinkedHashMap<String, String>();
    if ("chunked".equalsIgnoreCase(headers.getOrDefault("transfer-encoding", ""))) {
      while (true) {
        String sizeLine = readLine(in);
        if (sizeLine == null) {
          throw new IOException("the body ended without its last chunk");
        }
        int size = Integer.parseInt(sizeLine.split(";", 2)[0].trim(), 16);
        if (size == 0) {
          trailers.putAll(readFields(in));
          break;
        }
        byte[] data = in.readNBytes(size);
        if (data.length < size || !"".equals(readLine(in))) {
          throw new IOException("a chunk is not followed by CRLF");
        }
        var chunk = new Chunk(data, System.nanoTime());
        chunks.add(chunk);
        if (arriving != null) {
          arriving.add(chunk);
        }
        whole.write(data);
      }
    } else {
      whole.write(in.readNBytes(Integer.parseInt(headers.getOrDefault("content-length", "0").trim())));
    }
    return new Outcome("", whole.toByteArray(), headers, List.copyOf(chunks), trailers);
  }

  private static void send(OutputStream out, int status, Map<String, String> headers, byte[] body) throws IOException {
    var head = new StringBuilder("HTTP/1.1 ").append(status).append(status == 200 ? " OK" : status == 202 ? " Accepted" : " Error").append("\r\n");
    headers.forEach((name, value) -> head.append(name).append(": ").append(value).append("\r\n"));
    head.append("Content-Length: ").append(body.length).append("\r\n\r\n");
    out.write(head.toString().getBytes(StandardCharsets.US_ASCII));
    out.write(body);
    out.flush();
  }

  private static Map<String, String> readFields(InputStream in) throws IOException {
    var fields = new LinkedHashMap<String, String>();
    for (String line; (line = readLine(in)) != null && !line.isEmpty(); ) {
      int colon = line.indexOf(':');
      fields.put(line.substring(0, colon).trim().toLowerCase(Locale.ROOT), line.substring(colon + 1).trim());
    }
    return fields;
  }

  /** A CRLF-terminated line without its CRLF; null at the end of the stream. */
  private static String readLine(InputStream in) throws IOException {
    var line = new ByteArrayOutputStream();
    int b;
    while ((b = in.read()) != '\n') {
      if (b < 0) {
        return line.size() == 0 ? null : line.toString(StandardCharsets.ISO_8859_1);
      }
      if (b != '\r') {
        line.write(b);
      }
    }
    return line.toString(StandardCharsets.ISO_8859_1);
  }

  @Override
  public void close() throws IOException {
    server.close();
  }
}

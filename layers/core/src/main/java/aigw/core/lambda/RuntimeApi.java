package aigw.core.lambda;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * A client of the Lambda Runtime API (version 2018-06-01) over plain HTTP/1.1 on a socket, one
 * connection per call ({@code Connection: close}; the API is on the loopback interface).
 *
 * <p>Sources: "Using the Lambda runtime API for custom runtimes" (next invocation, invocation
 * response and error, initialization error) and "Building a custom runtime", section "Implementing
 * response streaming in a custom runtime" (AWS Lambda developer guide): a streamed response is a
 * POST of the invocation response with {@code Lambda-Runtime-Function-Response-Mode: streaming} and
 * {@code Transfer-Encoding: chunked}; an error after the first byte is reported in the trailer
 * fields {@code Lambda-Runtime-Function-Error-Type} and {@code Lambda-Runtime-Function-Error-Body}
 * (base64), announced in a {@code Trailer} header. SnapStart's {@code /runtime/restore/next} and
 * {@code /runtime/restore/error} are as the Java runtime interface client calls them
 * (aws-lambda-java-libs, {@code LambdaRuntimeApiClientImpl}).
 *
 * <p>Not the JDK's {@code HttpClient}: it cannot send trailer fields. Not the runtime interface
 * client's native client: it has no streaming mode (aws/aws-lambda-java-libs#476).
 */
final class RuntimeApi {
  static final String BASE = "/2018-06-01/runtime";
  /** API Gateway's "Lambda proxy integration format for response streaming": JSON prelude, 8 NUL bytes, body. */
  static final String HTTP_INTEGRATION_RESPONSE = "application/vnd.awslambda.http-integration-response";
  static final String ERROR_TYPE_TRAILER = "Lambda-Runtime-Function-Error-Type";
  static final String ERROR_BODY_TRAILER = "Lambda-Runtime-Function-Error-Body";
  private static final int MAX_LINE = 64 * 1024;

  /** One invocation as {@code /runtime/invocation/next} hands it out. */
  record Invocation(String requestId, long deadlineEpochMillis, String traceId, byte[] event) {}

  /** The Runtime API's answer to one call. */
  record Reply(int status, Map<String, String> headers, byte[] body) {
    String header(String name) {
      return headers.get(name.toLowerCase(Locale.ROOT));
    }

    String bodyText() {
      return new String(body, StandardCharsets.UTF_8);
    }
  }

  private final String host;
  private final int port;

  /** @param address {@code AWS_LAMBDA_RUNTIME_API}, {@code host:port} */
  RuntimeApi(String address) {
    if (address == null || address.lastIndexOf(':') < 1) {
      throw new IllegalArgumentException("AWS_LAMBDA_RUNTIME_API must be host:port, not " + address);
    }
    int colon = address.lastIndexOf(':');
    this.host = address.substring(0, colon);
    this.port = Integer.parseInt(address.substring(colon + 1));
  }

  /** Waits for the next invocation (the call blocks until Lambda has one). */
  Invocation next() throws IOException {
    Reply reply = call("GET", BASE + "/invocation/next", Map.of(), new byte[0]);
    if (reply.status() != 200 || reply.header("Lambda-Runtime-Aws-Request-Id") == null) {
      throw new IOException("GET /runtime/invocation/next answered " + reply.status() + ": " + reply.bodyText());
    }
    String deadline = reply.header("Lambda-Runtime-Deadline-Ms");
    return new Invocation(
        reply.header("Lambda-Runtime-Aws-Request-Id"),
        deadline == null ? Long.MAX_VALUE : Long.parseLong(deadline),
        reply.header("Lambda-Runtime-Trace-Id"),
        reply.body());
  }

  /** SnapStart: tells Lambda init is done and the snapshot may be taken; returns after the restore. */
  void restoreNext() throws IOException {
    Reply reply = call("GET", BASE + "/restore/next", Map.of(), new byte[0]);
    if (reply.status() != 200) {
      throw new IOException("GET /runtime/restore/next answered " + reply.status() + ": " + reply.bodyText());
    }
  }

  /** {@code /runtime/init/error}: the function could not start; Lambda ends the environment. */
  void initError(String errorType, Throwable cause) throws IOException {
    postError(BASE + "/init/error", errorType, cause);
  }

  /** {@code /runtime/restore/error}: an afterRestore hook failed. */
  void restoreError(String errorType, Throwable cause) throws IOException {
    postError(BASE + "/restore/error", errorType, cause);
  }

  /** {@code /runtime/invocation/{id}/error}, before any byte of the response was sent. */
  void invocationError(String requestId, String errorType, Throwable cause) throws IOException {
    postError(BASE + "/invocation/" + requestId + "/error", errorType, cause);
  }

  /**
   * Opens the streamed response of an invocation: the request line and headers are sent, the body
   * follows through {@link StreamedResponse#body()}.
   */
  StreamedResponse streamResponse(String requestId) throws IOException {
    Socket socket = connect();
    var out = new BufferedOutputStream(socket.getOutputStream(), ChunkedOutputStream.BUFFER_BYTES + 32);
    out.write(ascii("POST " + BASE + "/invocation/" + requestId + "/response HTTP/1.1\r\n"
        + "Host: " + host + ":" + port + "\r\n"
        + "Content-Type: " + HTTP_INTEGRATION_RESPONSE + "\r\n"
        + "Lambda-Runtime-Function-Response-Mode: streaming\r\n"
        + "Transfer-Encoding: chunked\r\n"
        + "Trailer: " + ERROR_TYPE_TRAILER + ", " + ERROR_BODY_TRAILER + "\r\n"
        + "Connection: close\r\n\r\n"));
    return new StreamedResponse(socket, new ChunkedOutputStream(out));
  }

  /** The body of a streamed invocation response; {@link #complete} or {@link #fail} ends it. */
  static final class StreamedResponse implements AutoCloseable {
    private final Socket socket;
    private final ChunkedOutputStream body;

    private StreamedResponse(Socket socket, ChunkedOutputStream body) {
      this.socket = socket;
      this.body = body;
    }

    OutputStream body() {
      return body;
    }

    /** Ends the body and reads the Runtime API's answer (202 when it took the response). */
    Reply complete() throws IOException {
      body.finish();
      return readReply(socket.getInputStream());
    }

    /**
     * Ends the body with the error trailers: Lambda counts the invocation as failed and API Gateway
     * ends the client's response where it is.
     *
     * @param errorType e.g. the exception's class name
     */
    Reply fail(String errorType, Throwable cause) throws IOException {
      body.finish(
          ERROR_TYPE_TRAILER + ": " + headerSafe(errorType),
          ERROR_BODY_TRAILER + ": " + Base64.getEncoder().encodeToString(errorJson(errorType, cause)));
      return readReply(socket.getInputStream());
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

  private void postError(String path, String errorType, Throwable cause) throws IOException {
    Reply reply = call("POST", path, Map.of("Lambda-Runtime-Function-Error-Type", headerSafe(errorType), "Content-Type", "application/json"),
        errorJson(errorType, cause));
    if (reply.status() != 202) {
      throw new IOException("POST " + path + " answered " + reply.status() + ": " + reply.bodyText());
    }
  }

  /** The runtime interface client's error shape ({@code ErrorRequest}): errorMessage, errorType, stackTrace. */
  static byte[] errorJson(String errorType, Throwable cause) {
    var json = new StringBuilder("{\"errorMessage\":");
    quote(json, cause == null ? errorType : String.valueOf(cause.getMessage()));
    json.append(",\"errorType\":");
    quote(json, errorType);
    json.append(",\"stackTrace\":[");
    if (cause != null) {
      StackTraceElement[] trace = cause.getStackTrace();
      for (int i = 0; i < Math.min(trace.length, 20); i++) {
        if (i > 0) {
          json.append(',');
        }
        quote(json, trace[i].toString());
      }
    }
    return json.append("]}").toString().getBytes(StandardCharsets.UTF_8);
  }

  private static void quote(StringBuilder json, String text) {
    json.append('"');
    for (char c : text.toCharArray()) {
      switch (c) {
        case '"' -> json.append("\\\"");
        case '\\' -> json.append("\\\\");
        default -> {
          if (c < 0x20) {
            json.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
          } else {
            json.append(c);
          }
        }
      }
    }
    json.append('"');
  }

  /** A header or trailer value: no CR, LF or other control character (a request could be split otherwise). */
  private static String headerSafe(String value) {
    return value.replaceAll("[\\x00-\\x1f\\x7f]", " ");
  }

  private Reply call(String method, String path, Map<String, String> headers, byte[] body) throws IOException {
    try (Socket socket = connect()) {
      var out = new BufferedOutputStream(socket.getOutputStream());
      var head = new StringBuilder(method).append(' ').append(path).append(" HTTP/1.1\r\n")
          .append("Host: ").append(host).append(':').append(port).append("\r\n")
          .append("Connection: close\r\n");
      headers.forEach((name, value) -> head.append(name).append(": ").append(value).append("\r\n"));
      if (!method.equals("GET")) {
        head.append("Content-Length: ").append(body.length).append("\r\n");
      }
      out.write(ascii(head.append("\r\n").toString()));
      out.write(body);
      out.flush();
      return readReply(socket.getInputStream());
    }
  }

  private Socket connect() throws IOException {
    var socket = new Socket();
    socket.setTcpNoDelay(true); // each chunk leaves at once
    socket.connect(new InetSocketAddress(host, port), 10_000);
    return socket;
  }

  /** Reads an HTTP/1.1 response: status line, fields, then a body by Content-Length, chunked, or up to the end. */
  static Reply readReply(InputStream raw) throws IOException {
    var in = new BufferedInputStream(raw);
    String statusLine = readLine(in);
    String[] parts = statusLine.split(" ", 3);
    if (parts.length < 2 || !parts[0].startsWith("HTTP/1.")) {
      throw new IOException("not an HTTP/1.1 response: " + statusLine);
    }
    int status = Integer.parseInt(parts[1]);
    var headers = readFields(in);
    byte[] body;
    String length = headers.get("content-length");
    if (length != null) {
      body = in.readNBytes(Integer.parseInt(length.trim()));
    } else if ("chunked".equalsIgnoreCase(headers.getOrDefault("transfer-encoding", "").trim())) {
      var decoded = new ByteArrayOutputStream();
      for (int size; (size = Integer.parseInt(readLine(in).split(";", 2)[0].trim(), 16)) > 0; ) {
        decoded.write(in.readNBytes(size));
        readLine(in);
      }
      readFields(in); // trailer fields, if any
      body = decoded.toByteArray();
    } else {
      body = in.readAllBytes(); // Connection: close
    }
    return new Reply(status, headers, body);
  }

  private static Map<String, String> readFields(InputStream in) throws IOException {
    var fields = new HashMap<String, String>();
    for (String line; !(line = readLine(in)).isEmpty(); ) {
      int colon = line.indexOf(':');
      if (colon > 0) {
        fields.put(line.substring(0, colon).trim().toLowerCase(Locale.ROOT), line.substring(colon + 1).trim());
      }
    }
    return fields;
  }

  private static String readLine(InputStream in) throws IOException {
    var line = new ByteArrayOutputStream();
    for (int b; (b = in.read()) != '\n'; ) {
      if (b < 0) {
        throw new IOException("the Runtime API closed the connection mid-response");
      }
      if (line.size() > MAX_LINE) {
        throw new IOException("a line of the Runtime API's response is over " + MAX_LINE + " bytes");
      }
      if (b != '\r') {
        line.write(b);
      }
    }
    return line.toString(StandardCharsets.ISO_8859_1);
  }

  private static byte[] ascii(String text) {
    return text.getBytes(StandardCharsets.US_ASCII);
  }
}

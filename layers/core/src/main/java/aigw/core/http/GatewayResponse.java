package aigw.core.http;

import aigw.core.json.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An HTTP response as the core produces it; transports turn it into their own shape.
 *
 * <p>Either buffered ({@code body} holds it all, {@code stream} is null) or streaming ({@code
 * stream} writes it as it is produced, {@code body} is empty): a stream's status and headers are
 * final before its first byte.
 */
public record GatewayResponse(int status, Map<String, String> headers, byte[] body, StreamingBody stream) {
  private static final String JSON = "application/json";
  private static final byte[] EMPTY = new byte[0];

  public GatewayResponse {
    headers = headers == null ? Map.of() : headers;
    body = body == null ? EMPTY : body;
  }

  /** A buffered response. */
  public GatewayResponse(int status, Map<String, String> headers, byte[] body) {
    this(status, headers, body, null);
  }

  public static GatewayResponse json(int status, Object value) {
    return json(status, Json.bytes(value));
  }

  public static GatewayResponse json(int status, byte[] jsonBody) {
    return new GatewayResponse(status, Map.of("Content-Type", JSON), jsonBody);
  }

  /** A response whose body {@code stream} writes while it is sent. */
  public static GatewayResponse streaming(int status, Map<String, String> headers, StreamingBody stream) {
    return new GatewayResponse(status, headers, EMPTY, stream);
  }

  public boolean isStreaming() {
    return stream != null;
  }

  /**
   * This response with its whole body in {@code body}: a stream is run to its end into memory.
   * For transports that cannot stream (API Gateway's buffered mode, tests).
   */
  public GatewayResponse buffered() {
    if (stream == null) {
      return this;
    }
    var out = new ByteArrayOutputStream();
    try {
      stream.writeTo(out);
    } catch (IOException e) {
      throw new UncheckedIOException("a stream written to memory cannot fail to write", e);
    }
    return new GatewayResponse(status, headers, out.toByteArray());
  }

  public GatewayResponse withHeader(String name, String value) {
    var copy = new LinkedHashMap<>(headers);
    copy.put(name, value);
    return new GatewayResponse(status, Map.copyOf(copy), body, stream);
  }

  /** The buffered body as text (empty for a stream). */
  public String bodyText() {
    return new String(body, StandardCharsets.UTF_8);
  }
}

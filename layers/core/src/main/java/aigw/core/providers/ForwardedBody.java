package aigw.core.providers;

import aigw.core.errors.BadRequest;
import aigw.core.json.Json;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.io.JsonStringEncoder;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Arrays;

/**
 * A client's request body as it goes to the provider: the bytes the client sent, with only the
 * value of the top-level {@code model} replaced by the provider's model name. Numbers a double
 * cannot hold ({@code 1e400}, {@code 0.1000000000000000055511151231257827}), escapes, duplicate
 * keys, key order and whitespace all reach the provider exactly as sent, because the body is never
 * re-encoded: a token pass (Jackson's streaming parser, no tree) finds the byte range of each
 * top-level {@code model} value, and {@link #withModel} splices the new value in.
 *
 * <p>Every top-level {@code model} is replaced when a client sends it more than once: the gateway
 * routes on the last one (as Jackson's tree and Python's json do), and no provider, whichever
 * duplicate it reads, sees a name the gateway did not route on.
 */
public final class ForwardedBody {
  private final byte[] sent;
  /** Byte ranges [start, end) of the top-level model values, in order. */
  private final int[] modelSpans;

  private ForwardedBody(byte[] sent, int[] modelSpans) {
    this.sent = sent;
    this.modelSpans = modelSpans;
  }

  /**
   * Finds the top-level {@code model} values of a body that is a JSON object.
   *
   * @throws BadRequest if the body is not a JSON object in UTF-8
   */
  public static ForwardedBody of(byte[] sent) {
    int[] spans = new int[4];
    int count = 0;
    try (JsonParser parser = Json.MAPPER.getFactory().createParser(sent)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        throw new BadRequest("The request body must be a JSON object.");
      }
      JsonToken token;
      while ((token = parser.nextToken()) == JsonToken.FIELD_NAME) {
        boolean isModel = "model".equals(parser.currentName());
        JsonToken value = parser.nextToken();
        long start = parser.currentTokenLocation().getByteOffset();
        if (value.isStructStart()) {
          parser.skipChildren();
        } else {
          parser.finishToken(); // a string is read lazily; its end is known once it is finished
        }
        if (isModel) {
          long end = parser.currentLocation().getByteOffset();
          if (start < 0 || end < start) {
            // Jackson reports byte offsets for UTF-8 input only (it decodes UTF-16/32 through a Reader).
            throw new BadRequest("The request body must be JSON in UTF-8.");
          }
          if (count + 2 > spans.length) {
            spans = Arrays.copyOf(spans, spans.length * 2);
          }
          spans[count++] = (int) start;
          spans[count++] = (int) end;
        }
      }
      if (token != JsonToken.END_OBJECT || parser.nextToken() != null) {
        throw new BadRequest("The request body must be one JSON object.");
      }
    } catch (IOException e) {
      throw new BadRequest("Invalid JSON in the request body.");
    }
    return new ForwardedBody(sent, Arrays.copyOf(spans, count));
  }

  /** The bytes as the client sent them. */
  public byte[] sent() {
    return sent;
  }

  /** The body for the provider: the client's bytes with every top-level model value set to {@code model}. */
  public byte[] withModel(String model) {
    if (modelSpans.length == 0) {
      return sent;
    }
    byte[] value = quoted(model);
    var out = new ByteArrayOutputStream(sent.length + value.length);
    int from = 0;
    for (int i = 0; i < modelSpans.length; i += 2) {
      out.write(sent, from, modelSpans[i] - from);
      out.writeBytes(value);
      from = modelSpans[i + 1];
    }
    out.write(sent, from, sent.length - from);
    return out.toByteArray();
  }

  private static byte[] quoted(String text) {
    byte[] escaped = JsonStringEncoder.getInstance().quoteAsUTF8(text);
    byte[] quoted = new byte[escaped.length + 2];
    quoted[0] = '"';
    System.arraycopy(escaped, 0, quoted, 1, escaped.length);
    quoted[quoted.length - 1] = '"';
    return quoted;
  }

  @Override
  public String toString() { // never the content: it may hold anything the client sent
    return "ForwardedBody[" + sent.length + " bytes, " + modelSpans.length / 2 + " model value(s)]";
  }
}

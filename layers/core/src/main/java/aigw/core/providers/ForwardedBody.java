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
 *
 * <p>For a stream, {@link #withModelAndUsage} also makes {@code stream_options.include_usage} true
 * (the gateway counts every streamed call): each top-level {@code stream_options} object gets it
 * (that value alone is re-encoded, its other members kept), or one is appended when there is none.
 * For a provider that refuses {@code stream_options} (Mistral), {@link
 * #withModelWithoutStreamOptions} takes every top-level one out instead.
 */
public final class ForwardedBody {
  private final byte[] sent;
  /** Byte ranges [start, end) of the top-level model values, in order. */
  private final int[] modelSpans;
  /** Byte ranges [start, end) of the top-level stream_options values, in order. */
  private final int[] streamOptionsSpans;
  /** Byte ranges [key start, value end) of every top-level member, in order. */
  private final int[] memberSpans;
  /** Offset of the closing brace of the top-level object. */
  private final int end;

  private ForwardedBody(byte[] sent, int[] modelSpans, int[] streamOptionsSpans, int[] memberSpans, int end) {
    this.sent = sent;
    this.modelSpans = modelSpans;
    this.streamOptionsSpans = streamOptionsSpans;
    this.memberSpans = memberSpans;
    this.end = end;
  }

  /**
   * Finds the top-level {@code model} values of a body that is a JSON object.
   *
   * @throws BadRequest if the body is not a JSON object in UTF-8
   */
  public static ForwardedBody of(byte[] sent) {
    int[] spans = new int[4];
    int count = 0;
    int[] optionSpans = new int[0];
    int[] members = new int[16];
    int memberCount = 0;
    int end;
    try (JsonParser parser = Json.MAPPER.getFactory().createParser(sent)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        throw new BadRequest("The request body must be a JSON object.");
      }
      JsonToken token;
      while ((token = parser.nextToken()) == JsonToken.FIELD_NAME) {
        boolean isModel = "model".equals(parser.currentName());
        boolean isStreamOptions = "stream_options".equals(parser.currentName());
        long keyStart = parser.currentTokenLocation().getByteOffset();
        JsonToken value = parser.nextToken();
        long start = parser.currentTokenLocation().getByteOffset();
        if (value.isStructStart()) {
          parser.skipChildren();
        } else {
          parser.finishToken(); // a string is read lazily; its end is known once it is finished
        }
        if (memberCount + 2 > members.length) {
          members = Arrays.copyOf(members, members.length * 2);
        }
        members[memberCount++] = (int) keyStart;
        members[memberCount++] = (int) parser.currentLocation().getByteOffset();
        if (isModel || isStreamOptions) {
          long valueEnd = parser.currentLocation().getByteOffset();
          if (start < 0 || valueEnd < start) {
            // Jackson reports byte offsets for UTF-8 input only (it decodes UTF-16/32 through a Reader).
            throw new BadRequest("The request body must be JSON in UTF-8.");
          }
          if (isStreamOptions) {
            optionSpans = Arrays.copyOf(optionSpans, optionSpans.length + 2);
            optionSpans[optionSpans.length - 2] = (int) start;
            optionSpans[optionSpans.length - 1] = (int) valueEnd;
          } else {
            if (count + 2 > spans.length) {
              spans = Arrays.copyOf(spans, spans.length * 2);
            }
            spans[count++] = (int) start;
            spans[count++] = (int) valueEnd;
          }
        }
      }
      if (token != JsonToken.END_OBJECT) {
        throw new BadRequest("The request body must be one JSON object.");
      }
      end = (int) parser.currentTokenLocation().getByteOffset();
      if (parser.nextToken() != null) {
        throw new BadRequest("The request body must be one JSON object.");
      }
    } catch (IOException e) {
      throw new BadRequest("Invalid JSON in the request body.");
    }
    return new ForwardedBody(sent, Arrays.copyOf(spans, count), optionSpans, Arrays.copyOf(members, memberCount), end);
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
    return splice(quoted(model), null);
  }

  /**
   * {@link #withModel} with {@code stream_options.include_usage} set to true: every top-level {@code
   * stream_options} object gets it, its other members kept; a body without one gets {@code
   * "stream_options":{"include_usage":true}} appended as its last member.
   */
  public byte[] withModelAndUsage(String model) {
    return splice(modelSpans.length == 0 ? null : quoted(model), true);
  }

  /**
   * {@link #withModel} without any top-level {@code stream_options} member, for a provider that
   * refuses the field ({@code Provider#acceptsStreamOptions}): the other members keep their bytes;
   * whitespace between members may change where one is taken out.
   */
  public byte[] withModelWithoutStreamOptions(String model) {
    if (streamOptionsSpans.length == 0) {
      return withModel(model);
    }
    byte[] quotedModel = quoted(model);
    var out = new ByteArrayOutputStream(sent.length);
    out.write(sent, 0, memberSpans[0]); // the opening brace and whitespace
    boolean first = true;
    int previousEnd = -1; // value end of the previous member kept, when it is the member just before
    for (int i = 0; i < memberSpans.length; i += 2) {
      int keyStart = memberSpans[i];
      int valueEnd = memberSpans[i + 1];
      if (isStreamOptionsMember(valueEnd)) {
        previousEnd = -1;
        continue;
      }
      if (!first) {
        if (previousEnd >= 0) {
          out.write(sent, previousEnd, keyStart - previousEnd); // the original comma and whitespace
        } else {
          out.write(',');
        }
      }
      writeWithModel(out, keyStart, valueEnd, quotedModel);
      first = false;
      previousEnd = valueEnd;
    }
    out.write(sent, end, sent.length - end);
    return out.toByteArray();
  }

  private boolean isStreamOptionsMember(int valueEnd) {
    for (int i = 1; i < streamOptionsSpans.length; i += 2) {
      if (streamOptionsSpans[i] == valueEnd) {
        return true;
      }
    }
    return false;
  }

  /** sent[from, to) with each model value in it replaced by {@code model}. */
  private void writeWithModel(ByteArrayOutputStream out, int from, int to, byte[] model) {
    for (int i = 0; i < modelSpans.length; i += 2) {
      if (modelSpans[i] >= from && modelSpans[i + 1] <= to) {
        out.write(sent, from, modelSpans[i] - from);
        out.writeBytes(model);
        from = modelSpans[i + 1];
      }
    }
    out.write(sent, from, to - from);
  }

  /** The bytes with each model value replaced by {@code model} (unless null), and usage asked for (unless null). */
  private byte[] splice(byte[] model, Boolean askUsage) {
    // All replaced ranges, ordered by offset: model and stream_options values never overlap.
    int[][] ranges = new int[modelSpans.length / 2 + (askUsage == null ? 0 : streamOptionsSpans.length / 2)][];
    int n = 0;
    if (model != null) {
      for (int i = 0; i < modelSpans.length; i += 2) {
        ranges[n++] = new int[] {modelSpans[i], modelSpans[i + 1], 0};
      }
    }
    if (askUsage != null) {
      for (int i = 0; i < streamOptionsSpans.length; i += 2) {
        ranges[n++] = new int[] {streamOptionsSpans[i], streamOptionsSpans[i + 1], 1};
      }
    }
    ranges = Arrays.copyOf(ranges, n);
    Arrays.sort(ranges, (a, b) -> Integer.compare(a[0], b[0]));
    var out = new ByteArrayOutputStream(sent.length + 48);
    int from = 0;
    for (int[] range : ranges) {
      out.write(sent, from, range[0] - from);
      out.writeBytes(range[2] == 0 ? model : withIncludeUsage(Arrays.copyOfRange(sent, range[0], range[1])));
      from = range[1];
    }
    if (askUsage != null && streamOptionsSpans.length == 0) {
      out.write(sent, from, end - from);
      // A body that routes has a model, so the object has a member before the one appended.
      out.writeBytes(",\"stream_options\":{\"include_usage\":true}".getBytes(java.nio.charset.StandardCharsets.UTF_8));
      from = end;
    }
    out.write(sent, from, sent.length - from);
    return out.toByteArray();
  }

  /** A stream_options value with include_usage true; a value that is not an object becomes just that. */
  private static byte[] withIncludeUsage(byte[] value) {
    try {
      var node = Json.MAPPER.readTree(value);
      var options = node instanceof com.fasterxml.jackson.databind.node.ObjectNode object ? object : Json.MAPPER.createObjectNode();
      options.put("include_usage", true);
      return Json.MAPPER.writeValueAsBytes(options);
    } catch (IOException e) {
      throw new BadRequest("Invalid JSON in 'stream_options'.", "stream_options");
    }
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

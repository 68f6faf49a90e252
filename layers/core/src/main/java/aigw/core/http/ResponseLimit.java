package aigw.core.http;

import aigw.core.errors.BadRequest;
import aigw.core.errors.UpstreamFailed;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalInt;

/**
 * The largest answer the gateway can give: AWS Lambda takes at most 6 MB (6,291,456 bytes) of
 * response payload from a synchronous invocation ("Invocation payload (request and response)",
 * Lambda quotas), and for an API Gateway proxy integration that payload is the whole response event,
 * {@code {"statusCode":200,"headers":{...},"body":"..."}}, with the provider's JSON escaped inside
 * the {@code body} string. An answer over it is not delivered: the runtime's post is refused
 * ({@code RequestEntityTooLarge}), API Gateway answers 502 "Internal server error", and the
 * provider has already run (and billed) the request.
 *
 * <p>The local gateway applies the same limit, so that a request that works locally works on AWS.
 *
 * <p>What can be known before the call is refused before it ({@link #checkEmbeddings}); what cannot
 * is checked on the answer ({@link #checkAnswer}).
 */
public final class ResponseLimit {
  /** Lambda's synchronous response payload limit, 6 MiB. */
  public static final long LAMBDA_RESPONSE_BYTES = 6L * 1024 * 1024;
  /** Room for the event around the body: status, headers (Content-Type, Retry-After, CORS), flags. */
  static final int EVENT_ALLOWANCE = 4096;
  /** The most body bytes an answer may have once escaped into the event. */
  public static final long MAX_BODY_BYTES = LAMBDA_RESPONSE_BYTES - EVENT_ALLOWANCE;

  /**
   * Bytes per embedding dimension, at the low end of what providers send: a float in JSON is about
   * 10 to 14 characters with its comma ({@code -0.0123456789,}), so 10 underestimates the answer
   * and never refuses one that would fit; base64 is 4 bytes of float32 per dimension, 16/3 characters.
   */
  static final double FLOAT_BYTES_PER_DIMENSION = 10;
  static final double BASE64_BYTES_PER_DIMENSION = 16.0 / 3;
  /** Per input: {"object":"embedding","index":N,"embedding":...}, escaped, at the low end. */
  static final int BYTES_PER_EMBEDDING = 60;

  /**
   * Output dimensions of well-known embedding models when the request names none (OpenAI's
   * models guide); models not listed are estimated only from an explicit {@code dimensions}.
   */
  private static final Map<String, Integer> DEFAULT_DIMENSIONS =
      Map.of("text-embedding-3-small", 1536, "text-embedding-3-large", 3072, "text-embedding-ada-002", 1536);

  private ResponseLimit() {}

  /**
   * Refuses (400, param {@code input}) an embeddings request whose answer would be over the limit:
   * number of inputs × dimensions × bytes per dimension of its {@code encoding_format}. The
   * dimensions are the request's {@code dimensions}, else the default of a well-known model.
   *
   * @param upstreamModel the provider's model name, for its default dimensions
   */
  public static void checkEmbeddings(JsonNode request, String upstreamModel) {
    long inputs = inputCount(request.get("input"));
    OptionalInt dimensions = dimensions(request.get("dimensions"), upstreamModel);
    if (inputs == 0 || dimensions.isEmpty()) {
      return;
    }
    boolean base64 = "base64".equals(request.path("encoding_format").asText(""));
    double perInput = dimensions.getAsInt() * (base64 ? BASE64_BYTES_PER_DIMENSION : FLOAT_BYTES_PER_DIMENSION) + BYTES_PER_EMBEDDING;
    double estimate = inputs * perInput;
    if (estimate <= MAX_BODY_BYTES) {
      return;
    }
    long fitting = (long) (MAX_BODY_BYTES / perInput);
    String advice = base64
        ? "Send at most " + fitting + " inputs per request."
        : "Send at most " + fitting + " inputs per request, or set \"encoding_format\": \"base64\" (about 5.3 bytes per dimension"
            + " instead of 10 or more, so about " + (long) (MAX_BODY_BYTES / (dimensions.getAsInt() * BASE64_BYTES_PER_DIMENSION + BYTES_PER_EMBEDDING))
            + " inputs fit).";
    throw new BadRequest(
        "The answer to this embeddings request would be at least " + megabytes(estimate) + " MB (" + inputs + " inputs × "
            + dimensions.getAsInt() + " dimensions as " + (base64 ? "base64" : "JSON floats") + "), over the "
            + LAMBDA_RESPONSE_BYTES + " bytes (6 MB) an AWS Lambda response can carry; the provider would bill it and the answer"
            + " would be lost. " + advice,
        "input");
  }

  /**
   * The provider's answer as the gateway would return it; refused (502) when it would be over the
   * limit once escaped into the response event.
   *
   * @param what for the message, e.g. "The provider of 'text-embedding-3-small'"
   */
  public static void checkAnswer(byte[] body, String what) {
    long size = escapedLength(body);
    if (size <= MAX_BODY_BYTES) {
      return;
    }
    throw new UpstreamFailed(
        502,
        what + " answered " + size + " bytes (as sent in the response), over the " + LAMBDA_RESPONSE_BYTES
            + " bytes (6 MB) an AWS Lambda response can carry, so the answer cannot be delivered; the request was processed"
            + " (and counted). Ask for less per request: fewer inputs, fewer or shorter choices, or \"encoding_format\": \"base64\" for embeddings.",
        "response_too_large",
        null,
        null,
        null);
  }

  /** Length of {@code body} once written as a JSON string: quotes and backslashes doubled, controls escaped. */
  static long escapedLength(byte[] body) {
    long length = body.length;
    for (byte b : body) {
      if (b == '"' || b == '\\') {
        length += 1;
      } else if (b >= 0 && b < 0x20) {
        length += (b == '\n' || b == '\r' || b == '\t' || b == '\b' || b == '\f') ? 1 : 5; // \n or \u0001
      }
    }
    return length;
  }

  /** A string is one input, an array of token ids is one input, any other array is one per element. */
  private static long inputCount(JsonNode input) {
    if (input == null || input.isNull()) {
      return 0;
    }
    if (!input.isArray()) {
      return 1;
    }
    if (input.isEmpty() || input.get(0).isNumber()) {
      return input.isEmpty() ? 0 : 1;
    }
    return input.size();
  }

  private static OptionalInt dimensions(JsonNode requested, String upstreamModel) {
    if (requested != null && requested.canConvertToInt() && requested.isIntegralNumber() && requested.intValue() > 0) {
      return OptionalInt.of(requested.intValue());
    }
    Integer known = upstreamModel == null ? null : DEFAULT_DIMENSIONS.get(upstreamModel.toLowerCase(Locale.ROOT));
    return known == null ? OptionalInt.empty() : OptionalInt.of(known);
  }

  private static String megabytes(double bytes) {
    return String.format(Locale.ROOT, "%.1f", bytes / 1_000_000);
  }
}

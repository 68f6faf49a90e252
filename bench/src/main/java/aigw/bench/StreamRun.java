package aigw.bench;

import java.io.IOException;
import java.net.URI;
import java.util.Arrays;

/**
 * Streamed chat completions one after another on one kept-alive connection ({@link SseClient}),
 * timed as a user sees them: time to the first {@code data:} event (time to first byte) and to the
 * end of the stream (total).
 */
final class StreamRun {
  /** What one run measured, or why it could not. */
  sealed interface Outcome permits Measured, NotMeasured {}

  /**
   * @param chunks {@code data:} events per stream, {@code [DONE]} excluded (the same in every stream)
   * @param firstByteNanos sorted, one per stream
   * @param totalNanos sorted, one per stream
   */
  record Measured(int chunks, long[] firstByteNanos, long[] totalNanos) implements Outcome {
    double firstByteMillis(double percentile) {
      return percentileMillis(firstByteNanos, percentile);
    }

    double totalMillis(double percentile) {
      return percentileMillis(totalNanos, percentile);
    }
  }

  /**
   * The endpoint did not answer a stream: an error status, a JSON body, a stream cut before {@code
   * [DONE]}, a connection that failed.
   */
  record NotMeasured(String why) implements Outcome {}

  /** How a stream is framed, and so what its first byte and its end are. */
  enum Framing {
    /** OpenAI's: {@code data:} events ending in {@code data: [DONE]}; first byte is the first {@code data:} line. */
    OPENAI_SSE("text/event-stream"),
    /** Anthropic's, Gemini's, the Responses API's: {@code data:} events until the body ends (no {@code [DONE]}). */
    SSE("text/event-stream"),
    /** Bedrock's binary {@code application/vnd.amazon.eventstream}: first byte is the body's first byte. */
    AWS_EVENT_STREAM("application/vnd.amazon.eventstream");

    private final String contentType;

    Framing(String contentType) {
      this.contentType = contentType;
    }
  }

  private StreamRun() {}

  static Outcome run(URI uri, String authorization, byte[] body, int streams) throws Exception {
    return run(uri, authorization, body, streams, Framing.OPENAI_SSE);
  }

  static Outcome run(URI uri, String authorization, byte[] body, int streams, Framing framing) throws Exception {
    long[] firstByte = new long[streams];
    long[] total = new long[streams];
    int chunks = -1;
    try (var client = new SseClient(uri, authorization)) {
      for (int i = 0; i < streams; i++) {
        SseClient.Answer answer;
        try {
          answer = client.post(body);
        } catch (IOException | RuntimeException e) { // a reset, a timeout, an answer that is not HTTP
          return new NotMeasured("stream " + (i + 1) + " failed: " + e);
        }
        if (answer.status() != 200 || !answer.contentType().startsWith(framing.contentType)) {
          return new NotMeasured("HTTP " + answer.status() + " " + answer.contentType() + ": " + answer.head());
        }
        if (framing == Framing.SSE && answer.events() == 0) {
          return new NotMeasured("the stream had no data: events: " + answer.head());
        }
        if (framing == Framing.OPENAI_SSE && !answer.done()) {
          return new NotMeasured("the stream ended after " + answer.events() + " events without data: [DONE]: " + answer.head());
        }
        if (chunks >= 0 && answer.events() != chunks) {
          return new NotMeasured("streams differ: " + chunks + " events, then " + answer.events());
        }
        chunks = answer.events();
        firstByte[i] = framing == Framing.AWS_EVENT_STREAM ? answer.firstBodyByteNanos() : answer.firstDataNanos();
        total[i] = answer.totalNanos();
      }
    }
    Arrays.sort(firstByte);
    Arrays.sort(total);
    return new Measured(chunks, firstByte, total);
  }

  private static double percentileMillis(long[] sortedNanos, double percentile) {
    int index = (int) Math.min(sortedNanos.length - 1, Math.ceil(percentile / 100.0 * sortedNanos.length) - 1);
    return sortedNanos[Math.max(0, index)] / 1e6;
  }
}

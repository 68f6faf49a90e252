package aigw.proxy.responses;

import aigw.proxy.stream.StreamFormat;

/**
 * Where a Responses stream's events come from: a provider's chat chunks translated ({@link
 * ChatStreamToEvents}) or a Responses API's own events passed through ({@link NativeEvents}), each
 * a {@link StreamFormat} numbering its events ({@code sequence_number}). The failure events are
 * {@code response.failed} (translated only) and {@code error}.
 */
public interface ResponseEventSource extends StreamFormat {
  @Override
  default String outputLimitField() {
    return "max_output_tokens";
  }
}

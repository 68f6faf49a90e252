package aigw.proxy.responses;

import aigw.core.errors.GatewayException;
import aigw.core.providers.StreamChunk;
import aigw.core.usage.TokenUsage;
import java.util.List;

/**
 * Where a Responses stream's events come from: a provider's chat chunks translated ({@link
 * ChatStreamToEvents}) or a Responses API's own events passed through ({@link NativeEvents}). The
 * relay writing them ({@code aigw.proxy.ResponsesRelay}) records usage before the event that ends
 * the stream.
 */
public interface ResponseEventSource {
  /**
   * The events that open the stream, before any chunk's.
   *
   * @param first the provider's first chunk (not yet passed to {@link #onChunk}), or null when the
   *     stream had none: the model that answered is read from it
   */
  List<ResponseEvent> opening(StreamChunk first);

  /** The events one provider chunk becomes. */
  List<ResponseEvent> onChunk(StreamChunk chunk);

  /** True once an event that ends the stream ({@code response.completed}...) was returned. */
  boolean ended();

  /**
   * The events that end a stream whose provider finished: the open items done, then {@code
   * response.completed} (or {@code response.incomplete}) with the usage.
   *
   * @param usage the tokens recorded for the call (the provider's, else the gateway's estimate)
   */
  List<ResponseEvent> closing(TokenUsage usage);

  /** The events that end a stream that failed: {@code response.failed} and an {@code error} event. */
  List<ResponseEvent> failure(GatewayException failure);
}

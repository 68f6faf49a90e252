package aigw.core.providers;

import java.util.Map;

/**
 * What the gateway asks a provider for.
 *
 * @param operation the operation the client called
 * @param body the client's body (the provider's translator decides what is sent from it)
 * @param stream true when the client asked for {@code stream: true}: the answer is then a {@link
 *     ProviderStream}, else a {@link ProviderResponse}
 * @param clientHeaders client headers a translator may pass on to its provider, names lower-cased:
 *     only {@code anthropic-beta} today, which Anthropic's API needs beside the beta fields of a
 *     Messages body passed through (Claude Code sends both); empty for every other call
 */
public record ProviderRequest(Operation operation, ForwardedBody body, boolean stream, Map<String, String> clientHeaders) {
  public ProviderRequest {
    clientHeaders = clientHeaders == null ? Map.of() : Map.copyOf(clientHeaders);
  }

  public ProviderRequest(Operation operation, ForwardedBody body, boolean stream) {
    this(operation, body, stream, Map.of());
  }

  /** A request answered whole. */
  public static ProviderRequest complete(Operation operation, ForwardedBody body) {
    return new ProviderRequest(operation, body, false);
  }

  /** A request answered as a stream of chunks. */
  public static ProviderRequest streamed(Operation operation, ForwardedBody body) {
    return new ProviderRequest(operation, body, true);
  }

  /** This request with {@code clientHeaders} to pass on. */
  public ProviderRequest withClientHeaders(Map<String, String> headers) {
    return new ProviderRequest(operation, body, stream, headers);
  }
}

package aigw.core.providers;

/**
 * What the gateway asks a provider for.
 *
 * @param operation the OpenAI operation the client called
 * @param body the client's body (the provider's translator decides what is sent from it)
 * @param stream true when the client asked for {@code stream: true}: the answer is then a {@link
 *     ProviderStream}, else a {@link ProviderResponse}
 */
public record ProviderRequest(Operation operation, ForwardedBody body, boolean stream) {
  /** A request answered whole. */
  public static ProviderRequest complete(Operation operation, ForwardedBody body) {
    return new ProviderRequest(operation, body, false);
  }

  /** A request answered as a stream of chunks. */
  public static ProviderRequest streamed(Operation operation, ForwardedBody body) {
    return new ProviderRequest(operation, body, true);
  }
}

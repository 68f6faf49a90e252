package aigw.core.providers;

import aigw.core.config.Deployment;

/**
 * One upstream API. Takes an OpenAI-shaped request, answers in OpenAI's shape, and reports tokens.
 * Failures are thrown as {@code UpstreamFailed}, {@code UpstreamUnreachable} or {@code
 * UpstreamTimeout}.
 */
public interface ModelProvider {
  /**
   * @param deployment where to send it, with the credential to send (as of now)
   * @param request the client's body; what is sent must differ from it only where the provider's API needs it
   */
  ProviderResponse call(Deployment deployment, Operation operation, ForwardedBody request);
}

package aigw.core.providers;

import aigw.core.config.Deployment;

/**
 * One upstream API, the contract every provider adapter implements: takes an OpenAI-shaped request,
 * answers in OpenAI's shape (whole or streamed), and reports tokens. Implementations live in {@code
 * aigw.core.providers.<provider>}; an HTTP API is an {@link aigw.core.providers.http.HttpApiTranslator}
 * run by {@link aigw.core.providers.http.HttpModelProvider}, a provider reached through an SDK
 * (Bedrock) implements this interface directly.
 *
 * <p>Failures are thrown, never answered:
 *
 * <ul>
 *   <li>{@code ServiceUnavailable}: the deployment lacks configuration (no base URL, no credential);
 *       nothing was sent, the next deployment is tried;
 *   <li>{@code UpstreamUnreachable} with {@code beforeSending()}: nothing was sent (no connection, no
 *       TLS session), the next deployment is tried; without it, the request may have run: no retry;
 *   <li>{@code UpstreamTimeout}: no answer within the deployment's timeout;
 *   <li>{@code UpstreamFailed}: the provider answered an error; 401/403 as {@code
 *       upstream_auth_error} (502), after which {@link Providers} re-reads the credential once.
 * </ul>
 *
 * For a stream these are thrown by {@code answer} up to the response headers (the client then gets
 * a normal error response), and by {@link ProviderStream#next} after.
 */
public interface ModelProvider {
  /**
   * @param deployment where to send it, with the credential to send (as of now)
   * @param request the client's request; what is sent must differ from it only where the provider's API needs it
   * @return a {@link ProviderResponse} when {@code request.stream()} is false, else an open {@link ProviderStream}
   */
  ProviderAnswer answer(Deployment deployment, ProviderRequest request);
}

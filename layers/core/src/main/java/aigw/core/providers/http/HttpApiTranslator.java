package aigw.core.providers.http;

import aigw.core.config.Deployment;
import aigw.core.errors.UpstreamFailed;
import aigw.core.providers.ProviderRequest;
import aigw.core.providers.ProviderResponse;
import java.net.http.HttpHeaders;

/**
 * One provider HTTP API seen from OpenAI's: pure translation, no I/O, so each method is tested
 * with JSON fixtures (request in, request out; answer in, answer out; events in, chunks out).
 * {@link HttpModelProvider} runs it over the shared {@link UpstreamHttp} transport.
 *
 * <p>What an adapter for a new API implements (one package per provider, e.g. {@code
 * aigw.core.providers.anthropic.AnthropicTranslator}, its fixtures in {@code
 * src/test/resources/aigw/core/providers/anthropic/}):
 *
 * <ul>
 *   <li>{@link #request}: URL (base URL, region, model in the path for Gemini and Bedrock), headers
 *       with the provider's authentication ({@code Authorization: Bearer}, {@code api-key}, {@code
 *       x-api-key} with {@code anthropic-version}, {@code x-goog-api-key}) and the body in the
 *       provider's shape (for a stream: whatever makes the provider report token usage). A request
 *       signed with AWS SigV4 is signed last over the finished call ({@link UpstreamCall#withHeaders}
 *       takes the signature headers, e.g. from the AWS SDK's {@code AwsV4HttpSigner}). Missing
 *       configuration (no base URL, no credential) is a {@code ServiceUnavailable}: nothing is sent
 *       and the next deployment is tried.
 *   <li>{@link #response}: a complete 2xx answer to OpenAI's JSON and its {@code TokenUsage}.
 *   <li>{@link #stream}: a fresh {@link StreamTranslation} per streamed call, turning the provider's
 *       Server-Sent Events into OpenAI chunks with usage.
 *   <li>{@link #error}: a 4xx/5xx answer to an {@link UpstreamFailed} with the provider's message,
 *       type and code, its {@code Retry-After}, and 401/403 as {@link
 *       UpstreamErrors#credentialRefused} (the gateway's credential was refused, not the client's
 *       key; {@code Providers} then re-reads the credential once).
 * </ul>
 *
 * Credentials in any message are masked by the transport ({@link UpstreamCall#secrets}).
 */
public interface HttpApiTranslator {
  /** The HTTP call for {@code request} to {@code deployment}. */
  UpstreamCall request(Deployment deployment, ProviderRequest request);

  /** A complete 2xx answer in OpenAI's shape, with its token usage. */
  ProviderResponse response(Deployment deployment, ProviderRequest request, byte[] body);

  /** The translation of one streamed 2xx answer. */
  StreamTranslation stream(Deployment deployment, ProviderRequest request);

  /**
   * A 2xx answer with a JSON body to a stream request (the provider ignored {@code stream}), as the
   * chunks of a stream, the usage chunk last.
   *
   * @throws aigw.core.errors.GatewayException for an error in it, or a body that is no answer
   */
  java.util.List<aigw.core.providers.StreamChunk> chunksOf(Deployment deployment, ProviderRequest request, byte[] body);

  /** A non-2xx answer (status, headers, body, at most 64 KiB of it for a stream) as the gateway's failure. */
  UpstreamFailed error(Deployment deployment, int status, HttpHeaders headers, byte[] body);
}

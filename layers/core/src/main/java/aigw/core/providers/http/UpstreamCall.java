package aigw.core.providers.http;

import java.net.URI;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One HTTP request to a provider, as a translator builds it (no I/O): where, with which headers
 * (authentication included), which bytes, and what must never appear in an error message.
 *
 * <p>Authentication styles are plain headers here: {@code Authorization: Bearer} (OpenAI and most
 * compatible APIs), {@code api-key} (Azure OpenAI), {@code x-api-key} + {@code anthropic-version}
 * (Anthropic), {@code x-goog-api-key} (Gemini). A signed request (AWS SigV4) is signed last, over
 * the final URI, headers and body: {@link #withHeaders} returns the copy a signer produces.
 *
 * @param modelName the public model name, for messages
 * @param uri the full URL; only {@code host:port} of it ever reaches a message (an {@code api_base}
 *     may carry a credential in its user info or query)
 * @param headers request headers, in order; {@code Content-Type} included
 * @param body the request body
 * @param timeout until the response headers arrive, and then between two reads of a streamed body
 * @param secrets values (provider credentials) replaced by their mask in any message built from the
 *     provider's answer
 */
public record UpstreamCall(
    String modelName, URI uri, Map<String, String> headers, byte[] body, Duration timeout, List<String> secrets) {
  public UpstreamCall {
    headers = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(headers));
    secrets = List.copyOf(secrets);
  }

  /** The same call with more (or replaced) headers: for a signer, or a provider's extra header. */
  public UpstreamCall withHeaders(Map<String, String> more) {
    var all = new LinkedHashMap<>(headers);
    all.putAll(more);
    return new UpstreamCall(modelName, uri, all, body, timeout, secrets);
  }

  /** The same call with more values to mask: for a signer, whose credentials are known only when it signs. */
  public UpstreamCall withSecrets(List<String> more) {
    var all = new java.util.ArrayList<>(secrets);
    more.stream().filter(java.util.Objects::nonNull).forEach(all::add);
    return new UpstreamCall(modelName, uri, headers, body, timeout, all);
  }

  @Override
  public String toString() { // never headers (credentials) nor body (the client's content)
    return "UpstreamCall[" + modelName + " at " + UpstreamHttp.hostAndPort(uri) + ", " + body.length + " bytes]";
  }
}

package aigw.core.providers;

import aigw.core.config.Deployment;
import aigw.core.usage.TokenUsage;

/**
 * A complete provider answer, already in OpenAI's shape, with the tokens it reported.
 *
 * @param body the OpenAI JSON body ({@code chat.completion}, {@code text_completion}, embeddings list)
 * @param answeredBy the deployment that gave it (after failover, not necessarily the first tried):
 *     set by {@code FailoverPolicy}; null from a provider called directly
 */
public record ProviderResponse(byte[] body, TokenUsage usage, Deployment answeredBy) implements ProviderAnswer {
  /** A provider's answer, before the failover policy says which deployment gave it. */
  public ProviderResponse(byte[] body, TokenUsage usage) {
    this(body, usage, null);
  }

  /** The same answer, from {@code deployment}. */
  public ProviderResponse answeredBy(Deployment deployment) {
    return new ProviderResponse(body, usage, deployment);
  }
}

package aigw.core.config;

import java.net.URI;
import java.time.Duration;

/**
 * One {@code model_list} entry: where a public model name is served.
 *
 * @param modelName the name clients ask for ({@code model_name})
 * @param provider the provider API family, from the prefix of {@code litellm_params.model}
 * @param upstreamModel the model name sent to the provider (after the prefix)
 * @param apiBase the provider's OpenAI-compatible base URL, ending before {@code /chat/completions}
 * @param apiKey the provider credential, or null when the provider needs none (Ollama, vLLM)
 * @param apiKeySource where the credential came from, for messages (e.g. {@code os.environ/OPENAI_API_KEY})
 */
public record Deployment(
    String modelName,
    Provider provider,
    String upstreamModel,
    URI apiBase,
    String apiKey,
    String apiKeySource,
    Duration timeout) {

  /** The same deployment with another credential (the provider credentials secret changed). */
  public Deployment withApiKey(String newApiKey) {
    return new Deployment(modelName, provider, upstreamModel, apiBase, newApiKey, apiKeySource, timeout);
  }

  @Override
  public String toString() {
    // Never print the credential.
    return modelName + " -> " + provider.prefix() + "/" + upstreamModel + " at " + apiBase;
  }
}

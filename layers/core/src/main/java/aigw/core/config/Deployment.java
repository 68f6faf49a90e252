package aigw.core.config;

import java.net.URI;
import java.time.Duration;

/**
 * One {@code model_list} entry: where a public model name is served.
 *
 * @param modelName the name clients ask for ({@code model_name})
 * @param provider the provider API family, from the prefix of {@code litellm_params.model}
 * @param upstreamModel the model name sent to the provider (after the prefix)
 * @param apiBase the provider's OpenAI-compatible base URL, ending before {@code /chat/completions};
 *     null while its {@code os.environ/NAME} is unset and the provider has no default (calls answer 503)
 * @param apiKey the provider credential, or null when the provider needs none (Ollama, vLLM)
 * @param apiKeySource where the credential came from, for messages (e.g. {@code os.environ/OPENAI_API_KEY})
 * @param apiBaseSource {@code os.environ/NAME} when {@code api_base} names a variable (read again with
 *     the credentials, see {@code ProviderCredentials}); null for a literal or the provider's default
 * @param apiVersion LiteLLM's {@code api_version}, as written or read from its {@code os.environ/NAME};
 *     null when absent. Only Azure OpenAI uses it: a dated version (e.g. {@code 2024-10-21}) selects the
 *     deployment-scoped API, anything else the v1 API ({@code AzureApiVersion})
 * @param apiVersionSource {@code os.environ/NAME} when {@code api_version} names a variable (read
 *     again with the credentials, like {@code apiBaseSource}); null otherwise
 * @param awsRegion the AWS region a Bedrock deployment signs its calls for (LiteLLM's {@code
 *     aws_region_name}, else the function's {@code AWS_REGION}); null for every other provider
 * @param prices the deployment's own prices ({@code input_cost_per_token}, … in {@code
 *     litellm_params}), over the built-in table's for its model ({@code aigw.core.cost}); {@link
 *     TokenPrices#NONE} when it gives none
 */
public record Deployment(
    String modelName,
    Provider provider,
    String upstreamModel,
    URI apiBase,
    String apiKey,
    String apiKeySource,
    Duration timeout,
    String apiBaseSource,
    String apiVersion,
    String apiVersionSource,
    String awsRegion,
    TokenPrices prices) {

  public Deployment {
    prices = prices == null ? TokenPrices.NONE : prices;
  }

  /** A deployment without prices of its own (the built-in table's apply). */
  public Deployment(
      String modelName,
      Provider provider,
      String upstreamModel,
      URI apiBase,
      String apiKey,
      String apiKeySource,
      Duration timeout,
      String apiBaseSource,
      String apiVersion,
      String apiVersionSource,
      String awsRegion) {
    this(modelName, provider, upstreamModel, apiBase, apiKey, apiKeySource, timeout, apiBaseSource, apiVersion, apiVersionSource, awsRegion, null);
  }

  /** A deployment outside AWS (no signing region). */
  public Deployment(
      String modelName,
      Provider provider,
      String upstreamModel,
      URI apiBase,
      String apiKey,
      String apiKeySource,
      Duration timeout,
      String apiBaseSource,
      String apiVersion,
      String apiVersionSource) {
    this(modelName, provider, upstreamModel, apiBase, apiKey, apiKeySource, timeout, apiBaseSource, apiVersion, apiVersionSource, null);
  }

  /** A deployment whose {@code api_base} is literal or the provider's default. */
  public Deployment(
      String modelName, Provider provider, String upstreamModel, URI apiBase, String apiKey, String apiKeySource, Duration timeout) {
    this(modelName, provider, upstreamModel, apiBase, apiKey, apiKeySource, timeout, null, null, null);
  }

  /** A deployment without {@code api_version}. */
  public Deployment(
      String modelName,
      Provider provider,
      String upstreamModel,
      URI apiBase,
      String apiKey,
      String apiKeySource,
      Duration timeout,
      String apiBaseSource) {
    this(modelName, provider, upstreamModel, apiBase, apiKey, apiKeySource, timeout, apiBaseSource, null, null);
  }

  /** The same deployment with another credential (the provider credentials secret changed). */
  public Deployment withApiKey(String newApiKey) {
    return new Deployment(
        modelName, provider, upstreamModel, apiBase, newApiKey, apiKeySource, timeout, apiBaseSource, apiVersion, apiVersionSource, awsRegion, prices);
  }

  /** The same deployment at another base URL (its {@code os.environ/NAME} changed in the secret). */
  public Deployment withApiBase(URI newApiBase) {
    return new Deployment(
        modelName, provider, upstreamModel, newApiBase, apiKey, apiKeySource, timeout, apiBaseSource, apiVersion, apiVersionSource, awsRegion, prices);
  }

  /** The same deployment with another {@code api_version} (its {@code os.environ/NAME} changed in the secret). */
  public Deployment withApiVersion(String newApiVersion) {
    return new Deployment(
        modelName, provider, upstreamModel, apiBase, apiKey, apiKeySource, timeout, apiBaseSource, newApiVersion, apiVersionSource, awsRegion, prices);
  }

  /** The same deployment with its own prices (LiteLLM's {@code input_cost_per_token}, … in {@code litellm_params}). */
  public Deployment withPrices(TokenPrices newPrices) {
    return new Deployment(
        modelName, provider, upstreamModel, apiBase, apiKey, apiKeySource, timeout, apiBaseSource, apiVersion, apiVersionSource, awsRegion, newPrices);
  }

  /** {@code litellm_params.model} as written: {@code <provider prefix>/<upstream model>}, e.g. {@code openai/gpt-4o}. */
  public String litellmModel() {
    return provider.prefix() + "/" + upstreamModel;
  }

  @Override
  public String toString() {
    // Never print the credential.
    return modelName + " -> " + provider.prefix() + "/" + upstreamModel + " at " + apiBase;
  }
}

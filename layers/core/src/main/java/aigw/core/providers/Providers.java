package aigw.core.providers;

import aigw.core.config.Deployment;
import aigw.core.config.Provider;
import aigw.core.errors.UpstreamFailed;
import aigw.core.providers.azure.AzureTranslator;
import aigw.core.providers.anthropic.AnthropicTranslator;
import aigw.core.providers.bedrock.BedrockConverseProvider;
import aigw.core.providers.gemini.GeminiTranslator;
import aigw.core.providers.http.HttpModelProvider;
import aigw.core.providers.http.UpstreamHttp;
import aigw.core.providers.openai.OpenAiCompatibleProvider;
import aigw.core.secrets.ProviderCredentials;
import java.net.http.HttpClient;
import java.util.EnumMap;
import java.util.Map;
import java.util.Optional;

/**
 * The one place provider APIs are registered (model_list prefix to the {@link ModelProvider} that
 * speaks its API), and where a deployment gets its credential as of the call.
 */
public final class Providers {
  private final Map<Provider, ModelProvider> byProvider = new EnumMap<>(Provider.class);
  private final ProviderCredentials credentials;

  /** Deployments keep the credentials the model list was read with (local gateway, tests). */
  public Providers(HttpClient http) {
    this(http, ProviderCredentials.environmentOnly());
  }

  /** @param credentials where each call reads its deployment's credential (on AWS: the provider credentials secret) */
  public Providers(HttpClient http, ProviderCredentials credentials) {
    this(http, credentials, UpstreamHttp.DEFAULT_MAX_ANSWER_BYTES);
  }

  /** @param maxAnswerBytes the most of a whole provider answer read ({@link UpstreamHttp#DEFAULT_MAX_ANSWER_BYTES}) */
  public Providers(HttpClient http, ProviderCredentials credentials, int maxAnswerBytes) {
    var transport = new UpstreamHttp(http, maxAnswerBytes);
    var openAiCompatible = new OpenAiCompatibleProvider(transport);
    for (Provider provider : Provider.values()) {
      byProvider.put(provider, openAiCompatible); // every prefix below without its own line speaks OpenAI's API
    }
    byProvider.put(Provider.AZURE, new HttpModelProvider(new AzureTranslator(), transport));
    byProvider.put(Provider.ANTHROPIC, new HttpModelProvider(new AnthropicTranslator(), transport));
    byProvider.put(Provider.GEMINI, new HttpModelProvider(new GeminiTranslator(), transport));
    byProvider.put(Provider.BEDROCK, new BedrockConverseProvider(transport)); // signed with the process's AWS credentials
    this.credentials = credentials;
  }

  public ModelProvider forDeployment(Deployment deployment) {
    return byProvider.get(deployment.provider());
  }

  public ProviderCredentials credentials() {
    return credentials;
  }

  /**
   * Calls {@code deployment}'s provider with its current credential. When the provider refuses that
   * credential (its 401/403: nothing was run, so nothing was billed) and the credentials secret now
   * holds another value for it, the request is sent once more with the new value; otherwise the
   * refusal is thrown as it is. A stream's refusal comes with its status, before any chunk, so it is
   * retried the same way.
   */
  public ProviderAnswer call(Deployment deployment, ProviderRequest request) {
    Deployment current = credentials.current(deployment);
    ModelProvider provider = forDeployment(current);
    try {
      return provider.answer(current, request);
    } catch (UpstreamFailed refused) {
      if (!refused.credentialRefused() || current.apiKey() == null) {
        throw refused;
      }
      Optional<Deployment> renewed = credentials.renewedAfterRefusal(current);
      if (renewed.isEmpty()) {
        throw refused;
      }
      return provider.answer(renewed.get(), request);
    }
  }
}

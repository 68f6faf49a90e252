package aigw.core.providers;

import aigw.core.config.Deployment;
import aigw.core.config.Provider;
import aigw.core.providers.openai.OpenAiCompatibleProvider;
import java.net.http.HttpClient;
import java.util.EnumMap;
import java.util.Map;

/** The one place provider APIs are registered: model_list prefix to the class that speaks its API. */
public final class Providers {
  private final Map<Provider, ModelProvider> byProvider = new EnumMap<>(Provider.class);

  public Providers(HttpClient http) {
    var openAiCompatible = new OpenAiCompatibleProvider(http);
    for (Provider provider : Provider.values()) {
      byProvider.put(provider, openAiCompatible); // every prefix so far speaks OpenAI's API
    }
  }

  public ModelProvider forDeployment(Deployment deployment) {
    return byProvider.get(deployment.provider());
  }
}

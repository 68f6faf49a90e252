package aigw.core.providers.openai;

import aigw.core.providers.http.HttpModelProvider;
import aigw.core.providers.http.UpstreamHttp;
import java.net.http.HttpClient;

/**
 * Any provider with OpenAI's HTTP API (every prefix of {@code Provider} so far): {@link
 * OpenAiTranslator} over the shared {@link UpstreamHttp} transport.
 */
public final class OpenAiCompatibleProvider extends HttpModelProvider {
  public OpenAiCompatibleProvider(UpstreamHttp transport) {
    super(new OpenAiTranslator(), transport);
  }

  public OpenAiCompatibleProvider(HttpClient http) {
    this(new UpstreamHttp(http));
  }

  /** The shared client ({@link UpstreamHttp#defaultHttpClient()}); kept here for the wiring that names it. */
  public static HttpClient defaultHttpClient() {
    return UpstreamHttp.defaultHttpClient();
  }
}

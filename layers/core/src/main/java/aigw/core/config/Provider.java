package aigw.core.config;

import java.util.Arrays;
import java.util.Optional;

/**
 * The provider prefixes of LiteLLM's {@code litellm_params.model} that speak OpenAI's API, with
 * their default base URLs. Providers with their own API (Anthropic, Bedrock, Gemini) come with
 * their adapters.
 */
public enum Provider {
  OPENAI("openai", "https://api.openai.com/v1", AuthStyle.BEARER),
  /** Azure OpenAI's v1 API: {@code <api_base>/openai/v1}, key in the {@code api-key} header. */
  AZURE("azure", null, AuthStyle.API_KEY_HEADER),
  GROQ("groq", "https://api.groq.com/openai/v1", AuthStyle.BEARER),
  MISTRAL("mistral", "https://api.mistral.ai/v1", AuthStyle.BEARER),
  DEEPSEEK("deepseek", "https://api.deepseek.com/v1", AuthStyle.BEARER),
  OPENROUTER("openrouter", "https://openrouter.ai/api/v1", AuthStyle.BEARER),
  TOGETHER_AI("together_ai", "https://api.together.xyz/v1", AuthStyle.BEARER),
  FIREWORKS_AI("fireworks_ai", "https://api.fireworks.ai/inference/v1", AuthStyle.BEARER),
  XAI("xai", "https://api.x.ai/v1", AuthStyle.BEARER),
  OLLAMA("ollama", "http://localhost:11434/v1", AuthStyle.BEARER),
  OLLAMA_CHAT("ollama_chat", "http://localhost:11434/v1", AuthStyle.BEARER),
  HOSTED_VLLM("hosted_vllm", null, AuthStyle.BEARER);

  /** How the credential is sent. */
  public enum AuthStyle {
    BEARER,
    API_KEY_HEADER
  }

  private final String prefix;
  private final String defaultApiBase;
  private final AuthStyle authStyle;

  Provider(String prefix, String defaultApiBase, AuthStyle authStyle) {
    this.prefix = prefix;
    this.defaultApiBase = defaultApiBase;
    this.authStyle = authStyle;
  }

  public String prefix() {
    return prefix;
  }

  public Optional<String> defaultApiBase() {
    return Optional.ofNullable(defaultApiBase);
  }

  public AuthStyle authStyle() {
    return authStyle;
  }

  public static Optional<Provider> forPrefix(String prefix) {
    return Arrays.stream(values()).filter(p -> p.prefix.equals(prefix)).findFirst();
  }

  public static String knownPrefixes() {
    return String.join(", ", Arrays.stream(values()).map(Provider::prefix).toList());
  }
}

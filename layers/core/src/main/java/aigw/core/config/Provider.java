package aigw.core.config;

import java.util.Arrays;
import java.util.Optional;

/**
 * The provider prefixes of LiteLLM's {@code litellm_params.model}, with their default base URLs and
 * how the credential is sent. Most speak OpenAI's API; those with their own (Anthropic, Gemini, Bedrock) and Azure have an
 * adapter registered in {@code aigw.core.providers.Providers}.
 */
public enum Provider {
  // The last column: whether the provider accepts OpenAI's stream_options, which the gateway adds to
  // every stream to be told its usage. "true" only where its own docs or a client library that sends
  // it say so; a provider that refuses unknown fields answers 4xx to a request carrying it, so an
  // unknown one is "false" and its stream goes without it (usage is then read from whatever chunk
  // carries it, or estimated). Sources, checked 2026-12:
  //   openai: API reference, chat/create#stream_options. azure: v1 API, the same schema.
  //   groq: langchain-groq sends stream_options.include_usage (ChatGroqCallOptions).
  //   deepseek: api-docs.deepseek.com create-chat-completion lists stream_options.include_usage.
  //   openrouter: accepted, no effect, usage always sent (openrouter.ai/docs ChatStreamOptions).
  //   fireworks_ai: newer models need include_usage to report usage (langchain-ai/langchain#36977).
  //   ollama: docs/openai.md lists stream_options.include_usage. hosted_vllm: vLLM's OpenAI server
  //     supports stream_options (include_usage, continuous_usage_stats).
  //   mistral: REFUSES it, 422 extra_forbidden on body.stream_options (BerriAI/litellm#8978,
  //     dnakov/anon-kode#53), and sends usage in its last chunk anyway.
  //   together_ai, xai: not verified: left out.
  OPENAI("openai", "https://api.openai.com/v1", AuthStyle.BEARER, true),
  /**
   * Azure OpenAI: the v1 API ({@code <api_base>/openai/v1}) or a dated {@code api_version}'s
   * deployment URLs, key in the {@code api-key} header ({@code AzureTranslator}; dated versions before
   * 2024-09-01 refuse stream_options, see {@code AzureApiVersion}).
   */
  AZURE("azure", null, AuthStyle.API_KEY_HEADER, true),
  GROQ("groq", "https://api.groq.com/openai/v1", AuthStyle.BEARER, true),
  MISTRAL("mistral", "https://api.mistral.ai/v1", AuthStyle.BEARER, false),
  DEEPSEEK("deepseek", "https://api.deepseek.com/v1", AuthStyle.BEARER, true),
  OPENROUTER("openrouter", "https://openrouter.ai/api/v1", AuthStyle.BEARER, true),
  TOGETHER_AI("together_ai", "https://api.together.xyz/v1", AuthStyle.BEARER, false),
  FIREWORKS_AI("fireworks_ai", "https://api.fireworks.ai/inference/v1", AuthStyle.BEARER, true),
  XAI("xai", "https://api.x.ai/v1", AuthStyle.BEARER, false),
  OLLAMA("ollama", "http://localhost:11434/v1", AuthStyle.BEARER, true),
  OLLAMA_CHAT("ollama_chat", "http://localhost:11434/v1", AuthStyle.BEARER, true),
  HOSTED_VLLM("hosted_vllm", null, AuthStyle.BEARER, true),
  /** Anthropic's Messages API ({@code aigw.core.providers.anthropic}): its own body, stream_options never sent. */
  ANTHROPIC("anthropic", "https://api.anthropic.com", AuthStyle.X_API_KEY, false),
  /** Google's Gemini API (not OpenAI's: aigw.core.providers.gemini translates), key in {@code x-goog-api-key}. */
  GEMINI("gemini", "https://generativelanguage.googleapis.com", AuthStyle.API_KEY_HEADER, false),
  /**
   * Amazon Bedrock's Converse API ({@code aigw.core.providers.bedrock}): {@code bedrock/<model id,
   * inference profile id or ARN>}, signed with the function's AWS credentials (SigV4), no key. Its
   * URL is {@code https://bedrock-runtime.<region>.amazonaws.com} unless {@code
   * aws_bedrock_runtime_endpoint} (or {@code api_base}) says otherwise ({@code ModelList}).
   */
  BEDROCK("bedrock", null, AuthStyle.AWS_SIGV4, false);

  /** How the credential is sent. */
  public enum AuthStyle {
    BEARER,
    API_KEY_HEADER,
    /** {@code x-api-key} with {@code anthropic-version} (Anthropic). */
    X_API_KEY,
    /** No key: each request is signed with AWS Signature Version 4 and the process's AWS credentials (Bedrock). */
    AWS_SIGV4
  }

  private final String prefix;
  private final String defaultApiBase;
  private final AuthStyle authStyle;
  private final boolean acceptsStreamOptions;

  Provider(String prefix, String defaultApiBase, AuthStyle authStyle, boolean acceptsStreamOptions) {
    this.prefix = prefix;
    this.defaultApiBase = defaultApiBase;
    this.authStyle = authStyle;
    this.acceptsStreamOptions = acceptsStreamOptions;
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

  /**
   * True when the provider accepts OpenAI's {@code stream_options} (the gateway then asks every
   * stream for its usage); false when it refuses it or that is not known, and a stream request goes
   * to it without {@code stream_options}, the client's own included (sources in the comment above
   * the constants).
   */
  public boolean acceptsStreamOptions() {
    return acceptsStreamOptions;
  }

  public static Optional<Provider> forPrefix(String prefix) {
    return Arrays.stream(values()).filter(p -> p.prefix.equals(prefix)).findFirst();
  }

  public static String knownPrefixes() {
    return String.join(", ", Arrays.stream(values()).map(Provider::prefix).toList());
  }
}

package aigw.core.providers;

/**
 * The operations the gateway proxies, with their path under the provider's base URL: OpenAI's, and
 * Anthropic's Messages API for {@code /v1/messages} passed through to Anthropic deployments (no other
 * provider's translator is given those: the route translates to {@link #CHAT_COMPLETIONS} for them).
 */
public enum Operation {
  CHAT_COMPLETIONS("/chat/completions"),
  /** Legacy text completions (https://platform.openai.com/docs/api-reference/completions). */
  COMPLETIONS("/completions"),
  EMBEDDINGS("/embeddings"),
  /**
   * OpenAI's Responses API (https://platform.openai.com/docs/api-reference/responses), sent as is
   * only to a provider that has it (OpenAI, Azure's v1 API); for the others the gateway translates
   * the request to chat completions before it reaches a provider ({@code aigw.proxy.responses}).
   */
  RESPONSES("/responses"),
  /** Anthropic's Messages API, the client's body passed through (https://docs.anthropic.com/en/api/messages). */
  MESSAGES("/messages"),
  /** Anthropic's token count of a Messages request (https://docs.anthropic.com/en/api/messages-count-tokens); never streamed. */
  MESSAGES_COUNT_TOKENS("/messages/count_tokens");

  private final String path;

  Operation(String path) {
    this.path = path;
  }

  public String path() {
    return path;
  }
}

package aigw.core.providers;

/** The OpenAI operations the gateway proxies, with their path under the provider's base URL. */
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
  RESPONSES("/responses");

  private final String path;

  Operation(String path) {
    this.path = path;
  }

  public String path() {
    return path;
  }
}

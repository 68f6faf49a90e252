package aigw.core.providers;

/** The OpenAI operations the gateway proxies, with their path under the provider's base URL. */
public enum Operation {
  CHAT_COMPLETIONS("/chat/completions"),
  /** Legacy text completions (https://platform.openai.com/docs/api-reference/completions). */
  COMPLETIONS("/completions"),
  EMBEDDINGS("/embeddings");

  private final String path;

  Operation(String path) {
    this.path = path;
  }

  public String path() {
    return path;
  }
}

package aigw.core.testing;

import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;

import com.github.tomakehurst.wiremock.WireMockServer;

/** A loopback WireMock server standing in for a model provider. */
public final class Upstream {
  /** A minimal OpenAI chat completion: one "ok" message, 1 + 1 tokens. */
  public static final String CHAT_COMPLETION =
      """
      {"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,
       "message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],
       "usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}
      """;

  private Upstream() {}

  /** A started provider stand-in that answers every chat completion with {@link #CHAT_COMPLETION}. */
  public static WireMockServer answeringChatCompletions() {
    var server = start();
    server.stubFor(
        com.github.tomakehurst.wiremock.client.WireMock.post("/v1/chat/completions")
            .willReturn(com.github.tomakehurst.wiremock.client.WireMock.okJson(CHAT_COMPLETION)));
    return server;
  }

  public static WireMockServer start() {
    var server = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1"));
    server.start();
    return server;
  }
}

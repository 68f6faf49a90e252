package aigw.local.clients;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.matchingJsonPath;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;

import aigw.core.testing.Upstream;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import java.util.ArrayList;
import java.util.List;

/**
 * A plain OpenAI-compatible provider on loopback WireMock that streams as OpenAI does: {@code
 * stream: true} on {@code /v1/chat/completions} or {@code /v1/completions} is answered with
 * {@code text/event-stream} chunks carrying {@link #TEXT} piece by piece, a usage chunk only when
 * {@code stream_options.include_usage} is asked, then {@code data: [DONE]}. Formats:
 * https://platform.openai.com/docs/api-reference/chat-streaming and
 * https://platform.openai.com/docs/api-reference/completions/object.
 *
 * <p>Real clients are first pointed at it directly (proving the client scripts and this stand-in
 * agree), then at the gateway in front of it.
 */
final class OpenAiStandIn {
  /** What every answer says, streamed as {@link #PIECES}. */
  static final String TEXT = "Hello from upstream";
  static final List<String> PIECES = List.of("Hello", " from", " upstream");
  static final int PROMPT_TOKENS = 5;
  static final int COMPLETION_TOKENS = 3;
  static final int TOTAL_TOKENS = PROMPT_TOKENS + COMPLETION_TOKENS;

  private static final String USAGE =
      "\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}"
          .formatted(PROMPT_TOKENS, COMPLETION_TOKENS, TOTAL_TOKENS);

  private OpenAiStandIn() {}

  /** A started stand-in answering chat and text completions, streamed and not. */
  static WireMockServer start() {
    var server = Upstream.start();
    for (String path : List.of("/v1/chat/completions", "/v1/completions")) {
      boolean chat = path.contains("chat");
      server.stubFor(
          post(path)
              .atPriority(1)
              .withRequestBody(matchingJsonPath("$.stream", equalTo("true")))
              .withRequestBody(matchingJsonPath("$.stream_options.include_usage", equalTo("true")))
              .willReturn(sse(chat ? chatStream(true) : completionStream(true))));
      server.stubFor(
          post(path)
              .atPriority(2)
              .withRequestBody(matchingJsonPath("$.stream", equalTo("true")))
              .willReturn(sse(chat ? chatStream(false) : completionStream(false))));
      server.stubFor(post(path).atPriority(3).willReturn(okJson(chat ? chatCompletion() : completion())));
    }
    return server;
  }

  /** OpenAI's chat chunks: the role first, one piece of content each, finish_reason, usage if asked. */
  static String chatStream(boolean withUsage) {
    String head = "{\"id\":\"chatcmpl-standin\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o-mini\",";
    var events = new ArrayList<String>();
    events.add(head + "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}");
    for (String piece : PIECES) {
      events.add(head + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" + piece + "\"},\"logprobs\":null,\"finish_reason\":null}]}");
    }
    events.add(head + "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}]}");
    if (withUsage) {
      events.add(head + "\"choices\":[]," + USAGE + "}");
    }
    return sseBody(events);
  }

  /** Legacy text completion chunks: one piece of text each, finish_reason, usage if asked. */
  static String completionStream(boolean withUsage) {
    String head = "{\"id\":\"cmpl-standin\",\"object\":\"text_completion\",\"created\":1700000000,\"model\":\"gpt-3.5-turbo-instruct\",";
    var events = new ArrayList<String>();
    for (String piece : PIECES) {
      events.add(head + "\"choices\":[{\"text\":\"" + piece + "\",\"index\":0,\"logprobs\":null,\"finish_reason\":null}]}");
    }
    events.add(head + "\"choices\":[{\"text\":\"\",\"index\":0,\"logprobs\":null,\"finish_reason\":\"stop\"}]}");
    if (withUsage) {
      events.add(head + "\"choices\":[]," + USAGE + "}");
    }
    return sseBody(events);
  }

  private static String chatCompletion() {
    return "{\"id\":\"chatcmpl-standin\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":\"gpt-4o-mini\","
        + "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"" + TEXT + "\"},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
        + USAGE + "}";
  }

  private static String completion() {
    return "{\"id\":\"cmpl-standin\",\"object\":\"text_completion\",\"created\":1700000000,\"model\":\"gpt-3.5-turbo-instruct\","
        + "\"choices\":[{\"text\":\"" + TEXT + "\",\"index\":0,\"logprobs\":null,\"finish_reason\":\"stop\"}],"
        + USAGE + "}";
  }

  private static String sseBody(List<String> events) {
    var body = new StringBuilder();
    for (String event : events) {
      body.append("data: ").append(event).append("\n\n");
    }
    return body.append("data: [DONE]\n\n").toString();
  }

  private static ResponseDefinitionBuilder sse(String body) {
    return aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream").withHeader("Cache-Control", "no-cache").withBody(body);
  }
}

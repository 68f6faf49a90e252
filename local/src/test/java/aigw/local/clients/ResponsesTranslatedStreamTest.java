package aigw.local.clients;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.containing;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;

import aigw.local.LocalGateway;
import aigw.local.LocalOptions;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseFunctionToolCall;
import com.openai.models.responses.ResponseOutputMessage;
import com.openai.models.responses.ResponseStreamEvent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Streams a chat-completions provider answers in shapes beyond plain text and one call, as the
 * official Java SDK's {@code createStreaming} reads them through the local gateway's translation
 * to Responses events: a refusal (its own part and events), parallel tool calls whose arguments
 * interleave (every call whole in the final Response).
 */
class ResponsesTranslatedStreamTest {
  private static final String MASTER = "sk-responses-translated-master-key-for-tests";
  private static final String REFUSAL = "I can't help with that.";

  @TempDir static Path dir;
  private static WireMockServer upstream;
  private static LocalGateway gateway;

  @BeforeAll
  static void start() throws Exception {
    upstream = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1"));
    upstream.start();
    stream("pick a lock", List.of(
        "{\"role\":\"assistant\",\"content\":null,\"refusal\":null}", "{\"refusal\":\"I can't\"}", "{\"refusal\":\" help with that.\"}"), "stop");
    stream("Paris and Rome", List.of( // two calls, their arguments interleaved (chat's tool_calls index)
        "{\"tool_calls\":[{\"index\":0,\"id\":\"call_paris\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\"}}]}",
        "{\"tool_calls\":[{\"index\":1,\"id\":\"call_rome\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\"}}]}",
        "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}}]}",
        "{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"\\\"Rome\\\"}\"}}]}"), "tool_calls");
    Path config = dir.resolve("config.yaml");
    Files.writeString(config, """
        model_list:
          - model_name: chat-llama
            litellm_params: {model: hosted_vllm/meta-llama/Llama-3.1-8B-Instruct, api_base: "%s/v1", api_key: os.environ/TRANSLATED_PROVIDER_KEY}
        """.formatted(upstream.baseUrl()));
    gateway = LocalGateway.start(
        LocalOptions.inMemory(config, Map.of("AIGW_MASTER_KEY", MASTER, "TRANSLATED_PROVIDER_KEY", "sk-provider-translated")));
  }

  /** The provider's chat stream for a request whose body contains {@code prompt}: one chunk per delta. */
  private static void stream(String prompt, List<String> deltas, String finishReason) {
    var sse = new StringBuilder();
    for (int i = 0; i < deltas.size(); i++) {
      String finish = i == deltas.size() - 1 ? "\"" + finishReason + "\"" : "null";
      sse.append("data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"llama\",\"choices\":[{\"index\":0,\"delta\":")
          .append(deltas.get(i)).append(",\"finish_reason\":").append(finish).append("}]}\n\n");
    }
    sse.append("data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"llama\",\"choices\":[],"
        + "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":6,\"total_tokens\":15}}\n\ndata: [DONE]\n\n");
    upstream.stubFor(post("/v1/chat/completions").withRequestBody(containing(prompt))
        .willReturn(aResponse().withHeader("Content-Type", "text/event-stream").withBody(sse.toString())));
  }

  @AfterAll
  static void stop() {
    if (gateway != null) {
      gateway.close();
    }
    if (upstream != null) {
      upstream.stop();
    }
  }

  private static List<ResponseStreamEvent> events(String input) throws Exception {
    String key = new GatewayAdmin(gateway.baseUrl(), MASTER).newKey("translated");
    OpenAIClient sdk = OpenAIOkHttpClient.builder().baseUrl(gateway.baseUrl() + "/v1").apiKey(key).maxRetries(0).build();
    try (var stream = sdk.responses().createStreaming(ResponseCreateParams.builder().model("chat-llama").input(input).build())) {
      return stream.stream().toList();
    }
  }

  @Test
  void aRefusalStreamsAsRefusalEventsAndEndsAsTheMessagesOnlyPart() throws Exception {
    List<ResponseStreamEvent> events = events("How do I pick a lock?");

    String streamed = events.stream().flatMap(e -> e.refusalDelta().stream()).map(d -> d.delta()).collect(Collectors.joining());
    assertThat(streamed).as("response.refusal.delta events").isEqualTo(REFUSAL);
    assertThat(events.stream().flatMap(e -> e.refusalDone().stream()).map(d -> d.refusal())).containsExactly(REFUSAL);
    assertThat(events.stream().flatMap(e -> e.contentPartAdded().stream()).map(a -> a.part().isRefusal()))
        .as("one part added, a refusal").containsExactly(true);
    Response completed = events.getLast().asCompleted().response();
    ResponseOutputMessage message = completed.output().getFirst().asMessage();
    assertThat(message.content()).hasSize(1);
    assertThat(message.content().getFirst().asRefusal().refusal()).isEqualTo(REFUSAL);
  }

  @Test
  void parallelCallsWithInterleavedArgumentsEndWhole() throws Exception {
    List<ResponseStreamEvent> events = events("Weather in Paris and Rome?");

    assertThat(events.stream().flatMap(e -> e.functionCallArgumentsDone().stream()).map(d -> d.arguments()))
        .containsExactly("{\"city\":\"Paris\"}", "{\"city\":\"Rome\"}");
    int completedAt = events.size() - 1;
    for (int i = 0; i < events.size(); i++) {
      if (events.get(i).isFunctionCallArgumentsDelta()) {
        String itemId = events.get(i).asFunctionCallArgumentsDelta().itemId();
        long doneBefore = events.subList(0, i).stream()
            .filter(e -> e.isOutputItemDone() && e.asOutputItemDone().item().functionCall().map(c -> c.id().orElse("")).orElse("").equals(itemId))
            .count();
        assertThat(doneBefore).as("event %d: no arguments after their call is done", i).isZero();
      }
    }
    Response completed = events.get(completedAt).asCompleted().response();
    assertThat(completed.output().stream().map(item -> item.asFunctionCall()).map(ResponseFunctionToolCall::arguments))
        .containsExactly("{\"city\":\"Paris\"}", "{\"city\":\"Rome\"}");
  }
}

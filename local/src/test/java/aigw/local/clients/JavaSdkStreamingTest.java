package aigw.local.clients;

import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.matchingJsonPath;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import com.openai.models.completions.CompletionUsage;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The official OpenAI Java SDK's streaming API ({@code createStreaming}) over real HTTP, first
 * against a plain OpenAI-compatible stand-in (the SDK and the stand-in's chunks agree), then through
 * the local gateway in front of it, with the usage of every streamed call recorded on the key.
 */
class JavaSdkStreamingTest {
  @TempDir static Path dir;
  private static ClientTestbed testbed;

  @BeforeAll
  static void start() throws Exception {
    testbed = ClientTestbed.start(dir);
  }

  @AfterAll
  static void stop() {
    testbed.close();
  }

  private static OpenAIClient sdk(String baseUrl, String key) {
    return OpenAIOkHttpClient.builder().baseUrl(baseUrl).apiKey(key).maxRetries(0).build();
  }

  private static ChatCompletionCreateParams chat(String prompt, boolean includeUsage) {
    var params = ChatCompletionCreateParams.builder().model(ClientTestbed.CHAT_MODEL).addUserMessage(prompt);
    if (includeUsage) {
      params.streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build());
    }
    return params.build();
  }

  private static List<ChatCompletionChunk> streamChat(OpenAIClient client, String prompt, boolean includeUsage) {
    try (var stream = client.chat().completions().createStreaming(chat(prompt, includeUsage))) {
      return stream.stream().toList();
    }
  }

  private static String text(List<ChatCompletionChunk> chunks) {
    return chunks.stream()
        .flatMap(chunk -> chunk.choices().stream())
        .map(choice -> choice.delta().content().orElse(""))
        .collect(Collectors.joining());
  }

  private static Optional<CompletionUsage> usage(List<ChatCompletionChunk> chunks) {
    return chunks.stream().flatMap(chunk -> chunk.usage().stream()).reduce((first, last) -> last);
  }

  private static List<Completion> streamCompletion(OpenAIClient client, String prompt) {
    var params = CompletionCreateParams.builder().model(ClientTestbed.COMPLETION_MODEL).prompt(prompt).build();
    try (var stream = client.completions().createStreaming(params)) {
      return stream.stream().toList();
    }
  }

  @Test
  void theSdkStreamsChatAndTextCompletionsFromAPlainOpenAiStandIn() {
    var client = sdk(testbed.standInBaseUrl(), "sk-provider-clients");

    var chunks = streamChat(client, "Say hello", false);
    assertThat(text(chunks)).isEqualTo(OpenAiStandIn.TEXT);
    assertThat(usage(chunks)).isEmpty();

    var withUsage = streamChat(client, "Say hello", true);
    assertThat(text(withUsage)).isEqualTo(OpenAiStandIn.TEXT);
    assertThat(withUsage.getLast().choices()).isEmpty();
    assertThat(usage(withUsage).orElseThrow().totalTokens()).isEqualTo(OpenAiStandIn.TOTAL_TOKENS);

    var completion = streamCompletion(client, "Say hello");
    assertThat(completion.stream().flatMap(c -> c.choices().stream()).map(c -> c.text()).collect(Collectors.joining()))
        .isEqualTo(OpenAiStandIn.TEXT);
  }

  @Test
  void theSdkStreamsAChatCompletionThroughTheGatewayAndTheKeyRecordsItsUsage() throws Exception {
    String key = testbed.newKey();

    String prompt = "Say hello to " + key.substring(key.length() - 4); // finds this test's upstream call
    var chunks = streamChat(sdk(testbed.gatewayBaseUrl(), key), prompt, false);

    assertThat(chunks).hasSizeGreaterThan(1); // streamed, not one answer in one piece
    assertThat(text(chunks)).isEqualTo(OpenAiStandIn.TEXT);
    assertThat(usage(chunks)).as("no usage chunk unless the client asks for it").isEmpty();
    // The gateway asks the provider for usage even though the client did not, and records it.
    testbed.upstream.verify(
        postRequestedFor(urlEqualTo("/v1/chat/completions"))
            .withRequestBody(matchingJsonPath("$.messages[0].content", equalTo(prompt)))
            .withRequestBody(matchingJsonPath("$.stream_options.include_usage", equalTo("true"))));
    var info = testbed.keyInfoAfter(key, 1);
    assertThat(info.get("request_count").asLong()).isEqualTo(1);
    assertThat(info.get("total_tokens").asLong()).isEqualTo(OpenAiStandIn.TOTAL_TOKENS);
  }

  @Test
  void theSdkGetsTheFinalUsageChunkThroughTheGatewayWhenItAsks() throws Exception {
    String key = testbed.newKey();

    var chunks = streamChat(sdk(testbed.gatewayBaseUrl(), key), "Say hello", true);

    assertThat(text(chunks)).isEqualTo(OpenAiStandIn.TEXT);
    var last = chunks.getLast();
    assertThat(last.choices()).isEmpty();
    assertThat(last.usage().orElseThrow().promptTokens()).isEqualTo(OpenAiStandIn.PROMPT_TOKENS);
    assertThat(last.usage().orElseThrow().completionTokens()).isEqualTo(OpenAiStandIn.COMPLETION_TOKENS);
    assertThat(testbed.keyInfoAfter(key, 1).get("total_tokens").asLong()).isEqualTo(OpenAiStandIn.TOTAL_TOKENS);
  }

  @Test
  void theSdkStreamsALegacyTextCompletionThroughTheGatewayAndTheKeyRecordsItsUsage() throws Exception {
    String key = testbed.newKey();

    String prompt = "Say hello to " + key.substring(key.length() - 4);
    var chunks = streamCompletion(sdk(testbed.gatewayBaseUrl(), key), prompt);

    assertThat(chunks).hasSizeGreaterThan(1);
    assertThat(chunks.stream().flatMap(c -> c.choices().stream()).map(c -> c.text()).collect(Collectors.joining()))
        .isEqualTo(OpenAiStandIn.TEXT);
    assertThat(chunks.stream().flatMap(c -> c.usage().stream()).toList()).as("no usage chunk unless asked").isEmpty();
    testbed.upstream.verify(
        postRequestedFor(urlEqualTo("/v1/completions"))
            .withRequestBody(matchingJsonPath("$.prompt", equalTo(prompt)))
            .withRequestBody(matchingJsonPath("$.stream_options.include_usage", equalTo("true"))));
    var info = testbed.keyInfoAfter(key, 1);
    assertThat(info.get("request_count").asLong()).isEqualTo(1);
    assertThat(info.get("total_tokens").asLong()).isEqualTo(OpenAiStandIn.TOTAL_TOKENS);
  }
}

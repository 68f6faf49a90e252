package aigw.core.providers.openai;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.config.Deployment;
import aigw.core.config.Provider;
import aigw.core.errors.ErrorEnvelope;
import aigw.core.errors.UpstreamFailed;
import aigw.core.errors.UpstreamUnreachable;
import aigw.core.json.Json;
import aigw.core.providers.ForwardedBody;
import aigw.core.providers.Operation;
import aigw.core.providers.ProviderRequest;
import aigw.core.providers.StreamChunk;
import aigw.core.providers.http.ServerSentEvent;
import aigw.core.usage.TokenUsage;
import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * An OpenAI-compatible provider's chunk is read without building its tree; what the gateway reads
 * from it (usage, the usage-only mark, generated characters) must be what a full {@code readTree}
 * reads, whatever shape the chunk has: each chunk below is read both ways and compared, and the
 * chunk is passed on byte for byte.
 */
class OpenAiChunkReadingTest {
  private static final Deployment OPENAI =
      new Deployment("public-name", Provider.OPENAI, "gpt-4o", URI.create("https://api.openai.com/v1"), "sk-provider-0001", "os.environ/KEY", Duration.ofSeconds(7));

  private static List<StreamChunk> read(String data) {
    var body = ForwardedBody.of("{\"model\":\"public-name\",\"messages\":[]}".getBytes(StandardCharsets.UTF_8));
    return new OpenAiTranslator().stream(OPENAI, new ProviderRequest(Operation.CHAT_COMPLETIONS, body, true)).onEvent(new ServerSentEvent(null, data));
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"finish_reason\":null}]}",
      "{\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}],\"usage\":null}",
      "{\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":12,\"total_tokens\":21,\"prompt_tokens_details\":{\"cached_tokens\":3}}}",
      "{\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":12}}",
      "{\"choices\":[{\"delta\":{}, \"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}}",
      "{\"choices\":null,\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}",
      "{\"choices\":{},\"usage\":{\"prompt_tokens\":1}}",
      "{\"choices\":{\"a\":{\"delta\":{\"content\":\"xyz\"}},\"b\":{\"text\":\"pq\"}}}",
      "{\"choices\":\"text\",\"usage\":[1,2]}",
      "{\"usage\":{\"prompt_tokens\":5},\"usage\":7,\"choices\":[]}",
      "{\"usage\":7,\"usage\":{\"prompt_tokens\":5}}",
      "{\"choices\":[{\"text\":\"legacy completion\",\"index\":0}]}",
      "{\"choices\":[{\"delta\":{\"content\":\"h\\u00e9llo \\ud83d\\ude00 \\\"q\\\"\",\"refusal\":\"no\",\"reasoning_content\":\"think\"}}]}",
      "{\"choices\":[{\"delta\":{\"content\":\"é😀\"}}]}",
      "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}},{\"function\":\"x\"},7,[1]]}}]}",
      "{\"choices\":[{\"delta\":{\"tool_calls\":{\"k\":{\"function\":{\"arguments\":\"abc\",\"arguments\":\"de\"}}}}}]}",
      "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{\"arguments\":\"abc\"},\"function\":[1]}]}}]}",
      "{\"choices\":[{\"delta\":{\"content\":\"first\",\"content\":\"2nd\"},\"delta\":{\"content\":\"third!\"}}]}",
      "{\"choices\":[{\"delta\":{\"content\":\"x\"}}],\"choices\":[{\"delta\":{\"content\":\"yy\"}}]}",
      "{\"choices\":[{\"delta\":[{\"content\":\"x\"}],\"text\":5},null,3,\"s\",[{\"text\":\"nested\"}]]}",
      "{\"choices\":[{\"delta\":{\"content\":{\"nested\":\"text\"},\"refusal\":[\"x\"],\"reasoning_content\":12}}]}",
      "{\"error\":null,\"choices\":[{\"delta\":{\"content\":\"ok\"}}],\"extra\":{\"deep\":[{\"error\":1}]}}",
      "{\"choices\":[],\"usage\":{\"prompt_tokens\":1.0,\"completion_tokens\":2}}",
      "{}"})
  void readsWhatTheTreeReads(String data) throws Exception {
    JsonNode tree = Json.MAPPER.readTree(data);
    JsonNode usage = tree.get("usage");
    TokenUsage expectedUsage = usage != null && usage.isObject() ? TokenUsage.fromOpenAi(usage) : null;
    JsonNode choices = tree.path("choices");
    boolean expectedUsageOnly = expectedUsage != null && (choices.isMissingNode() || (choices.isArray() && choices.isEmpty()));

    List<StreamChunk> chunks = read(data);

    assertThat(chunks).hasSize(1);
    StreamChunk chunk = chunks.get(0);
    assertThat(new String(chunk.json(), StandardCharsets.UTF_8)).isEqualTo(data);
    assertThat(chunk.usage()).isEqualTo(expectedUsage);
    assertThat(chunk.usageOnly()).isEqualTo(expectedUsageOnly);
    assertThat(chunk.generatedChars()).isEqualTo(OpenAiTranslator.generatedChars(choices));
  }

  @ParameterizedTest
  @ValueSource(strings = {"{\"choices\":[", "{\"a\":1} {\"b\":2}", "{\"a\":1}]", "{\"a\":1} x", "{\"a\" 1}", "[1,", "", "   "})
  void anEventThatIsNotJsonEndsTheStream(String data) {
    assertThatThrownBy(() -> read(data))
        .isInstanceOf(UpstreamUnreachable.class)
        .satisfiesAnyOf(
            e -> assertThat(e).hasMessage("The provider of 'public-name' sent a stream event that is not JSON."),
            e -> assertThat(e).hasMessage("The provider of 'public-name' sent a stream event that is not a JSON object."));
  }

  @ParameterizedTest
  @ValueSource(strings = {"[1,2]", "\"text\"", "42", "null"})
  void anEventThatIsJsonButNoObjectEndsTheStream(String data) {
    assertThatThrownBy(() -> read(data))
        .isInstanceOf(UpstreamUnreachable.class)
        .hasMessage("The provider of 'public-name' sent a stream event that is not a JSON object.");
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"rate_limit_error\"}}",
      "{\"choices\":[],\"error\":\"overloaded\"}",
      "{\"error\":{\"message\":\"late\"},\"choices\":[{\"delta\":{\"content\":\"x\"}}]}"})
  void aChunkCarryingAnErrorIsTheProvidersFailure(String data) {
    assertThatThrownBy(() -> read(data))
        .isInstanceOf(UpstreamFailed.class)
        .satisfies(e -> assertThat(ErrorEnvelope.of((UpstreamFailed) e).error().message()).isNotBlank());
  }
}

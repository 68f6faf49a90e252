package aigw.core.providers.anthropic;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.errors.BadRequest;
import aigw.core.json.Json;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** A chat request's max_tokens is read by the one whole-number rule (WholeNumbers), as NumberFields checks it: 10.0 is ten. */
class AnthropicWholeNumbersTest {
  private static final String CHAT = "{\"model\":\"c\",\"max_tokens\":%s,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

  @ParameterizedTest
  @ValueSource(strings = {"10", "10.0", "1E1"})
  void aWholeMaxTokensIsSentAsAnInteger(String ten) {
    var body = AnthropicTranslator.messagesBody("claude", Json.readObject(CHAT.formatted(ten).getBytes(java.nio.charset.StandardCharsets.UTF_8)), false);
    assertThat(body.path("max_tokens").isInt()).isTrue();
    assertThat(body.path("max_tokens").asInt()).isEqualTo(10);
    var bedrock = aigw.core.providers.bedrock.BedrockWholeNumbers.converse(CHAT.formatted(ten));
    assertThat(bedrock.path("inferenceConfig").path("maxTokens").asInt()).isEqualTo(10);
  }

  @ParameterizedTest
  @ValueSource(strings = {"10.5", "0", "\"10\""})
  void anythingElseIs400(String value) {
    assertThatThrownBy(() -> AnthropicTranslator.messagesBody("claude", Json.readObject(CHAT.formatted(value).getBytes(java.nio.charset.StandardCharsets.UTF_8)), false))
        .isInstanceOf(BadRequest.class).hasMessageContaining("max_tokens");
  }
}

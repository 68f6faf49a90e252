package aigw.core.providers.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Which chunks tell that the provider has finished generating (HttpModelProvider.hasFinishReason):
 * after one, a client's departure lets the stream's last events (its usage) be read. A byte search,
 * so the cases that could fool one: null, an empty string (some OpenAI-compatible servers send
 * {@code "finish_reason":""} in every content chunk: ollama/ollama#4357), spacing, the name inside generated text.
 */
class FinishReasonSearchTest {
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', textBlock = """
      a finish chunk                          | {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}                         | true
      a finish reason after spaces            | {"choices":[{"index":0,"delta":{},"finish_reason" :  "length"}]}                    | true
      a content chunk                         | {"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}             | false
      an empty finish reason (Ollama, SGLang) | {"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":""}]}               | false
      no finish_reason at all                 | {"choices":[{"index":0,"delta":{"content":"Hi"}}]}                                  | false
      the name inside generated text          | {"choices":[{"index":0,"delta":{"content":"\\"finish_reason\\":\\"stop\\""},"finish_reason":null}]} | false
      the usage chunk                         | {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}   | false
      """)
  void aChunkFinishesTheGenerationOnlyWithAFinishReasonThatIsAString(String what, String chunk, boolean finishes) {
    assertThat(HttpModelProvider.hasFinishReason(chunk.getBytes(StandardCharsets.UTF_8))).as(what + ": " + chunk).isEqualTo(finishes);
  }
}

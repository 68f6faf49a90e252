package aigw.core.providers.azure;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.config.Deployment;
import aigw.core.config.ModelList;
import aigw.core.config.Provider;
import aigw.core.errors.ErrorEnvelope;
import aigw.core.errors.UpstreamFailed;
import aigw.core.json.Json;
import aigw.core.providers.ForwardedBody;
import aigw.core.providers.Operation;
import aigw.core.providers.ProviderRequest;
import aigw.core.providers.StreamChunk;
import aigw.core.providers.http.ServerSentEvent;
import aigw.core.providers.http.ServerSentEvents;
import aigw.core.providers.http.StreamTranslation;
import aigw.core.providers.http.UpstreamCall;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayInputStream;
import java.net.http.HttpHeaders;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@link AzureTranslator}: Azure's URLs per api_version, its body rules, errors and stream shapes. Pure: no HTTP. */
class AzureTranslatorTest {
  private final AzureTranslator translator = new AzureTranslator();

  private static Deployment azure(String apiBase, String apiVersion) {
    return new Deployment(
        "gpt-4o", Provider.AZURE, "my-gpt4o deployment", ModelList.apiBase(Provider.AZURE, apiBase, "test"), "azure-key-1234",
        "os.environ/AZURE_API_KEY", Duration.ofSeconds(5)).withApiVersion(apiVersion);
  }

  private static ForwardedBody body(String json) {
    return ForwardedBody.of(json.getBytes(StandardCharsets.UTF_8));
  }

  private static JsonNode json(byte[] bytes) throws Exception {
    return Json.MAPPER.readTree(bytes);
  }

  @ParameterizedTest(name = "{0} + api_version {1} + {2} -> {3}")
  @CsvSource(
      nullValues = "null",
      value = {
        "https://res.openai.azure.com, null, CHAT_COMPLETIONS, https://res.openai.azure.com/openai/v1/chat/completions",
        "https://res.openai.azure.com/, v1, EMBEDDINGS, https://res.openai.azure.com/openai/v1/embeddings",
        "https://res.openai.azure.com/openai, latest, COMPLETIONS, https://res.openai.azure.com/openai/v1/completions",
        "https://res.openai.azure.com/openai/v1/, preview, CHAT_COMPLETIONS, https://res.openai.azure.com/openai/v1/chat/completions",
        "https://res.openai.azure.com, 2024-10-21, CHAT_COMPLETIONS, https://res.openai.azure.com/openai/deployments/my-gpt4o%20deployment/chat/completions?api-version=2024-10-21",
        "https://res.cognitiveservices.azure.com/openai, 2025-04-01-preview, EMBEDDINGS, https://res.cognitiveservices.azure.com/openai/deployments/my-gpt4o%20deployment/embeddings?api-version=2025-04-01-preview",
        "http://127.0.0.1:8080/openai/v1, 2024-02-01, COMPLETIONS, http://127.0.0.1:8080/openai/deployments/my-gpt4o%20deployment/completions?api-version=2024-02-01",
      })
  void buildsAzuresUrlForTheApiVersion(String apiBase, String apiVersion, Operation operation, String expected) throws Exception {
    UpstreamCall call =
        translator.request(azure(apiBase, apiVersion), ProviderRequest.complete(operation, body("{\"model\":\"gpt-4o\",\"input\":\"hi\"}")));

    assertThat(call.uri()).hasToString(expected);
    assertThat(call.headers()).containsEntry("api-key", "azure-key-1234").doesNotContainKey("Authorization");
    assertThat(call.secrets()).containsExactly("azure-key-1234");
    assertThat(json(call.body()).path("model").asText()).as("the deployment name, as the Azure SDKs send it").isEqualTo("my-gpt4o deployment");
  }

  @ParameterizedTest(name = "api_version {0}: stream_options sent: {1}")
  @CsvSource(
      nullValues = "null",
      value = {"null, true", "v1, true", "preview, true", "2024-10-21, true", "2024-09-01-preview, true", "2025-04-01-preview, true",
        "2024-08-01-preview, false", "2024-06-01, false", "2024-02-01, false", "2023-05-15, false"})
  void asksForStreamUsageOnlyWhereTheVersionAcceptsStreamOptions(String apiVersion, boolean sent) throws Exception {
    var request =
        ProviderRequest.streamed(
            Operation.CHAT_COMPLETIONS,
            body("{\"model\":\"gpt-4o\",\"stream\":true,\"stream_options\":{\"include_usage\":false},\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"));

    JsonNode sentBody = json(translator.request(azure("https://res.openai.azure.com", apiVersion), request).body());

    if (sent) {
      assertThat(sentBody.path("stream_options").path("include_usage").asBoolean()).isTrue();
    } else {
      assertThat(sentBody.has("stream_options")).as("older dated versions answer 400 to stream_options").isFalse();
    }
    assertThat(sentBody.path("messages").get(0).path("content").asText()).isEqualTo("hi");
    assertThat(sentBody.path("stream").asBoolean()).isTrue();
  }

  @Test
  void validatesVersionsAsAzurePublishesThem() {
    assertThat(AzureApiVersion.isValid("2024-10-21")).isTrue();
    assertThat(AzureApiVersion.isValid("2025-04-01-preview")).isTrue();
    assertThat(AzureApiVersion.isValid("V1")).isTrue();
    assertThat(AzureApiVersion.isValid("2024-10")).isFalse();
    assertThat(AzureApiVersion.isValid("2024-10-21-beta")).isFalse();
    assertThat(AzureApiVersion.isValid("v2")).isFalse();
  }

  private static HttpHeaders headers(Map<String, List<String>> values) {
    return HttpHeaders.of(values, (name, value) -> true);
  }

  /** Azure's 429 (recorded shape): code "429", a message, retry-after-ms beside retry-after. */
  private static final String RATE_LIMITED =
      "{\"error\":{\"code\":\"429\",\"message\":\"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version"
          + " 2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 6 seconds.\"}}";

  @Test
  void keepsAzuresRateLimitAndItsRetryAfter() {
    var failure =
        translator.error(
            azure("https://res.openai.azure.com", "2024-10-21"), 429,
            headers(Map.of("retry-after", List.of("6"), "retry-after-ms", List.of("5300"))), RATE_LIMITED.getBytes(StandardCharsets.UTF_8));

    var response = ErrorEnvelope.response(failure);
    assertThat(response.status()).isEqualTo(429);
    assertThat(response.headers()).containsEntry("Retry-After", "6").containsEntry("retry-after-ms", "5300");
    var body = ErrorEnvelope.of(failure).error();
    assertThat(body.message()).contains("exceeded token rate limit").contains("retry after 6 seconds");
    assertThat(body.code()).isEqualTo("429");
  }

  @Test
  void turnsRetryAfterMsAloneIntoWholeSecondsRoundedUp() {
    var failure =
        translator.error(
            azure("https://res.openai.azure.com", null), 429, headers(Map.of("retry-after-ms", List.of("5300"))),
            RATE_LIMITED.getBytes(StandardCharsets.UTF_8));

    assertThat(ErrorEnvelope.response(failure).headers()).containsEntry("Retry-After", "6").containsEntry("retry-after-ms", "5300");

    var exact = translator.error(azure("https://res.openai.azure.com", null), 429, headers(Map.of("retry-after-ms", List.of("1000"))), new byte[0]);
    assertThat(ErrorEnvelope.response(exact).headers()).containsEntry("Retry-After", "1");
    var junk = translator.error(azure("https://res.openai.azure.com", null), 429, headers(Map.of("retry-after-ms", List.of("soon"))), new byte[0]);
    assertThat(ErrorEnvelope.response(junk).headers()).doesNotContainKeys("Retry-After", "retry-after-ms");
  }

  @Test
  void answersAzuresContentFilterAs400WithItsCodeAndParam() {
    String filtered =
        """
        {"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
         "type":null,"param":"prompt","code":"content_filter","status":400,
         "innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{
           "hate":{"filtered":true,"severity":"medium"},"jailbreak":{"filtered":true,"detected":true},
           "self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},
           "violence":{"filtered":false,"severity":"safe"}}}}}
        """;
    UpstreamFailed failure =
        translator.error(azure("https://res.openai.azure.com", "2024-10-21"), 400, headers(Map.of()), filtered.getBytes(StandardCharsets.UTF_8));

    assertThat(ErrorEnvelope.response(failure).status()).isEqualTo(400);
    var body = ErrorEnvelope.of(failure).error();
    assertThat(body.code()).isEqualTo("content_filter");
    assertThat(body.param()).isEqualTo("prompt");
    assertThat(body.message())
        .startsWith("The response was filtered due to the prompt triggering Azure OpenAI's content management policy.")
        .endsWith(" Filtered by Azure's content filter: hate (medium), jailbreak (detected).");
  }

  @Test
  void azuresRefusalOfTheGatewaysKeyIsNotTheClientsAndIsMasked() {
    var failure =
        translator.error(
            azure("https://res.openai.azure.com", null), 401, headers(Map.of()),
            "{\"error\":{\"code\":\"401\",\"message\":\"Access denied due to invalid subscription key azure-key-1234.\"}}".getBytes(StandardCharsets.UTF_8));

    assertThat(failure.credentialRefused()).isTrue();
    assertThat(ErrorEnvelope.of(failure).error().message()).doesNotContain("azure-key-1234");
  }

  /**
   * A recorded Azure stream (2024-10-21, include_usage): the first chunk carries only {@code
   * prompt_filter_results} with {@code choices: []} and empty id/model; content chunks carry {@code
   * content_filter_results}; the usage chunk comes last. The first must be relayed as a chunk, not
   * taken for the usage chunk.
   */
  @Test
  void relaysAzuresPromptFilterChunkAndReadsUsageFromTheLastChunk() throws Exception {
    String sse =
        """
        data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},"jailbreak":{"filtered":false,"detected":false},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}}]}

        data: {"choices":[{"content_filter_results":{},"delta":{"content":"","refusal":null,"role":"assistant"},"finish_reason":null,"index":0,"logprobs":null}],"created":1733376000,"id":"chatcmpl-Az1","model":"gpt-4o-2024-11-20","object":"chat.completion.chunk","system_fingerprint":"fp_b705f0c291","usage":null}

        data: {"choices":[{"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}},"delta":{"content":"Hello"},"finish_reason":null,"index":0,"logprobs":null}],"created":1733376000,"id":"chatcmpl-Az1","model":"gpt-4o-2024-11-20","object":"chat.completion.chunk","system_fingerprint":"fp_b705f0c291","usage":null}

        data: {"choices":[{"content_filter_results":{},"delta":{},"finish_reason":"stop","index":0,"logprobs":null}],"created":1733376000,"id":"chatcmpl-Az1","model":"gpt-4o-2024-11-20","object":"chat.completion.chunk","system_fingerprint":"fp_b705f0c291","usage":null}

        data: {"choices":[],"created":1733376000,"id":"chatcmpl-Az1","model":"gpt-4o-2024-11-20","object":"chat.completion.chunk","system_fingerprint":"fp_b705f0c291","usage":{"completion_tokens":1,"prompt_tokens":9,"total_tokens":10}}

        data: [DONE]

        """;
    var deployment = azure("https://res.openai.azure.com", "2024-10-21");
    StreamTranslation translation =
        translator.stream(deployment, ProviderRequest.streamed(Operation.CHAT_COMPLETIONS, body("{\"model\":\"gpt-4o\",\"stream\":true}")));
    var events = new ServerSentEvents(new ByteArrayInputStream(sse.getBytes(StandardCharsets.UTF_8)));
    var chunks = new ArrayList<StreamChunk>();
    ServerSentEvent event;
    while (!translation.complete() && (event = events.next()) != null) {
      chunks.addAll(translation.onEvent(event));
    }

    assertThat(translation.complete()).isTrue();
    assertThat(chunks).hasSize(5);
    StreamChunk promptFilter = chunks.get(0);
    assertThat(promptFilter.usageOnly()).as("not the usage chunk").isFalse();
    assertThat(promptFilter.usage()).isNull();
    assertThat(json(promptFilter.json()).has("prompt_filter_results")).isTrue();
    assertThat(chunks.get(2).generatedChars()).isEqualTo(5);
    StreamChunk last = chunks.get(4);
    assertThat(last.usageOnly()).isTrue();
    assertThat(last.usage().promptTokens()).isEqualTo(9);
    assertThat(last.usage().completionTokens()).isEqualTo(1);
  }
}

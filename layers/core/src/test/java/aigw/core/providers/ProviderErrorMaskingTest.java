package aigw.core.providers;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.any;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import aigw.core.config.Deployment;
import aigw.core.config.Provider;
import aigw.core.errors.ErrorEnvelope;
import aigw.core.errors.GatewayException;
import aigw.core.http.GatewayResponse;
import com.github.tomakehurst.wiremock.WireMockServer;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A provider that echoes the gateway's credential in every field of its error, in its headers and
 * in a stream's error event: the client's answer (the envelope's body and headers, as {@link
 * ErrorEnvelope} renders them, mid-stream too) never holds the credential, for every translator.
 */
class ProviderErrorMaskingTest {
  /** The provider credential each deployment sends; any echo of it must reach the client masked. */
  private static final String KEY = "sk-echoed-provider-credential-9f3a";

  private static WireMockServer upstream;
  private final Providers providers = new Providers(aigw.core.providers.openai.OpenAiCompatibleProvider.defaultHttpClient());

  @BeforeAll
  static void start() {
    upstream = aigw.core.testing.Upstream.start();
  }

  @AfterAll
  static void stop() {
    upstream.stop();
  }

  @BeforeEach
  void reset() {
    upstream.resetAll();
  }

  private Deployment deployment(Provider provider) {
    URI base = aigw.core.config.ModelList.apiBase(provider, upstream.baseUrl() + (provider == Provider.OPENAI ? "/v1" : ""), "test");
    var deployment = new Deployment("m", provider, "m", base, KEY, "x", Duration.ofSeconds(5));
    return provider == Provider.AZURE ? deployment.withApiVersion("2024-10-21") : deployment;
  }

  /** What the client receives for the failure of a call to {@code provider}, as text (status line aside). */
  private String clientSees(Provider provider, boolean stream) {
    String body = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]" + (stream ? ",\"stream\":true}" : "}");
    var forwarded = ForwardedBody.of(body.getBytes(StandardCharsets.UTF_8));
    var request = stream
        ? ProviderRequest.streamed(Operation.CHAT_COMPLETIONS, forwarded)
        : ProviderRequest.complete(Operation.CHAT_COMPLETIONS, forwarded);
    Throwable thrown = catchThrowable(() -> {
      ProviderAnswer answer = providers.call(deployment(provider), request);
      if (answer instanceof ProviderStream events) {
        try (events) {
          while (events.next() != null) {
            // the error event comes after the first chunk or instead of it
          }
        }
      }
    });
    assertThat(thrown).as("the provider's error reaches the gateway as its failure").isInstanceOf(GatewayException.class);
    GatewayResponse response = ErrorEnvelope.response((GatewayException) thrown);
    return response.headers() + "\n" + response.bodyText();
  }

  private void answers(int status, String contentType, String body) {
    upstream.stubFor(any(anyUrl()).willReturn(aResponse()
        .withStatus(status)
        .withHeader("Content-Type", contentType)
        .withHeader("Retry-After", KEY)
        .withHeader("retry-after-ms", KEY)
        .withBody(body)));
  }

  /** The provider's words reached the client (its mask shows which key), the credential did not. */
  private static void assertMasked(String seen) {
    assertThat(seen).doesNotContain(KEY).doesNotContain("provider-credential").contains("sk-...9f3a");
  }

  private static final String OPENAI_ERROR =
      "{\"error\":{\"message\":\"bad " + KEY + "\",\"type\":\"" + KEY + "\",\"param\":\"" + KEY + "\",\"code\":\"" + KEY + "\"}}";

  @Test
  void openAiErrorFieldsAndHeadersNeverCarryTheCredential() {
    answers(400, "application/json", OPENAI_ERROR);
    assertMasked(clientSees(Provider.OPENAI, false));
  }

  @Test
  void openAiStreamErrorEventNeverCarriesTheCredential() {
    answers(200, "text/event-stream",
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n"
            + "data: " + OPENAI_ERROR + "\n\n");
    assertMasked(clientSees(Provider.OPENAI, true));
  }

  @Test
  void aContentTypeQuotedInAMessageNeverCarriesTheCredential() {
    answers(200, "text/plain; note=" + KEY, "not a stream");
    String seen = clientSees(Provider.OPENAI, true);
    assertMasked(seen);
    assertThat(seen).contains("text/plain");
  }

  @Test
  void azureErrorFieldsAndHeadersNeverCarryTheCredential() {
    answers(429, "application/json", OPENAI_ERROR);
    assertMasked(clientSees(Provider.AZURE, false));
  }

  @Test
  void azureStreamErrorEventNeverCarriesTheCredential() {
    answers(200, "text/event-stream", "data: " + OPENAI_ERROR + "\n\n");
    assertMasked(clientSees(Provider.AZURE, true));
  }

  private static final String ANTHROPIC_ERROR =
      "{\"type\":\"error\",\"error\":{\"type\":\"" + KEY + "\",\"message\":\"bad " + KEY + "\"}}";

  @Test
  void anthropicErrorFieldsAndHeadersNeverCarryTheCredential() {
    answers(429, "application/json", ANTHROPIC_ERROR);
    assertMasked(clientSees(Provider.ANTHROPIC, false));
  }

  @Test
  void anthropicStreamErrorEventNeverCarriesTheCredential() {
    answers(200, "text/event-stream", "event: error\ndata: " + ANTHROPIC_ERROR + "\n\n");
    assertMasked(clientSees(Provider.ANTHROPIC, true));
  }

  private static final String GEMINI_ERROR =
      "{\"error\":{\"code\":400,\"message\":\"bad " + KEY + "\",\"status\":\"" + KEY + "\"}}";

  @Test
  void geminiErrorFieldsAndHeadersNeverCarryTheCredential() {
    answers(400, "application/json", GEMINI_ERROR);
    assertMasked(clientSees(Provider.GEMINI, false));
  }

  @Test
  void geminiStreamErrorEventNeverCarriesTheCredential() {
    answers(200, "text/event-stream", "data: " + GEMINI_ERROR + "\n\n");
    assertMasked(clientSees(Provider.GEMINI, true));
  }

  @Test
  void aRetryAfterInItsOwnGrammarStillReachesTheClient() {
    upstream.stubFor(any(anyUrl()).willReturn(aResponse().withStatus(429).withHeader("Content-Type", "application/json")
        .withHeader("Retry-After", "7").withBody("{\"error\":{\"message\":\"slow down\"}}")));
    assertThat(clientSees(Provider.OPENAI, false)).contains("Retry-After=7");
  }

  /**
   * Everything the client receives for a call of {@code operation} that the gateway treats as
   * answered or failed alike: a whole answer's body, every stream chunk's bytes, and the envelope
   * of any failure (with its headers).
   */
  private String clientReceives(Provider provider, Operation operation, String body, boolean stream) {
    var forwarded = ForwardedBody.of(body.getBytes(StandardCharsets.UTF_8));
    var request = stream ? ProviderRequest.streamed(operation, forwarded) : ProviderRequest.complete(operation, forwarded);
    var seen = new StringBuilder();
    try {
      ProviderAnswer answer = providers.call(deployment(provider), request);
      if (answer instanceof ProviderResponse whole) {
        seen.append(new String(whole.body(), StandardCharsets.UTF_8));
      } else if (answer instanceof ProviderStream events) {
        try (events) {
          for (StreamChunk chunk = events.next(); chunk != null; chunk = events.next()) {
            seen.append(new String(chunk.json(), StandardCharsets.UTF_8)).append('\n');
          }
        }
      }
    } catch (GatewayException failed) {
      GatewayResponse response = ErrorEnvelope.response(failed);
      seen.append(response.headers()).append('\n').append(response.bodyText());
    }
    return seen.toString();
  }

  private static final String RESPONSES_BODY = "{\"model\":\"m\",\"input\":\"hi\"}";

  @Test
  void aStreamedResponsesFailedEventNeverCarriesTheCredential() {
    answers(200, "text/event-stream", "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":"
        + "{\"status\":\"failed\",\"error\":{\"code\":\"" + KEY + "\",\"message\":\"f " + KEY + "\"}}}\n\n");
    assertMasked(clientReceives(Provider.OPENAI, Operation.RESPONSES, RESPONSES_BODY, true));
  }

  @Test
  void aWholeFailedResponseNeverCarriesTheCredential() {
    answers(200, "application/json", "{\"object\":\"response\",\"status\":\"failed\",\"error\":{\"code\":\"" + KEY
        + "\",\"message\":\"f " + KEY + "\"},\"output\":[],\"usage\":{\"input_tokens\":3,\"output_tokens\":0,\"total_tokens\":3}}");
    assertMasked(clientReceives(Provider.OPENAI, Operation.RESPONSES, RESPONSES_BODY, false));
  }

  @Test
  void anUnnamedResponsesStreamEventWithAnErrorNeverCarriesTheCredential() {
    answers(200, "text/event-stream", "data: {\"error\":{\"message\":\"" + KEY + "\",\"param\":\"" + KEY + "\"}}\n\n"
        + "data: {\"type\":\"response.completed\",\"response\":{\"status\":\"completed\"}}\n\n");
    assertMasked(clientReceives(Provider.OPENAI, Operation.RESPONSES, RESPONSES_BODY, true));
  }

  @Test
  void aSuccessfulChatCompletionEchoingTheCredentialKeepsItsUsageAndMasksIt() {
    answers(200, "application/json", "{\"id\":\"c\",\"object\":\"chat.completion\",\"model\":\"m\",\"choices\":[{\"index\":0,"
        + "\"message\":{\"role\":\"assistant\",\"content\":\"your key is " + KEY + "\"},\"finish_reason\":\"stop\"}],"
        + "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":4,\"total_tokens\":9}}");
    var forwarded = ForwardedBody.of("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}".getBytes(StandardCharsets.UTF_8));
    var answer = (ProviderResponse) providers.call(deployment(Provider.OPENAI), ProviderRequest.complete(Operation.CHAT_COMPLETIONS, forwarded));
    assertMasked(new String(answer.body(), StandardCharsets.UTF_8));
    assertThat(answer.usage()).as("usage is still read from the masked answer").isNotNull();
    assertThat(answer.usage().totalTokens()).isEqualTo(9);
  }

  @Test
  void anAnthropicMessagesPassThroughEventNeverCarriesTheCredential() {
    answers(200, "text/event-stream",
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
            + "\"model\":\"m\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n"
            + "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
            + "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"key " + KEY + "\"}}\n\n"
            + "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
            + "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":4}}\n\n"
            + "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    String body = "{\"model\":\"m\",\"max_tokens\":10,\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    assertMasked(clientReceives(Provider.ANTHROPIC, Operation.MESSAGES, body, true));
  }
  /**
   * The credential as a JSON string may spell it: each character as {@code \\uXXXX}, {@code /} as
   * {@code \\/}. What the client reads (JSON decoded) must not hold it, whichever characters are
   * escaped, in a whole answer and in each stream event, on every path that passes bytes through.
   */
  private static final String SLASHED_KEY = "sk-echoed/provider/credential-9f3a";

  /** {@code key} with the characters at {@code escaped} (indexes; none given: all) written as JSON escapes. */
  private static String escapedIn(String key, int... escaped) {
    var out = new StringBuilder();
    for (int i = 0; i < key.length(); i++) {
      char c = key.charAt(i);
      final int at = i;
      if (escaped.length == 0 || java.util.Arrays.stream(escaped).anyMatch(index -> index == at)) {
        out.append(c == '/' ? "\\/" : String.format("\\u%04x", (int) c));
      } else {
        out.append(c);
      }
    }
    return out.toString();
  }

  /** The spellings tried: one character escaped (the dash, a letter), every character, every slash. */
  private static java.util.List<String> spellings(String key) {
    return java.util.List.of(escapedIn(key, 2), escapedIn(key, 5), escapedIn(key),
        key.replace("/", "\\/"), escapedIn(key, 2).replace("/", "\\/"));
  }

  /** What a client decoding the JSON of {@code seen} reads: every escape in it decoded. */
  private static String decoded(String seen) {
    var matcher = java.util.regex.Pattern.compile("\\\\(u[0-9a-fA-F]{4}|/)").matcher(seen);
    return matcher.replaceAll(match -> java.util.regex.Matcher.quoteReplacement(match.group(1).equals("/") ? "/"
        : String.valueOf((char) Integer.parseInt(match.group(1).substring(1), 16))));
  }

  private Deployment deploymentWithKey(Provider provider, String key) {
    URI base = aigw.core.config.ModelList.apiBase(provider, upstream.baseUrl() + (provider == Provider.OPENAI ? "/v1" : ""), "test");
    return new Deployment("m", provider, "m", base, key, "x", Duration.ofSeconds(5));
  }

  @Test
  void aSuccessfulChatCompletionSpellingTheCredentialWithJsonEscapesMasksIt() throws Exception {
    for (String key : java.util.List.of(KEY, SLASHED_KEY)) {
      for (String spelled : spellings(key)) {
        upstream.resetAll();
        answers(200, "application/json", "{\"id\":\"c\",\"object\":\"chat.completion\",\"model\":\"m\",\"choices\":[{\"index\":0,"
            + "\"message\":{\"role\":\"assistant\",\"content\":\"your key\\nis " + spelled + " \\u00e9t\u00e9\"},\"finish_reason\":\"stop\"}],"
            + "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":4,\"total_tokens\":9}}");
        var forwarded = ForwardedBody.of("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}".getBytes(StandardCharsets.UTF_8));
        var answer = (ProviderResponse) providers.call(deploymentWithKey(Provider.OPENAI, key),
            ProviderRequest.complete(Operation.CHAT_COMPLETIONS, forwarded));
        String content = aigw.core.json.Json.MAPPER.readTree(answer.body()).at("/choices/0/message/content").asText();
        assertThat(content).as(spelled).doesNotContain(key).isEqualTo("your key\nis sk-...9f3a \u00e9t\u00e9");
        assertThat(answer.usage().totalTokens()).isEqualTo(9);
      }
    }
  }

  /**
   * A tool call's {@code arguments} is a string of JSON: a credential in it arrives escaped twice
   * ({@code {\"k\":\"\\u0073\\u006b...\"}}), and a client that parses the arguments reads it plainly.
   */
  @Test
  void aToolCallsArgumentsSpellingTheCredentialEscapedTwiceAreMasked() throws Exception {
    for (String key : java.util.List.of(KEY, SLASHED_KEY)) {
      for (String spelled : spellings(key)) {
        upstream.resetAll();
        String arguments = "{\"k\":\"" + spelled + "\"}"; // JSON text, then quoted as a string below
        String argumentsLiteral = arguments.replace("\\", "\\\\").replace("\"", "\\\"");
        answers(200, "application/json", "{\"id\":\"c\",\"object\":\"chat.completion\",\"model\":\"m\",\"choices\":[{\"index\":0,"
            + "\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"t\",\"type\":\"function\","
            + "\"function\":{\"name\":\"f\",\"arguments\":\"" + argumentsLiteral + "\"}}]},\"finish_reason\":\"tool_calls\"}],"
            + "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":4,\"total_tokens\":9}}");
        var forwarded = ForwardedBody.of("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}".getBytes(StandardCharsets.UTF_8));
        var answer = (ProviderResponse) providers.call(deploymentWithKey(Provider.OPENAI, key),
            ProviderRequest.complete(Operation.CHAT_COMPLETIONS, forwarded));
        String argumentsSeen = aigw.core.json.Json.MAPPER.readTree(answer.body()).at("/choices/0/message/tool_calls/0/function/arguments").asText();
        String valueSeen = aigw.core.json.Json.MAPPER.readTree(argumentsSeen).get("k").asText();
        assertThat(valueSeen).as(spelled).doesNotContain(key).isEqualTo("sk-...9f3a");
      }
    }
  }

  @Test
  void aStreamedChunkSpellingTheCredentialWithJsonEscapesIsMasked() {
    for (String key : java.util.List.of(KEY, SLASHED_KEY)) {
      for (String spelled : spellings(key)) {
        upstream.resetAll();
        answers(200, "text/event-stream", "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,"
            + "\"delta\":{\"content\":\"key " + spelled + "\"},\"finish_reason\":null}]}\n\ndata: [DONE]\n\n");
        String body = "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        var forwarded = ForwardedBody.of(body.getBytes(StandardCharsets.UTF_8));
        var seen = new StringBuilder();
        try (var events = (ProviderStream) providers.call(deploymentWithKey(Provider.OPENAI, key),
            ProviderRequest.streamed(Operation.CHAT_COMPLETIONS, forwarded))) {
          for (StreamChunk chunk = events.next(); chunk != null; chunk = events.next()) {
            seen.append(new String(chunk.json(), StandardCharsets.UTF_8)).append('\n');
          }
        }
        assertThat(decoded(seen.toString())).as(spelled).doesNotContain(key).contains("key sk-...9f3a");
      }
    }
  }

  @Test
  void anAnthropicPassThroughEventSpellingTheCredentialWithJsonEscapesIsMasked() {
    for (String spelled : spellings(KEY)) {
      upstream.resetAll();
      answers(200, "text/event-stream",
          "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
              + "\"model\":\"m\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n"
              + "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"key "
              + spelled + "\"}}\n\n"
              + "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":4}}\n\n"
              + "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
      String body = "{\"model\":\"m\",\"max_tokens\":10,\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
      assertMasked(decoded(clientReceives(Provider.ANTHROPIC, Operation.MESSAGES, body, true)));
    }
  }

  @Test
  void aWholeResponsesAnswerSpellingTheCredentialWithJsonEscapesIsMasked() {
    for (String spelled : spellings(KEY)) {
      upstream.resetAll();
      answers(200, "application/json", "{\"object\":\"response\",\"status\":\"completed\",\"output\":[{\"type\":\"message\","
          + "\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"k " + spelled + "\"}]}],"
          + "\"usage\":{\"input_tokens\":3,\"output_tokens\":1,\"total_tokens\":4}}");
      assertMasked(decoded(clientReceives(Provider.OPENAI, Operation.RESPONSES, RESPONSES_BODY, false)));
    }
  }
}

package aigw.core.providers.gemini;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.config.Deployment;
import aigw.core.config.Provider;
import aigw.core.errors.ErrorEnvelope;
import aigw.core.errors.GatewayException;
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
import aigw.core.testing.TranslatorFixtures;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpHeaders;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link GeminiTranslator} against the JSON fixtures beside it in src/test/resources
 * (aigw/core/providers/gemini/), shaped after Google's API reference (ai.google.dev/api/generate-content):
 * OpenAI requests in → Gemini requests out, Gemini answers in → OpenAI answers out, Gemini event
 * streams in → OpenAI chunks out, Gemini errors in → the client's error out. Pure: no HTTP. Time is
 * fixed at 1700000000 and generated ids count up (id1, id2...).
 */
class GeminiTranslatorFixturesTest {
  private static final String KEY = "gemini-test-key-not-a-secret-0001";
  private static final Deployment GEMINI =
      new Deployment("public-name", Provider.GEMINI, "gemini-2.5-flash", URI.create("https://generativelanguage.googleapis.com"), KEY, "os.environ/GEMINI_API_KEY", Duration.ofSeconds(7));

  private final AtomicInteger ids = new AtomicInteger();
  private final GeminiTranslator translator =
      new GeminiTranslator(Clock.fixed(Instant.ofEpochSecond(1_700_000_000L), ZoneOffset.UTC), () -> "id" + ids.incrementAndGet());

  static Stream<Arguments> requests() throws Exception {
    return cases("requests.json");
  }

  static Stream<Arguments> responses() throws Exception {
    return cases("responses.json");
  }

  static Stream<Arguments> errors() throws Exception {
    return cases("errors.json");
  }

  static Stream<Arguments> streams() throws Exception {
    return cases("streams.json");
  }

  private static Stream<Arguments> cases(String file) throws Exception {
    return TranslatorFixtures.cases("gemini", file);
  }

  private static ProviderRequest chat(String body, boolean stream) {
    return new ProviderRequest(Operation.CHAT_COMPLETIONS, ForwardedBody.of(body.getBytes(StandardCharsets.UTF_8)), stream);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("requests")
  void requestInRequestOut(String name, JsonNode fixture) throws Exception {
    ProviderRequest request = chat(Json.string(fixture.get("client_body")), fixture.path("stream").asBoolean());
    if (fixture.has("expected_error")) {
      assertThatThrownBy(() -> translator.request(GEMINI, request))
          .isInstanceOfSatisfying(GatewayException.class, e -> TranslatorFixtures.assertEnvelope(e, fixture.get("expected_error")));
      return;
    }
    UpstreamCall call = translator.request(GEMINI, request);
    JsonNode expected = fixture.get("expected");
    assertThat(call.uri()).hasToString(expected.get("url").asText());
    assertThat(call.uri().toString()).as("the key never in the URL").doesNotContain(KEY);
    assertThat(call.headers()).isEqualTo(Json.MAPPER.convertValue(expected.get("headers"), Map.class));
    assertThat(Json.MAPPER.readTree(call.body())).isEqualTo(expected.get("body"));
    assertThat(call.timeout()).isEqualTo(Duration.ofSeconds(7));
    assertThat(call.secrets()).containsExactly(KEY);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("responses")
  void responseInResponseOut(String name, JsonNode fixture) throws Exception {
    byte[] body = Json.bytes(fixture.get("body"));
    var response = translator.response(GEMINI, chat("{\"messages\":[]}", false), body);
    assertThat(Json.MAPPER.readTree(response.body())).isEqualTo(fixture.get("expected"));
    assertThat(response.usage()).isEqualTo(TranslatorFixtures.usage(fixture.get("expected").get("usage")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("errors")
  void errorInErrorOut(String name, JsonNode fixture) {
    var headers = HttpHeaders.of(
        Json.MAPPER.convertValue(fixture.has("headers") ? fixture.get("headers") : Json.MAPPER.createObjectNode(), new com.fasterxml.jackson.core.type.TypeReference<Map<String, String>>() {})
            .entrySet().stream().collect(Collectors.toMap(Map.Entry::getKey, e -> List.of(e.getValue()))),
        (a, b) -> true);
    JsonNode body = fixture.get("body");
    byte[] bytes = body.isTextual() ? body.asText().getBytes(StandardCharsets.UTF_8) : Json.bytes(body);
    UpstreamFailed failure = translator.error(GEMINI, fixture.get("status").asInt(), headers, bytes);
    JsonNode expected = fixture.get("expected");
    TranslatorFixtures.assertEnvelope(failure, expected);
    assertThat(ErrorEnvelope.of(failure).error().code()).isEqualTo(textOrNull(expected.get("code")));
    assertThat(failure.retryAfter()).isEqualTo(textOrNull(expected.get("retry_after")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("streams")
  void streamInChunksOut(String name, JsonNode fixture) throws Exception {
    var events = new ServerSentEvents(new ByteArrayInputStream(fixture.get("sse").asText().getBytes(StandardCharsets.UTF_8)));
    StreamTranslation translation = translator.stream(GEMINI, chat("{\"messages\":[]}", true));
    var chunks = new ArrayList<StreamChunk>();
    GatewayException failure = null;
    ServerSentEvent event;
    while (!translation.complete() && (event = events.next()) != null) {
      try {
        chunks.addAll(translation.onEvent(event));
      } catch (GatewayException e) {
        failure = e;
        break;
      }
    }
    assertChunks(chunks, fixture.get("expected_chunks"));
    JsonNode end = fixture.get("expected_end");
    if (end.isTextual() && end.asText().equals("complete")) {
      assertThat(failure).isNull();
      assertThat(translation.complete()).isTrue();
    } else if (end.isTextual() && end.asText().equals("cut_off")) {
      assertThat(failure).isNull();
      assertThat(translation.complete()).as("no finishReason: the stream was cut off").isFalse();
    } else {
      assertThat(failure).as("the error event is thrown").isNotNull();
      TranslatorFixtures.assertEnvelope(failure, end.get("error"));
    }
  }

  /**
   * An {@code api_base} with or without Google's version segment (as copied from Google's docs, as
   * LiteLLM takes it), with or without a trailing slash, reaches the same versioned URL: the version
   * is never doubled.
   */
  @ParameterizedTest(name = "{0}")
  @org.junit.jupiter.params.provider.CsvSource({
    "https://generativelanguage.googleapis.com, https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent",
    "https://generativelanguage.googleapis.com/, https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent",
    "https://generativelanguage.googleapis.com/v1beta, https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent",
    "https://generativelanguage.googleapis.com/v1beta/, https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent",
    "https://generativelanguage.googleapis.com/v1, https://generativelanguage.googleapis.com/v1/models/gemini-2.5-flash:generateContent",
    "https://proxy.example/google/, https://proxy.example/google/v1beta/models/gemini-2.5-flash:generateContent",
    "https://proxy.example/google/v1beta//, https://proxy.example/google/v1beta/models/gemini-2.5-flash:generateContent",
  })
  void anApiBaseWithOrWithoutItsVersionReachesTheVersionOnce(String apiBase, String expectedUrl) {
    var deployment = new Deployment("public-name", Provider.GEMINI, "gemini-2.5-flash", URI.create(apiBase), KEY, "os.environ/GEMINI_API_KEY", Duration.ofSeconds(7));
    var body = "{\"model\":\"public-name\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";
    assertThat(translator.request(deployment, chat(body, false)).uri()).hasToString(expectedUrl);
    assertThat(translator.request(deployment, chat(body, true)).uri()).hasToString(expectedUrl.replace(":generateContent", ":streamGenerateContent?alt=sse"));
  }

  /** streamGenerateContent without alt=sse answers a JSON array of responses: relayed as the same chunks. */
  @Test
  void aWholeJsonArrayAnswerToAStreamRequestBecomesTheSameChunks() throws Exception {
    JsonNode fixture = cases("streams.json").map(a -> (JsonNode) a.get()[1]).filter(f -> f.get("name").asText().equals("text in three events, usage last")).findFirst().orElseThrow();
    var array = Json.MAPPER.createArrayNode();
    var events = new ServerSentEvents(new ByteArrayInputStream(fixture.get("sse").asText().getBytes(StandardCharsets.UTF_8)));
    ServerSentEvent event;
    while ((event = events.next()) != null) {
      array.add(Json.MAPPER.readTree(event.data()));
    }
    assertChunks(translator.chunksOf(GEMINI, chat("{\"messages\":[]}", true), Json.bytes(array)), fixture.get("expected_chunks"));
  }

  private static void assertChunks(List<StreamChunk> chunks, JsonNode expectedChunks) throws Exception {
    assertThat(chunks).hasSize(expectedChunks.size());
    for (int i = 0; i < chunks.size(); i++) {
      JsonNode expected = expectedChunks.get(i);
      StreamChunk chunk = chunks.get(i);
      assertThat(Json.MAPPER.readTree(chunk.json())).as("chunk %d", i).isEqualTo(expected.get("json"));
      assertThat(chunk.usage()).as("usage of chunk %d", i).isEqualTo(expected.get("json").has("usage") ? TranslatorFixtures.usage(expected.get("json").get("usage")) : null);
      assertThat(chunk.usageOnly()).as("usage-only chunk %d", i).isEqualTo(expected.get("json").has("usage"));
      assertThat(chunk.generatedChars()).as("generated characters of chunk %d", i).isEqualTo(expected.get("generated_chars").asLong());
    }
  }



  private static String textOrNull(JsonNode node) {
    return node == null || node.isNull() ? null : node.asText();
  }

  @ParameterizedTest(name = "{0}")
  @org.junit.jupiter.params.provider.ValueSource(strings = {"{}", "{\"candidates\":{\"x\":1}}", "{\"candidates\":[]}", "{\"candidates\":[5]}"})
  void anAnswerWithNoCandidateAndNoBlockedPromptIsTheProvidersFailureNotA200(String body) {
    assertThatThrownBy(() -> translator.response(GEMINI, chat("{\"messages\":[]}", false), body.getBytes(java.nio.charset.StandardCharsets.UTF_8)))
        .isInstanceOfSatisfying(aigw.core.errors.UpstreamUnreachable.class, e -> {
          assertThat(aigw.core.errors.ErrorEnvelope.status(e)).isEqualTo(502);
          assertThat(e.getMessage()).isEqualTo("The provider of 'public-name' sent an answer with no candidates and no blocked prompt.");
        });
  }
}

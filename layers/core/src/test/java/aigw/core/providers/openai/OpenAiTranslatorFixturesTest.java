package aigw.core.providers.openai;

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
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link OpenAiTranslator} against the JSON fixtures beside it in src/test/resources
 * (aigw/core/providers/openai/): requests in → requests out, answers in → answers out, event
 * streams in → chunks out, error answers in → the client's error out. Pure: no HTTP.
 */
class OpenAiTranslatorFixturesTest {
  private final OpenAiTranslator translator = new OpenAiTranslator();

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
    return TranslatorFixtures.cases("openai", file);
  }

  private static Deployment deployment(JsonNode d) {
    String apiKey = d.get("api_key").isNull() ? null : d.get("api_key").asText();
    return new Deployment(
        "public-name", Provider.forPrefix(d.get("provider").asText()).orElseThrow(), d.get("upstream_model").asText(),
        URI.create(d.get("api_base").asText()), apiKey, apiKey == null ? null : "os.environ/KEY", Duration.ofSeconds(7));
  }

  private static final Deployment OPENAI =
      new Deployment("public-name", Provider.OPENAI, "gpt-4o", URI.create("https://api.openai.com/v1"), "sk-provider-0001", "os.environ/KEY", Duration.ofSeconds(7));

  private static ProviderRequest chat(boolean stream) {
    var body = ForwardedBody.of("{\"model\":\"public-name\",\"messages\":[]}".getBytes(StandardCharsets.UTF_8));
    return new ProviderRequest(Operation.CHAT_COMPLETIONS, body, stream);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("requests")
  void requestInRequestOut(String name, JsonNode fixture) {
    var request =
        new ProviderRequest(
            Operation.valueOf(fixture.get("operation").asText()),
            ForwardedBody.of(fixture.get("client_body").asText().getBytes(StandardCharsets.UTF_8)),
            fixture.get("stream").asBoolean());
    Deployment deployment = deployment(fixture.get("deployment"));
    UpstreamCall call = translator.request(deployment, request);
    JsonNode expected = fixture.get("expected");
    assertThat(call.uri()).hasToString(expected.get("url").asText());
    assertThat(call.headers()).isEqualTo(Json.MAPPER.convertValue(expected.get("headers"), Map.class));
    assertThat(new String(call.body(), StandardCharsets.UTF_8)).isEqualTo(expected.get("body").asText());
    assertThat(call.timeout()).isEqualTo(Duration.ofSeconds(7));
    assertThat(call.secrets()).isEqualTo(deployment.apiKey() == null ? List.of() : List.of(deployment.apiKey()));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("responses")
  void responseInResponseOut(String name, JsonNode fixture) {
    byte[] body = fixture.get("body").asText().getBytes(StandardCharsets.UTF_8);
    // "operation": the request the answer is to (CHAT_COMPLETIONS unless the fixture says).
    var request = new ProviderRequest(
        Operation.valueOf(fixture.path("operation").asText("CHAT_COMPLETIONS")), chat(false).body(), false);
    if (fixture.has("expected_error")) {
      JsonNode expected = fixture.get("expected_error");
      assertThatThrownBy(() -> translator.response(OPENAI, request, body))
          .isInstanceOfSatisfying(GatewayException.class, e -> TranslatorFixtures.assertEnvelope(e, expected));
      return;
    }
    var response = translator.response(OPENAI, request, body);
    assertThat(response.body()).as("passed untouched").isEqualTo(body);
    assertThat(response.usage()).isEqualTo(TranslatorFixtures.usage(fixture.get("expected_usage")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("errors")
  void errorInErrorOut(String name, JsonNode fixture) {
    var headers = HttpHeaders.of(
        Json.MAPPER.convertValue(fixture.get("headers"), new com.fasterxml.jackson.core.type.TypeReference<Map<String, String>>() {})
            .entrySet().stream().collect(java.util.stream.Collectors.toMap(Map.Entry::getKey, e -> List.of(e.getValue()))),
        (a, b) -> true);
    UpstreamFailed failure = translator.error(OPENAI, fixture.get("status").asInt(), headers, fixture.get("body").asText().getBytes(StandardCharsets.UTF_8));
    JsonNode expected = fixture.get("expected");
    TranslatorFixtures.assertEnvelope(failure, expected);
    assertThat(ErrorEnvelope.of(failure).error().param()).isEqualTo(textOrNull(expected.get("param")));
    assertThat(ErrorEnvelope.of(failure).error().code()).isEqualTo(textOrNull(expected.get("code")));
    assertThat(failure.retryAfter()).isEqualTo(textOrNull(expected.get("retry_after")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("streams")
  void streamInChunksOut(String name, JsonNode fixture) throws Exception {
    var events = new ServerSentEvents(new ByteArrayInputStream(fixture.get("sse").asText().getBytes(StandardCharsets.UTF_8)));
    StreamTranslation translation = translator.stream(OPENAI, chat(true));
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
    JsonNode expectedChunks = fixture.get("expected_chunks");
    assertThat(chunks).hasSize(expectedChunks.size());
    for (int i = 0; i < chunks.size(); i++) {
      JsonNode expected = expectedChunks.get(i);
      StreamChunk chunk = chunks.get(i);
      assertThat(new String(chunk.json(), StandardCharsets.UTF_8)).as("chunk %d, byte for byte", i).isEqualTo(expected.get("json").asText());
      assertThat(chunk.usage()).as("usage of chunk %d", i).isEqualTo(expected.get("usage").isNull() ? null : TranslatorFixtures.usage(expected.get("usage")));
      assertThat(chunk.usageOnly()).as("usage-only chunk %d", i).isEqualTo(expected.get("usage_only").asBoolean());
      assertThat(chunk.generatedChars()).as("generated characters of chunk %d", i).isEqualTo(expected.get("generated_chars").asLong());
    }
    JsonNode end = fixture.get("expected_end");
    if (end.isTextual() && end.asText().equals("complete")) {
      assertThat(failure).isNull();
      assertThat(translation.complete()).isTrue();
    } else if (end.isTextual() && end.asText().equals("cut_off")) {
      assertThat(failure).isNull();
      assertThat(translation.complete()).as("no [DONE]: the stream was cut off").isFalse();
    } else {
      assertThat(failure).as("the error event is thrown").isNotNull();
      TranslatorFixtures.assertEnvelope(failure, end.get("error"));
    }
  }



  private static String textOrNull(JsonNode node) {
    return node == null || node.isNull() ? null : node.asText();
  }
}

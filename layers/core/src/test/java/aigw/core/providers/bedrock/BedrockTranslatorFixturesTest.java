package aigw.core.providers.bedrock;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.config.Deployment;
import aigw.core.config.Provider;
import aigw.core.errors.ErrorEnvelope;
import aigw.core.errors.GatewayException;
import aigw.core.json.Json;
import aigw.core.providers.ForwardedBody;
import aigw.core.providers.Operation;
import aigw.core.providers.ProviderRequest;
import aigw.core.providers.StreamChunk;
import aigw.core.providers.http.UpstreamCall;
import aigw.core.testing.TranslatorFixtures;
import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpHeaders;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link BedrockTranslator} against the JSON fixtures beside it in src/test/resources
 * (aigw/core/providers/bedrock/), whose Bedrock sides have the shapes of the Bedrock Runtime API
 * model (aws-sdk-java-v2 services/bedrockruntime service-2.json) and the Converse API reference's
 * examples: OpenAI requests in → Converse requests out, Converse answers in → chat completions out,
 * ConverseStream events in → chunks out, Bedrock's exceptions in → the client's error out. Pure: no
 * HTTP, no signing, no event stream framing (BedrockEndToEndTest in local/ covers those).
 */
class BedrockTranslatorFixturesTest {
  static final long CREATED = 1_764_900_000L;
  static final String REQUEST_ID = "7f1e6c2a-5a1b-4c7e-9d3b-2f0e8a1b3c4d";

  private final BedrockTranslator translator = new BedrockTranslator(InstantSource.fixed(Instant.ofEpochSecond(CREATED)));

  static final Deployment CLAUDE = deployment("anthropic.claude-3-5-sonnet-20240620-v1:0");

  static Deployment deployment(String modelId) {
    return new Deployment(
        "claude-bedrock", Provider.BEDROCK, modelId, URI.create("https://bedrock-runtime.us-east-1.amazonaws.com"), null, null,
        Duration.ofSeconds(7), null, null, null, "us-east-1");
  }

  static Stream<Arguments> requests() throws Exception {
    return TranslatorFixtures.cases("bedrock", "requests.json");
  }

  static Stream<Arguments> responses() throws Exception {
    return TranslatorFixtures.cases("bedrock", "responses.json");
  }

  static Stream<Arguments> errors() throws Exception {
    return TranslatorFixtures.cases("bedrock", "errors.json");
  }

  static Stream<Arguments> streams() throws Exception {
    return TranslatorFixtures.cases("bedrock", "streams.json");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("requests")
  void requestInRequestOut(String name, JsonNode fixture) throws Exception {
    var request =
        new ProviderRequest(
            Operation.valueOf(fixture.path("operation").asText("CHAT_COMPLETIONS")),
            ForwardedBody.of(Json.bytes(fixture.get("client_body"))),
            fixture.path("stream").asBoolean());
    Deployment deployment = deployment(fixture.path("deployment").path("upstream_model").asText(CLAUDE.upstreamModel()));
    if (fixture.has("expected_error")) {
      assertThatThrownBy(() -> translator.request(deployment, request))
          .isInstanceOfSatisfying(GatewayException.class, e -> TranslatorFixtures.assertEnvelope(e, fixture.get("expected_error")));
      return;
    }
    UpstreamCall call = translator.request(deployment, request);
    JsonNode expected = fixture.get("expected");
    assertThat(call.uri()).hasToString(expected.get("url").asText());
    assertThat(call.headers()).isEqualTo(Json.MAPPER.convertValue(expected.get("headers"), Map.class));
    assertThat(Json.MAPPER.readTree(call.body())).isEqualTo(expected.get("body"));
    assertThat(call.timeout()).isEqualTo(Duration.ofSeconds(7));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("responses")
  void responseInResponseOut(String name, JsonNode fixture) throws Exception {
    byte[] body = Json.bytes(fixture.get("body"));
    if (fixture.has("expected_error")) {
      assertThatThrownBy(() -> translator.response(CLAUDE, REQUEST_ID, body))
          .isInstanceOfSatisfying(GatewayException.class, e -> TranslatorFixtures.assertEnvelope(e, fixture.get("expected_error")));
      return;
    }
    var response = translator.response(CLAUDE, REQUEST_ID, body);
    assertThat(Json.MAPPER.readTree(response.body())).isEqualTo(fixture.get("expected"));
    assertThat(response.usage()).isEqualTo(TranslatorFixtures.usage(fixture.get("expected").get("usage")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("errors")
  void errorInErrorOut(String name, JsonNode fixture) {
    Map<String, List<String>> headerMap = new HashMap<>();
    fixture.path("headers").fields().forEachRemaining(e -> headerMap.put(e.getKey(), List.of(e.getValue().asText())));
    var headers = HttpHeaders.of(headerMap, (a, b) -> true);
    byte[] body = fixture.get("body").isTextual()
        ? fixture.get("body").asText().getBytes(StandardCharsets.UTF_8)
        : Json.bytes(fixture.get("body"));
    GatewayException failure = translator.error(CLAUDE, fixture.get("status").asInt(), headers, body);
    JsonNode expected = fixture.get("expected");
    TranslatorFixtures.assertEnvelope(failure, expected);
    assertThat(ErrorEnvelope.of(failure).error().code()).isEqualTo(expected.get("code").asText());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("streams")
  void streamInChunksOut(String name, JsonNode fixture) throws Exception {
    BedrockTranslator.EventsToChunks translation = translator.stream(CLAUDE, REQUEST_ID);
    var chunks = new ArrayList<StreamChunk>();
    GatewayException failure = null;
    for (JsonNode event : fixture.get("events")) {
      if (translation.complete()) {
        break;
      }
      byte[] payload = Json.bytes(event.get("payload"));
      try {
        if (event.has("exception")) {
          throw translator.streamException(CLAUDE, event.get("exception").asText(), payload);
        }
        chunks.addAll(translation.onEvent(event.get("type").asText(), payload));
      } catch (GatewayException e) {
        failure = e;
        break;
      }
    }
    JsonNode expectedChunks = fixture.get("expected_chunks");
    for (int i = 0; i < Math.min(chunks.size(), expectedChunks.size()); i++) {
      JsonNode expected = expectedChunks.get(i);
      StreamChunk chunk = chunks.get(i);
      assertThat(Json.MAPPER.readTree(chunk.json())).as("chunk %d", i).isEqualTo(expected.get("json"));
      assertThat(chunk.usage()).as("usage of chunk %d", i).isEqualTo(expected.has("usage") ? TranslatorFixtures.usage(expected.get("usage")) : null);
      assertThat(chunk.usageOnly()).as("usage-only chunk %d", i).isEqualTo(expected.path("usage_only").asBoolean());
      assertThat(chunk.generatedChars()).as("generated characters of chunk %d", i).isEqualTo(expected.path("generated_chars").asLong());
    }
    assertThat(chunks).hasSize(expectedChunks.size());
    JsonNode end = fixture.get("expected_end");
    if (end.isTextual() && end.asText().equals("complete")) {
      assertThat(failure).isNull();
      assertThat(translation.complete()).isTrue();
    } else if (end.isTextual() && end.asText().equals("cut_off")) {
      assertThat(failure).isNull();
      assertThat(translation.complete()).isFalse();
      assertThat(translation.stopped()).as("no messageStop: the stream was cut off").isFalse();
    } else {
      assertThat(failure).as("the exception event is thrown").isNotNull();
      TranslatorFixtures.assertEnvelope(failure, end.get("error"));
    }
  }
}

package aigw.core.providers.anthropic;

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
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link AnthropicTranslator} against the JSON fixtures beside it in src/test/resources
 * (aigw/core/providers/anthropic/), whose Anthropic sides are the shapes of Anthropic's own API
 * reference examples (https://docs.anthropic.com/en/api/messages, .../messages-streaming,
 * .../errors): OpenAI requests in → Messages requests out, messages in → chat completions out, event
 * streams in → chunks out, error answers in → the client's error out. Pure: no HTTP.
 */
class AnthropicTranslatorFixturesTest {
  /** {@code created} of every answer: Anthropic's carry no time, the gateway's clock gives it. */
  static final long CREATED = 1_764_900_000L;

  private final AnthropicTranslator translator = new AnthropicTranslator(InstantSource.fixed(Instant.ofEpochSecond(CREATED)));

  static final Deployment CLAUDE =
      new Deployment(
          "claude", Provider.ANTHROPIC, "claude-sonnet-4-5", URI.create("https://api.anthropic.com"),
          "sk-ant-provider-0001", "os.environ/ANTHROPIC_API_KEY", Duration.ofSeconds(7));

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
    return TranslatorFixtures.cases("anthropic", file);
  }

  private static Deployment deployment(JsonNode d) {
    if (d == null) {
      return CLAUDE;
    }
    String apiKey = d.path("api_key").isNull() ? null : d.path("api_key").asText(CLAUDE.apiKey());
    return new Deployment(
        "claude", Provider.ANTHROPIC, d.path("upstream_model").asText(CLAUDE.upstreamModel()),
        URI.create(d.path("api_base").asText(CLAUDE.apiBase().toString())), apiKey, apiKey == null ? null : "os.environ/ANTHROPIC_API_KEY",
        Duration.ofSeconds(7));
  }

  private static ProviderRequest chat(boolean stream) {
    var body = ForwardedBody.of("{\"model\":\"claude\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}".getBytes(StandardCharsets.UTF_8));
    return new ProviderRequest(Operation.CHAT_COMPLETIONS, body, stream);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("requests")
  void requestInRequestOut(String name, JsonNode fixture) throws Exception {
    var request =
        new ProviderRequest(
            Operation.valueOf(fixture.path("operation").asText("CHAT_COMPLETIONS")),
            ForwardedBody.of(Json.bytes(fixture.get("client_body"))),
            fixture.path("stream").asBoolean());
    Deployment deployment = deployment(fixture.get("deployment"));
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
    assertThat(call.secrets()).isEqualTo(deployment.apiKey() == null ? List.of() : List.of(deployment.apiKey()));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("responses")
  void responseInResponseOut(String name, JsonNode fixture) throws Exception {
    byte[] body = Json.bytes(fixture.get("body"));
    if (fixture.has("expected_error")) {
      assertThatThrownBy(() -> translator.response(CLAUDE, chat(false), body))
          .isInstanceOfSatisfying(GatewayException.class, e -> TranslatorFixtures.assertEnvelope(e, fixture.get("expected_error")));
      return;
    }
    var response = translator.response(CLAUDE, chat(false), body);
    assertThat(Json.MAPPER.readTree(response.body())).isEqualTo(fixture.get("expected"));
    assertThat(response.usage()).isEqualTo(TranslatorFixtures.usage(fixture.get("expected").get("usage")));

    // The same message answered whole to a stream request: its chunks carry the same content and usage.
    List<StreamChunk> chunks = translator.chunksOf(CLAUDE, chat(true), body);
    assertThat(chunks).hasSize(2);
    JsonNode delta = Json.MAPPER.readTree(chunks.get(0).json()).path("choices").get(0).path("delta");
    JsonNode message = fixture.get("expected").path("choices").get(0).path("message");
    assertThat(delta.get("content")).isEqualTo(message.get("content"));
    assertThat(delta.path("tool_calls").size()).isEqualTo(message.path("tool_calls").size());
    assertThat(chunks.get(1).usageOnly()).isTrue();
    assertThat(chunks.get(1).usage()).isEqualTo(response.usage());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("errors")
  void errorInErrorOut(String name, JsonNode fixture) {
    Map<String, List<String>> headerMap = new java.util.HashMap<>();
    fixture.path("headers").fields().forEachRemaining(e -> headerMap.put(e.getKey(), List.of(e.getValue().asText())));
    var headers = HttpHeaders.of(headerMap, (a, b) -> true);
    byte[] body = fixture.get("body").isTextual()
        ? fixture.get("body").asText().getBytes(StandardCharsets.UTF_8)
        : Json.bytes(fixture.get("body"));
    UpstreamFailed failure = translator.error(CLAUDE, fixture.get("status").asInt(), headers, body);
    JsonNode expected = fixture.get("expected");
    TranslatorFixtures.assertEnvelope(failure, expected);
    assertThat(ErrorEnvelope.of(failure).error().code()).isEqualTo(expected.get("code").asText());
    assertThat(failure.retryAfter()).isEqualTo(expected.path("retry_after").isMissingNode() ? null : expected.get("retry_after").asText());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("streams")
  void streamInChunksOut(String name, JsonNode fixture) throws Exception {
    String sse = StreamSupport.stream(fixture.get("sse").spliterator(), false).map(JsonNode::asText).collect(Collectors.joining("\n", "", "\n")); // each event ends with its blank line
    var events = new ServerSentEvents(new ByteArrayInputStream(sse.getBytes(StandardCharsets.UTF_8)));
    StreamTranslation translation = translator.stream(CLAUDE, chat(true));
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
      assertThat(translation.complete()).as("no message_stop: the stream was cut off").isFalse();
    } else {
      assertThat(failure).as("the error event is thrown").isNotNull();
      TranslatorFixtures.assertEnvelope(failure, end.get("error"));
    }
  }

  /**
   * A Message with extended thinking answered whole to a passed-through {@code /v1/messages} stream
   * request is relayed as Anthropic streams it: the thinking block starts with an empty signature,
   * and the signature comes in its own {@code signature_delta}, which is what a client that builds
   * the message from the deltas (to send the signed block back on the next turn) reads.
   */
  @Test
  void aWholeMessageWithThinkingRelayedAsEventsCarriesItsSignatureInASignatureDelta() throws Exception {
    byte[] message = """
        {"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5",
         "content":[{"type":"thinking","thinking":"Two plus two","signature":"EqQBCgIYAh"},{"type":"redacted_thinking","data":"EmwK"},
                    {"type":"text","text":"4"}],
         "stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":30}}""".getBytes(StandardCharsets.UTF_8);
    var request = new ProviderRequest(Operation.MESSAGES, ForwardedBody.of("{\"model\":\"claude\"}".getBytes(StandardCharsets.UTF_8)), true);

    var events = new ArrayList<JsonNode>();
    for (StreamChunk chunk : translator.chunksOf(CLAUDE, request, message)) {
      events.add(Json.MAPPER.readTree(chunk.json()));
    }

    assertThat(events.get(1)).isEqualTo(Json.MAPPER.readTree(
        "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}"));
    assertThat(events.get(2).at("/delta")).isEqualTo(Json.MAPPER.readTree("{\"type\":\"thinking_delta\",\"thinking\":\"Two plus two\"}"));
    assertThat(events.get(3).at("/delta")).isEqualTo(Json.MAPPER.readTree("{\"type\":\"signature_delta\",\"signature\":\"EqQBCgIYAh\"}"));
    assertThat(events.get(4).path("type").asText()).isEqualTo("content_block_stop");
    assertThat(events.get(5).at("/content_block")).as("a redacted block comes whole in its start")
        .isEqualTo(Json.MAPPER.readTree("{\"type\":\"redacted_thinking\",\"data\":\"EmwK\"}"));
  }
}

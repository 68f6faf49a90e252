package aigw.proxy.responses;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.errors.BadRequest;
import aigw.core.errors.ErrorEnvelope;
import aigw.core.errors.GatewayException;
import aigw.core.errors.UpstreamFailed;
import aigw.core.errors.UpstreamUnreachable;
import aigw.core.json.Json;
import aigw.core.providers.StreamChunk;
import aigw.core.usage.TokenUsage;
import aigw.proxy.stream.StreamFormat.Event;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Responses API ⇄ chat completions translation, as tables of recorded shapes
 * ({@code src/test/resources/aigw/proxy/responses/}): Responses requests (Codex CLI's, the OpenAI
 * SDK's) to chat requests or to the 400 the client sees; chat completions to Response objects; chat
 * chunks to the Responses event sequence. An expected object lists the members that matter: each
 * must be in the actual one with that value (arrays compared whole, element by element the same way).
 */
class ResponsesTranslationFixturesTest {
  static Stream<Arguments> requests() throws Exception {
    return cases("requests.json");
  }

  static Stream<Arguments> responses() throws Exception {
    return cases("responses.json");
  }

  static Stream<Arguments> streams() throws Exception {
    return cases("streams.json");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("requests")
  void aResponsesRequestBecomesTheChatRequestOrTheClientsError(String name, JsonNode fixture) {
    ObjectNode request = (ObjectNode) fixture.get("request");
    if (fixture.has("error")) {
      JsonNode expected = fixture.get("error");
      assertThatThrownBy(() -> ResponsesRequest.toChat(validated(request)))
          .isInstanceOfSatisfying(BadRequest.class, e -> {
            ErrorEnvelope.Body body = ErrorEnvelope.of(e).error();
            assertThat(ErrorEnvelope.status(e)).isEqualTo(expected.get("status").asInt());
            assertThat(body.param()).isEqualTo(expected.get("param").asText());
            assertThat(body.message()).isEqualTo(expected.get("message").asText());
            assertThat(body.type()).isEqualTo("invalid_request_error");
          });
    } else {
      assertThat(ResponsesRequest.toChat(validated(request))).isEqualTo(fixture.get("chat"));
    }
  }

  private static ObjectNode validated(ObjectNode request) {
    ResponsesRequest.validate(request);
    return request;
  }

  /**
   * Codex CLI 0.171.0's first request of {@code codex exec "say hi"} (recorded from the CLI against a
   * loopback server, {@code codex-0.171.0-request.json}): its function tools pass, the functions of its
   * {@code multi_agent_v1} namespace are flattened, its {@code web_search} is left out, and a call of a
   * flattened function comes back as the {@code function_call} with {@code namespace} Codex dispatches.
   */
  @Test
  void codexCliRequestIsTranslatedWithItsNamespaceFlattenedAndItsHostedToolLeftOut() throws Exception {
    ObjectNode recorded;
    try (InputStream in = getClass().getResourceAsStream("codex-0.171.0-request.json")) {
      recorded = (ObjectNode) Json.MAPPER.readTree(in);
    }
    ObjectNode chat = ResponsesRequest.toChat(validated(recorded));

    assertThat(StreamSupport.stream(chat.get("tools").spliterator(), false).map(t -> t.at("/function/name").asText()))
        .containsExactly(
            "exec_command", "write_stdin", "request_user_input", "view_image", "multi_agent_v1__close_agent",
            "multi_agent_v1__resume_agent", "multi_agent_v1__send_input", "multi_agent_v1__spawn_agent",
            "multi_agent_v1__wait_agent", "get_goal", "create_goal", "update_goal");
    assertThat(chat.at("/tools/7/function/parameters")).isEqualTo(recorded.at("/tools/4/tools/3/parameters"));
    assertThat(chat.at("/messages/0/role").asText()).isEqualTo("system"); // Codex's instructions

    JsonNode completion = Json.MAPPER.readTree(
        "{\"model\":\"llama-upstream\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"call_1\","
            + "\"type\":\"function\",\"function\":{\"name\":\"multi_agent_v1__spawn_agent\",\"arguments\":\"{}\"}}]},"
            + "\"finish_reason\":\"tool_calls\"}]}");
    JsonNode call = ChatToResponse.response(recorded, completion, "llama", 99, counter()).at("/output/0");
    assertThat(call.get("type").asText()).isEqualTo("function_call");
    assertThat(call.get("namespace").asText()).isEqualTo("multi_agent_v1");
    assertThat(call.get("name").asText()).isEqualTo("spawn_agent");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("responses")
  void aChatCompletionBecomesAResponseObject(String name, JsonNode fixture) {
    ObjectNode response = ChatToResponse.response(
        (ObjectNode) fixture.get("request"), fixture.get("completion"), fixture.at("/request/model").asText(), 99, counter());
    assertContains(response, fixture.get("response"), "response");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("streams")
  void chatChunksBecomeTheResponsesEventSequence(String name, JsonNode fixture) throws Exception {
    var source = new ChatStreamToEvents((ObjectNode) fixture.get("request"), fixture.at("/request/model").asText(), 99, counter());
    var events = new ArrayList<Event>(source.opening(null));
    TokenUsage usage = fixture.has("usage") ? TokenUsage.fromOpenAi(fixture.get("usage")) : TokenUsage.NONE;
    for (JsonNode chunk : fixture.get("chunks")) {
      var json = chunk.get("usage");
      TokenUsage tokens = json != null && json.isObject() ? TokenUsage.fromOpenAi(json) : null;
      if (tokens != null) {
        usage = tokens;
      }
      events.addAll(source.onChunk(new StreamChunk(Json.bytes(chunk), tokens, false, 0)));
    }
    events.addAll(source.closing(usage));
    assertThat(source.ended()).isTrue();
    List<JsonNode> actual = new ArrayList<>();
    for (int i = 0; i < events.size(); i++) {
      JsonNode event = Json.MAPPER.readTree(events.get(i).json());
      assertThat(events.get(i).type()).isEqualTo(event.get("type").asText());
      assertThat(event.get("sequence_number").asInt()).as("event %d is numbered in order", i).isEqualTo(i);
      actual.add(event);
    }
    assertThat(actual.stream().map(e -> e.get("type").asText()).toList())
        .isEqualTo(StreamSupport.stream(fixture.get("events").spliterator(), false).map(e -> e.get("type").asText()).toList());
    for (int i = 0; i < actual.size(); i++) {
      assertContains(actual.get(i), fixture.get("events").get(i), "events[" + i + "]");
    }
  }

  @Test
  void aStreamThatFailsEndsWithResponseFailedCarryingTheErrorThenAnErrorEvent() throws Exception {
    var source = new ChatStreamToEvents(Json.readObject("{\"model\":\"m\",\"input\":\"hi\"}".getBytes()), "m", 1, counter());
    source.opening(null);
    source.onChunk(new StreamChunk(
        "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}".getBytes(), null, false, 2));
    List<Event> events = source.failure(new UpstreamUnreachable("The provider of 'm' ended its answer before it was complete.", null, false));
    assertThat(events).extracting(Event::type).containsExactly("response.failed", "error");
    JsonNode failed = Json.MAPPER.readTree(events.get(0).json());
    assertThat(failed.at("/response/status").asText()).isEqualTo("failed");
    assertThat(failed.at("/response/error/code").asText()).as("one of OpenAI's ResponseError codes").isEqualTo("server_error");
    assertThat(failed.at("/response/error/message").asText()).isEqualTo("The provider of 'm' ended its answer before it was complete.");
    assertThat(failed.get("sequence_number").asInt()).isEqualTo(5); // created, in_progress, item added, part added, delta
    JsonNode error = Json.MAPPER.readTree(events.get(1).json());
    assertThat(error.get("code").asText()).as("the error event keeps the gateway's code").isEqualTo("502");
    assertThat(error.get("message").asText()).isEqualTo("The provider of 'm' ended its answer before it was complete.");
    assertThat(error.get("sequence_number").asInt()).isEqualTo(6);
    assertThat(error.at("/error/message").asText()).as("the OpenAI SDKs raise on an event with an error member")
        .isEqualTo("The provider of 'm' ended its answer before it was complete.");
    assertThat(source.ended()).isTrue();
  }

  /**
   * OpenAI's {@code ResponseError.code} is one of a fixed list (openai-node resources/responses.ts):
   * the failure's status picks it, whatever code the gateway or the provider gave.
   */
  @ParameterizedTest(name = "{1}")
  @MethodSource("failures")
  void responseFailedCarriesOneOfOpenAisResponseErrorCodes(GatewayException failure, String code) throws Exception {
    var source = new ChatStreamToEvents(Json.readObject("{\"model\":\"m\",\"input\":\"hi\"}".getBytes()), "m", 1, counter());
    source.opening(null);
    List<Event> events = source.failure(failure);
    JsonNode failed = Json.MAPPER.readTree(events.get(0).json());
    assertThat(failed.at("/response/error/code").asText()).isEqualTo(code);
    assertThat(failed.at("/response/error/message").asText()).isEqualTo(failure.getMessage());
  }

  static Stream<Arguments> failures() {
    return Stream.of(
        Arguments.of(new UpstreamUnreachable("The provider of 'm' ended its answer before it was complete.", null, false), "server_error"),
        Arguments.of(new UpstreamFailed(503, "Overloaded.", "api_error", null, "overloaded", null), "server_error"),
        Arguments.of(new UpstreamFailed(429, "Slow down.", "rate_limit_error", null, "rate_limit_exceeded_tpm", "3"), "rate_limit_exceeded"),
        Arguments.of(new UpstreamFailed(400, "Too long.", "invalid_request_error", "input", "context_length_exceeded", null), "invalid_prompt"));
  }

  /**
   * A whole Response relayed as events: an item without an id (optional on a function call) gets
   * one, the same in its added and done events, its item events and the final Response, as
   * openai-node's accumulator requires (a non-empty item_id equal to its item's id).
   */
  @Test
  void aWholeResponseItemWithoutAnIdGetsOneUsedInEveryEventAndTheFinalResponse() throws Exception {
    String whole = "{\"id\":\"resp_x\",\"object\":\"response\",\"status\":\"completed\",\"output\":["
        + "{\"type\":\"message\",\"role\":\"assistant\",\"status\":\"completed\",\"content\":[{\"type\":\"output_text\",\"text\":\"Hi\",\"annotations\":[]}]},"
        + "{\"type\":\"function_call\",\"id\":\"\",\"call_id\":\"call_1\",\"name\":\"weather\",\"arguments\":\"{}\",\"status\":\"completed\"},"
        + "{\"type\":\"function_call\",\"id\":\"fc_own\",\"call_id\":\"call_2\",\"name\":\"weather\",\"arguments\":\"{}\",\"status\":\"completed\"}]}";
    var source = new NativeEvents(counter());
    List<JsonNode> events = new ArrayList<>();
    for (Event event : source.onChunk(new StreamChunk(whole.getBytes(), null, false, 0))) {
      events.add(Json.MAPPER.readTree(event.json()));
    }
    JsonNode completed = events.getLast();
    assertThat(completed.get("type").asText()).isEqualTo("response.completed");
    List<String> finalIds = StreamSupport.stream(completed.at("/response/output").spliterator(), false).map(i -> i.path("id").asText()).toList();
    assertThat(finalIds).containsExactly("msg_1", "fc_2", "fc_own");
    for (JsonNode event : events) {
      if (event.has("item")) {
        assertThat(event.at("/item/id").asText()).as(event.toString()).isEqualTo(finalIds.get(event.get("output_index").asInt()));
      }
      if (event.has("item_id")) {
        assertThat(event.get("item_id").asText()).as(event.toString()).isEqualTo(finalIds.get(event.get("output_index").asInt()));
      }
    }
    // the message's part added, delta, done, part done; each call's arguments delta and done
    assertThat(events.stream().filter(e -> e.has("item_id")).count()).isEqualTo(8);
  }

  @Test
  void aRequestWithoutInputOrAModelIsRefusedNamingTheField() {
    assertThatThrownBy(() -> ResponsesRequest.validate(Json.readObject("{\"model\":\"m\"}".getBytes())))
        .isInstanceOf(BadRequest.class).hasMessage("'input' is required: a string, or an array of input items.");
    assertThatThrownBy(() -> ResponsesRequest.validate(Json.readObject("{\"input\":\"hi\"}".getBytes())))
        .isInstanceOf(BadRequest.class).hasMessage("'model' is required.");
    assertThatThrownBy(() -> ResponsesRequest.validate(Json.readObject("{\"model\":\"m\",\"input\":5}".getBytes())))
        .isInstanceOf(BadRequest.class).hasMessage("'input' must be a string or an array of input items.");
  }

  /** resp_1, msg_2, fc_3...: one counter for every prefix, so fixtures name the ids they expect. */
  private static Ids counter() {
    int[] next = {0};
    return prefix -> prefix + "_" + (++next[0]);
  }

  private static void assertContains(JsonNode actual, JsonNode expected, String path) {
    if (expected.isObject()) {
      assertThat(actual.isObject()).as(path + " is an object: " + actual).isTrue();
      expected.properties().forEach(member -> {
        assertThat(actual.has(member.getKey())).as(path + "." + member.getKey() + " is present in " + actual).isTrue();
        assertContains(actual.get(member.getKey()), member.getValue(), path + "." + member.getKey());
      });
    } else if (expected.isArray()) {
      assertThat(actual.size()).as(path + " size: " + actual).isEqualTo(expected.size());
      for (int i = 0; i < expected.size(); i++) {
        assertContains(actual.get(i), expected.get(i), path + "[" + i + "]");
      }
    } else if (expected.isNumber()) {
      assertThat(actual.isNumber() && actual.decimalValue().compareTo(expected.decimalValue()) == 0).as(path + ": " + actual + " = " + expected).isTrue();
    } else {
      assertThat(actual).as(path).isEqualTo(expected);
    }
  }

  private static Stream<Arguments> cases(String file) throws Exception {
    try (InputStream in = ResponsesTranslationFixturesTest.class.getResourceAsStream("/aigw/proxy/responses/" + file)) {
      JsonNode all = Json.MAPPER.readTree(in);
      return StreamSupport.stream(all.spliterator(), false).map(c -> Arguments.of(c.get("name").asText(), c)).toList().stream();
    }
  }
}

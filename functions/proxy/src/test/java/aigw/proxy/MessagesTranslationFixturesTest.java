package aigw.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.errors.ErrorEnvelope;
import aigw.core.errors.GatewayException;
import aigw.core.json.Json;
import aigw.core.providers.ProviderStream;
import aigw.core.providers.StreamChunk;
import aigw.core.testing.TranslatorFixtures;
import aigw.core.usage.TokenUsage;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.InputStream;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code /v1/messages} on a model of another provider, as tables (src/test/resources/aigw/proxy/messages/):
 * Anthropic requests in (the Anthropic SDK's and Claude Code's recorded shapes: system blocks with
 * {@code cache_control}, tools with JSON Schema, tool_use/tool_result turns, thinking) → chat
 * completion requests out ({@link MessagesToChat}); chat completions in → Messages out and chunk
 * streams in → Anthropic events out ({@link ChatToMessages}). Errors as the client sees them in
 * Anthropic's shape (status and type). Pure: no HTTP.
 */
class MessagesTranslationFixturesTest {
  static Stream<Arguments> requests() throws Exception {
    return cases("requests.json");
  }

  static Stream<Arguments> responses() throws Exception {
    return cases("responses.json");
  }

  static Stream<Arguments> streams() throws Exception {
    return cases("streams.json");
  }

  private static Stream<Arguments> cases(String file) throws Exception {
    try (InputStream in = MessagesTranslationFixturesTest.class.getResourceAsStream("/aigw/proxy/messages/" + file)) {
      JsonNode all = Json.MAPPER.readTree(in);
      return StreamSupport.stream(all.spliterator(), false).map(c -> Arguments.of(c.get("name").asText(), c)).toList().stream();
    }
  }

  private static void assertAnthropicError(GatewayException e, JsonNode expected) {
    assertThat(ErrorEnvelope.status(e)).isEqualTo(expected.get("status").asInt());
    assertThat(ErrorEnvelope.anthropicType(e)).isEqualTo(expected.get("type").asText());
    assertThat(e.getMessage()).isEqualTo(expected.get("message").asText());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("requests")
  void messagesRequestInChatRequestOut(String name, JsonNode fixture) {
    ObjectNode messages = (ObjectNode) fixture.get("messages");
    boolean keepThinking = fixture.path("keep_thinking").asBoolean(); // an Anthropic deployment may take it
    if (fixture.has("error")) {
      assertThatThrownBy(() -> MessagesToChat.chatRequest(messages, keepThinking))
          .isInstanceOfSatisfying(GatewayException.class, e -> assertAnthropicError(e, fixture.get("error")));
      return;
    }
    assertThat(asSent(MessagesToChat.chatRequest(messages, keepThinking))).isEqualTo(fixture.get("chat"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("responses")
  void chatCompletionInMessageOut(String name, JsonNode fixture) {
    byte[] completion = Json.bytes(fixture.get("completion"));
    if (fixture.has("error")) {
      assertThatThrownBy(() -> ChatToMessages.message(completion, "gpt-4o-mini"))
          .isInstanceOfSatisfying(GatewayException.class, e -> assertAnthropicError(e, fixture.get("error")));
      return;
    }
    assertThat(asSent(ChatToMessages.message(completion, "gpt-4o-mini"))).isEqualTo(fixture.get("message"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("streams")
  void chunksInEventsOut(String name, JsonNode fixture) throws Exception {
    var chunks = new ArrayDeque<StreamChunk>();
    for (JsonNode chunk : fixture.get("chunks")) {
      boolean usageOnly = chunk.path("choices").isEmpty();
      TokenUsage usage = chunk.path("usage").isObject() ? TokenUsage.fromOpenAi(chunk.get("usage")) : null;
      chunks.add(new StreamChunk(Json.bytes(chunk), usage, usageOnly, 0));
    }
    var closed = new boolean[1];
    ProviderStream provider = new ProviderStream() {
      @Override
      public StreamChunk next() {
        return chunks.poll();
      }

      @Override
      public void close() {
        closed[0] = true;
      }
    };
    var events = new ChatToMessages.EventStream(provider, "gpt-4o-mini");
    var seen = new ArrayList<JsonNode>();
    TokenUsage reported = null;
    StreamChunk event;
    while ((event = events.next()) != null) {
      seen.add(Json.MAPPER.readTree(event.json()));
      if (event.usage() != null) {
        reported = event.usage();
      }
    }
    assertThat(seen).containsExactlyElementsOf(List.copyOf(iterable(fixture.get("events"))));
    assertThat(reported).isEqualTo(fixture.get("usage").isNull() ? null : TranslatorFixtures.usage(fixture.get("usage")));
    events.close();
    assertThat(closed[0]).as("closing the events ends the provider's stream").isTrue();
  }

  /**
   * Anthropic ends a content block before its {@code message_delta}
   * (https://docs.anthropic.com/en/docs/build-with-claude/streaming): translated, the open block
   * ends when the provider's finish chunk comes, before the usage chunk OpenAI sends after it is
   * read, not with the stream's end; {@code message_delta} still waits for that usage (its {@code
   * output_tokens}). An empty {@code finish_reason} (Ollama's and SGLang's in every content chunk)
   * ends nothing.
   */
  @Test
  void theOpenBlockEndsWhenTheFinishChunkComesAndMessageDeltaCarriesTheUsageChunkThatFollows() throws Exception {
    String head = "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",";
    var chunks = new ArrayDeque<>(List.of(
        head + "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"finish_reason\":\"\"}]}",
        head + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"\"}]}",
        head + "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}",
        head + "\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}"));
    var log = new ArrayList<String>(); // what the provider gave and what the client got, in order
    ProviderStream provider = new ProviderStream() {
      @Override
      public StreamChunk next() {
        String chunk = chunks.poll();
        if (chunk == null) {
          log.add("provider: end");
          return null;
        }
        JsonNode json = Json.readObject(chunk.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        log.add("provider: " + (json.path("usage").isObject() ? "usage" : "finish_reason " + json.path("choices").path(0).path("finish_reason")));
        TokenUsage usage = json.path("usage").isObject() ? TokenUsage.fromOpenAi(json.get("usage")) : null;
        return new StreamChunk(chunk.getBytes(java.nio.charset.StandardCharsets.UTF_8), usage, usage != null, 0);
      }

      @Override
      public void close() {}
    };
    var events = new ChatToMessages.EventStream(provider, "gpt-4o-mini");
    JsonNode messageDelta = null;
    StreamChunk event;
    while ((event = events.next()) != null) {
      JsonNode json = Json.MAPPER.readTree(event.json());
      log.add("client: " + json.path("type").asText());
      if (json.path("type").asText().equals("message_delta")) {
        messageDelta = json;
      }
    }

    assertThat(log).containsExactly(
        "provider: finish_reason \"\"", "client: message_start", "client: ping", "client: content_block_start", "client: content_block_delta",
        "provider: finish_reason \"\"", "client: content_block_delta",
        "provider: finish_reason \"stop\"", "client: content_block_stop",
        "provider: usage",
        "provider: end", "client: message_delta", "client: message_stop");
    assertThat(messageDelta.path("delta").path("stop_reason").asText()).isEqualTo("end_turn");
    assertThat(messageDelta.path("usage").path("output_tokens").asLong()).as("%s", messageDelta).isEqualTo(2);
    assertThat(messageDelta.path("usage").path("input_tokens").asLong()).as("%s", messageDelta).isEqualTo(5);
  }

  /**
   * Some relays (one-api/new-api, older LiteLLM Vertex) put a {@code finish_reason} on every content
   * chunk: the block ends only at a finish chunk that carries nothing, so the answer stays one text
   * block, as a client reading {@code content[0].text} expects.
   */
  @Test
  void aFinishReasonOnEveryContentChunkKeepsTheAnswerInOneTextBlock() throws Exception {
    String head = "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",";
    var chunks = List.of(
        head + "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"finish_reason\":\"stop\"}]}",
        head + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}",
        head + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\" world\"},\"finish_reason\":\"stop\"}]}",
        head + "\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3,\"total_tokens\":8}}");
    var starts = new ArrayList<String>();
    var text = new StringBuilder();
    translate(chunks, starts, text);
    assertThat(starts).as("one block").containsExactly("text");
    assertThat(text).hasToString("Hello world");
  }

  /** A provider's chat chunks through the translation: the blocks' types as started, and all their text. */
  private static void translate(List<String> chunkList, List<String> starts, StringBuilder text) throws Exception {
    var chunks = new ArrayDeque<>(chunkList);
    ProviderStream provider = new ProviderStream() {
      @Override
      public StreamChunk next() {
        String chunk = chunks.poll();
        if (chunk == null) {
          return null;
        }
        JsonNode json = Json.readObject(chunk.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        TokenUsage usage = json.path("usage").isObject() ? TokenUsage.fromOpenAi(json.get("usage")) : null;
        return new StreamChunk(chunk.getBytes(java.nio.charset.StandardCharsets.UTF_8), usage, usage != null, 0);
      }

      @Override
      public void close() {}
    };
    var events = new ChatToMessages.EventStream(provider, "gpt-4o-mini");
    StreamChunk event;
    while ((event = events.next()) != null) {
      JsonNode json = Json.MAPPER.readTree(event.json());
      switch (json.path("type").asText()) {
        case "content_block_start" -> starts.add(json.path("content_block").path("type").asText());
        case "content_block_delta" -> text.append(json.path("delta").path("text").asText());
        default -> {}
      }
    }
  }

  /** A provider interleaving another choice's chunks: a Messages answer is one message, choice 0's. */
  @Test
  void onlyChoiceZeroIsTranslatedWhenAProviderInterleavesAnother() throws Exception {
    String head = "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",";
    var starts = new ArrayList<String>();
    var text = new StringBuilder();
    translate(List.of(
        head + "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"A\"},\"finish_reason\":null}]}",
        head + "\"choices\":[{\"index\":1,\"delta\":{\"role\":\"assistant\",\"content\":\"X\"},\"finish_reason\":null}]}",
        head + "\"choices\":[{\"index\":1,\"delta\":{},\"finish_reason\":\"stop\"}]}",
        head + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"B\"},\"finish_reason\":null}]}",
        head + "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}"), starts, text);
    assertThat(starts).containsExactly("text");
    assertThat(text).hasToString("AB");
  }

  /** As the client or provider reads it: written and parsed again (numbers then compare by value). */
  private static JsonNode asSent(JsonNode json) {
    try {
      return Json.MAPPER.readTree(Json.bytes(json));
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static List<JsonNode> iterable(JsonNode array) {
    var list = new ArrayList<JsonNode>();
    array.forEach(list::add);
    return list;
  }
}

package aigw.proxy;

import aigw.core.errors.UpstreamUnreachable;
import aigw.core.json.Json;
import aigw.core.providers.ProviderStream;
import aigw.core.providers.StreamChunk;
import aigw.core.providers.anthropic.AnthropicTranslator;
import aigw.core.usage.TokenUsage;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * OpenAI's chat completion answers back in Anthropic's shape, for {@code /v1/messages} on a model
 * that is not served by Anthropic: a {@code chat.completion} as a Message
 * (https://docs.anthropic.com/en/api/messages), a stream of {@code chat.completion.chunk}s as
 * Anthropic's event sequence (https://docs.anthropic.com/en/docs/build-with-claude/streaming). Stop
 * reasons and usage go through {@link AnthropicTranslator#stopReason} and {@link
 * AnthropicTranslator#anthropicUsage}, the inverses of the Anthropic adapter's tables.
 *
 * <p>The Message's {@code model} (and {@code message_start}'s) is the model the provider says
 * answered, as {@code /v1/chat/completions} passes it on: after a fallback, the fallback's.
 *
 * <p>Content: the {@code thinking_blocks} of an Anthropic model's answer (LiteLLM's field, which the
 * Anthropic adapter fills) as {@code thinking} blocks with their signatures and {@code
 * redacted_thinking} blocks, so that the client can send them back and the conversation continue
 * with thinking and tools; else {@code reasoning_content} (or {@code reasoning}, as DeepSeek, vLLM
 * and OpenRouter send it) as a {@code thinking} block with an empty signature; the text as a {@code
 * text} block, each tool call as a {@code tool_use} block (its arguments parsed as {@code input}).
 */
final class ChatToMessages {
  private ChatToMessages() {}

  /**
   * The Message for a whole {@code chat.completion}.
   *
   * @param model the model name the client asked for: in errors, and as the Message's {@code model}
   *     when the provider's answer names none (else the answer's {@code model}, the model that
   *     answered, as {@code /v1/chat/completions} passes it on, a fallback's included)
   * @throws UpstreamUnreachable when the provider's answer has no choice, or tool arguments that are not a JSON object (502)
   */
  static ObjectNode message(byte[] completion, String model) {
    JsonNode answer;
    try {
      answer = Json.MAPPER.readTree(completion);
    } catch (IOException e) {
      throw new UpstreamUnreachable("The provider of '" + model + "' sent an answer that is not JSON.", e, false);
    }
    JsonNode choice = answer.path("choices").path(0);
    if (!choice.isObject()) {
      throw new UpstreamUnreachable("The provider of '" + model + "' sent an answer without a choice.", null, false);
    }
    JsonNode said = choice.path("message");
    ObjectNode message = Json.MAPPER.createObjectNode();
    message.put("id", messageId(answer.path("id").asText("")));
    message.put("type", "message");
    message.put("role", "assistant");
    message.put("model", answeringModel(answer, model));
    ArrayNode content = message.putArray("content");
    JsonNode thinkingBlocks = said.path("thinking_blocks");
    if (thinkingBlocks.isArray() && !thinkingBlocks.isEmpty()) {
      for (JsonNode block : thinkingBlocks) {
        switch (block.path("type").asText("")) {
          case "thinking" -> content.addObject().put("type", "thinking").put("thinking", block.path("thinking").asText(""))
              .put("signature", block.path("signature").asText(""));
          case "redacted_thinking" -> content.addObject().put("type", "redacted_thinking").put("data", block.path("data").asText(""));
          default -> {} // a kind of block this translation does not know: it has no Anthropic form to take
        }
      }
    } else {
      String reasoning = reasoning(said);
      if (!reasoning.isEmpty()) {
        content.addObject().put("type", "thinking").put("thinking", reasoning).put("signature", "");
      }
    }
    String text = said.path("content").asText("");
    if (!text.isEmpty()) {
      content.addObject().put("type", "text").put("text", text);
    }
    for (JsonNode call : said.path("tool_calls")) {
      ObjectNode use = content.addObject().put("type", "tool_use").put("id", call.path("id").asText(""));
      use.put("name", call.path("function").path("name").asText(""));
      use.set("input", input(call.path("function").path("arguments").asText(""), model));
    }
    message.put("stop_reason", AnthropicTranslator.stopReason(choice.path("finish_reason").asText(null)));
    message.putNull("stop_sequence");
    message.set("usage", AnthropicTranslator.anthropicUsage(answer.path("usage")));
    return message;
  }

  /** The model the provider says answered (its {@code model}), else the one asked for. */
  private static String answeringModel(JsonNode answer, String asked) {
    JsonNode said = answer.path("model");
    return said.isTextual() && !said.asText().isBlank() ? said.asText() : asked;
  }

  /** Anthropic's ids start with {@code msg_}; the provider's id is kept after it. */
  private static String messageId(String id) {
    return id.startsWith("msg_") ? id : "msg_" + id;
  }

  private static String reasoning(JsonNode said) {
    JsonNode reasoning = said.path("reasoning_content").isTextual() ? said.get("reasoning_content") : said.path("reasoning");
    return reasoning.isTextual() ? reasoning.asText() : "";
  }

  private static JsonNode input(String arguments, String model) {
    if (arguments.isBlank()) {
      return Json.MAPPER.createObjectNode();
    }
    try {
      JsonNode input = Json.MAPPER.readTree(arguments);
      if (input != null && input.isObject()) {
        return input;
      }
    } catch (IOException notJson) {
      // below
    }
    throw new UpstreamUnreachable("The provider of '" + model + "' sent tool call arguments that are not a JSON object.", null, false);
  }

  /**
   * A provider's stream of OpenAI chunks as Anthropic's events, each a {@link StreamChunk} whose
   * {@code json} is the event's data (its {@code type} names the event):
   *
   * <ol>
   *   <li>{@code message_start} (usage 0: OpenAI reports it only at the end) and a {@code ping}, at
   *       the first chunk;
   *   <li>per content block, {@code content_block_start}, its deltas ({@code text_delta}, {@code
   *       thinking_delta} for reasoning and {@code signature_delta} for a {@code thinking_blocks}
   *       entry's signature, {@code input_json_delta} for a tool call's arguments; a {@code
   *       redacted_thinking} entry is a block whole in its start event) and
   *       {@code content_block_stop} when the next block starts, when the finish chunk comes (a
   *       non-empty {@code finish_reason}) or when the answer ends (a delta for an earlier tool
   *       call goes to that call's block index);
   *   <li>once the provider's stream has ended: {@code message_delta} with the stop reason and the
   *       usage (the chunk the gateway records), then {@code message_stop}. Not at the finish
   *       chunk: with {@code stream_options.include_usage} OpenAI sends the usage in a chunk after
   *       it, and {@code message_delta} carries the answer's {@code output_tokens}.
   * </ol>
   *
   * So the order is Anthropic's (https://docs.anthropic.com/en/docs/build-with-claude/streaming):
   * each block's stop right after its last delta, then {@code message_delta}, then {@code
   * message_stop}.
   *
   * Failures of the provider's stream pass through {@link #next} as they are thrown.
   */
  static final class EventStream implements ProviderStream {
    private final ProviderStream chunks;
    private final String model;
    private final ArrayDeque<StreamChunk> pending = new ArrayDeque<>();
    private boolean started;
    private boolean ended;
    private int blocks; // content blocks started so far
    private String openBlock; // "text", "thinking", "tool_use" or null
    private boolean openBlockSigned; // the open thinking block has its signature: more thinking is another block
    private final Map<Integer, Integer> blockOfToolCall = new HashMap<>();
    private String finishReason;
    private JsonNode usage;

    EventStream(ProviderStream chunks, String model) {
      this.chunks = chunks;
      this.model = model;
    }

    @Override
    public StreamChunk next() {
      while (pending.isEmpty()) {
        if (ended) {
          return null;
        }
        StreamChunk chunk = chunks.next();
        if (chunk == null) {
          end();
        } else {
          translate(chunk);
        }
      }
      return pending.poll();
    }

    /** Translates the chunks that are in until one makes an event (or the stream ends): as {@link #next} would, without waiting. */
    @Override
    public boolean nextInHand() {
      while (pending.isEmpty() && !ended) {
        if (!chunks.nextInHand()) {
          return false;
        }
        StreamChunk chunk = chunks.next();
        if (chunk == null) {
          end();
        } else {
          translate(chunk);
        }
      }
      return true;
    }

    @Override
    public void close() {
      chunks.close();
    }

    private void translate(StreamChunk chunk) {
      JsonNode json;
      try {
        json = Json.MAPPER.readTree(chunk.json());
      } catch (IOException e) {
        throw new UpstreamUnreachable("The provider of '" + model + "' sent a chunk that is not JSON.", e, false);
      }
      if (!started) {
        // Azure's first chunk holds only prompt_filter_results (id and model empty, choices []): the
        // message starts with the first chunk that names it, so message_start carries its id and model.
        boolean namesNothing = json.path("id").asText("").isEmpty() && json.path("choices").isEmpty() && !json.path("usage").isObject();
        if (namesNothing) {
          return;
        }
        start(json.path("id").asText(""), answeringModel(json, model));
      }
      if (json.path("usage").isObject()) {
        usage = json.get("usage");
      }
      // A Messages answer is one message: only choice 0 is translated (n is not forwarded, but a
      // provider may still interleave other choices' chunks; mixed in, they would garble the text).
      JsonNode choice = com.fasterxml.jackson.databind.node.MissingNode.getInstance();
      for (JsonNode each : json.path("choices")) {
        if (each.path("index").asInt(0) == 0) {
          choice = each;
          break;
        }
      }
      // Not an empty one: Ollama and SGLang send "finish_reason":"" in every content chunk.
      boolean finishing = !choice.path("finish_reason").asText("").isEmpty();
      if (finishing) {
        finishReason = choice.get("finish_reason").asText();
      }
      JsonNode delta = choice.path("delta");
      JsonNode thinkingBlocks = delta.path("thinking_blocks");
      if (thinkingBlocks.isArray() && !thinkingBlocks.isEmpty()) {
        thinkingBlocks.forEach(this::thinkingBlock); // an Anthropic model's: they carry the signatures reasoning_content lacks
      } else {
        thinking(reasoning(delta));
      }
      String text = delta.path("content").asText("");
      if (!text.isEmpty()) {
        blockFor("text", Json.MAPPER.createObjectNode().put("type", "text").put("text", ""));
        emit(blocks - 1, Json.MAPPER.createObjectNode().put("type", "text_delta").put("text", text), text.length());
      }
      for (JsonNode call : delta.path("tool_calls")) {
        int index = call.path("index").asInt(0);
        Integer block = blockOfToolCall.get(index);
        if (block == null) {
          ObjectNode use = Json.MAPPER.createObjectNode().put("type", "tool_use").put("id", call.path("id").asText(""));
          use.put("name", call.path("function").path("name").asText(""));
          use.putObject("input");
          closeOpenBlock();
          block = startBlock("tool_use", use);
          blockOfToolCall.put(index, block);
        }
        String arguments = call.path("function").path("arguments").asText("");
        if (!arguments.isEmpty()) {
          emit(block, Json.MAPPER.createObjectNode().put("type", "input_json_delta").put("partial_json", arguments), arguments.length());
        }
      }
      if (finishing && delta.isEmpty()) {
        // The generation is over: the block ends now, as Anthropic ends it before its message_delta,
        // not when the usage chunk (which OpenAI sends after the finish chunk) or the end comes.
        // Only at a finish chunk that carries nothing ("delta":{}, as OpenAI sends it): some relays
        // (one-api/new-api, older LiteLLM Vertex) put a finish_reason on every content chunk, and
        // closing there would split one answer into a text block per chunk.
        closeOpenBlock();
      }
    }

    /** One {@code thinking_blocks} entry of a delta: a piece of thinking, its signature, or a redacted block. */
    private void thinkingBlock(JsonNode block) {
      switch (block.path("type").asText("")) {
        case "thinking" -> {
          thinking(block.path("thinking").asText(""));
          String signature = block.path("signature").asText("");
          if (!signature.isEmpty()) {
            openThinking();
            emit(blocks - 1, Json.MAPPER.createObjectNode().put("type", "signature_delta").put("signature", signature), 0);
            openBlockSigned = true;
          }
        }
        case "redacted_thinking" -> {
          closeOpenBlock();
          startBlock("redacted_thinking", Json.MAPPER.createObjectNode().put("type", "redacted_thinking").put("data", block.path("data").asText("")));
          closeOpenBlock();
        }
        default -> {} // no Anthropic form to take
      }
    }

    /** A piece of thinking in the open thinking block (a new one after a signed block). */
    private void thinking(String text) {
      if (text.isEmpty()) {
        return;
      }
      openThinking();
      emit(blocks - 1, Json.MAPPER.createObjectNode().put("type", "thinking_delta").put("thinking", text), text.length());
    }

    private void openThinking() {
      if (openBlockSigned) {
        closeOpenBlock();
      }
      blockFor("thinking", Json.MAPPER.createObjectNode().put("type", "thinking").put("thinking", "").put("signature", ""));
    }

    /** message_start, naming {@code answering}: the first chunk's {@code model}, as the whole answer's. */
    private void start(String id, String answering) {
      started = true;
      ObjectNode message = Json.MAPPER.createObjectNode();
      message.put("id", messageId(id));
      message.put("type", "message");
      message.put("role", "assistant");
      message.put("model", answering);
      message.putArray("content");
      message.putNull("stop_reason");
      message.putNull("stop_sequence");
      message.set("usage", AnthropicTranslator.anthropicUsage(Json.MAPPER.createObjectNode()));
      ObjectNode event = Json.MAPPER.createObjectNode().put("type", "message_start");
      event.set("message", message);
      pending.add(new StreamChunk(Json.bytes(event), null, false, 0));
      pending.add(new StreamChunk(Json.bytes(Json.MAPPER.createObjectNode().put("type", "ping")), null, false, 0));
    }

    /** Keeps the open block if it is of {@code kind}, else closes it and starts one. */
    private void blockFor(String kind, ObjectNode contentBlock) {
      if (!kind.equals(openBlock)) {
        closeOpenBlock();
        startBlock(kind, contentBlock);
      }
    }

    private int startBlock(String kind, ObjectNode contentBlock) {
      ObjectNode event = Json.MAPPER.createObjectNode().put("type", "content_block_start").put("index", blocks);
      event.set("content_block", contentBlock);
      pending.add(new StreamChunk(Json.bytes(event), null, false, 0));
      openBlock = kind;
      openBlockSigned = false;
      return blocks++;
    }

    private void closeOpenBlock() {
      if (openBlock != null) {
        pending.add(new StreamChunk(Json.bytes(Json.MAPPER.createObjectNode().put("type", "content_block_stop").put("index", blocks - 1)), null, false, 0));
        openBlock = null;
      }
    }

    /** A delta of block {@code index}: the open one, or an earlier tool call's when its arguments come late. */
    private void emit(int index, ObjectNode delta, long generatedChars) {
      ObjectNode event = Json.MAPPER.createObjectNode().put("type", "content_block_delta").put("index", index);
      event.set("delta", delta);
      pending.add(new StreamChunk(Json.bytes(event), null, false, generatedChars));
    }

    private void end() {
      ended = true;
      if (!started) {
        start("", model);
      }
      closeOpenBlock();
      ObjectNode event = Json.MAPPER.createObjectNode().put("type", "message_delta");
      event.putObject("delta").put("stop_reason", AnthropicTranslator.stopReason(finishReason)).putNull("stop_sequence");
      ObjectNode anthropicUsage = AnthropicTranslator.anthropicUsage(usage == null ? Json.MAPPER.createObjectNode() : usage);
      event.set("usage", anthropicUsage);
      TokenUsage counted = usage == null ? null : TokenUsage.fromOpenAi(usage); // none: the relay estimates
      pending.add(new StreamChunk(Json.bytes(event), counted, false, 0));
      pending.add(new StreamChunk(Json.bytes(Json.MAPPER.createObjectNode().put("type", "message_stop")), null, false, 0));
    }
  }
}

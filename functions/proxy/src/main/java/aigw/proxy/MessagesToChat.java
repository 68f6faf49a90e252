package aigw.proxy;

import aigw.core.errors.BadRequest;
import aigw.core.json.Json;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;

/**
 * An Anthropic Messages request (https://docs.anthropic.com/en/api/messages) as an OpenAI chat
 * completion request, for {@code /v1/messages} on a model that is not served by Anthropic. The
 * inverse of {@code aigw.core.providers.anthropic.AnthropicTranslator.messagesBody}:
 *
 * <ul>
 *   <li>{@code system} (a string or text blocks) → one {@code system} message, blocks joined by a
 *       blank line, and so is a {@code system} turn inside {@code messages} (Claude Code 2.1 sends
 *       one); {@code cache_control} anywhere is dropped (OpenAI-compatible APIs cache on their own).
 *   <li>{@code messages}: text blocks → text parts (a single one as a plain string), {@code image}
 *       blocks → {@code image_url} parts (base64 as a {@code data:} URL, a url source as is); an
 *       assistant's {@code tool_use} blocks → {@code tool_calls} (input as a JSON string); a user's
 *       {@code tool_result} blocks → {@code tool} messages placed first (OpenAI wants them right
 *       after the assistant's calls), their text joined, their images in a user message after them;
 *       {@code thinking} and {@code redacted_thinking} blocks → the assistant message's {@code
 *       thinking_blocks} (LiteLLM's field, in order, signatures kept) when an Anthropic deployment
 *       may take the request, which needs them back to continue with thinking and tools; dropped
 *       otherwise (only Anthropic can read their signatures, and an OpenAI-compatible API may refuse
 *       a member it does not know).
 *   <li>{@code tools} → function tools ({@code input_schema} as {@code parameters}); Anthropic's
 *       server tools (a {@code type} such as {@code web_search_20250305}) are refused (400): only
 *       Anthropic runs them. {@code tool_choice}: auto → auto, any → required, tool → the named
 *       function, none → none; {@code disable_parallel_tool_use} → {@code parallel_tool_calls: false}.
 *   <li>{@code max_tokens} (required, as Anthropic requires it), {@code temperature} and {@code
 *       top_p} (numbers from 0 to 1, Anthropic's range), {@code stop_sequences} → {@code stop},
 *       {@code metadata.user_id} → {@code user}, {@code stream}; {@code thinking: {type: enabled,
 *       budget_tokens}} → {@code reasoning_effort} ({@link #reasoningEffort}).
 *   <li>A {@code tool_result}'s {@code is_error: true}: its text is prefixed with {@code "Error: "}
 *       (a tool message has no error flag).
 *   <li>Not sent, as OpenAI's API has nothing for them, and not checked: {@code top_k}, {@code
 *       cache_control}, {@code thinking: {type: adaptive}}, and every other field (Anthropic's beta
 *       fields such as {@code context_management} and {@code output_config} among them).
 * </ul>
 *
 * Every field that is read is checked as Anthropic checks it (type and allowed values, {@code
 * tool_choice} even without tools, no message with empty content but a final assistant one), so a
 * request Anthropic would refuse is not translated into a different one: bad input is a {@link
 * BadRequest} naming the field, shown to the client in Anthropic's error shape (400).
 */
final class MessagesToChat {
  private MessagesToChat() {}

  /** The chat completion request for {@code messages}, thinking blocks dropped (see {@link #chatRequest(ObjectNode, boolean)}). */
  static ObjectNode chatRequest(ObjectNode messages) {
    return chatRequest(messages, false);
  }

  /**
   * The chat completion request for {@code messages} (already checked by {@link MessagesEndpoint}
   * for model and stream).
   *
   * @param keepThinking whether the assistant turns' thinking blocks go along as {@code
   *     thinking_blocks}: true when a deployment that reads them (Anthropic's) may take the request
   */
  static ObjectNode chatRequest(ObjectNode messages, boolean keepThinking) {
    ObjectNode chat = Json.MAPPER.createObjectNode();
    chat.set("model", messages.get("model"));
    ArrayNode out = chat.putArray("messages");
    JsonNode system = messages.get("system");
    if (system != null && !system.isNull()) {
      String text = systemText(system, "system");
      if (!text.isEmpty()) {
        out.addObject().put("role", "system").put("content", text);
      }
    }
    JsonNode turns = messages.get("messages");
    for (int i = 0; i < turns.size(); i++) {
      JsonNode turn = turns.get(i);
      String where = "messages[" + i + "]";
      requireContent(turn.get("content"), where, i == turns.size() - 1 && "assistant".equals(turn.path("role").asText()));
      switch (turn.path("role").asText("")) {
        case "user" -> userTurn(turn.get("content"), where, out);
        case "assistant" -> assistantTurn(turn.get("content"), where, out, keepThinking);
        // Anthropic's mid-conversation system messages (beta mid-conversation-system-2026-04-07), as
        // Claude Code 2.1 sends its agent list: a system message where it stands.
        case "system" -> out.addObject().put("role", "system").put("content", systemText(turn.get("content"), where + ".content"));
        default -> throw new BadRequest(where + ".role must be \"user\", \"assistant\" or \"system\".", where + ".role");
      }
    }
    chat.put("max_tokens", maxTokens(messages.get("max_tokens")));
    for (String copied : List.of("temperature", "top_p")) {
      JsonNode value = messages.get(copied);
      if (value != null && !value.isNull()) {
        // Anthropic's range for both (its API reference: "Ranges from 0.0 to 1.0"); OpenAI's is wider.
        if (!value.isNumber() || value.decimalValue().signum() < 0 || value.decimalValue().compareTo(java.math.BigDecimal.ONE) > 0) {
          throw new BadRequest("'" + copied + "' must be a number from 0 to 1.", copied);
        }
        chat.set(copied, value);
      }
    }
    JsonNode stop = messages.get("stop_sequences");
    if (stop != null && !stop.isNull()) {
      if (!stop.isArray() || !allText(stop)) {
        throw new BadRequest("'stop_sequences' must be an array of strings.", "stop_sequences");
      }
      if (!stop.isEmpty()) {
        chat.set("stop", stop);
      }
    }
    JsonNode metadata = messages.get("metadata");
    if (metadata != null && !metadata.isNull()) {
      if (!metadata.isObject()) {
        throw new BadRequest("'metadata' must be an object.", "metadata");
      }
      JsonNode user = metadata.get("user_id");
      if (user != null && !user.isNull() && !user.isTextual()) {
        throw new BadRequest("'metadata.user_id' must be a string.", "metadata.user_id");
      }
      if (user != null && user.isTextual()) {
        chat.put("user", user.asText());
      }
    }
    reasoningEffort(messages.get("thinking"), chat);
    tools(messages, chat);
    if (messages.path("stream").asBoolean(false)) {
      chat.put("stream", true);
    }
    return chat;
  }

  /**
   * Anthropic's 400 for a message without content ("all messages must have non-empty content except
   * for the optional final assistant message"): an empty string or an empty array of blocks.
   */
  private static void requireContent(JsonNode content, String where, boolean finalAssistant) {
    boolean empty = content != null && (content.isTextual() ? content.asText().isEmpty() : content.isArray() && content.isEmpty());
    if (empty && !finalAssistant) {
      throw new BadRequest(
          where + ": all messages must have non-empty content except for the optional final assistant message.", where + ".content");
    }
  }

  /**
   * {@code thinking: {type: "enabled", budget_tokens}} → {@code reasoning_effort}, bucketed as
   * LiteLLM does ({@code reasoning_effort_from_thinking_budget} in
   * litellm/litellm_core_utils/reasoning_effort_utils.py, its default thresholds): 4096 and more →
   * high, 2048 → medium, 1024 → low (Anthropic's minimum budget is 1024). {@code disabled} sends
   * nothing. {@code adaptive} sends nothing either: Claude Code sends it on every request, and a
   * model without reasoning (gpt-4o-mini) refuses {@code reasoning_effort}, so mapping it would
   * break Claude Code on every such model (LiteLLM maps it to medium).
   */
  private static void reasoningEffort(JsonNode thinking, ObjectNode chat) {
    if (thinking == null || thinking.isNull()) {
      return;
    }
    if (!thinking.isObject()) {
      throw new BadRequest("'thinking' must be an object.", "thinking");
    }
    switch (thinking.path("type").asText("")) {
      case "enabled" -> {
        JsonNode budget = thinking.get("budget_tokens");
        if (aigw.core.json.WholeNumbers.in(budget, 1024, Integer.MAX_VALUE) == null) { // 2048.0 is 2048, as NumberFields judges
          throw new BadRequest("'thinking.budget_tokens' must be an integer of at least 1024.", "thinking.budget_tokens");
        }
        if (budget.asInt() >= chat.path("max_tokens").asInt(Integer.MAX_VALUE)) {
          throw new BadRequest("'max_tokens' must be greater than 'thinking.budget_tokens'.", "thinking.budget_tokens"); // Anthropic's rule
        }
        int tokens = budget.asInt();
        chat.put("reasoning_effort", tokens >= 4096 ? "high" : tokens >= 2048 ? "medium" : "low");
      }
      case "disabled", "adaptive" -> {}
      default -> throw new BadRequest("'thinking.type' must be \"enabled\", \"disabled\" or \"adaptive\".", "thinking.type");
    }
  }

  private static int maxTokens(JsonNode maxTokens) {
    if (maxTokens == null || maxTokens.isNull()) {
      throw new BadRequest("max_tokens: Field required", "max_tokens"); // Anthropic's words for it
    }
    Long tokens = aigw.core.json.WholeNumbers.in(maxTokens, 1, Integer.MAX_VALUE); // 10.0 is 10, as NumberFields judges
    if (tokens == null) {
      throw new BadRequest("'max_tokens' must be a positive integer.", "max_tokens");
    }
    return tokens.intValue();
  }

  private static String systemText(JsonNode system, String where) {
    if (system != null && system.isTextual()) {
      return system.asText();
    }
    if (system == null || !system.isArray()) {
      throw new BadRequest("'" + where + "' must be a string or an array of text blocks.", where);
    }
    var parts = new ArrayList<String>();
    for (JsonNode block : system) {
      if (!"text".equals(block.path("type").asText()) || !block.path("text").isTextual()) {
        throw new BadRequest("'" + where + "' may hold only text blocks.", where);
      }
      parts.add(block.get("text").asText());
    }
    return String.join("\n\n", parts);
  }

  private static void userTurn(JsonNode content, String where, ArrayNode out) {
    if (content != null && content.isTextual()) {
      out.addObject().put("role", "user").put("content", content.asText());
      return;
    }
    ArrayNode parts = Json.MAPPER.createArrayNode();
    for (JsonNode block : blocks(content, where)) {
      switch (block.path("type").asText()) {
        case "text" -> parts.add(textPart(block, where));
        case "image" -> parts.add(imagePart(block, where));
        case "tool_result" -> toolResult(block, where, out);
        default -> throw unsupportedBlock(block, where);
      }
    }
    if (!parts.isEmpty()) {
      out.add(userMessage(parts));
    }
  }

  /** One {@code tool} message for a {@code tool_result}; its images follow in a user message (a tool message holds text only). */
  private static void toolResult(JsonNode block, String where, ArrayNode out) {
    if (!block.path("tool_use_id").isTextual()) {
      throw new BadRequest(where + ": a tool_result block needs its tool_use_id.", where + ".content");
    }
    var texts = new ArrayList<String>();
    ArrayNode images = Json.MAPPER.createArrayNode();
    JsonNode content = block.get("content");
    if (content != null && content.isTextual()) {
      texts.add(content.asText());
    } else if (content != null && content.isArray()) {
      for (JsonNode part : content) {
        if (!part.isObject()) {
          throw new BadRequest(where + ": a tool_result's content must be a string or an array of blocks.", where + ".content");
        }
        switch (part.path("type").asText()) {
          case "text" -> texts.add(textPart(part, where).get("text").asText());
          case "image" -> images.add(imagePart(part, where));
          default -> throw unsupportedBlock(part, where);
        }
      }
    } else if (content != null && !content.isNull()) {
      throw new BadRequest(where + ": a tool_result's content must be a string or an array of blocks.", where + ".content");
    }
    JsonNode isError = block.get("is_error");
    if (isError != null && !isError.isNull() && !isError.isBoolean()) {
      throw new BadRequest(where + ": a tool_result's is_error must be a boolean.", where + ".content");
    }
    // Added as met, while the turn's text and images wait for the end of the turn: tool messages must follow the calls.
    ObjectNode tool = Json.MAPPER.createObjectNode().put("role", "tool").put("tool_call_id", block.get("tool_use_id").asText());
    // A tool message has no error flag: the failure is said in its text, so that the model still knows the call failed.
    String result = String.join("\n", texts);
    tool.put("content", isError != null && isError.asBoolean(false) ? "Error: " + result : result);
    out.add(tool);
    if (!images.isEmpty()) {
      out.add(userMessage(images));
    }
  }

  private static void assistantTurn(JsonNode content, String where, ArrayNode out, boolean keepThinking) {
    ObjectNode message = Json.MAPPER.createObjectNode().put("role", "assistant");
    if (content != null && content.isTextual()) {
      message.put("content", content.asText());
      out.add(message);
      return;
    }
    var text = new StringBuilder();
    ArrayNode calls = Json.MAPPER.createArrayNode();
    ArrayNode thinking = Json.MAPPER.createArrayNode();
    for (JsonNode block : blocks(content, where)) {
      switch (block.path("type").asText()) {
        case "text" -> text.append(textPart(block, where).get("text").asText());
        case "tool_use" -> {
          if (!block.path("id").isTextual() || !block.path("name").isTextual()) {
            throw new BadRequest(where + ": a tool_use block needs its id and name.", where + ".content");
          }
          ObjectNode call = calls.addObject().put("id", block.get("id").asText()).put("type", "function");
          JsonNode input = block.has("input") ? block.get("input") : Json.MAPPER.createObjectNode();
          if (!input.isObject()) {
            throw new BadRequest(where + ": a tool_use block's input must be an object.", where + ".content");
          }
          call.putObject("function").put("name", block.get("name").asText()).put("arguments", Json.string(input));
        }
        case "thinking", "redacted_thinking" -> {
          if (keepThinking) { // signed for Anthropic alone: no other provider reads them
            thinking.add(thinkingBlock(block, where));
          }
        }
        default -> throw unsupportedBlock(block, where);
      }
    }
    if (text.isEmpty() && !calls.isEmpty()) {
      message.putNull("content");
    } else {
      message.put("content", text.toString());
    }
    if (!calls.isEmpty()) {
      message.set("tool_calls", calls);
    }
    if (!thinking.isEmpty()) {
      message.set("thinking_blocks", thinking);
    }
    out.add(message);
  }

  /** A thinking block as a {@code thinking_blocks} entry: the same members, checked as Anthropic checks them. */
  private static ObjectNode thinkingBlock(JsonNode block, String where) {
    if (block.path("type").asText().equals("redacted_thinking")) {
      if (!block.path("data").isTextual()) {
        throw new BadRequest(where + ": a redacted_thinking block needs its data.", where + ".content");
      }
      return Json.MAPPER.createObjectNode().put("type", "redacted_thinking").put("data", block.get("data").asText());
    }
    if (!block.path("thinking").isTextual() || !block.path("signature").isTextual()) {
      throw new BadRequest(where + ": a thinking block needs its thinking and signature.", where + ".content");
    }
    return Json.MAPPER.createObjectNode().put("type", "thinking").put("thinking", block.get("thinking").asText())
        .put("signature", block.get("signature").asText());
  }

  private static JsonNode blocks(JsonNode content, String where) {
    if (content == null || !content.isArray()) {
      throw new BadRequest(where + ".content must be a string or an array of content blocks.", where + ".content");
    }
    for (JsonNode block : content) {
      if (!block.isObject()) {
        throw new BadRequest(where + ".content must be a string or an array of content blocks.", where + ".content");
      }
    }
    return content;
  }

  private static ObjectNode textPart(JsonNode block, String where) {
    if (!block.path("text").isTextual()) {
      throw new BadRequest(where + ": a text block needs its text.", where + ".content");
    }
    return Json.MAPPER.createObjectNode().put("type", "text").put("text", block.get("text").asText());
  }

  /** base64 → {@code data:<media_type>;base64,<data>}; url → the URL. */
  private static ObjectNode imagePart(JsonNode block, String where) {
    JsonNode source = block.path("source");
    String url = switch (source.path("type").asText()) {
      case "base64" -> {
        if (!source.path("media_type").isTextual() || !source.path("data").isTextual()) {
          throw new BadRequest(where + ": a base64 image source needs media_type and data.", where + ".content");
        }
        yield "data:" + source.get("media_type").asText() + ";base64," + source.get("data").asText();
      }
      case "url" -> {
        if (!source.path("url").isTextual()) {
          throw new BadRequest(where + ": a url image source needs its url.", where + ".content");
        }
        yield source.get("url").asText();
      }
      default -> throw new BadRequest(
          where + ": image source type '" + source.path("type").asText() + "' is only served by Anthropic models (base64 and url are translated).",
          where + ".content");
    };
    ObjectNode part = Json.MAPPER.createObjectNode().put("type", "image_url");
    part.putObject("image_url").put("url", url);
    return part;
  }

  /** A user message: a lone text part as a plain string (what every OpenAI-compatible server takes), else the parts. */
  private static ObjectNode userMessage(ArrayNode parts) {
    ObjectNode message = Json.MAPPER.createObjectNode().put("role", "user");
    if (parts.size() == 1 && "text".equals(parts.get(0).path("type").asText())) {
      message.put("content", parts.get(0).get("text").asText());
    } else {
      message.set("content", parts);
    }
    return message;
  }

  private static BadRequest unsupportedBlock(JsonNode block, String where) {
    return new BadRequest(
        where + ": content block type '" + block.path("type").asText() + "' is only served by Anthropic models"
            + " (text, image, tool_use, tool_result and thinking are translated for other models).",
        where + ".content");
  }

  private static void tools(ObjectNode messages, ObjectNode chat) {
    JsonNode tools = messages.get("tools");
    if (tools != null && !tools.isNull() && !tools.isArray()) {
      throw new BadRequest("'tools' must be an array.", "tools");
    }
    ObjectNode choice = toolChoice(messages.get("tool_choice"), chat); // checked with or without tools, as Anthropic does
    if (tools == null || tools.isNull() || tools.isEmpty()) {
      return; // an OpenAI-compatible API refuses tool_choice without tools: nothing to choose from
    }
    if (choice != null) {
      chat.setAll(choice);
    }
    ArrayNode functions = chat.putArray("tools");
    for (int i = 0; i < tools.size(); i++) {
      JsonNode tool = tools.get(i);
      if (!tool.isObject()) {
        throw new BadRequest("tools[" + i + "] must be an object.", "tools");
      }
      String type = tool.path("type").asText("custom");
      if (!type.equals("custom")) {
        throw new BadRequest(
            "tools[" + i + "]: '" + type + "' is a tool Anthropic runs itself; it is available only on models served by Anthropic.", "tools");
      }
      if (!tool.path("name").isTextual()) {
        throw new BadRequest("tools[" + i + "] needs a name.", "tools");
      }
      ObjectNode function = functions.addObject().put("type", "function").putObject("function");
      function.put("name", tool.get("name").asText());
      JsonNode description = tool.get("description");
      if (description != null && !description.isNull() && !description.isTextual()) {
        throw new BadRequest("tools[" + i + "].description must be a string.", "tools");
      }
      if (description != null && description.isTextual()) {
        function.put("description", description.asText());
      }
      JsonNode schema = tool.get("input_schema");
      if (schema == null || !schema.isObject()) {
        throw new BadRequest("tools[" + i + "].input_schema must be a JSON Schema object.", "tools");
      }
      function.set("parameters", schema);
    }
  }

  /**
   * The chat request's members for Anthropic's {@code tool_choice} (an object: {@code {type: auto|any|none}}
   * or {@code {type: tool, name}}, with an optional boolean {@code disable_parallel_tool_use}), or null when absent.
   */
  private static ObjectNode toolChoice(JsonNode choice, ObjectNode chat) {
    if (choice == null || choice.isNull()) {
      return null;
    }
    if (!choice.isObject()) {
      throw new BadRequest("'tool_choice' must be an object with a type.", "tool_choice");
    }
    ObjectNode members = chat.objectNode();
    switch (choice.path("type").asText("")) {
      case "auto" -> members.put("tool_choice", "auto");
      case "any" -> members.put("tool_choice", "required");
      case "none" -> members.put("tool_choice", "none");
      case "tool" -> {
        if (!choice.path("name").isTextual()) {
          throw new BadRequest("tool_choice of type tool needs the tool's name.", "tool_choice.name");
        }
        members.putObject("tool_choice").put("type", "function").putObject("function").put("name", choice.get("name").asText());
      }
      default -> throw new BadRequest("'tool_choice.type' must be \"auto\", \"any\", \"tool\" or \"none\".", "tool_choice.type");
    }
    JsonNode parallel = choice.get("disable_parallel_tool_use");
    if (parallel != null && !parallel.isNull() && !parallel.isBoolean()) {
      throw new BadRequest("'tool_choice.disable_parallel_tool_use' must be a boolean.", "tool_choice.disable_parallel_tool_use");
    }
    if (parallel != null && parallel.asBoolean(false)) {
      members.put("parallel_tool_calls", false);
    }
    return members;
  }

  private static boolean allText(JsonNode array) {
    for (JsonNode item : array) {
      if (!item.isTextual()) {
        return false;
      }
    }
    return true;
  }
}

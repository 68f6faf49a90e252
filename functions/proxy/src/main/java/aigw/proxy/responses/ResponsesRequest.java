package aigw.proxy.responses;

import aigw.core.errors.BadRequest;
import aigw.core.json.Json;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Set;

/**
 * A Responses API request (https://platform.openai.com/docs/api-reference/responses/create) turned
 * into the chat completions request that carries it to a provider without the Responses API. Pure:
 * no I/O, tested with the fixture tables in {@code src/test/resources/aigw/proxy/responses/}.
 *
 * <p>What maps (LiteLLM's mapping, {@code litellm/responses/litellm_completion_transformation}):
 *
 * <ul>
 *   <li>{@code instructions} → a first {@code system} message;
 *   <li>{@code input}: a string → one user message; items: {@code message} (roles user, assistant,
 *       system; {@code developer} becomes {@code system}, which every provider adapter knows) with
 *       {@code input_text}/{@code output_text}/{@code refusal} parts as text and {@code
 *       input_image} as {@code image_url}; {@code function_call} → an assistant message's {@code
 *       tool_calls} (consecutive calls, and the assistant text just before them, in one message);
 *       {@code function_call_output} → a {@code tool} message; {@code reasoning} items are dropped
 *       (a model's earlier reasoning, often encrypted, which chat completions has no place for);
 *   <li>function {@code tools} (Responses' flat shape) → chat's {@code {"type":"function",
 *       "function":{...}}}; {@code tool_choice} (a function inside a {@code namespace} tool named by
 *       its flattened name, {@link ToolNames}); {@code parallel_tool_calls};
 *   <li>{@code max_output_tokens} → {@code max_tokens}; {@code temperature}; {@code top_p}; {@code
 *       user}; {@code reasoning.effort} → {@code reasoning_effort}; {@code text.format} ({@code
 *       json_schema}, {@code json_object}) → {@code response_format}; {@code stream}.
 * </ul>
 *
 * Refused with a 400 naming the field, because the gateway keeps no state and runs no tool: {@code
 * previous_response_id}, {@code store: true}, {@code background: true}, {@code conversation},
 * {@code prompt} (a stored prompt template), built-in tools ({@code web_search}, {@code
 * file_search}, {@code code_interpreter}...), items that point at stored state ({@code
 * item_reference}) or come from built-in tools, and files by id. An absent {@code store} means "not
 * stored" here (OpenAI's own default is to store for 30 days). Ignored as hints with no chat
 * counterpart: {@code include}, {@code reasoning.summary}, {@code text.verbosity}, {@code
 * truncation}, {@code prompt_cache_key}, {@code safety_identifier}, {@code service_tier}, {@code
 * metadata}, {@code stream_options}, {@code max_tool_calls}, {@code top_logprobs}.
 */
public final class ResponsesRequest {
  /** Fields that point at state kept by the provider (a stored response, conversation or prompt template). */
  private static final Set<String> STATEFUL_FIELDS = Set.of("previous_response_id", "conversation", "prompt");

  /** OpenAI's smallest {@code max_output_tokens} ("integer below minimum value. Expected a value >= 16"). */
  static final int MIN_OUTPUT_TOKENS = 16;

  private ResponsesRequest() {}

  /**
   * Checks what the gateway itself needs of any Responses request (also one passed through):
   * {@code model} a non-empty string, {@code input} present, {@code stream} a boolean, numeric
   * settings in their ranges ({@link aigw.proxy.NumberFields#RESPONSES}).
   *
   * @return the model name
   * @throws BadRequest naming the field
   */
  public static String validate(ObjectNode body) {
    JsonNode model = body.get("model");
    if (model == null || model.isNull()) {
      throw new BadRequest("'model' is required.", "model");
    }
    if (!model.isTextual() || model.asText().isBlank()) {
      throw new BadRequest("'model' must be a non-empty string.", "model");
    }
    JsonNode stream = body.get("stream");
    if (stream != null && !stream.isNull() && !stream.isBoolean()) {
      throw new BadRequest("'stream' must be a boolean.", "stream");
    }
    if (body.path("background").asBoolean(false)) {
      throw new BadRequest(
          "'background': true is not supported: the gateway counts a call's tokens from its answer, and a background"
              + " response is answered later, to a poll the gateway never sees. Send the request without it (streaming,"
              + " if the answer takes long).",
          "background");
    }
    JsonNode input = body.get("input");
    if ((input == null || input.isNull()) && !body.hasNonNull("previous_response_id") && !body.hasNonNull("conversation")
        && !body.hasNonNull("prompt")) {
      throw new BadRequest("'input' is required: a string, or an array of input items.", "input");
    }
    if (input != null && !input.isNull() && !input.isTextual() && !input.isArray()) {
      throw new BadRequest("'input' must be a string or an array of input items.", "input");
    }
    aigw.proxy.NumberFields.check(body, aigw.proxy.NumberFields.RESPONSES); // also for a request passed through as sent
    return model.asText();
  }

  /** True when the client asked for a stream. */
  public static boolean streamed(ObjectNode body) {
    return body.path("stream").asBoolean(false);
  }

  /**
   * The chat completions body for {@code body} (already {@link #validate validated}).
   *
   * @throws BadRequest for state the gateway cannot keep, a built-in tool, or an item or part it
   *     cannot carry, naming the field ({@code param}) and saying what to send instead
   */
  public static ObjectNode toChat(ObjectNode body) {
    refuseState(body);
    ObjectNode chat = Json.MAPPER.createObjectNode();
    chat.set("model", body.get("model"));
    ArrayNode messages = chat.putArray("messages");
    JsonNode instructions = body.get("instructions");
    if (instructions != null && !instructions.isNull()) {
      if (!instructions.isTextual()) {
        throw new BadRequest("'instructions' must be a string.", "instructions");
      }
      messages.addObject().put("role", "system").put("content", instructions.asText());
    }
    JsonNode input = body.get("input");
    if (input.isTextual()) {
      messages.addObject().put("role", "user").put("content", input.asText());
    } else {
      for (int i = 0; i < input.size(); i++) {
        addItem(messages, input.get(i), "input[" + i + "]");
      }
    }
    if (messages.isEmpty()) {
      throw new BadRequest("'input' holds nothing to send to the model (no message and no instructions).", "input");
    }
    requireSettingShapes(body);
    copyTools(body, chat);
    copyIfPresent(body, "parallel_tool_calls", chat, "parallel_tool_calls");
    copyIfPresent(body, "max_output_tokens", chat, "max_tokens");
    copyIfPresent(body, "temperature", chat, "temperature");
    copyIfPresent(body, "top_p", chat, "top_p");
    copyIfPresent(body, "user", chat, "user");
    JsonNode effort = body.path("reasoning").get("effort");
    if (effort != null && effort.isTextual()) {
      chat.put("reasoning_effort", effort.asText());
    }
    copyTextFormat(body, chat);
    if (streamed(body)) {
      chat.put("stream", true);
    }
    return chat;
  }

  /**
   * The settings a chat provider gets, checked as OpenAI checks them (its API reference: {@code
   * max_output_tokens} an integer of at least 16, {@code reasoning} and {@code text} objects, a
   * {@code json_schema} format with its {@code schema}), so that a client mistake is the client's
   * 400 here instead of going out wrong or failing at the provider in another shape.
   */
  private static void requireSettingShapes(ObjectNode body) {
    JsonNode max = body.get("max_output_tokens");
    if (max != null && !max.isNull() && aigw.core.json.WholeNumbers.in(max, MIN_OUTPUT_TOKENS, Integer.MAX_VALUE) == null) { // 16.0 is 16 (WholeNumbers)
      throw new BadRequest(
          "'max_output_tokens' must be an integer of at least " + MIN_OUTPUT_TOKENS + " (OpenAI's minimum).", "max_output_tokens");
    }
    for (String field : new String[] {"reasoning", "text"}) {
      JsonNode value = body.get(field);
      if (value != null && !value.isNull() && !value.isObject()) {
        throw new BadRequest("'" + field + "' must be an object" + (field.equals("reasoning")
            ? ", e.g. {\"effort\": \"high\"}." : ", e.g. {\"format\": {\"type\": \"json_object\"}}."), field);
      }
    }
    JsonNode format = body.path("text").get("format");
    if (format != null && !format.isNull()) {
      if (!format.isObject()) {
        throw new BadRequest("'text.format' must be an object, e.g. {\"type\": \"json_object\"}.", "text");
      }
      if (format.path("type").asText("").equals("json_schema") && !format.path("schema").isObject()) {
        throw new BadRequest("'text.format.schema' is required for the json_schema format: the JSON Schema the answer must follow.", "text");
      }
    }
  }

  private static void refuseState(ObjectNode body) {
    for (String field : STATEFUL_FIELDS) {
      if (body.hasNonNull(field)) {
        throw new BadRequest(
            "'" + field + "' is not supported for this model: the gateway keeps no conversation state and this model's"
                + " provider has no Responses API to keep it. Send the whole conversation in 'input' instead.",
            field);
      }
    }
    if (body.path("store").asBoolean(false)) {
      throw new BadRequest(
          "'store': true is not supported for this model: the gateway does not store responses and this model's provider"
              + " has no Responses API to store them. Send 'store': false (or leave it out).",
          "store");
    }
  }

  private static void addItem(ArrayNode messages, JsonNode item, String where) {
    if (!item.isObject()) {
      throw new BadRequest("'" + where + "' must be an object (an input item).", "input");
    }
    String type = item.path("type").asText(item.has("role") ? "message" : "");
    switch (type) {
      case "message" -> addMessage(messages, item, where);
      case "function_call" -> {
        JsonNode arguments = item.get("arguments");
        if (arguments == null || !arguments.isTextual()) {
          throw new BadRequest(
              "'" + where + ".arguments' is required and must be a string (the call's arguments as JSON text).", "input");
        }
        String namespace = item.path("namespace").isTextual() ? item.get("namespace").asText() : null;
        addToolCall(messages, requiredText(item, "call_id", where),
            ToolNames.chatName(namespace, requiredText(item, "name", where)), arguments.asText());
      }
      case "custom_tool_call" -> {
        String namespace = item.path("namespace").isTextual() ? item.get("namespace").asText() : null;
        String input = requiredText(item, "input", where);
        addToolCall(messages, requiredText(item, "call_id", where),
            ToolNames.chatName(namespace, requiredText(item, "name", where)),
            Json.MAPPER.createObjectNode().put("input", input).toString());
      }
      case "function_call_output", "custom_tool_call_output" -> {
        String callId = requiredText(item, "call_id", where);
        JsonNode output = item.get("output");
        String content;
        if (output != null && output.isTextual()) {
          content = output.asText();
        } else if (output != null && output.isArray()) {
          content = joinedText(output, where + ".output");
        } else {
          throw new BadRequest("'" + where + ".output' must be a string or an array of input_text parts.", "input");
        }
        messages.addObject().put("role", "tool").put("tool_call_id", callId).put("content", content);
      }
      case "reasoning" -> {} // the model's earlier reasoning: chat completions has no place for it
      case "item_reference" -> throw new BadRequest(
          "'" + where + "' is an item_reference, which points at a stored item: the gateway stores none for this model."
              + " Send the item itself.",
          "input");
      default -> throw new BadRequest(
          "'" + where + "' has type '" + type + "', which this model cannot take: its provider has no Responses API and"
              + " the gateway runs no built-in tool. Supported item types: message, function_call, function_call_output, custom_tool_call, custom_tool_call_output, reasoning.",
          "input");
    }
  }

  private static void addMessage(ArrayNode messages, JsonNode item, String where) {
    String role = item.path("role").asText("");
    JsonNode content = item.get("content");
    switch (role) {
      case "user", "system", "developer" -> {
        ObjectNode message = messages.addObject().put("role", role.equals("developer") ? "system" : role);
        if (content != null && content.isTextual()) {
          message.put("content", content.asText());
        } else if (content != null && content.isArray()) {
          if (role.equals("user")) {
            message.set("content", userParts(content, where + ".content"));
          } else {
            message.put("content", joinedText(content, where + ".content"));
          }
        } else {
          throw new BadRequest("'" + where + ".content' must be a string or an array of content parts.", "input");
        }
      }
      case "assistant" -> {
        String text;
        if (content != null && content.isTextual()) {
          text = content.asText();
        } else if (content != null && content.isArray()) {
          text = joinedText(content, where + ".content");
        } else {
          throw new BadRequest("'" + where + ".content' must be a string or an array of content parts.", "input");
        }
        messages.addObject().put("role", "assistant").put("content", text);
      }
      default -> throw new BadRequest(
          "'" + where + ".role' must be one of user, assistant, system, developer.", "input");
    }
  }

  /** A call the model made: one tool call of the assistant message just before, or of a new one. */
  private static void addToolCall(ArrayNode messages, String callId, String chatName, String arguments) {
    ObjectNode last = messages.isEmpty() ? null : (ObjectNode) messages.get(messages.size() - 1);
    ObjectNode assistant;
    if (last != null && "assistant".equals(last.path("role").asText())) {
      assistant = last;
    } else {
      assistant = messages.addObject().put("role", "assistant");
      assistant.putNull("content");
    }
    ArrayNode calls = assistant.has("tool_calls") ? (ArrayNode) assistant.get("tool_calls") : assistant.putArray("tool_calls");
    ObjectNode call = calls.addObject().put("id", callId).put("type", "function");
    call.putObject("function").put("name", chatName).put("arguments", arguments);
  }

  /** A user message's parts: text as {@code text}, images as {@code image_url}. */
  private static ArrayNode userParts(JsonNode parts, String where) {
    ArrayNode chatParts = Json.MAPPER.createArrayNode();
    for (int i = 0; i < parts.size(); i++) {
      JsonNode part = parts.get(i);
      String at = where + "[" + i + "]";
      switch (part.path("type").asText("")) {
        case "input_text", "output_text" -> chatParts.addObject().put("type", "text").put("text", part.path("text").asText(""));
        case "input_image" -> {
          JsonNode url = part.get("image_url");
          if ((url == null || url.isNull()) && !part.hasNonNull("file_id")) {
            throw new BadRequest(
                "'" + at + "' has neither image_url nor file_id: an input_image needs one. Send the image as a URL or a"
                    + " data: URL in image_url.",
                "input");
          }
          if (url == null || !url.isTextual()) {
            throw new BadRequest(
                "'" + at + "' has no image_url: an image by file_id needs OpenAI's file storage, which this model's provider"
                    + " lacks. Send the image as a URL or a data: URL.",
                "input");
          }
          ObjectNode image = chatParts.addObject().put("type", "image_url").putObject("image_url").put("url", url.asText());
          if (part.path("detail").isTextual()) {
            image.put("detail", part.get("detail").asText());
          }
        }
        default -> throw new BadRequest(
            "'" + at + "' has type '" + part.path("type").asText("") + "', which this model cannot take. Supported: input_text,"
                + " input_image (by URL).",
            "input");
      }
    }
    return chatParts;
  }

  /** The text of parts that can only be text here (assistant, system, tool output), joined. */
  private static String joinedText(JsonNode parts, String where) {
    var text = new StringBuilder();
    for (int i = 0; i < parts.size(); i++) {
      JsonNode part = parts.get(i);
      switch (part.path("type").asText("")) {
        case "input_text", "output_text" -> text.append(part.path("text").asText(""));
        case "refusal" -> text.append(part.path("refusal").asText(""));
        default -> throw new BadRequest(
            "'" + where + "[" + i + "]' has type '" + part.path("type").asText("") + "'; only text parts (input_text,"
                + " output_text, refusal) are supported here.",
            "input");
      }
    }
    return text.toString();
  }

  /** Tool types a provider runs itself (OpenAI's hosted tools), which a chat provider cannot: left out. */
  private static final Set<String> HOSTED_TOOLS = Set.of(
      "web_search", "web_search_preview", "web_search_preview_2025_03_11", "web_search_2025_08_26", "file_search",
      "code_interpreter", "image_generation", "computer_use_preview", "computer_use", "mcp", "local_shell", "shell",
      "tool_search", "apply_patch");

  private static void copyTools(ObjectNode body, ObjectNode chat) {
    JsonNode tools = body.get("tools");
    if (tools != null && !tools.isNull()) {
      if (!tools.isArray()) {
        throw new BadRequest("'tools' must be an array.", "tools");
      }
      ArrayNode chatTools = Json.MAPPER.createArrayNode();
      for (int i = 0; i < tools.size(); i++) {
        addTool(chatTools, tools.get(i), null, "tools[" + i + "]");
      }
      if (!chatTools.isEmpty()) {
        chat.set("tools", chatTools);
      }
    }
    JsonNode choice = body.get("tool_choice");
    if (choice == null || choice.isNull()) {
      return;
    }
    if (choice.isTextual()) {
      chat.set("tool_choice", choice);
    } else if (choice.isObject() && Set.of("function", "custom").contains(choice.path("type").asText())
        && choice.path("name").isTextual()) {
      ObjectNode chatChoice = chat.putObject("tool_choice").put("type", "function");
      chatChoice.putObject("function").put("name", chosenFunction(tools, choice));
    } else {
      throw new BadRequest(
          "'tool_choice' must be \"auto\", \"none\", \"required\" or {\"type\":\"function\",\"name\":...} for this model"
              + " (built-in tools and allowed_tools need a provider with the Responses API).",
          "tool_choice");
    }
  }

  /**
   * The chat function a {@code tool_choice} of type function or custom names: a function of a {@code
   * namespace} tool goes to the provider flattened ({@link ToolNames#chatName}), so the choice must
   * name it so too, or the provider is asked for a function it was not given. The namespace is
   * {@code tool_choice.namespace} when the client states it (as the API's call items state theirs),
   * else the one namespace holding a tool of that name when no top-level tool has it; any other name
   * goes as it is (an unknown one is the provider's to refuse, as for any model).
   *
   * @throws BadRequest a {@code namespace} that is not a string (400, {@code param} {@code tool_choice})
   */
  private static String chosenFunction(JsonNode tools, JsonNode choice) {
    String name = choice.get("name").asText();
    JsonNode namespace = choice.get("namespace");
    if (namespace != null && !namespace.isNull()) {
      if (!namespace.isTextual()) {
        throw new BadRequest("'tool_choice.namespace' must be a string: the name of a namespace tool.", "tool_choice");
      }
      return ToolNames.chatName(namespace.asText(), name);
    }
    var namespaces = new java.util.ArrayList<String>();
    for (JsonNode tool : tools == null ? Json.MAPPER.createArrayNode() : tools) {
      if (!tool.path("type").asText("").equals("namespace")) {
        if (name.equals(tool.path("name").asText(null))) {
          return name; // a top-level tool of that name
        }
        continue;
      }
      for (JsonNode inner : tool.path("tools")) {
        if (name.equals(inner.path("name").asText(null)) && tool.path("name").isTextual()) {
          namespaces.add(tool.get("name").asText());
        }
      }
    }
    return namespaces.size() == 1 ? ToolNames.chatName(namespaces.get(0), name) : name;
  }

  /**
   * One Responses tool as chat functions: a {@code function} as is; a {@code namespace}'s tools
   * flattened ({@link ToolNames}); a {@code custom} (freeform) tool as a function taking one string
   * {@code input}; a hosted tool ({@link #HOSTED_TOOLS}) left out, since only its provider could run it
   * (Codex CLI sends {@code web_search} by default and must work unchanged; the model then simply
   * does not have that tool); anything else a 400.
   */
  private static void addTool(ArrayNode chatTools, JsonNode tool, String namespace, String where) {
    if (!tool.isObject()) {
      throw new BadRequest("'" + where + "' must be an object (a tool).", "tools");
    }
    String type = tool.path("type").asText("");
    switch (type) {
      case "function" -> {
        ObjectNode function = Json.MAPPER.createObjectNode();
        function.put("name", ToolNames.chatName(namespace, toolName(tool, where)));
        for (String field : new String[] {"description", "parameters", "strict"}) {
          if (tool.hasNonNull(field)) {
            function.set(field, tool.get(field));
          }
        }
        chatTools.addObject().put("type", "function").set("function", function);
      }
      case "custom" -> {
        ObjectNode function = Json.MAPPER.createObjectNode();
        function.put("name", ToolNames.chatName(namespace, toolName(tool, where)));
        String description = tool.path("description").asText("");
        JsonNode format = tool.get("format");
        if (format != null && format.path("definition").isTextual()) {
          description += (description.isEmpty() ? "" : "\n\n") + "The input must follow this " + format.path("syntax").asText("grammar")
              + ":\n" + format.get("definition").asText();
        }
        if (!description.isEmpty()) {
          function.put("description", description);
        }
        ObjectNode parameters = function.putObject("parameters").put("type", "object");
        parameters.putObject("properties").putObject("input").put("type", "string").put("description", "The tool's whole input, as free text.");
        parameters.putArray("required").add("input");
        parameters.put("additionalProperties", false);
        chatTools.addObject().put("type", "function").set("function", function);
      }
      case "namespace" -> {
        if (namespace != null) {
          throw new BadRequest("'" + where + "' is a namespace inside a namespace, which is not supported.", "tools");
        }
        String name = toolName(tool, where);
        JsonNode inner = tool.get("tools");
        if (inner == null || !inner.isArray()) {
          throw new BadRequest("'" + where + ".tools' is required and must be an array of tools.", "tools");
        }
        for (int j = 0; j < inner.size(); j++) {
          addTool(chatTools, inner.get(j), name, where + ".tools[" + j + "]");
        }
      }
      default -> {
        if (!HOSTED_TOOLS.contains(type)) {
          throw new BadRequest(
              "'" + where + ".type' is '" + type + "', which this model cannot take. Supported: function, custom,"
                  + " namespace; hosted tools (" + String.join(", ", new java.util.TreeSet<>(HOSTED_TOOLS))
                  + ") are left out for a model whose provider has no Responses API.",
              "tools");
        }
      }
    }
  }

  private static String toolName(JsonNode tool, String where) {
    JsonNode name = tool.get("name");
    if (name == null || !name.isTextual() || name.asText().isBlank()) {
      throw new BadRequest("'" + where + ".name' is required and must be a non-empty string.", "tools");
    }
    return name.asText();
  }

  private static void copyTextFormat(ObjectNode body, ObjectNode chat) {
    JsonNode format = body.path("text").get("format");
    if (format == null || !format.isObject()) {
      return;
    }
    switch (format.path("type").asText("")) {
      case "json_schema" -> {
        ObjectNode schema = Json.MAPPER.createObjectNode();
        for (String field : new String[] {"name", "description", "schema", "strict"}) {
          if (format.hasNonNull(field)) {
            schema.set(field, format.get(field));
          }
        }
        chat.putObject("response_format").put("type", "json_schema").set("json_schema", schema);
      }
      case "json_object" -> chat.putObject("response_format").put("type", "json_object");
      case "text" -> {}
      default -> throw new BadRequest(
          "'text.format.type' must be text, json_schema or json_object.", "text");
    }
  }

  private static void copyIfPresent(ObjectNode from, String field, ObjectNode to, String as) {
    JsonNode value = from.get(field);
    if (value != null && !value.isNull()) {
      to.set(as, value);
    }
  }

  private static String requiredText(JsonNode item, String field, String where) {
    JsonNode value = item.get(field);
    if (value == null || !value.isTextual()) {
      throw new BadRequest("'" + where + "." + field + "' is required and must be a string.", "input");
    }
    return value.asText();
  }
}

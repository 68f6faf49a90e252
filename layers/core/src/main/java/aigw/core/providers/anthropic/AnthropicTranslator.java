package aigw.core.providers.anthropic;

import static aigw.core.providers.ChatTurns.append;
import static aigw.core.providers.ChatTurns.text;

import aigw.core.config.Deployment;
import aigw.core.errors.BadRequest;
import aigw.core.errors.ServiceUnavailable;
import aigw.core.errors.UpstreamFailed;
import aigw.core.errors.UpstreamUnreachable;
import aigw.core.json.Json;
import aigw.core.providers.Operation;
import aigw.core.providers.ProviderRequest;
import aigw.core.providers.ProviderResponse;
import aigw.core.providers.StreamChunk;
import aigw.core.providers.http.HttpApiTranslator;
import aigw.core.providers.http.ServerSentEvent;
import aigw.core.providers.http.StreamTranslation;
import aigw.core.providers.http.UpstreamCall;
import aigw.core.providers.http.UpstreamErrors;
import aigw.core.usage.TokenUsage;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpHeaders;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * OpenAI's chat completions to Anthropic's Messages API and back
 * (https://docs.anthropic.com/en/api/messages, .../messages-streaming, .../errors), as LiteLLM's
 * {@code anthropic/<model>} does.
 *
 * <p>Request: system and developer messages become {@code system} (joined with a blank line); the
 * rest become {@code messages}, consecutive turns of one role merged (Anthropic requires user and
 * assistant to alternate), {@code tool} messages as {@code tool_result} blocks of a user turn,
 * assistant {@code tool_calls} as {@code tool_use} blocks, {@code image_url} parts as {@code image}
 * blocks (a {@code data:} URL as a base64 source, an http(s) URL as a url source); function tools
 * get an {@code input_schema}; {@code max_tokens} (or {@code max_completion_tokens}) defaults to
 * {@value #DEFAULT_MAX_TOKENS}, LiteLLM's {@code DEFAULT_ANTHROPIC_CHAT_MAX_TOKENS}, because
 * Anthropic requires it; {@code stop} becomes {@code stop_sequences}, {@code user} {@code
 * metadata.user_id}. Parameters Anthropic has no
 * equivalent for ({@code n}, {@code logprobs}, {@code presence_penalty}...) are not sent.
 *
 * <p>Extended thinking, as LiteLLM carries it (https://docs.litellm.ai/docs/reasoning_content): an
 * answer's {@code thinking} and {@code redacted_thinking} blocks become the message's {@code
 * thinking_blocks} ({@code {type: thinking, thinking, signature}}, {@code {type: redacted_thinking,
 * data}}) beside {@code reasoning_content} (the thinking text), and a stream's {@code thinking_delta},
 * {@code signature_delta} and redacted blocks become {@code delta.thinking_blocks}; an assistant
 * message's {@code thinking_blocks} sent back go first in its turn, as sent, which Anthropic needs to
 * continue a conversation with thinking and tools (the signature proves the thinking is its own).
 *
 * <p>Answer: text blocks joined as {@code content}, {@code tool_use} blocks as {@code tool_calls}
 * (arguments a JSON string), {@code stop_reason} as {@code finish_reason}, usage with the cached
 * tokens counted as prompt tokens ({@code input_tokens} counts only the uncached part) and
 * {@code prompt_tokens_details.cached_tokens} = {@code cache_read_input_tokens}. A stream's events
 * become {@code chat.completion.chunk}s, and {@code message_stop} a usage chunk ({@code choices: []})
 * built from {@code message_start}'s and {@code message_delta}'s usage.
 */
public final class AnthropicTranslator implements HttpApiTranslator {
  /** LiteLLM's default (litellm/constants.py DEFAULT_ANTHROPIC_CHAT_MAX_TOKENS): Anthropic requires max_tokens. */
  public static final int DEFAULT_MAX_TOKENS = 4096;
  /** The API version every call states (https://docs.anthropic.com/en/api/versioning). */
  public static final String API_VERSION = "2023-06-01";

  private final InstantSource clock;

  public AnthropicTranslator() {
    this(InstantSource.system());
  }

  /** @param clock gives {@code created} of the OpenAI answers (Anthropic's carry no timestamp) */
  public AnthropicTranslator(InstantSource clock) {
    this.clock = clock;
  }

  // ---------------------------------------------------------------- request

  @Override
  public UpstreamCall request(Deployment deployment, ProviderRequest request) {
    boolean native_ = isNative(request.operation());
    if (request.operation() != Operation.CHAT_COMPLETIONS && !native_) {
      throw new BadRequest(
          "Model '" + deployment.modelName() + "' is an Anthropic model: it serves /v1/chat/completions only, not /v1"
              + request.operation().path() + ".");
    }
    if (deployment.apiBase() == null) {
      throw new ServiceUnavailable(
          "The gateway has no api_base for model '" + deployment.modelName() + "': " + deployment.apiBaseSource()
              + " is not set. The operator must set it (locally in the environment; on AWS in the provider credentials secret).",
          null);
    }
    if (deployment.apiKey() == null && deployment.apiKeySource() != null) {
      throw new ServiceUnavailable(
          "The gateway has no credential for model '" + deployment.modelName() + "': " + deployment.apiKeySource()
              + " is not set. The operator must set it (locally in the environment; on AWS in the provider credentials secret).",
          null);
    }
    var headers = new LinkedHashMap<String, String>();
    headers.put("Content-Type", "application/json");
    headers.put("Accept", request.stream() ? "text/event-stream" : "application/json");
    if (deployment.apiKey() != null) {
      headers.put("x-api-key", deployment.apiKey());
    }
    headers.put("anthropic-version", API_VERSION);
    byte[] body;
    URI uri = messagesUri(deployment.apiBase());
    if (native_) {
      // The client's Messages body as sent, only its model replaced: fields this gateway does not
      // know (beta ones included) reach Anthropic, with the client's anthropic-beta that enables them.
      body = request.body().withModel(deployment.upstreamModel());
      String beta = request.clientHeaders().get("anthropic-beta");
      if (beta != null) {
        headers.put("anthropic-beta", beta);
      }
      if (request.operation() == Operation.MESSAGES_COUNT_TOKENS) {
        uri = URI.create(uri + "/count_tokens");
      }
    } else {
      ObjectNode chat;
      try {
        chat = Json.readObject(request.body().sent());
      } catch (Json.NotAJsonObject e) {
        throw new BadRequest("The request body is not valid JSON: " + e.getMessage());
      }
      body = Json.bytes(messagesBody(deployment.upstreamModel(), chat, request.stream()));
    }
    return new UpstreamCall(
        deployment.modelName(),
        uri,
        headers,
        body,
        deployment.timeout(),
        deployment.apiKey() == null ? List.of() : List.of(deployment.apiKey()));
  }

  /**
   * {@code <api_base>/v1/messages}; an {@code api_base} that already ends in {@code /v1} or {@code
   * /v1/messages} is not extended again (LiteLLM accepts both forms).
   */
  static URI messagesUri(URI apiBase) {
    String base = apiBase.toString().replaceAll("/+$", "");
    if (base.endsWith("/v1/messages")) {
      return URI.create(base);
    }
    return URI.create(base + (base.endsWith("/v1") ? "/messages" : "/v1/messages"));
  }

  /** The Messages API body for an OpenAI chat completion request (see the class comment). */
  static ObjectNode messagesBody(String model, ObjectNode chat, boolean stream) {
    ObjectNode body = Json.MAPPER.createObjectNode();
    body.put("model", model);
    ArrayNode system = Json.MAPPER.createArrayNode(); // text blocks, each with its cache_control if any
    ArrayNode messages = body.putArray("messages");
    JsonNode chatMessages = chat.path("messages");
    if (!chatMessages.isArray() || chatMessages.isEmpty()) {
      throw new BadRequest("'messages' must be a non-empty array.", "messages");
    }
    for (int i = 0; i < chatMessages.size(); i++) {
      JsonNode message = chatMessages.get(i);
      String where = "messages[" + i + "]";
      String role = message.path("role").asText("");
      switch (role) {
        case "system", "developer" -> system.addAll(cached(systemBlocks(message.get("content"), where), message));
        case "user" -> append(messages, "user", cached(userBlocks(message.get("content"), where), message));
        case "assistant" -> append(messages, "assistant", assistantBlocks(message, where));
        case "tool" -> append(messages, "user", toolResult(message, where));
        default -> throw new BadRequest(where + ".role '" + role + "' is not supported for Anthropic models.", where + ".role");
      }
    }
    if (messages.isEmpty()) {
      throw new BadRequest("Anthropic models need at least one user or assistant message besides the system prompt.", "messages");
    }
    if (system.findValue("cache_control") != null) {
      body.set("system", system); // blocks, so that each keeps its cache breakpoint
    } else if (!system.isEmpty()) {
      var texts = new ArrayList<String>();
      system.forEach(block -> texts.add(block.path("text").asText()));
      body.put("system", String.join("\n\n", texts));
    }
    refuseResponseFormat(chat.get("response_format"));
    Integer budget = thinkingBudget(chat.get("reasoning_effort"));
    JsonNode maxTokens = chat.hasNonNull("max_completion_tokens") ? chat.get("max_completion_tokens") : chat.get("max_tokens");
    if (maxTokens != null && !maxTokens.isNull()) {
      if (aigw.core.json.WholeNumbers.in(maxTokens, 1, Integer.MAX_VALUE) == null) { // 10.0 is 10 (WholeNumbers)
        throw new BadRequest("'max_tokens' must be a positive integer.", "max_tokens");
      }
      if (budget != null && maxTokens.asInt() <= budget) {
        // Anthropic counts thinking within max_tokens and refuses a budget that does not fit.
        throw new BadRequest(
            "'max_tokens' (" + maxTokens.asInt() + ") must be greater than the thinking budget of reasoning_effort '"
                + chat.get("reasoning_effort").asText() + "' (" + budget + " tokens) for Anthropic models.",
            "max_tokens");
      }
      body.put("max_tokens", maxTokens.asInt());
    } else {
      body.put("max_tokens", budget == null ? DEFAULT_MAX_TOKENS : budget + DEFAULT_MAX_TOKENS);
    }
    if (budget != null) {
      body.putObject("thinking").put("type", "enabled").put("budget_tokens", budget);
    }
    JsonNode stop = chat.get("stop");
    if (stop != null && stop.isTextual()) {
      body.putArray("stop_sequences").add(stop.asText());
    } else if (stop != null && stop.isArray() && !stop.isEmpty()) {
      body.set("stop_sequences", stop);
    }
    for (String copied : List.of("temperature", "top_p")) {
      if (chat.hasNonNull(copied)) {
        body.set(copied, chat.get(copied));
      }
    }
    JsonNode tools = chat.get("tools");
    if (tools != null && tools.isArray() && !tools.isEmpty()) {
      ArrayNode anthropicTools = body.putArray("tools");
      for (int i = 0; i < tools.size(); i++) {
        JsonNode function = tools.get(i).path("function");
        if (!"function".equals(tools.get(i).path("type").asText()) || !function.path("name").isTextual()) {
          throw new BadRequest("tools[" + i + "] must be a function tool with a name.", "tools");
        }
        ObjectNode tool = anthropicTools.addObject();
        tool.put("name", function.get("name").asText());
        if (function.hasNonNull("description")) {
          tool.put("description", function.get("description").asText());
        }
        JsonNode parameters = function.get("parameters");
        if (parameters != null && parameters.isObject()) {
          tool.set("input_schema", parameters);
        } else { // Anthropic requires a schema; OpenAI's default is a function without parameters
          tool.putObject("input_schema").put("type", "object").putObject("properties");
        }
        if (tools.get(i).get("cache_control") instanceof ObjectNode cacheControl) { // a breakpoint after the tools
          tool.set("cache_control", cacheControl);
        }
      }
    }
    ObjectNode toolChoice = toolChoice(chat.get("tool_choice"));
    if (chat.path("parallel_tool_calls").isBoolean() && !chat.get("parallel_tool_calls").asBoolean() && body.has("tools")) {
      if (toolChoice == null) {
        toolChoice = Json.MAPPER.createObjectNode().put("type", "auto");
      }
      toolChoice.put("disable_parallel_tool_use", true);
    }
    if (toolChoice != null && body.has("tools")) {
      body.set("tool_choice", toolChoice);
    }
    if (chat.path("user").isTextual()) { // OpenAI's end-user id, as LiteLLM passes it
      body.putObject("metadata").put("user_id", chat.get("user").asText());
    }
    if (stream) {
      body.put("stream", true);
    }
    return body;
  }

  /**
   * OpenAI's {@code reasoning_effort} as Anthropic's extended thinking budget, in tokens, as LiteLLM
   * maps it (litellm/constants.py DEFAULT_REASONING_EFFORT_*_THINKING_BUDGET: low 1024, medium 2048,
   * high 4096); {@code minimal} is Anthropic's smallest budget, 1024 (LiteLLM's 128 is below what
   * Anthropic accepts: https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking);
   * {@code none} or absent: no thinking (null).
   */
  static Integer thinkingBudget(JsonNode effort) {
    if (effort == null || effort.isNull()) {
      return null;
    }
    return switch (effort.asText()) {
      case "none" -> null;
      case "minimal", "low" -> 1024;
      case "medium" -> 2048;
      case "high" -> 4096;
      default -> throw new BadRequest(
          "'reasoning_effort' must be none, minimal, low, medium or high for Anthropic models.", "reasoning_effort");
    };
  }

  /**
   * {@code response_format} asks for JSON output, which Anthropic's Messages API has no plain field
   * for (LiteLLM forces a synthetic {@code json_tool_call} tool, or uses Anthropic's beta {@code
   * output_format} for some models, and rewrites the answer back); this gateway does neither yet,
   * so rather than drop it silently and answer free text, it refuses the request naming the field.
   * {@code {"type":"text"}} asks for nothing and passes.
   */
  private static void refuseResponseFormat(JsonNode format) {
    if (format == null || format.isNull() || "text".equals(format.path("type").asText())) {
      return;
    }
    throw new BadRequest(
        "'response_format' " + (format.path("type").isTextual() ? "'" + format.path("type").asText() + "' " : "")
            + "is not supported for Anthropic models by this gateway: it is not sent rather than ignored. Ask for JSON in the"
            + " prompt, or define a function tool with the schema and set tool_choice to it.",
        "response_format");
  }

  /**
   * OpenAI-style prompt caching as Anthropic's (https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching),
   * as LiteLLM passes it: a {@code cache_control} on a content part is kept on the block it becomes
   * ({@link #userBlocks}, {@link #systemBlocks}); one on the message itself goes on its last block.
   */
  private static ArrayNode cached(ArrayNode blocks, JsonNode message) {
    if (message.get("cache_control") instanceof ObjectNode cacheControl && !blocks.isEmpty()) {
      ((ObjectNode) blocks.get(blocks.size() - 1)).set("cache_control", cacheControl);
    }
    return blocks;
  }

  /** A system message as text blocks: a string, or its text parts each with its {@code cache_control}. */
  private static ArrayNode systemBlocks(JsonNode content, String where) {
    ArrayNode blocks = Json.MAPPER.createArrayNode();
    if (content != null && content.isArray()) {
      for (JsonNode part : content) {
        if (!"text".equals(part.path("type").asText())) {
          throw new BadRequest(where + ".content may hold only text parts.", where + ".content");
        }
        blocks.add(withCacheControl(Json.MAPPER.createObjectNode().put("type", "text").put("text", part.path("text").asText()), part));
      }
      return blocks;
    }
    blocks.addObject().put("type", "text").put("text", text(content, where));
    return blocks;
  }

  /** {@code block} with the OpenAI part's {@code cache_control}, when it has one. */
  private static ObjectNode withCacheControl(ObjectNode block, JsonNode part) {
    if (part.get("cache_control") instanceof ObjectNode cacheControl) {
      block.set("cache_control", cacheControl);
    }
    return block;
  }

  /** OpenAI's {@code tool_choice} as Anthropic's: auto, required → any, none, a named function → tool. */
  private static ObjectNode toolChoice(JsonNode choice) {
    if (choice == null || choice.isNull()) {
      return null;
    }
    ObjectNode out = Json.MAPPER.createObjectNode();
    if (choice.isTextual()) {
      switch (choice.asText()) {
        case "auto" -> out.put("type", "auto");
        case "required" -> out.put("type", "any");
        case "none" -> out.put("type", "none");
        default -> throw new BadRequest("'tool_choice' must be auto, required, none or a function.", "tool_choice");
      }
      return out;
    }
    String name = choice.path("function").path("name").asText(null);
    if (name == null) {
      throw new BadRequest("'tool_choice' must be auto, required, none or a function.", "tool_choice");
    }
    return out.put("type", "tool").put("name", name);
  }

  private static ArrayNode userBlocks(JsonNode content, String where) {
    ArrayNode blocks = Json.MAPPER.createArrayNode();
    if (content != null && content.isTextual()) {
      blocks.addObject().put("type", "text").put("text", content.asText());
      return blocks;
    }
    if (content == null || !content.isArray()) {
      throw new BadRequest(where + ".content must be a string or an array of content parts.", where + ".content");
    }
    for (JsonNode part : content) {
      switch (part.path("type").asText()) {
        case "text" -> blocks.add(withCacheControl(Json.MAPPER.createObjectNode().put("type", "text").put("text", part.path("text").asText()), part));
        case "image_url" -> blocks.add(withCacheControl(image(part.path("image_url").path("url").asText(""), where), part));
        default -> throw new BadRequest(
            where + ": content part type '" + part.path("type").asText() + "' is not supported for Anthropic models (text and image_url are).",
            where + ".content");
      }
    }
    return blocks;
  }

  /** {@code data:<media type>;base64,<data>} as a base64 source, an http(s) URL as a url source. */
  private static ObjectNode image(String url, String where) {
    ObjectNode block = Json.MAPPER.createObjectNode().put("type", "image");
    ObjectNode source = block.putObject("source");
    if (url.startsWith("data:")) {
      int comma = url.indexOf(',');
      String header = comma < 0 ? "" : url.substring(5, comma);
      if (!header.endsWith(";base64")) {
        throw new BadRequest(where + ": an image data URL must be data:<media type>;base64,<data>.", where + ".content");
      }
      source.put("type", "base64").put("media_type", header.substring(0, header.length() - 7)).put("data", url.substring(comma + 1));
    } else if (url.startsWith("https://") || url.startsWith("http://")) {
      source.put("type", "url").put("url", url);
    } else {
      throw new BadRequest(where + ": image_url.url must be an http(s) URL or a base64 data URL.", where + ".content");
    }
    return block;
  }

  private static ArrayNode assistantBlocks(JsonNode message, String where) {
    ArrayNode blocks = thinkingBlocks(message.get("thinking_blocks"), where);
    JsonNode content = message.get("content");
    if (content != null && content.isArray()) {
      // LiteLLM also takes thinking as content parts ({type: thinking|redacted_thinking, ...}): first too
      ArrayNode thinkingParts = Json.MAPPER.createArrayNode();
      ArrayNode otherParts = Json.MAPPER.createArrayNode();
      content.forEach(part -> (Set.of("thinking", "redacted_thinking").contains(part.path("type").asText()) ? thinkingParts : otherParts).add(part));
      blocks.addAll(thinkingBlocks(thinkingParts, where));
      content = otherParts;
    }
    if (content != null && !content.isNull()) {
      String text = text(content, where);
      if (!text.isEmpty()) { // Anthropic refuses empty text blocks; OpenAI sends "" beside tool calls
        blocks.addObject().put("type", "text").put("text", text);
      }
    }
    JsonNode calls = message.path("tool_calls");
    for (int i = 0; i < calls.size(); i++) {
      JsonNode call = calls.get(i);
      ObjectNode use = blocks.addObject().put("type", "tool_use");
      use.put("id", call.path("id").asText());
      use.put("name", call.path("function").path("name").asText());
      String arguments = call.path("function").path("arguments").asText("");
      try {
        JsonNode input = arguments.isBlank() ? Json.MAPPER.createObjectNode() : Json.MAPPER.readTree(arguments);
        if (input == null || !input.isObject()) {
          throw new IOException("not an object");
        }
        use.set("input", input);
      } catch (IOException e) {
        throw new BadRequest(
            where + ".tool_calls[" + i + "].function.arguments must be a JSON object in a string.", where + ".tool_calls");
      }
    }
    return blocks;
  }

  /**
   * An assistant message's {@code thinking_blocks} (LiteLLM's field, which this gateway's answers
   * carry), or its content parts of those types, as the first blocks of its turn, unchanged: Anthropic refuses a turn whose thinking does
   * not come first or was altered, and with thinking enabled needs the last assistant turn's thinking
   * before its tool_use ("a final assistant message must start with a thinking block",
   * https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking#preserving-thinking-blocks).
   * A thinking block without a signature is left out: it was not written by Claude (a reasoning
   * model of another provider, translated), and Anthropic refuses a signature it cannot verify.
   *
   * @throws BadRequest a value that is not an array of thinking or redacted_thinking blocks (400,
   *     {@code param} {@code <where>.thinking_blocks})
   */
  private static ArrayNode thinkingBlocks(JsonNode thinkingBlocks, String where) {
    ArrayNode blocks = Json.MAPPER.createArrayNode();
    if (thinkingBlocks == null || thinkingBlocks.isNull()) {
      return blocks;
    }
    String field = where + ".thinking_blocks";
    if (!thinkingBlocks.isArray()) {
      throw new BadRequest(field + " must be an array of thinking blocks.", field);
    }
    for (JsonNode block : thinkingBlocks) {
      switch (block.path("type").asText("")) {
        case "thinking" -> {
          if (!block.path("thinking").isTextual() || !(block.path("signature").isTextual() || block.path("signature").isNull()
              || block.path("signature").isMissingNode())) {
            throw new BadRequest(field + ": a thinking block needs its thinking and signature as strings.", field);
          }
          String signature = block.path("signature").asText("");
          if (!signature.isEmpty()) {
            blocks.addObject().put("type", "thinking").put("thinking", block.get("thinking").asText()).put("signature", signature);
          }
        }
        case "redacted_thinking" -> {
          if (!block.path("data").isTextual()) {
            throw new BadRequest(field + ": a redacted_thinking block needs its data as a string.", field);
          }
          blocks.addObject().put("type", "redacted_thinking").put("data", block.get("data").asText());
        }
        default -> throw new BadRequest(
            field + " may hold only blocks of type thinking or redacted_thinking, as Anthropic models answered them.", field);
      }
    }
    return blocks;
  }

  private static ArrayNode toolResult(JsonNode message, String where) {
    ArrayNode blocks = Json.MAPPER.createArrayNode();
    ObjectNode result = blocks.addObject().put("type", "tool_result");
    if (!message.path("tool_call_id").isTextual()) {
      throw new BadRequest(where + ".tool_call_id is required for a tool message.", where + ".tool_call_id");
    }
    result.put("tool_use_id", message.get("tool_call_id").asText());
    result.put("content", text(message.get("content"), where));
    return blocks;
  }

  // ---------------------------------------------------------------- answer

  @Override
  public ProviderResponse response(Deployment deployment, ProviderRequest request, byte[] body) {
    JsonNode answer = parse(deployment, body);
    if (request.operation() == Operation.MESSAGES_COUNT_TOKENS) {
      return new ProviderResponse(body, TokenUsage.NONE); // {"input_tokens": n}: nothing was generated
    }
    if (request.operation() == Operation.MESSAGES) {
      if (!"message".equals(answer.path("type").asText())) {
        throw new UpstreamUnreachable(
            "The provider of '" + deployment.modelName() + "' sent an answer that is not an Anthropic message.", null, false);
      }
      return new ProviderResponse(body, TokenUsage.fromOpenAi(usage(answer.path("usage"), null))); // relayed as sent
    }
    if (!"message".equals(answer.path("type").asText()) || !answer.path("content").isArray()) {
      throw new UpstreamUnreachable(
          "The provider of '" + deployment.modelName() + "' sent an answer that is not an Anthropic message.", null, false);
    }
    ObjectNode usage = usage(answer.path("usage"), null);
    return new ProviderResponse(Json.bytes(completion(answer, usage)), TokenUsage.fromOpenAi(usage));
  }

  private static JsonNode parse(Deployment deployment, byte[] body) {
    JsonNode answer;
    try {
      answer = Json.MAPPER.readTree(body);
    } catch (IOException e) {
      throw new UpstreamUnreachable("The provider of '" + deployment.modelName() + "' sent a body that is not JSON.", e, false);
    }
    if (answer == null || !answer.isObject()) {
      throw new UpstreamUnreachable("The provider of '" + deployment.modelName() + "' sent an empty or non-object answer.", null, false);
    }
    return answer;
  }

  private ObjectNode completion(JsonNode message, ObjectNode usage) {
    ObjectNode completion = Json.MAPPER.createObjectNode();
    completion.put("id", message.path("id").asText());
    completion.put("object", "chat.completion");
    completion.put("created", clock.instant().getEpochSecond());
    completion.put("model", message.path("model").asText());
    ObjectNode choice = completion.putArray("choices").addObject();
    choice.put("index", 0);
    ObjectNode out = choice.putObject("message");
    out.put("role", "assistant");
    var text = new StringBuilder();
    var reasoning = new StringBuilder();
    ArrayNode thinkingBlocks = Json.MAPPER.createArrayNode();
    ArrayNode toolCalls = Json.MAPPER.createArrayNode();
    for (JsonNode block : message.path("content")) {
      switch (block.path("type").asText()) {
        case "text" -> text.append(block.path("text").asText());
        case "thinking" -> { // as LiteLLM: the text as reasoning_content, the block with its signature in thinking_blocks
          reasoning.append(block.path("thinking").asText());
          thinkingBlocks.addObject().put("type", "thinking").put("thinking", block.path("thinking").asText(""))
              .put("signature", block.path("signature").asText(""));
        }
        case "redacted_thinking" -> thinkingBlocks.addObject().put("type", "redacted_thinking").put("data", block.path("data").asText(""));
        case "tool_use" -> {
          ObjectNode call = toolCalls.addObject();
          call.put("id", block.path("id").asText());
          call.put("type", "function");
          call.putObject("function")
              .put("name", block.path("name").asText())
              .put("arguments", Json.string(block.has("input") ? block.get("input") : Json.MAPPER.createObjectNode()));
        }
        default -> {} // blocks OpenAI's message has no field for (server tool results...)
      }
    }
    if (text.isEmpty() && !toolCalls.isEmpty()) {
      out.putNull("content");
    } else {
      out.put("content", text.toString());
    }
    if (!reasoning.isEmpty()) {
      out.put("reasoning_content", reasoning.toString());
    }
    if (!thinkingBlocks.isEmpty()) {
      out.set("thinking_blocks", thinkingBlocks);
    }
    if (!toolCalls.isEmpty()) {
      out.set("tool_calls", toolCalls);
    }
    choice.putNull("logprobs");
    choice.put("finish_reason", finishReason(message.path("stop_reason").asText(null)));
    completion.set("usage", usage);
    return completion;
  }

  /** Anthropic's {@code stop_reason} as OpenAI's {@code finish_reason}. */
  static String finishReason(String stopReason) {
    if (stopReason == null) {
      return null;
    }
    return switch (stopReason) {
      case "max_tokens", "model_context_window_exceeded" -> "length";
      case "tool_use" -> "tool_calls";
      case "refusal" -> "content_filter";
      default -> "stop"; // end_turn, stop_sequence, pause_turn
    };
  }

  /**
   * The inverse of {@link #finishReason}, for answers translated back to Anthropic's shape ({@code
   * /v1/messages} on a model of another provider): {@code length} → {@code max_tokens}, {@code
   * tool_calls} (and the legacy {@code function_call}) → {@code tool_use}, {@code content_filter} →
   * {@code refusal}, {@code stop} and anything else → {@code end_turn}. OpenAI's {@code stop} does
   * not say whether a stop sequence ended the answer, so {@code stop_sequence} is never given.
   */
  public static String stopReason(String finishReason) {
    if (finishReason == null) {
      return "end_turn";
    }
    return switch (finishReason) {
      case "length" -> "max_tokens";
      case "tool_calls", "function_call" -> "tool_use";
      case "content_filter" -> "refusal";
      default -> "end_turn";
    };
  }

  /**
   * The inverse of {@link #usage}: Anthropic's usage from OpenAI's, the cached prompt tokens
   * ({@code prompt_tokens_details.cached_tokens}) as {@code cache_read_input_tokens} and taken out
   * of {@code input_tokens}, which counts only the uncached part; {@code
   * cache_creation_input_tokens} when the answer carries it (this gateway's Anthropic answers do).
   * Missing counts are 0.
   */
  public static ObjectNode anthropicUsage(JsonNode openAiUsage) {
    long prompt = nonNegative(openAiUsage.path("prompt_tokens"));
    long read = nonNegative(openAiUsage.path("prompt_tokens_details").path("cached_tokens"));
    long creation = nonNegative(openAiUsage.path("cache_creation_input_tokens"));
    ObjectNode usage = Json.MAPPER.createObjectNode();
    usage.put("input_tokens", Math.max(0, prompt - read - creation));
    usage.put("cache_creation_input_tokens", creation);
    usage.put("cache_read_input_tokens", read);
    usage.put("output_tokens", nonNegative(openAiUsage.path("completion_tokens")));
    return usage;
  }

  private static long nonNegative(JsonNode count) {
    return count.isIntegralNumber() && count.longValue() > 0 ? count.longValue() : 0;
  }

  /**
   * OpenAI's usage from Anthropic's: {@code input_tokens} counts only the tokens after the last cache
   * breakpoint, so the prompt is input + cache creation + cache read (as LiteLLM counts it).
   *
   * @param later a {@code message_delta}'s usage, whose counts replace the first ones (they are cumulative), or null
   */
  static ObjectNode usage(JsonNode first, JsonNode later) {
    long input = count(first, later, "input_tokens");
    long creation = count(first, later, "cache_creation_input_tokens");
    long read = count(first, later, "cache_read_input_tokens");
    long output = count(first, later, "output_tokens");
    ObjectNode usage = Json.MAPPER.createObjectNode();
    usage.put("prompt_tokens", input + creation + read);
    usage.put("completion_tokens", output);
    usage.put("total_tokens", input + creation + read + output);
    usage.putObject("prompt_tokens_details").put("cached_tokens", read);
    usage.put("cache_creation_input_tokens", creation);
    usage.put("cache_read_input_tokens", read);
    return usage;
  }

  private static long count(JsonNode first, JsonNode later, String field) {
    JsonNode value = later != null && later.path(field).isIntegralNumber() ? later.get(field) : first == null ? null : first.get(field);
    return value != null && value.isIntegralNumber() && value.longValue() >= 0 ? value.longValue() : 0;
  }

  // ---------------------------------------------------------------- errors

  /**
   * Anthropic's {@code {"type":"error","error":{"type":..., "message":...}}} with its status
   * (https://docs.anthropic.com/en/api/errors): 4xx pass on with Anthropic's message and type, 429
   * with its {@code retry-after}; 5xx and 529 ({@code overloaded_error}) become 502 in the envelope
   * with Anthropic's type; 401/403 are the gateway's credential refused.
   */
  @Override
  public UpstreamFailed error(Deployment deployment, int status, HttpHeaders headers, byte[] body) {
    if (UpstreamErrors.refusesCredential(status)) {
      return UpstreamErrors.credentialRefused(deployment, status);
    }
    JsonNode error = null;
    try {
      JsonNode answer = Json.MAPPER.readTree(body);
      error = answer == null ? null : answer.get("error");
    } catch (IOException | RuntimeException notJson) {
      // a proxy's HTML page: the status speaks
    }
    String message = error != null && error.path("message").isTextual() ? error.get("message").asText() : "The provider answered HTTP " + status + ".";
    String type = error != null && error.path("type").isTextual() ? error.get("type").asText() : null;
    return new UpstreamFailed(status, message, type, null, null, headers.firstValue("retry-after").orElse(null));
  }

  /** An {@code error} event inside a 200 stream: its type gives the status Anthropic would have answered. */
  private static UpstreamFailed streamFailure(Deployment deployment, String data) {
    JsonNode error = null;
    try {
      JsonNode event = Json.MAPPER.readTree(data);
      error = event == null ? null : event.get("error");
    } catch (IOException | RuntimeException notJson) {
      // described below
    }
    String type = error != null && error.path("type").isTextual() ? error.get("type").asText() : null;
    String message = error != null && error.path("message").isTextual()
        ? error.get("message").asText()
        : "The provider of '" + deployment.modelName() + "' reported an error in its stream.";
    int status = switch (type == null ? "" : type) {
      case "invalid_request_error" -> 400;
      case "request_too_large" -> 413;
      case "not_found_error" -> 404;
      case "rate_limit_error" -> 429;
      case "authentication_error", "permission_error" -> 401;
      case "overloaded_error" -> 529;
      default -> 502;
    };
    if (UpstreamErrors.refusesCredential(status)) {
      return UpstreamErrors.credentialRefused(deployment, status);
    }
    return new UpstreamFailed(status, message, type, null, null, null);
  }

  // ---------------------------------------------------------------- stream

  @Override
  public StreamTranslation stream(Deployment deployment, ProviderRequest request) {
    if (request.operation() == Operation.MESSAGES) {
      return new EventsPassedOn(deployment);
    }
    return new EventsToChunks(deployment, clock.instant().getEpochSecond());
  }

  /** Whether {@code operation} is Anthropic's own API, passed through rather than translated. */
  public static boolean isNative(Operation operation) {
    return operation == Operation.MESSAGES || operation == Operation.MESSAGES_COUNT_TOKENS;
  }

  /**
   * The events of a whole Message, as Anthropic would have streamed it: {@code message_start} (the
   * message without its content, {@code stop_reason} null), per content block {@code
   * content_block_start} (the block emptied), one delta with its text, JSON input or thinking (then a
   * {@code signature_delta} for a signed thinking block), and
   * {@code content_block_stop}, then {@code message_delta} (stop reason, usage) and {@code
   * message_stop}. For a provider that answered a stream request whole, and the gateway's
   * translated answers.
   */
  public static List<ObjectNode> eventsOf(JsonNode message) {
    var events = new ArrayList<ObjectNode>();
    ObjectNode start = Json.MAPPER.createObjectNode().put("type", "message_start");
    ObjectNode startMessage = ((ObjectNode) message).deepCopy();
    startMessage.putArray("content");
    startMessage.putNull("stop_reason");
    startMessage.putNull("stop_sequence");
    start.set("message", startMessage);
    events.add(start);
    int index = 0;
    for (JsonNode block : message.path("content")) {
      ObjectNode empty = ((ObjectNode) block).deepCopy();
      ObjectNode delta = Json.MAPPER.createObjectNode();
      switch (block.path("type").asText()) {
        case "text" -> {
          empty.put("text", "");
          delta.put("type", "text_delta").put("text", block.path("text").asText(""));
        }
        case "tool_use", "server_tool_use" -> {
          empty.putObject("input");
          delta.put("type", "input_json_delta").put("partial_json", Json.string(block.path("input")));
        }
        case "thinking" -> {
          empty.put("thinking", "");
          empty.put("signature", "");
          delta.put("type", "thinking_delta").put("thinking", block.path("thinking").asText(""));
        }
        default -> delta = null; // redacted_thinking and other blocks come whole in their start event
      }
      events.add(Json.MAPPER.createObjectNode().put("type", "content_block_start").put("index", index).set("content_block", empty));
      if (delta != null) {
        events.add(Json.MAPPER.createObjectNode().put("type", "content_block_delta").put("index", index).set("delta", delta));
      }
      if ("thinking".equals(block.path("type").asText()) && !block.path("signature").asText("").isEmpty()) {
        // as Anthropic streams it: the signature comes last, in its own delta (a client keeps the last one)
        ObjectNode signature = Json.MAPPER.createObjectNode().put("type", "signature_delta").put("signature", block.get("signature").asText());
        events.add(Json.MAPPER.createObjectNode().put("type", "content_block_delta").put("index", index).set("delta", signature));
      }
      events.add(Json.MAPPER.createObjectNode().put("type", "content_block_stop").put("index", index));
      index++;
    }
    ObjectNode messageDelta = Json.MAPPER.createObjectNode().put("type", "message_delta");
    ObjectNode stop = messageDelta.putObject("delta");
    stop.set("stop_reason", message.path("stop_reason").isMissingNode() ? null : message.get("stop_reason"));
    stop.set("stop_sequence", message.path("stop_sequence").isMissingNode() ? null : message.get("stop_sequence"));
    messageDelta.set("usage", message.path("usage").isObject() ? message.get("usage") : Json.MAPPER.createObjectNode().put("output_tokens", 0));
    events.add(messageDelta);
    events.add(Json.MAPPER.createObjectNode().put("type", "message_stop"));
    return events;
  }

  /**
   * Anthropic's own events for a client of {@code /v1/messages}, passed on as sent (each chunk's
   * {@code json} is the event's data, whose {@code type} names the event), with the usage read on
   * the way: {@code message_start}'s, updated by {@code message_delta}'s cumulative counts. Its
   * {@code error} event is the provider's failure, as for a translated stream.
   */
  private static final class EventsPassedOn implements StreamTranslation {
    private final Deployment deployment;
    private JsonNode startUsage;
    private boolean complete;

    EventsPassedOn(Deployment deployment) {
      this.deployment = deployment;
    }

    @Override
    public List<StreamChunk> onEvent(ServerSentEvent event) {
      JsonNode data = eventData(deployment, event);
      String type = event.event() != null ? event.event() : data.path("type").asText();
      TokenUsage usage = null;
      long generated = 0;
      switch (type) {
        case "error" -> throw streamFailure(deployment, event.data());
        case "message_start" -> {
          startUsage = data.path("message").get("usage");
          usage = TokenUsage.fromOpenAi(usage(startUsage, null));
        }
        case "message_delta" -> usage = TokenUsage.fromOpenAi(usage(startUsage, data.get("usage")));
        case "message_stop" -> complete = true;
        case "content_block_delta" -> {
          JsonNode delta = data.path("delta");
          generated = delta.path("text").asText("").length() + delta.path("partial_json").asText("").length()
              + delta.path("thinking").asText("").length();
        }
        default -> {} // content_block_start/stop, ping, and events added after this was written: passed on
      }
      return List.of(new StreamChunk(event.data().getBytes(java.nio.charset.StandardCharsets.UTF_8), usage, false, generated));
    }

    @Override
    public boolean complete() {
      return complete;
    }
  }

  private static JsonNode eventData(Deployment deployment, ServerSentEvent event) {
    JsonNode data;
    try {
      data = Json.MAPPER.readTree(event.data());
    } catch (IOException e) {
      throw new UpstreamUnreachable("The provider of '" + deployment.modelName() + "' sent a stream event that is not JSON.", e, false);
    }
    if (data == null || !data.isObject()) {
      throw new UpstreamUnreachable("The provider of '" + deployment.modelName() + "' sent a stream event that is not a JSON object.", null, false);
    }
    return data;
  }

  /** A whole message (or error) answered to a stream request: its completion as one chunk, then the usage chunk. */
  @Override
  public List<StreamChunk> chunksOf(Deployment deployment, ProviderRequest request, byte[] body) {
    JsonNode answer = parse(deployment, body);
    if ("error".equals(answer.path("type").asText())) {
      throw streamFailure(deployment, new String(body, java.nio.charset.StandardCharsets.UTF_8));
    }
    if (!"message".equals(answer.path("type").asText())) {
      throw new UpstreamUnreachable(
          "The provider of '" + deployment.modelName() + "' answered a stream request with JSON that is not a message; nothing could be relayed.",
          null, false);
    }
    if (request.operation() == Operation.MESSAGES) {
      var chunks = new ArrayList<StreamChunk>();
      TokenUsage usage = TokenUsage.fromOpenAi(usage(answer.path("usage"), null));
      for (ObjectNode event : eventsOf(answer)) {
        boolean last = "message_delta".equals(event.path("type").asText());
        chunks.add(new StreamChunk(Json.bytes(event), last ? usage : null, false, 0));
      }
      return chunks;
    }
    ObjectNode usage = usage(answer.path("usage"), null);
    ObjectNode chunk = completion(answer, usage);
    chunk.remove("usage");
    chunk.put("object", "chat.completion.chunk");
    ObjectNode choice = (ObjectNode) chunk.path("choices").get(0);
    ObjectNode delta = (ObjectNode) choice.remove("message");
    int index = 0;
    for (JsonNode call : delta.path("tool_calls")) {
      ((ObjectNode) call).put("index", index++);
    }
    choice.set("delta", delta);
    ObjectNode usageChunk = chunk.deepCopy();
    usageChunk.putArray("choices");
    usageChunk.set("usage", usage);
    return List.of(
        new StreamChunk(Json.bytes(chunk), null, false, generatedChars(delta)),
        new StreamChunk(Json.bytes(usageChunk), TokenUsage.fromOpenAi(usage), true, 0));
  }

  private static long generatedChars(JsonNode delta) {
    long chars = delta.path("content").isTextual() ? delta.get("content").asText().length() : 0;
    for (JsonNode call : delta.path("tool_calls")) {
      chars += call.path("function").path("arguments").asText("").length();
    }
    return chars;
  }

  /**
   * Anthropic's event sequence (https://docs.anthropic.com/en/docs/build-with-claude/streaming):
   * {@code message_start}, per content block {@code content_block_start}, {@code
   * content_block_delta}s and {@code content_block_stop}, then {@code message_delta} (stop reason,
   * output tokens) and {@code message_stop}; {@code ping}s anywhere, and an {@code error} event on
   * failure. Unknown events are skipped, as Anthropic's versioning policy asks of clients.
   */
  private static final class EventsToChunks implements StreamTranslation {
    private final Deployment deployment;
    private final long created;
    private String id = "";
    private String model = "";
    private JsonNode startUsage;
    private JsonNode deltaUsage;
    /** Anthropic's content block index → OpenAI's tool call index, for the tool_use blocks. */
    private final Map<Integer, Integer> toolIndexByBlock = new HashMap<>();
    private boolean complete;

    EventsToChunks(Deployment deployment, long created) {
      this.deployment = deployment;
      this.created = created;
    }

    @Override
    public List<StreamChunk> onEvent(ServerSentEvent event) {
      if ("ping".equals(event.event())) {
        return List.of();
      }
      JsonNode data;
      try {
        data = Json.MAPPER.readTree(event.data());
      } catch (IOException e) {
        throw new UpstreamUnreachable("The provider of '" + deployment.modelName() + "' sent a stream event that is not JSON.", e, false);
      }
      if (data == null || !data.isObject()) {
        throw new UpstreamUnreachable("The provider of '" + deployment.modelName() + "' sent a stream event that is not a JSON object.", null, false);
      }
      String type = event.event() != null ? event.event() : data.path("type").asText();
      switch (type) {
        case "error" -> throw streamFailure(deployment, event.data());
        case "message_start" -> {
          JsonNode message = data.path("message");
          id = message.path("id").asText("");
          model = message.path("model").asText("");
          startUsage = message.get("usage");
          ObjectNode delta = Json.MAPPER.createObjectNode().put("role", "assistant").put("content", "");
          StreamChunk role = chunk(delta, null, 0);
          if (startUsage == null || !startUsage.isObject()) {
            return List.of(role);
          }
          // The prompt is counted here already (cached parts included, as in the final usage): a
          // stream cut off before message_stop is recorded with it, not with an estimate.
          long prompt = usage(startUsage, null).path("prompt_tokens").asLong();
          return List.of(new StreamChunk(role.json(), null, false, 0, prompt));
        }
        case "content_block_start" -> {
          JsonNode block = data.path("content_block");
          if ("tool_use".equals(block.path("type").asText())) {
            int toolIndex = toolIndexByBlock.size();
            toolIndexByBlock.put(data.path("index").asInt(), toolIndex);
            ObjectNode call = Json.MAPPER.createObjectNode().put("index", toolIndex).put("id", block.path("id").asText()).put("type", "function");
            call.putObject("function").put("name", block.path("name").asText()).put("arguments", "");
            return List.of(chunk(toolCallDelta(call), null, 0));
          }
          if ("redacted_thinking".equals(block.path("type").asText())) { // whole in its start event, as LiteLLM relays it
            ObjectNode redacted = Json.MAPPER.createObjectNode().put("type", "redacted_thinking").put("data", block.path("data").asText(""));
            ObjectNode delta = Json.MAPPER.createObjectNode();
            delta.putArray("thinking_blocks").add(redacted);
            return List.of(chunk(delta, null, 0));
          }
          String text = "text".equals(block.path("type").asText()) ? block.path("text").asText("") : "";
          return text.isEmpty() ? List.of() : List.of(chunk(Json.MAPPER.createObjectNode().put("content", text), null, text.length()));
        }
        case "content_block_delta" -> {
          JsonNode delta = data.path("delta");
          switch (delta.path("type").asText()) {
            case "text_delta" -> {
              String text = delta.path("text").asText("");
              return List.of(chunk(Json.MAPPER.createObjectNode().put("content", text), null, text.length()));
            }
            case "input_json_delta" -> {
              Integer toolIndex = toolIndexByBlock.get(data.path("index").asInt());
              String partial = delta.path("partial_json").asText("");
              if (toolIndex == null || partial.isEmpty()) {
                return List.of();
              }
              ObjectNode call = Json.MAPPER.createObjectNode().put("index", toolIndex);
              call.putObject("function").put("arguments", partial);
              return List.of(chunk(toolCallDelta(call), null, partial.length()));
            }
            case "thinking_delta" -> { // as LiteLLM: delta.reasoning_content, and the piece in delta.thinking_blocks
              String thinking = delta.path("thinking").asText("");
              return List.of(chunk(thinkingDelta(thinking, ""), null, thinking.length()));
            }
            case "signature_delta" -> { // as LiteLLM: a thinking block of no text whose signature the client adds to it
              return List.of(chunk(thinkingDelta("", delta.path("signature").asText("")), null, 0));
            }
            default -> {
              return List.of(); // citations_delta: no OpenAI field
            }
          }
        }
        case "message_delta" -> {
          deltaUsage = data.get("usage");
          String stopReason = data.path("delta").path("stop_reason").asText(null);
          return stopReason == null ? List.of() : List.of(chunk(Json.MAPPER.createObjectNode(), finishReason(stopReason), 0));
        }
        case "message_stop" -> {
          complete = true;
          ObjectNode usage = usage(startUsage, deltaUsage);
          ObjectNode chunk = base();
          chunk.putArray("choices");
          chunk.set("usage", usage);
          return List.of(new StreamChunk(Json.bytes(chunk), TokenUsage.fromOpenAi(usage), true, 0));
        }
        default -> {
          return List.of(); // content_block_stop, and events added after this was written
        }
      }
    }

    /** LiteLLM's delta for a piece of thinking or its signature: {@code reasoning_content} and one {@code thinking_blocks} entry. */
    private static ObjectNode thinkingDelta(String thinking, String signature) {
      ObjectNode delta = Json.MAPPER.createObjectNode().put("reasoning_content", thinking);
      delta.putArray("thinking_blocks").addObject().put("type", "thinking").put("thinking", thinking).put("signature", signature);
      return delta;
    }

    private static ObjectNode toolCallDelta(ObjectNode call) {
      ObjectNode delta = Json.MAPPER.createObjectNode();
      delta.putArray("tool_calls").add(call);
      return delta;
    }

    private ObjectNode base() {
      ObjectNode chunk = Json.MAPPER.createObjectNode();
      chunk.put("id", id);
      chunk.put("object", "chat.completion.chunk");
      chunk.put("created", created);
      chunk.put("model", model);
      return chunk;
    }

    private StreamChunk chunk(ObjectNode delta, String finishReason, long generatedChars) {
      ObjectNode chunk = base();
      ObjectNode choice = chunk.putArray("choices").addObject();
      choice.put("index", 0);
      choice.set("delta", delta);
      choice.putNull("logprobs");
      if (finishReason == null) {
        choice.putNull("finish_reason");
      } else {
        choice.put("finish_reason", finishReason);
      }
      return new StreamChunk(Json.bytes(chunk), null, false, generatedChars);
    }

    @Override
    public boolean complete() {
      return complete;
    }
  }
}

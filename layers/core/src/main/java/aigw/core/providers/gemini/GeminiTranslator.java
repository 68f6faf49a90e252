package aigw.core.providers.gemini;

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
import java.net.URLEncoder;
import java.net.http.HttpHeaders;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * Google's Gemini API ({@code gemini/<model>}, API key) seen from OpenAI's chat completions.
 *
 * <ul>
 *   <li>Request: {@code messages} to {@code contents} (roles {@code user}/{@code model}), system and
 *       developer messages to {@code systemInstruction}, image data URLs to {@code inlineData},
 *       {@code tools} to {@code functionDeclarations} (their JSON Schema as {@code
 *       parametersJsonSchema}), assistant {@code tool_calls} to {@code functionCall} parts, {@code
 *       tool} messages to {@code functionResponse} parts named after the call they answer, and the
 *       sampling parameters to {@code generationConfig}. POSTed to {@code
 *       <api_base>/v1beta/models/<model>:generateContent} (an {@code api_base} that already ends in
 *       its version, e.g. {@code /v1beta}, is used as is), or {@code
 *       :streamGenerateContent?alt=sse} for a stream; the key goes in {@code x-goog-api-key}, never
 *       in the URL (URLs reach logs).
 *   <li>Answer: {@code candidates} to {@code choices}, {@code functionCall} parts to {@code
 *       tool_calls} (generated ids, arguments as a JSON string), {@code thought} parts to {@code
 *       reasoning_content}, {@code finishReason} to OpenAI's, {@code usageMetadata} to {@code usage}
 *       (thinking tokens are completion tokens, as OpenAI counts reasoning).
 *   <li>Stream: each {@code data:} event is a whole {@code GenerateContentResponse} holding the next
 *       part of each candidate; it becomes one chunk, and once every candidate has its {@code
 *       finishReason} the stream is complete and a usage chunk ({@code choices: []}) follows, from
 *       the last {@code usageMetadata}.
 *   <li>Errors: Google's {@code {"error":{"code","message","status","details"}}}; 401/403, and a 400
 *       whose reason is {@code API_KEY_INVALID} (Google's answer to a wrong key), are the gateway's
 *       credential refused (502); a 429 keeps {@code Retry-After}, or else the {@code RetryInfo}
 *       delay.
 * </ul>
 *
 * Only chat completions: Gemini has no legacy completions, and its embeddings API is another shape.
 *
 * <p>Sources: https://ai.google.dev/api/generate-content (GenerateContentRequest, Candidate,
 * FinishReason, UsageMetadata, streamGenerateContent), https://ai.google.dev/api/caching#Content
 * (Part: text, inlineData, functionCall, functionResponse, thought),
 * https://ai.google.dev/gemini-api/docs/function-calling, https://ai.google.dev/gemini-api/docs/troubleshooting
 * (error statuses).
 */
public final class GeminiTranslator implements HttpApiTranslator {
  /** Finish reasons that mean the answer was withheld by a filter (FinishReason enum). */
  private static final Set<String> FILTERED =
      Set.of("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "LANGUAGE");

  /**
   * Separates a generated tool call id from the {@code thoughtSignature} Gemini attached to the
   * call. Gemini 3 refuses a conversation whose earlier function calls come back without their
   * signatures (ai.google.dev/gemini-api/docs/thought-signatures), and OpenAI clients keep nothing
   * of a tool call but its id, name and arguments: so the signature travels in the id and is put
   * back on the {@code functionCall} part when the client sends the call again (LiteLLM does the same).
   */
  static final String THOUGHT_SIGNATURE = "__thought__";

  private final Clock clock;
  private final Supplier<String> ids;

  public GeminiTranslator() {
    this(Clock.systemUTC(), () -> UUID.randomUUID().toString().replace("-", ""));
  }

  /**
   * @param clock for {@code created} (Gemini's answer has no timestamp)
   * @param ids unique ids for answers without {@code responseId} and for tool calls (Gemini has none)
   */
  public GeminiTranslator(Clock clock, Supplier<String> ids) {
    this.clock = clock;
    this.ids = ids;
  }

  // ---------------------------------------------------------------- request

  @Override
  public UpstreamCall request(Deployment deployment, ProviderRequest request) {
    if (request.operation() != Operation.CHAT_COMPLETIONS) {
      throw new BadRequest(
          "Model '" + deployment.modelName() + "' is a Gemini model: it serves /v1/chat/completions only, not " + request.operation().path() + ".");
    }
    if (deployment.apiBase() == null) {
      throw new ServiceUnavailable(
          "The gateway has no api_base for model '" + deployment.modelName() + "': " + deployment.apiBaseSource()
              + " is not set. The operator must set it (locally in the environment; on AWS in the provider credentials secret).",
          null);
    }
    if (deployment.apiKey() == null) {
      throw new ServiceUnavailable(
          "The gateway has no credential for model '" + deployment.modelName() + "': "
              + (deployment.apiKeySource() == null ? "litellm_params.api_key is not configured" : deployment.apiKeySource() + " is not set")
              + ". The operator must set it (locally in the environment; on AWS in the provider credentials secret).",
          null);
    }
    ObjectNode client = Json.readObject(request.body().sent());
    var headers = new LinkedHashMap<String, String>();
    headers.put("Content-Type", "application/json");
    headers.put("Accept", request.stream() ? "text/event-stream" : "application/json");
    headers.put("x-goog-api-key", deployment.apiKey());
    String model = URLEncoder.encode(deployment.upstreamModel(), StandardCharsets.UTF_8).replace("+", "%20");
    String method = request.stream() ? ":streamGenerateContent?alt=sse" : ":generateContent";
    return new UpstreamCall(
        deployment.modelName(),
        URI.create(versionedBase(deployment.apiBase()) + "/models/" + model + method),
        headers,
        Json.bytes(generateContentRequest(client)),
        deployment.timeout(),
        List.of(deployment.apiKey()));
  }

  /** OpenAI's chat request as a {@code GenerateContentRequest}. */
  static ObjectNode generateContentRequest(ObjectNode client) {
    ObjectNode out = Json.MAPPER.createObjectNode();
    ArrayNode contents = out.putArray("contents");
    ArrayNode system = Json.MAPPER.createArrayNode();
    Map<String, String> toolNames = new HashMap<>(); // tool_call_id -> function name
    JsonNode messages = client.path("messages");
    if (!messages.isArray()) {
      throw new BadRequest("'messages' must be an array of messages.", "messages");
    }
    int i = 0;
    for (JsonNode message : messages) {
      String where = "messages[" + i++ + "]";
      String role = message.path("role").asText("");
      switch (role) {
        case "system", "developer" -> system.addAll(textParts(message.get("content"), where));
        case "user" -> append(contents, "user", userParts(message.get("content"), where));
        case "assistant" -> append(contents, "model", assistantParts(message, where, toolNames));
        case "tool" -> append(contents, "user", List.of(functionResponse(message, where, toolNames)));
        default -> throw new BadRequest(where + ".role '" + role + "' is not one of system, developer, user, assistant, tool.", where + ".role");
      }
    }
    if (contents.isEmpty()) {
      throw new BadRequest("'messages' must hold at least one user, assistant or tool message for a Gemini model.", "messages");
    }
    if (!system.isEmpty()) {
      out.putObject("systemInstruction").set("parts", system);
    }
    JsonNode tools = client.get("tools");
    if (tools != null && tools.isArray() && !tools.isEmpty()) {
      ArrayNode declarations = out.putArray("tools").addObject().putArray("functionDeclarations");
      for (JsonNode tool : tools) {
        JsonNode function = tool.path("function");
        if (!"function".equals(tool.path("type").asText("function")) || !function.path("name").isTextual()) {
          throw new BadRequest("Gemini models take function tools only ({\"type\":\"function\",\"function\":{\"name\":...}}).", "tools");
        }
        ObjectNode declaration = declarations.addObject();
        declaration.put("name", function.get("name").asText());
        if (function.path("description").isTextual()) {
          declaration.put("description", function.get("description").asText());
        }
        if (function.path("parameters").isObject()) {
          declaration.set("parametersJsonSchema", function.get("parameters"));
        }
      }
    }
    JsonNode toolChoice = client.get("tool_choice");
    if (toolChoice != null && !toolChoice.isNull()) {
      ObjectNode calling = out.putObject("toolConfig").putObject("functionCallingConfig");
      if (toolChoice.isObject()) {
        calling.put("mode", "ANY");
        calling.putArray("allowedFunctionNames").add(toolChoice.path("function").path("name").asText());
      } else {
        calling.put(
            "mode",
            switch (toolChoice.asText()) {
              case "none" -> "NONE";
              case "required" -> "ANY";
              default -> "AUTO";
            });
      }
    }
    ObjectNode config = Json.MAPPER.createObjectNode();
    copyNumber(client, "temperature", config, "temperature");
    copyNumber(client, "top_p", config, "topP");
    copyNumber(client, "max_tokens", config, "maxOutputTokens");
    copyNumber(client, "max_completion_tokens", config, "maxOutputTokens");
    copyNumber(client, "n", config, "candidateCount");
    copyNumber(client, "presence_penalty", config, "presencePenalty");
    copyNumber(client, "frequency_penalty", config, "frequencyPenalty");
    copyNumber(client, "seed", config, "seed");
    JsonNode stop = client.get("stop");
    if (stop != null && stop.isTextual()) {
      config.putArray("stopSequences").add(stop.asText());
    } else if (stop != null && stop.isArray()) {
      config.set("stopSequences", stop);
    }
    JsonNode format = client.path("response_format");
    String formatType = format.path("type").asText("");
    if (formatType.equals("json_object") || formatType.equals("json_schema")) {
      config.put("responseMimeType", "application/json");
      JsonNode schema = format.path("json_schema").get("schema");
      if (formatType.equals("json_schema") && schema != null && schema.isObject()) {
        config.set("responseJsonSchema", schema);
      }
    }
    if (!config.isEmpty()) {
      out.set("generationConfig", config);
    }
    return out;
  }

  /** Adds parts to the last content when it has the same role (Gemini wants turns to alternate), else a new content. */
  private static void append(ArrayNode contents, String role, List<ObjectNode> parts) {
    if (parts.isEmpty()) {
      return;
    }
    JsonNode last = contents.isEmpty() ? null : contents.get(contents.size() - 1);
    ArrayNode target;
    if (last != null && role.equals(last.path("role").asText())) {
      target = (ArrayNode) last.get("parts");
    } else {
      ObjectNode content = contents.addObject();
      content.put("role", role);
      target = content.putArray("parts");
    }
    target.addAll(parts);
  }

  private static List<ObjectNode> textParts(JsonNode content, String where) {
    var parts = new ArrayList<ObjectNode>();
    if (content == null || content.isNull()) {
      return parts;
    }
    if (content.isTextual()) {
      if (!content.asText().isEmpty()) { // Gemini refuses an empty text part; clients send "" beside tool calls
        parts.add(text(content.asText()));
      }
      return parts;
    }
    if (!content.isArray()) {
      throw new BadRequest(where + ".content must be a string or an array of content parts.", where + ".content");
    }
    for (JsonNode part : content) {
      if (!"text".equals(part.path("type").asText()) || !part.path("text").isTextual()) {
        throw new BadRequest(where + ".content may hold text parts only for this role.", where + ".content");
      }
      parts.add(text(part.get("text").asText()));
    }
    return parts;
  }

  private static List<ObjectNode> userParts(JsonNode content, String where) {
    if (content == null || !content.isArray()) {
      return textParts(content, where);
    }
    var parts = new ArrayList<ObjectNode>();
    for (JsonNode part : content) {
      String type = part.path("type").asText();
      if (type.equals("text") && part.path("text").isTextual()) {
        parts.add(text(part.get("text").asText()));
      } else if (type.equals("image_url")) {
        parts.add(inlineImage(part.path("image_url").path("url").asText(""), where));
      } else {
        throw new BadRequest(where + ".content: part type '" + type + "' is not supported for Gemini models (text and image_url are).", where + ".content");
      }
    }
    return parts;
  }

  /**
   * The {@code api_base} up to and including the API version, without a trailing slash: as
   * configured when its last path segment is already a version ({@code /v1beta}, {@code /v1}, {@code
   * /v1alpha}, as users copy it from Google's docs, and as LiteLLM expects it: LiteLLM builds {@code
   * <api_base>/models/<model>:<method>} in {@code vertex_llm_base._check_custom_proxy}), else with
   * {@code /v1beta} appended (the host alone, e.g. {@code https://generativelanguage.googleapis.com}).
   */
  static String versionedBase(URI apiBase) {
    String base = apiBase.toString().replaceAll("/+$", "");
    return API_VERSION_SEGMENT.matcher(base).find() ? base : base + "/v1beta";
  }

  /** A last path segment that is an API version of Google's: v1, v1beta, v1alpha, v2beta3... */
  private static final Pattern API_VERSION_SEGMENT = Pattern.compile("/v\\d+(?:alpha|beta)?\\d*$");

  /**
   * An image as Gemini's {@code inlineData}: only data URLs. Gemini's {@code fileData} takes only
   * URIs of files uploaded to Google's Files API, so an {@code http(s)} image would have to be
   * downloaded by the gateway, which would let any key holder make it fetch internal addresses
   * (server-side request forgery): refused with a 400 that says to send the bytes instead.
   */
  private static ObjectNode inlineImage(String url, String where) {
    int comma = url.indexOf(',');
    String header = comma < 0 ? "" : url.substring(0, comma);
    if (!url.startsWith("data:") || !header.endsWith(";base64")) {
      throw new BadRequest(
          where + ".content: Gemini models take images as base64 data URLs only: send the image bytes as"
              + " image_url.url = \"data:image/png;base64,<base64>\" (or image/jpeg, image/webp...). The gateway does not"
              + " download http(s) image URLs on a client's behalf (that would let a client make it fetch internal"
              + " addresses), and Gemini itself only takes URIs of files uploaded to its Files API.",
          where + ".content");
    }
    ObjectNode part = Json.MAPPER.createObjectNode();
    ObjectNode data = part.putObject("inlineData");
    data.put("mimeType", header.substring("data:".length(), header.length() - ";base64".length()));
    data.put("data", url.substring(comma + 1));
    return part;
  }

  private static List<ObjectNode> assistantParts(JsonNode message, String where, Map<String, String> toolNames) {
    var parts = new ArrayList<>(textParts(message.get("content"), where));
    int i = 0;
    for (JsonNode call : message.path("tool_calls")) {
      String name = call.path("function").path("name").asText(null);
      if (name == null) {
        throw new BadRequest(where + ".tool_calls[" + i + "].function.name is missing.", where + ".tool_calls");
      }
      String callId = call.path("id").asText("");
      toolNames.put(callId, name);
      JsonNode args;
      try {
        String arguments = call.path("function").path("arguments").asText("");
        args = arguments.isBlank() ? Json.MAPPER.createObjectNode() : Json.MAPPER.readTree(arguments);
      } catch (IOException e) {
        args = null;
      }
      if (args == null || !args.isObject()) {
        throw new BadRequest(where + ".tool_calls[" + i + "].function.arguments must be a JSON object in a string.", where + ".tool_calls");
      }
      ObjectNode part = Json.MAPPER.createObjectNode();
      part.putObject("functionCall").put("name", name).set("args", args);
      int signature = callId.indexOf(THOUGHT_SIGNATURE);
      if (signature >= 0) {
        part.put("thoughtSignature", callId.substring(signature + THOUGHT_SIGNATURE.length()));
      }
      parts.add(part);
      i++;
    }
    return parts;
  }

  /** A tool result as {@code functionResponse}: a JSON object result as it is, anything else as {@code {"content": text}}. */
  private static ObjectNode functionResponse(JsonNode message, String where, Map<String, String> toolNames) {
    String name = toolNames.get(message.path("tool_call_id").asText(""));
    if (name == null) {
      throw new BadRequest(where + ".tool_call_id does not name a tool call of an earlier assistant message.", where + ".tool_call_id");
    }
    JsonNode content = message.get("content");
    String text;
    if (content != null && content.isArray()) {
      var joined = new StringBuilder();
      textParts(content, where).forEach(p -> joined.append(p.get("text").asText()));
      text = joined.toString();
    } else {
      text = content == null || content.isNull() ? "" : content.asText();
    }
    JsonNode result;
    try {
      result = Json.MAPPER.readTree(text);
    } catch (IOException notJson) {
      result = null;
    }
    if (result == null || !result.isObject()) {
      result = Json.MAPPER.createObjectNode().put("content", text);
    }
    ObjectNode part = Json.MAPPER.createObjectNode();
    part.putObject("functionResponse").put("name", name).set("response", result);
    return part;
  }

  private static ObjectNode text(String text) {
    return Json.MAPPER.createObjectNode().put("text", text);
  }

  private static void copyNumber(JsonNode from, String name, ObjectNode to, String as) {
    JsonNode value = from.get(name);
    if (value != null && value.isNumber()) {
      to.set(as, value);
    }
  }

  // ---------------------------------------------------------------- answer

  @Override
  public ProviderResponse response(Deployment deployment, ProviderRequest request, byte[] body) {
    JsonNode answer = parse(deployment, body);
    String id = answerId(answer);
    ObjectNode out = Json.MAPPER.createObjectNode();
    out.put("id", id);
    out.put("object", "chat.completion");
    out.put("created", clock.instant().getEpochSecond());
    out.put("model", answer.path("modelVersion").asText(deployment.upstreamModel()));
    ArrayNode choices = out.putArray("choices");
    for (Map.Entry<Integer, JsonNode> candidate : candidatesByIndex(answer).entrySet()) {
      ObjectNode choice = choices.addObject();
      choice.put("index", candidate.getKey());
      ObjectNode message = choice.putObject("message");
      message.put("role", "assistant");
      Parts parts = parts(candidate.getValue(), 0);
      message.put("content", parts.content);
      if (parts.reasoning != null) {
        message.put("reasoning_content", parts.reasoning);
      }
      if (!parts.toolCalls.isEmpty()) {
        ArrayNode calls = message.putArray("tool_calls");
        parts.toolCalls.forEach(c -> calls.add(c.without("index")));
      }
      choice.put("finish_reason", finishReason(candidate.getValue().path("finishReason").asText(""), !parts.toolCalls.isEmpty()));
    }
    if (choices.isEmpty() && answer.path("promptFeedback").hasNonNull("blockReason")) {
      ObjectNode choice = choices.addObject(); // the prompt itself was blocked: no candidate at all
      choice.put("index", 0);
      choice.putObject("message").put("role", "assistant").putNull("content");
      choice.put("finish_reason", "content_filter");
    }
    if (choices.isEmpty()) {
      // Neither a candidate nor a blocked prompt: nothing a client could read as an answer
      // (OpenAI's SDKs take choices[0]), so it is the provider's failure, not a 200.
      throw new UpstreamUnreachable(
          "The provider of '" + deployment.modelName() + "' sent an answer with no candidates and no blocked prompt.", null, false);
    }
    JsonNode usage = usage(answer.get("usageMetadata"));
    if (usage != null) {
      out.set("usage", usage);
    }
    return new ProviderResponse(Json.bytes(out), TokenUsage.fromOpenAi(usage));
  }

  private String answerId(JsonNode answer) {
    String responseId = answer.path("responseId").asText("");
    return "chatcmpl-" + (responseId.isEmpty() ? ids.get() : responseId);
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
    if (answer.hasNonNull("error")) {
      throw failureIn(deployment, answer, answer.path("error").path("code").asInt(502), null);
    }
    return answer;
  }

  private static TreeMap<Integer, JsonNode> candidatesByIndex(JsonNode answer) {
    var byIndex = new TreeMap<Integer, JsonNode>();
    int position = 0;
    JsonNode candidates = answer.path("candidates");
    if (!candidates.isArray()) {
      return byIndex; // absent, or not the array Gemini sends: no candidate
    }
    for (JsonNode candidate : candidates) {
      if (!candidate.isObject()) {
        continue;
      }
      byIndex.put(candidate.path("index").asInt(position), candidate); // index is omitted for 0
      position++;
    }
    return byIndex;
  }

  /** What one candidate's parts say: text, thoughts, function calls as OpenAI tool calls (with {@code index}). */
  private record Parts(String content, String reasoning, List<ObjectNode> toolCalls, long generatedChars) {}

  private Parts parts(JsonNode candidate, int firstToolIndex) {
    StringBuilder content = null;
    StringBuilder reasoning = null;
    var calls = new ArrayList<ObjectNode>();
    long chars = 0;
    for (JsonNode part : candidate.path("content").path("parts")) {
      if (part.path("text").isTextual()) {
        String text = part.get("text").asText();
        chars += text.length();
        if (part.path("thought").asBoolean(false)) {
          reasoning = (reasoning == null ? new StringBuilder() : reasoning).append(text);
        } else {
          content = (content == null ? new StringBuilder() : content).append(text);
        }
      } else if (part.path("functionCall").isObject()) {
        JsonNode call = part.get("functionCall");
        ObjectNode toolCall = Json.MAPPER.createObjectNode();
        toolCall.put("index", firstToolIndex + calls.size());
        String signature = part.path("thoughtSignature").asText("");
        toolCall.put("id", "call_" + ids.get() + (signature.isEmpty() ? "" : THOUGHT_SIGNATURE + signature));
        toolCall.put("type", "function");
        String arguments = Json.string(call.path("args").isObject() ? call.get("args") : Json.MAPPER.createObjectNode());
        toolCall.putObject("function").put("name", call.path("name").asText()).put("arguments", arguments);
        chars += arguments.length();
        calls.add(toolCall);
      }
    }
    return new Parts(content == null ? null : content.toString(), reasoning == null ? null : reasoning.toString(), calls, chars);
  }

  /**
   * Gemini's {@code FinishReason} as OpenAI's: a candidate that called a function ends with {@code
   * tool_calls} (Gemini says {@code STOP}); {@code MAX_TOKENS} is {@code length}; a filter's reason
   * is {@code content_filter}; anything else ({@code OTHER}, {@code MALFORMED_FUNCTION_CALL}) {@code stop}.
   */
  static String finishReason(String reason, boolean calledTools) {
    if (reason.isEmpty()) {
      return null;
    }
    if (calledTools && reason.equals("STOP")) {
      return "tool_calls";
    }
    if (reason.equals("MAX_TOKENS")) {
      return "length";
    }
    return FILTERED.contains(reason) ? "content_filter" : "stop";
  }

  /**
   * {@code usageMetadata} as OpenAI's {@code usage}: completion tokens are the candidates' and the
   * thoughts' ({@code thoughtsTokenCount} is billed as output, as OpenAI's reasoning tokens are), the
   * cached prompt tokens and the thoughts in the details; null when there is none.
   */
  static ObjectNode usage(JsonNode metadata) {
    if (metadata == null || !metadata.isObject()) {
      return null;
    }
    long prompt = metadata.path("promptTokenCount").asLong(0) + metadata.path("toolUsePromptTokenCount").asLong(0);
    long thoughts = metadata.path("thoughtsTokenCount").asLong(0);
    long completion = metadata.path("candidatesTokenCount").asLong(0) + thoughts;
    ObjectNode usage = Json.MAPPER.createObjectNode();
    usage.put("prompt_tokens", prompt);
    usage.put("completion_tokens", completion);
    usage.put("total_tokens", metadata.path("totalTokenCount").isIntegralNumber() ? metadata.get("totalTokenCount").asLong() : prompt + completion);
    if (metadata.has("cachedContentTokenCount")) {
      usage.putObject("prompt_tokens_details").put("cached_tokens", metadata.path("cachedContentTokenCount").asLong(0));
    }
    if (metadata.has("thoughtsTokenCount")) {
      usage.putObject("completion_tokens_details").put("reasoning_tokens", thoughts);
    }
    return usage;
  }

  // ---------------------------------------------------------------- errors

  @Override
  public UpstreamFailed error(Deployment deployment, int status, HttpHeaders headers, byte[] body) {
    JsonNode answer;
    try {
      answer = Json.MAPPER.readTree(body);
    } catch (IOException | RuntimeException notJson) {
      answer = null;
    }
    return failureIn(deployment, answer, status, headers.firstValue("retry-after").orElse(null));
  }

  /** Google's {@code {"error":{...}}} (or a body without it) as the gateway's failure with {@code status}. */
  private static UpstreamFailed failureIn(Deployment deployment, JsonNode answer, int status, String retryAfter) {
    JsonNode error = answer == null ? com.fasterxml.jackson.databind.node.MissingNode.getInstance() : answer.path("error");
    if (UpstreamErrors.refusesCredential(status) || hasReason(error, "API_KEY_INVALID")) {
      return UpstreamErrors.credentialRefused(deployment, status);
    }
    String message = error.path("message").asText("");
    if (message.isBlank()) {
      message = "The provider answered HTTP " + status + ".";
    }
    String code = error.path("status").isTextual() ? error.get("status").asText() : null;
    String type = status == 429 ? "rate_limit_error" : status >= 400 && status < 500 ? "invalid_request_error" : null;
    if (retryAfter == null) {
      retryAfter = retryDelay(error);
    }
    return new UpstreamFailed(status < 400 ? 502 : status, message, type, null, code, retryAfter);
  }

  private static boolean hasReason(JsonNode error, String reason) {
    for (JsonNode detail : error.path("details")) {
      if (reason.equals(detail.path("reason").asText())) {
        return true;
      }
    }
    return false;
  }

  /** Whole seconds (rounded up) of a {@code google.rpc.RetryInfo} detail's {@code retryDelay} ("37s", "1.5s"), or null. */
  private static String retryDelay(JsonNode error) {
    for (JsonNode detail : error.path("details")) {
      String delay = detail.path("retryDelay").asText("");
      if (delay.endsWith("s")) {
        try {
          return Long.toString((long) Math.ceil(Double.parseDouble(delay.substring(0, delay.length() - 1))));
        } catch (NumberFormatException notSeconds) {
          return null;
        }
      }
    }
    return null;
  }

  // ---------------------------------------------------------------- stream

  @Override
  public StreamTranslation stream(Deployment deployment, ProviderRequest request) {
    return new ResponsesToChunks(deployment);
  }

  /**
   * A whole answer to a stream request: one {@code GenerateContentResponse}, or the JSON array of
   * them {@code streamGenerateContent} sends without {@code alt=sse}, as the chunks of a stream with
   * the usage chunk last.
   */
  @Override
  public List<StreamChunk> chunksOf(Deployment deployment, ProviderRequest request, byte[] body) {
    JsonNode whole;
    try {
      whole = Json.MAPPER.readTree(body);
    } catch (IOException e) {
      throw new UpstreamUnreachable("The provider of '" + deployment.modelName() + "' sent a body that is not JSON.", e, false);
    }
    var translation = new ResponsesToChunks(deployment);
    var chunks = new ArrayList<StreamChunk>();
    for (JsonNode answer : whole != null && whole.isArray() ? whole : List.of(whole == null ? Json.MAPPER.nullNode() : whole)) {
      chunks.addAll(translation.onEvent(new ServerSentEvent(null, Json.string(answer))));
    }
    chunks.addAll(translation.usageChunk());
    return chunks;
  }

  /** Gemini's stream events (each a partial {@code GenerateContentResponse}) to OpenAI chunks. */
  private final class ResponsesToChunks implements StreamTranslation {
    private final Deployment deployment;
    private String id;
    private String model;
    private long created;
    private final Set<Integer> started = new java.util.HashSet<>();
    private final Map<Integer, Integer> toolCalls = new HashMap<>(); // candidate index -> tool calls so far
    private final Set<Integer> finished = new java.util.HashSet<>();
    private JsonNode lastUsage;
    private boolean complete;
    private boolean usageSent;

    ResponsesToChunks(Deployment deployment) {
      this.deployment = deployment;
    }

    @Override
    public List<StreamChunk> onEvent(ServerSentEvent event) {
      JsonNode answer = parse(deployment, event.data().getBytes(StandardCharsets.UTF_8));
      if (id == null) {
        id = answerId(answer);
        model = answer.path("modelVersion").asText(deployment.upstreamModel());
        created = clock.instant().getEpochSecond();
      }
      if (answer.path("usageMetadata").isObject()) {
        lastUsage = answer.get("usageMetadata");
      }
      ObjectNode chunk = chunk();
      ArrayNode choices = chunk.putArray("choices");
      long chars = 0;
      TreeMap<Integer, JsonNode> candidates = candidatesByIndex(answer);
      if (candidates.isEmpty() && answer.path("promptFeedback").hasNonNull("blockReason")) {
        candidates.put(0, Json.MAPPER.createObjectNode().put("finishReason", "PROHIBITED_CONTENT"));
      }
      for (Map.Entry<Integer, JsonNode> candidate : candidates.entrySet()) {
        int index = candidate.getKey();
        int callsSoFar = toolCalls.getOrDefault(index, 0);
        Parts parts = parts(candidate.getValue(), callsSoFar);
        ObjectNode choice = choices.addObject();
        choice.put("index", index);
        ObjectNode delta = choice.putObject("delta");
        if (started.add(index)) {
          delta.put("role", "assistant");
        }
        if (parts.content != null) {
          delta.put("content", parts.content);
        }
        if (parts.reasoning != null) {
          delta.put("reasoning_content", parts.reasoning);
        }
        if (!parts.toolCalls.isEmpty()) {
          delta.putArray("tool_calls").addAll(parts.toolCalls);
          toolCalls.put(index, callsSoFar + parts.toolCalls.size());
        }
        String finish = finishReason(candidate.getValue().path("finishReason").asText(""), toolCalls.getOrDefault(index, 0) > 0);
        if (finish != null) {
          finished.add(index);
        }
        choice.put("finish_reason", finish);
        chars += parts.generatedChars;
      }
      var chunks = new ArrayList<StreamChunk>(2);
      if (!choices.isEmpty()) {
        chunks.add(new StreamChunk(Json.bytes(chunk), null, false, chars));
      }
      // Gemini has no end marker (no [DONE]): the answer is taken as whole once every candidate seen
      // so far has its finishReason, which Google's streams send in the last event.
      if (!started.isEmpty() && finished.containsAll(started)) {
        complete = true; // every candidate has ended: Gemini sends nothing after (no [DONE])
        chunks.addAll(usageChunk());
      }
      return chunks;
    }

    /** OpenAI's usage chunk ({@code choices: []}) from the last {@code usageMetadata}, once. */
    List<StreamChunk> usageChunk() {
      ObjectNode usage = usage(lastUsage);
      if (usageSent || usage == null || id == null) {
        return List.of();
      }
      usageSent = true;
      ObjectNode chunk = chunk();
      chunk.putArray("choices");
      chunk.set("usage", usage);
      return List.of(new StreamChunk(Json.bytes(chunk), TokenUsage.fromOpenAi(usage), true, 0));
    }

    private ObjectNode chunk() {
      ObjectNode chunk = Json.MAPPER.createObjectNode();
      chunk.put("id", id);
      chunk.put("object", "chat.completion.chunk");
      chunk.put("created", created);
      chunk.put("model", model);
      return chunk;
    }

    @Override
    public boolean complete() {
      return complete;
    }
  }
}

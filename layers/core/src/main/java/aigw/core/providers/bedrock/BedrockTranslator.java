package aigw.core.providers.bedrock;

import static aigw.core.providers.ChatTurns.append;
import static aigw.core.providers.ChatTurns.text;

import aigw.core.config.Deployment;
import aigw.core.errors.BadRequest;
import aigw.core.errors.GatewayException;
import aigw.core.errors.ServiceUnavailable;
import aigw.core.errors.UpstreamFailed;
import aigw.core.errors.UpstreamTimeout;
import aigw.core.errors.UpstreamUnreachable;
import aigw.core.json.Json;
import aigw.core.providers.Operation;
import aigw.core.providers.ProviderRequest;
import aigw.core.providers.ProviderResponse;
import aigw.core.providers.StreamChunk;
import aigw.core.providers.http.UpstreamCall;
import aigw.core.usage.TokenUsage;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpHeaders;
import java.nio.charset.StandardCharsets;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * OpenAI's chat completions to Amazon Bedrock's Converse and ConverseStream APIs and back, pure (no
 * I/O, no signing: {@link BedrockConverseProvider} signs and sends). Wire shapes from the Bedrock
 * Runtime API model ({@code aws-sdk-java-v2 services/bedrockruntime/.../service-2.json}, API version
 * 2023-09-30) and https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html.
 *
 * <p>Request ({@code POST /model/<model id>/converse} or {@code /converse-stream}, the model id,
 * inference profile id or ARN URL-encoded as one path segment): system and developer messages
 * become {@code system} text blocks; the rest {@code messages}, consecutive turns of one role merged
 * (Converse requires user and assistant to alternate), {@code tool} messages as {@code toolResult}
 * blocks of a user turn, assistant {@code tool_calls} as {@code toolUse} blocks, {@code image_url}
 * parts given as {@code data:image/<png|jpeg|gif|webp>;base64,...} as {@code image} blocks with the
 * base64 bytes (an http(s) image URL is refused: Converse takes bytes, and the gateway does not
 * fetch URLs a client names). {@code max_tokens}/{@code max_completion_tokens}, {@code
 * temperature}, {@code top_p} and {@code stop} go in {@code inferenceConfig}; function tools in
 * {@code toolConfig} ({@code toolSpec.inputSchema.json}), {@code tool_choice} as auto/any/tool.
 *
 * <p>Answer: text blocks joined as {@code content}, {@code toolUse} blocks as {@code tool_calls},
 * {@code stopReason} as {@code finish_reason}, usage with the cache tokens: Bedrock's {@code
 * inputTokens} counts only the uncached input, so {@code prompt_tokens} = input + cache read +
 * cache write (as LiteLLM counts it), with {@code prompt_tokens_details.cached_tokens}. Bedrock's
 * answers carry no id: the completion's id is {@code chatcmpl-<x-amzn-RequestId>}, which names
 * the call in Bedrock's logs and CloudTrail.
 */
public final class BedrockTranslator {
  private final InstantSource clock;

  public BedrockTranslator() {
    this(InstantSource.system());
  }

  /** @param clock gives {@code created} of the OpenAI answers (Bedrock's carry no timestamp) */
  public BedrockTranslator(InstantSource clock) {
    this.clock = clock;
  }

  // ---------------------------------------------------------------- request

  /**
   * The unsigned call: {@code <endpoint>/model/<url-encoded model id>/converse[-stream]}, JSON
   * headers and the Converse body. The signer adds {@code Authorization}, {@code X-Amz-Date} and,
   * for temporary credentials, {@code X-Amz-Security-Token}.
   */
  public UpstreamCall request(Deployment deployment, ProviderRequest request) {
    if (request.operation() != Operation.CHAT_COMPLETIONS) {
      throw new BadRequest(
          "Model '" + deployment.modelName() + "' is an Amazon Bedrock model: it serves /v1/chat/completions only, not /v1"
              + request.operation().path() + ".");
    }
    ObjectNode chat;
    try {
      chat = Json.readObject(request.body().sent());
    } catch (Json.NotAJsonObject e) {
      throw new BadRequest("The request body is not valid JSON: " + e.getMessage());
    }
    var headers = new LinkedHashMap<String, String>();
    headers.put("Content-Type", "application/json");
    headers.put("Accept", request.stream() ? "application/vnd.amazon.eventstream" : "application/json");
    return new UpstreamCall(
        deployment.modelName(),
        converseUri(deployment.apiBase(), deployment.upstreamModel(), request.stream()),
        headers,
        Json.bytes(converseBody(chat)),
        deployment.timeout(),
        List.of());
  }

  /**
   * {@code <endpoint>/model/<model id>/converse} (or {@code /converse-stream}). The model id is one
   * path segment, percent-encoded as the AWS SDKs encode a URI label: an ARN's {@code :} and {@code /}
   * and a version's {@code :} become {@code %3A} and {@code %2F}.
   */
  static URI converseUri(URI endpoint, String modelId, boolean stream) {
    return modelUri(endpoint, modelId, stream ? "converse-stream" : "converse");
  }

  /** {@code <endpoint>/model/<model id>/<operation>}, the model id encoded as in {@link #converseUri}. */
  static URI modelUri(URI endpoint, String modelId, String operation) {
    String base = endpoint.toString().replaceAll("/+$", "");
    String segment = URLEncoder.encode(modelId, StandardCharsets.UTF_8).replace("+", "%20").replace("*", "%2A").replace("%7E", "~");
    return URI.create(base + "/model/" + segment + "/" + operation);
  }

  /** The Converse body for an OpenAI chat completion request (see the class comment). */
  static ObjectNode converseBody(ObjectNode chat) {
    ObjectNode body = Json.MAPPER.createObjectNode();
    ArrayNode system = Json.MAPPER.createArrayNode();
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
        case "system", "developer" -> {
          String text = text(message.get("content"), where);
          if (!text.isEmpty()) { // Converse refuses an empty system text block
            system.addObject().put("text", text);
          }
        }
        case "user" -> append(messages, "user", userBlocks(message.get("content"), where));
        case "assistant" -> append(messages, "assistant", assistantBlocks(message, where));
        case "tool" -> append(messages, "user", toolResult(message, where));
        default -> throw new BadRequest(where + ".role '" + role + "' is not supported for Amazon Bedrock models.", where + ".role");
      }
    }
    if (messages.isEmpty()) {
      throw new BadRequest("Amazon Bedrock models need at least one user or assistant message besides the system prompt.", "messages");
    }
    if (!system.isEmpty()) {
      body.set("system", system);
    }
    ObjectNode inference = Json.MAPPER.createObjectNode();
    JsonNode maxTokens = chat.hasNonNull("max_completion_tokens") ? chat.get("max_completion_tokens") : chat.get("max_tokens");
    if (maxTokens != null && !maxTokens.isNull()) {
      if (aigw.core.json.WholeNumbers.in(maxTokens, 1, Integer.MAX_VALUE) == null) { // 10.0 is 10 (WholeNumbers)
        throw new BadRequest("'max_tokens' must be a positive integer.", "max_tokens");
      }
      inference.put("maxTokens", maxTokens.asInt());
    }
    if (chat.hasNonNull("temperature")) {
      inference.set("temperature", chat.get("temperature"));
    }
    if (chat.hasNonNull("top_p")) {
      inference.set("topP", chat.get("top_p"));
    }
    JsonNode stop = chat.get("stop");
    if (stop != null && stop.isTextual()) {
      inference.putArray("stopSequences").add(stop.asText());
    } else if (stop != null && stop.isArray() && !stop.isEmpty()) {
      inference.set("stopSequences", stop);
    }
    if (!inference.isEmpty()) {
      body.set("inferenceConfig", inference);
    }
    ObjectNode toolConfig = toolConfig(chat, historyHasTools(messages));
    if (toolConfig != null) {
      body.set("toolConfig", toolConfig);
    }
    return body;
  }

  /**
   * {@code toolConfig} from OpenAI's {@code tools} and {@code tool_choice} (auto, required → any, a
   * named function → tool). Converse has no "none": with {@code tool_choice: none} the tools are
   * left out, unless the conversation already holds tool blocks, which Converse accepts only with a
   * {@code toolConfig} (the tools are then sent without a choice).
   */
  private static ObjectNode toolConfig(ObjectNode chat, boolean historyHasTools) {
    JsonNode tools = chat.get("tools");
    if (tools == null || !tools.isArray() || tools.isEmpty()) {
      return null;
    }
    JsonNode choice = chat.get("tool_choice");
    boolean none = choice != null && choice.isTextual() && choice.asText().equals("none");
    if (none && !historyHasTools) {
      return null;
    }
    ObjectNode config = Json.MAPPER.createObjectNode();
    ArrayNode specs = config.putArray("tools");
    for (int i = 0; i < tools.size(); i++) {
      JsonNode function = tools.get(i).path("function");
      if (!"function".equals(tools.get(i).path("type").asText()) || !function.path("name").isTextual()) {
        throw new BadRequest("tools[" + i + "] must be a function tool with a name.", "tools");
      }
      ObjectNode spec = specs.addObject().putObject("toolSpec");
      spec.put("name", function.get("name").asText());
      if (function.path("description").isTextual() && !function.get("description").asText().isEmpty()) {
        spec.put("description", function.get("description").asText());
      }
      JsonNode parameters = function.get("parameters");
      if (parameters != null && parameters.isObject()) {
        spec.putObject("inputSchema").set("json", parameters);
      } else { // Converse requires a schema; OpenAI's default is a function without parameters
        spec.putObject("inputSchema").putObject("json").put("type", "object").putObject("properties");
      }
    }
    if (choice != null && !choice.isNull() && !none) {
      ObjectNode out = config.putObject("toolChoice");
      if (choice.isTextual() && choice.asText().equals("auto")) {
        out.putObject("auto");
      } else if (choice.isTextual() && choice.asText().equals("required")) {
        out.putObject("any");
      } else if (choice.path("function").path("name").isTextual()) {
        out.putObject("tool").put("name", choice.path("function").path("name").asText());
      } else {
        throw new BadRequest("'tool_choice' must be auto, required, none or a function.", "tool_choice");
      }
    }
    return config;
  }

  private static boolean historyHasTools(ArrayNode messages) {
    for (JsonNode message : messages) {
      for (JsonNode block : message.path("content")) {
        if (block.has("toolUse") || block.has("toolResult")) {
          return true;
        }
      }
    }
    return false;
  }

  private static ArrayNode userBlocks(JsonNode content, String where) {
    ArrayNode blocks = Json.MAPPER.createArrayNode();
    if (content != null && content.isTextual()) {
      blocks.addObject().put("text", content.asText());
      return blocks;
    }
    if (content == null || !content.isArray()) {
      throw new BadRequest(where + ".content must be a string or an array of content parts.", where + ".content");
    }
    for (JsonNode part : content) {
      switch (part.path("type").asText()) {
        case "text" -> blocks.addObject().put("text", part.path("text").asText());
        case "image_url" -> blocks.add(image(part.path("image_url").path("url").asText(""), where));
        default -> throw new BadRequest(
            where + ": content part type '" + part.path("type").asText() + "' is not supported for Amazon Bedrock models (text and image_url are).",
            where + ".content");
      }
    }
    return blocks;
  }

  /** {@code data:image/<format>;base64,<data>} as Converse's image block (format and base64 bytes). */
  private static ObjectNode image(String url, String where) {
    if (!url.startsWith("data:")) {
      throw new BadRequest(
          where + ": Amazon Bedrock models take images as base64 data URLs (data:image/png;base64,...); the gateway does not fetch image URLs.",
          where + ".content");
    }
    int comma = url.indexOf(',');
    String header = comma < 0 ? "" : url.substring(5, comma).toLowerCase(Locale.ROOT);
    if (!header.endsWith(";base64")) {
      throw new BadRequest(where + ": an image data URL must be data:<media type>;base64,<data>.", where + ".content");
    }
    String format = switch (header.substring(0, header.length() - 7)) {
      case "image/png" -> "png";
      case "image/jpeg", "image/jpg" -> "jpeg";
      case "image/gif" -> "gif";
      case "image/webp" -> "webp";
      default -> throw new BadRequest(
          where + ": Amazon Bedrock takes png, jpeg, gif and webp images, not " + header.substring(0, header.length() - 7) + ".",
          where + ".content");
    };
    ObjectNode block = Json.MAPPER.createObjectNode();
    ObjectNode image = block.putObject("image");
    image.put("format", format);
    image.putObject("source").put("bytes", url.substring(comma + 1));
    return block;
  }

  private static ArrayNode assistantBlocks(JsonNode message, String where) {
    ArrayNode blocks = Json.MAPPER.createArrayNode();
    JsonNode content = message.get("content");
    if (content != null && !content.isNull()) {
      String text = text(content, where);
      if (!text.isEmpty()) { // Converse refuses blank text blocks; OpenAI sends "" beside tool calls
        blocks.addObject().put("text", text);
      }
    }
    JsonNode calls = message.path("tool_calls");
    for (int i = 0; i < calls.size(); i++) {
      JsonNode call = calls.get(i);
      ObjectNode use = blocks.addObject().putObject("toolUse");
      use.put("toolUseId", call.path("id").asText());
      use.put("name", call.path("function").path("name").asText());
      String arguments = call.path("function").path("arguments").asText("");
      try {
        JsonNode input = arguments.isBlank() ? Json.MAPPER.createObjectNode() : Json.MAPPER.readTree(arguments);
        if (input == null || !input.isObject()) {
          throw new IOException("not an object");
        }
        use.set("input", input);
      } catch (IOException e) {
        throw new BadRequest(where + ".tool_calls[" + i + "].function.arguments must be a JSON object in a string.", where + ".tool_calls");
      }
    }
    return blocks;
  }

  private static ArrayNode toolResult(JsonNode message, String where) {
    if (!message.path("tool_call_id").isTextual()) {
      throw new BadRequest(where + ".tool_call_id is required for a tool message.", where + ".tool_call_id");
    }
    ArrayNode blocks = Json.MAPPER.createArrayNode();
    ObjectNode result = blocks.addObject().putObject("toolResult");
    result.put("toolUseId", message.get("tool_call_id").asText());
    result.putArray("content").addObject().put("text", text(message.get("content"), where));
    return blocks;
  }

  // ---------------------------------------------------------------- answer

  /**
   * A Converse answer ({@code output.message}, {@code stopReason}, {@code usage}) as a chat completion.
   *
   * @param requestId Bedrock's {@code x-amzn-RequestId}, for the completion's id
   */
  public ProviderResponse response(Deployment deployment, String requestId, byte[] body) {
    JsonNode answer = parse(deployment, body);
    JsonNode message = answer.path("output").path("message");
    if (!message.path("content").isArray()) {
      throw new UpstreamUnreachable(
          "The provider of '" + deployment.modelName() + "' sent an answer that is not a Converse answer (no output.message).", null, false);
    }
    ObjectNode usage = usage(answer.path("usage"));
    ObjectNode completion = Json.MAPPER.createObjectNode();
    completion.put("id", "chatcmpl-" + requestId);
    completion.put("object", "chat.completion");
    completion.put("created", clock.instant().getEpochSecond());
    completion.put("model", deployment.upstreamModel());
    ObjectNode choice = completion.putArray("choices").addObject();
    choice.put("index", 0);
    ObjectNode out = choice.putObject("message");
    out.put("role", "assistant");
    var text = new StringBuilder();
    ArrayNode toolCalls = Json.MAPPER.createArrayNode();
    for (JsonNode block : message.path("content")) {
      if (block.path("text").isTextual()) {
        text.append(block.get("text").asText());
      } else if (block.path("toolUse").isObject()) {
        JsonNode use = block.get("toolUse");
        ObjectNode call = toolCalls.addObject();
        call.put("id", use.path("toolUseId").asText());
        call.put("type", "function");
        call.putObject("function")
            .put("name", use.path("name").asText())
            .put("arguments", Json.string(use.has("input") ? use.get("input") : Json.MAPPER.createObjectNode()));
      } // reasoningContent and other blocks: OpenAI's message has no field for them
    }
    if (text.isEmpty() && !toolCalls.isEmpty()) {
      out.putNull("content");
    } else {
      out.put("content", text.toString());
    }
    if (!toolCalls.isEmpty()) {
      out.set("tool_calls", toolCalls);
    }
    choice.putNull("logprobs");
    choice.put("finish_reason", finishReason(answer.path("stopReason").asText(null)));
    completion.set("usage", usage);
    return new ProviderResponse(Json.bytes(completion), TokenUsage.fromOpenAi(usage));
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

  /** Converse's {@code stopReason} as OpenAI's {@code finish_reason}. */
  static String finishReason(String stopReason) {
    if (stopReason == null) {
      return null;
    }
    return switch (stopReason) {
      case "max_tokens", "model_context_window_exceeded" -> "length";
      case "tool_use" -> "tool_calls";
      case "guardrail_intervened", "content_filtered" -> "content_filter";
      default -> "stop"; // end_turn, stop_sequence
    };
  }

  /**
   * OpenAI's usage from Converse's {@code TokenUsage} ({@code inputTokens}, {@code outputTokens},
   * {@code cacheReadInputTokens}, {@code cacheWriteInputTokens}): the prompt counts the uncached
   * input and both cache counts, as LiteLLM's Bedrock usage does.
   */
  static ObjectNode usage(JsonNode usage) {
    long input = count(usage, "inputTokens");
    long read = count(usage, "cacheReadInputTokens");
    long write = count(usage, "cacheWriteInputTokens");
    long output = count(usage, "outputTokens");
    ObjectNode out = Json.MAPPER.createObjectNode();
    out.put("prompt_tokens", input + read + write);
    out.put("completion_tokens", output);
    out.put("total_tokens", input + read + write + output);
    out.putObject("prompt_tokens_details").put("cached_tokens", read);
    out.put("cache_creation_input_tokens", write);
    out.put("cache_read_input_tokens", read);
    return out;
  }

  private static long count(JsonNode usage, String field) {
    JsonNode value = usage == null ? null : usage.get(field);
    return value != null && value.isIntegralNumber() && value.longValue() >= 0 ? value.longValue() : 0;
  }

  // ---------------------------------------------------------------- errors

  /**
   * A non-2xx answer as the gateway's failure. Bedrock names the exception in {@code
   * x-amzn-ErrorType} ({@code ValidationException:http://internal.amazon.com/...}) or the body's
   * {@code __type}, its words in {@code message} (or {@code Message}); see {@link #failure}.
   */
  public GatewayException error(Deployment deployment, int status, HttpHeaders headers, byte[] body) {
    JsonNode answer = null;
    try {
      answer = Json.MAPPER.readTree(body);
    } catch (IOException | RuntimeException notJson) {
      // a proxy's HTML page: the status speaks
    }
    String type = headers.firstValue("x-amzn-errortype").orElse(answer == null ? null : answer.path("__type").asText(null));
    String message = null;
    if (answer != null && answer.isObject()) {
      message = answer.path("message").isTextual() ? answer.get("message").asText() : answer.path("Message").asText(null);
    }
    return failure(deployment, exceptionName(type), status, message, headers.firstValue("retry-after").orElse(null));
  }

  /**
   * An exception message inside a ConverseStream ({@code :message-type: exception}, its {@code
   * :exception-type} such as {@code throttlingException}, a JSON payload with {@code message}).
   */
  public GatewayException streamException(Deployment deployment, String exceptionType, byte[] payload) {
    String message = null;
    JsonNode answer = null;
    try {
      answer = Json.MAPPER.readTree(payload);
      message = answer == null ? null : answer.path("message").asText(null);
    } catch (IOException | RuntimeException notJson) {
      // the type alone says what happened
    }
    String name = exceptionName(exceptionType);
    int status = STATUS_BY_EXCEPTION.getOrDefault(name, 502);
    JsonNode original = answer == null ? null : answer.get("originalStatusCode");
    if ("ModelStreamErrorException".equals(name) && original != null && original.isIntegralNumber()
        && original.intValue() >= 400 && original.intValue() <= 599 && original.intValue() != 401 && original.intValue() != 403) {
      // The model's own status (Bedrock's API model: originalStatusCode, originalMessage): a 429 is the
      // client's to retry later, a 400 its request's fault. A 401/403 is not the gateway's credential: 424 stays.
      status = original.intValue();
      if (answer.path("originalMessage").isTextual() && !answer.get("originalMessage").asText().isBlank()) {
        message = answer.get("originalMessage").asText();
      }
    }
    return failure(deployment, name, status, message, null);
  }

  /** {@code ValidationException:http://...}, {@code aws.protocols#ValidationException}, {@code validationException} → {@code ValidationException}. */
  static String exceptionName(String type) {
    if (type == null || type.isBlank()) {
      return null;
    }
    String name = type.strip();
    int colon = name.indexOf(':');
    if (colon >= 0) {
      name = name.substring(0, colon);
    }
    int hash = name.lastIndexOf('#');
    if (hash >= 0) {
      name = name.substring(hash + 1);
    }
    return name.isEmpty() ? null : Character.toUpperCase(name.charAt(0)) + name.substring(1);
  }

  /** Each Converse exception's HTTP status (the API model's {@code httpStatusCode}), for those raised inside a stream. */
  private static final Map<String, Integer> STATUS_BY_EXCEPTION =
      Map.ofEntries(
          Map.entry("AccessDeniedException", 403),
          Map.entry("ValidationException", 400),
          Map.entry("ResourceNotFoundException", 404),
          Map.entry("ModelTimeoutException", 408),
          Map.entry("ThrottlingException", 429),
          Map.entry("ModelNotReadyException", 429),
          Map.entry("ServiceQuotaExceededException", 400),
          Map.entry("ModelErrorException", 424),
          Map.entry("ModelStreamErrorException", 424),
          Map.entry("InternalServerException", 500),
          Map.entry("ServiceUnavailableException", 503));

  /**
   * The gateway's failure for one Bedrock exception:
   *
   * <ul>
   *   <li>401/403 ({@code AccessDeniedException}, {@code UnrecognizedClientException}, {@code
   *       ExpiredTokenException}, a bad signature): Bedrock refused the gateway's own AWS
   *       credentials or the role lacks the permission, not the client's key: 502 {@code
   *       upstream_auth_error}, naming what the operator checks, without Bedrock's words (they
   *       name the role and account);
   *   <li>{@code ThrottlingException} and {@code ServiceQuotaExceededException}: 429 {@code
   *       rate_limit_error} (the client may retry later);
   *   <li>{@code ServiceUnavailableException}, {@code ModelNotReadyException} and any other 503 or
   *       529: 503 {@code service_unavailable}, Anthropic's {@code overloaded_error} on {@code
   *       /v1/messages} (nothing ran; the next deployment may be tried);
   *   <li>{@code ModelTimeoutException}: 504 {@code timeout};
   *   <li>{@code ValidationException} 400 and {@code ResourceNotFoundException} 404 pass with
   *       Bedrock's message, the exception's name as {@code code};
   *   <li>{@code InternalServerException}, {@code ModelErrorException}, {@code
   *       ModelStreamErrorException} and any other 5xx or 424: 502; a {@code
   *       ModelStreamErrorException} with the model's {@code originalStatusCode} is judged by that
   *       status ({@link #streamException}).
   * </ul>
   */
  static GatewayException failure(Deployment deployment, String exception, int status, String message, String retryAfter) {
    String model = deployment.modelName();
    String said = message == null || message.isBlank() ? "" : ": " + message;
    String name = exception == null ? "HTTP " + status : exception;
    if (status == 401 || status == 403) {
      return new UpstreamFailed(
          502,
          "Amazon Bedrock refused the gateway's AWS credentials for model '" + model + "' (" + name + (exception == null ? "" : ", HTTP " + status)
              + "). The operator must check that the function's IAM role may call bedrock:InvokeModel and"
              + " bedrock:InvokeModelWithResponseStream (and bedrock:CountTokens, for token counting) on the model's ARNs (for an inference profile: the profile and its"
              + " foundation models in every region it routes to), and that an administrator has invoked the model once (a third-party model's first call subscribes the account through AWS Marketplace; Anthropic's also needs its first-time-use form): docs/configuration.md, Amazon Bedrock.",
          UpstreamFailed.CREDENTIAL_REFUSED,
          null,
          null,
          null);
    }
    if (exception == null) {
      exception = "";
    }
    return switch (exception) {
      case "ThrottlingException", "ServiceQuotaExceededException" ->
          new UpstreamFailed(429, "Amazon Bedrock is throttling model '" + model + "' (" + exception + ")" + said, "rate_limit_error", null, exception, retryAfter);
      case "ServiceUnavailableException", "ModelNotReadyException" -> overloaded(model, exception, said);
      case "ModelTimeoutException" -> new UpstreamTimeout("Amazon Bedrock timed out running model '" + model + "' (" + exception + ")" + said);
      default -> {
        if (status / 100 == 4 && status != 424) {
          String type = switch (status) {
            case 404 -> "not_found_error";
            case 429 -> "rate_limit_error";
            default -> "invalid_request_error";
          };
          yield new UpstreamFailed(status, message == null || message.isBlank() ? "Amazon Bedrock answered " + name + "." : message, type, null,
              exception.isEmpty() ? null : exception, retryAfter);
        }
        if (status == 503 || status == 529) { // unnamed, or a model's own status inside a ModelStreamErrorException
          yield overloaded(model, name, said);
        }
        yield new UpstreamFailed(502, "Amazon Bedrock failed to answer for model '" + model + "' (" + name + ")" + said, "upstream_error", null, null, null);
      }
    };
  }

  /**
   * Bedrock cannot serve the model now: 503 with {@code Retry-After}, nothing ran (the next
   * deployment may be tried), and on {@code /v1/messages} Anthropic's {@code overloaded_error}, the
   * type Anthropic answers (with 529) when it cannot serve; Anthropic's and OpenAI's SDKs retry a 503.
   * LiteLLM likewise maps Bedrock's 503 to its {@code ServiceUnavailableError} (503).
   */
  private static ServiceUnavailable overloaded(String model, String exception, String said) {
    return new ServiceUnavailable("Amazon Bedrock cannot serve model '" + model + "' now (" + exception + ")" + said + " Retry later.", null, true);
  }

  // ---------------------------------------------------------------- stream

  /** The translation of one ConverseStream answer. */
  public EventsToChunks stream(Deployment deployment, String requestId) {
    return new EventsToChunks(deployment, "chatcmpl-" + requestId, clock.instant().getEpochSecond());
  }

  /**
   * ConverseStream's events ({@code ConverseStreamOutput}): {@code messageStart}, per content block
   * {@code contentBlockStart} (tool use only), {@code contentBlockDelta}s and {@code
   * contentBlockStop}, then {@code messageStop} (stop reason) and {@code metadata} (usage, last).
   * Unknown events are skipped: Bedrock adds members to the union.
   */
  public static final class EventsToChunks implements BedrockEventTranslation {
    private final Deployment deployment;
    private final String id;
    private final long created;
    /** Converse's content block index → OpenAI's tool call index, for the toolUse blocks. */
    private final Map<Integer, Integer> toolIndexByBlock = new HashMap<>();
    private boolean stopped;
    private boolean complete;

    EventsToChunks(Deployment deployment, String id, long created) {
      this.deployment = deployment;
      this.id = id;
      this.created = created;
    }

    /**
     * The chunks of one event.
     *
     * @param eventType the message's {@code :event-type} header
     * @param payload its JSON payload
     */
    @Override
    public List<StreamChunk> onEvent(String eventType, byte[] payload) {
      JsonNode data;
      try {
        data = Json.MAPPER.readTree(payload);
      } catch (IOException e) {
        throw new UpstreamUnreachable("The provider of '" + deployment.modelName() + "' sent a stream event that is not JSON.", e, false);
      }
      if (data == null || !data.isObject()) {
        throw new UpstreamUnreachable("The provider of '" + deployment.modelName() + "' sent a stream event that is not a JSON object.", null, false);
      }
      switch (eventType == null ? "" : eventType) {
        case "messageStart" -> {
          return List.of(chunk(Json.MAPPER.createObjectNode().put("role", "assistant").put("content", ""), null, 0));
        }
        case "contentBlockStart" -> {
          JsonNode use = data.path("start").path("toolUse");
          if (!use.isObject()) {
            return List.of();
          }
          int toolIndex = toolIndexByBlock.size();
          toolIndexByBlock.put(data.path("contentBlockIndex").asInt(), toolIndex);
          ObjectNode call = Json.MAPPER.createObjectNode().put("index", toolIndex).put("id", use.path("toolUseId").asText()).put("type", "function");
          call.putObject("function").put("name", use.path("name").asText()).put("arguments", "");
          return List.of(chunk(toolCallDelta(call), null, 0));
        }
        case "contentBlockDelta" -> {
          JsonNode delta = data.path("delta");
          if (delta.path("text").isTextual()) {
            String text = delta.get("text").asText();
            return List.of(chunk(Json.MAPPER.createObjectNode().put("content", text), null, text.length()));
          }
          if (delta.path("toolUse").isObject()) {
            Integer toolIndex = toolIndexByBlock.get(data.path("contentBlockIndex").asInt());
            String partial = delta.get("toolUse").path("input").asText("");
            if (toolIndex == null || partial.isEmpty()) {
              return List.of();
            }
            ObjectNode call = Json.MAPPER.createObjectNode().put("index", toolIndex);
            call.putObject("function").put("arguments", partial);
            return List.of(chunk(toolCallDelta(call), null, partial.length()));
          }
          return List.of(); // reasoningContent: no OpenAI field
        }
        case "messageStop" -> {
          stopped = true;
          return List.of(chunk(Json.MAPPER.createObjectNode(), finishReason(data.path("stopReason").asText("end_turn")), 0));
        }
        case "metadata" -> {
          complete = true;
          ObjectNode usage = usage(data.path("usage"));
          ObjectNode chunk = base();
          chunk.putArray("choices");
          chunk.set("usage", usage);
          return List.of(new StreamChunk(Json.bytes(chunk), TokenUsage.fromOpenAi(usage), true, 0));
        }
        default -> {
          return List.of(); // contentBlockStop, and events added after this was written
        }
      }
    }

    /** True once {@code metadata} (the last event, with usage) arrived. */
    @Override
    public boolean complete() {
      return complete;
    }

    /** True once {@code messageStop} arrived: an end of the stream after it lost only the usage. */
    @Override
    public boolean stopped() {
      return stopped;
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
      chunk.put("model", deployment.upstreamModel());
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
  }
}

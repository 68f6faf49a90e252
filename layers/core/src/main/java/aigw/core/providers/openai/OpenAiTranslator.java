package aigw.core.providers.openai;

import aigw.core.config.Deployment;
import aigw.core.config.Provider;
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
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpHeaders;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * OpenAI's HTTP API to OpenAI's: the request goes on as the client sent it, byte for byte, with
 * only {@code model} replaced (and, for a stream, {@code stream_options.include_usage} set, or
 * {@code stream_options} taken out for a provider that refuses it), so
 * parameters the gateway does not know still reach the provider and no value changes on the way.
 * Serves every OpenAI-compatible prefix of {@link Provider}: OpenAI, Azure OpenAI (through {@code AzureTranslator}), Groq,
 * Mistral, DeepSeek, OpenRouter, Ollama, vLLM...
 *
 * <p>https://platform.openai.com/docs/api-reference/chat/create,
 * https://platform.openai.com/docs/api-reference/chat-streaming (chunks, {@code data: [DONE]}, the
 * usage chunk with {@code choices: []}), https://platform.openai.com/docs/api-reference/completions
 */
public final class OpenAiTranslator implements HttpApiTranslator {
  private static final String DONE = "[DONE]";

  @Override
  public UpstreamCall request(Deployment deployment, ProviderRequest request) {
    if (deployment.apiBase() == null) {
      throw new ServiceUnavailable(
          "The gateway has no api_base for model '" + deployment.modelName() + "': " + deployment.apiBaseSource()
              + " is not set. The operator must set it (locally in the environment; on AWS in the provider credentials secret).",
          null);
    }
    var headers = new LinkedHashMap<String, String>();
    headers.put("Content-Type", "application/json");
    headers.put("Accept", request.stream() ? "text/event-stream" : "application/json");
    if (deployment.apiKey() != null) {
      if (deployment.provider().authStyle() == Provider.AuthStyle.API_KEY_HEADER) {
        headers.put("api-key", deployment.apiKey());
      } else {
        headers.put("Authorization", "Bearer " + deployment.apiKey());
      }
    } else if (deployment.apiKeySource() != null) {
      throw new ServiceUnavailable(
          "The gateway has no credential for model '" + deployment.modelName() + "': " + deployment.apiKeySource()
              + " is not set. The operator must set it (locally in the environment; on AWS in the provider credentials secret).",
          null);
    }
    // The client's bytes, only model replaced: no value changes on the way (ForwardedBody). A stream
    // asks for usage (the gateway counts every call, whether or not the client wants the chunk),
    // except from a provider that refuses stream_options: it gets none, not even the client's, and
    // its usage is read from whichever chunk carries it (Mistral: the last one).
    byte[] body;
    if (request.operation() == Operation.RESPONSES) {
      // The Responses API has no stream_options.include_usage (it refuses unknown members): its
      // response.completed event always carries usage.
      body = request.body().withModel(deployment.upstreamModel());
    } else if (!request.stream()) {
      body = request.body().withModel(deployment.upstreamModel());
    } else if (deployment.provider().acceptsStreamOptions()) {
      body = request.body().withModelAndUsage(deployment.upstreamModel());
    } else {
      body = request.body().withModelWithoutStreamOptions(deployment.upstreamModel());
    }
    return new UpstreamCall(
        deployment.modelName(),
        URI.create(deployment.apiBase() + request.operation().path()),
        headers,
        body,
        deployment.timeout(),
        deployment.apiKey() == null ? List.of() : List.of(deployment.apiKey()));
  }

  @Override
  public ProviderResponse response(Deployment deployment, ProviderRequest request, byte[] body) {
    JsonNode answer;
    try {
      answer = Json.MAPPER.readTree(body);
    } catch (IOException e) {
      throw new UpstreamUnreachable("The provider of '" + deployment.modelName() + "' sent a body that is not JSON.", e, false);
    }
    if (answer == null || !answer.isObject()) {
      throw new UpstreamUnreachable("The provider of '" + deployment.modelName() + "' sent an empty or non-object answer.", null, false);
    }
    String member = answerMember(request.operation());
    if (member != null && !answer.path(member).isArray()) {
      // A 200 that is not the operation's answer must not reach the client as one (an SDK would
      // read an empty completion). Some OpenAI-compatible servers (OpenRouter, vLLM behind proxies)
      // report a failure in a 200 body: it is their error, as the same body in a stream is
      // (chunksOf); anything else is a broken provider, 502.
      if (answer.hasNonNull("error")) {
        throw streamFailure(deployment, new String(body, StandardCharsets.UTF_8));
      }
      throw new UpstreamUnreachable(
          "The provider of '" + deployment.modelName() + "' answered HTTP 200 with JSON that is not " + answerName(request.operation())
              + " (no '" + member + "' array); nothing could be relayed.",
          null, false);
    }
    TokenUsage usage = request.operation() == Operation.RESPONSES
        ? TokenUsage.fromResponses(answer.get("usage"))
        : TokenUsage.fromOpenAi(answer.get("usage"));
    return new ProviderResponse(body, usage);
  }

  /**
   * The array member every answer of this operation has: {@code choices} for (chat) completions,
   * {@code data} for embeddings; null for the operations whose answer is not checked here
   * (the Responses API and Anthropic's Messages pass-through).
   */
  private static String answerMember(Operation operation) {
    return switch (operation) {
      case CHAT_COMPLETIONS, COMPLETIONS -> "choices";
      case EMBEDDINGS -> "data";
      default -> null;
    };
  }

  private static String answerName(Operation operation) {
    return operation == Operation.EMBEDDINGS ? "an embedding list" : "a completion";
  }

  /**
   * The provider's error in our envelope. Its own 401/403 mean the gateway's provider credential is
   * wrong, not the client's key, so they become 502: the client must not think its key was refused.
   */
  @Override
  public UpstreamFailed error(Deployment deployment, int status, HttpHeaders headers, byte[] body) {
    if (UpstreamErrors.refusesCredential(status)) {
      return UpstreamErrors.credentialRefused(deployment, status);
    }
    UpstreamFailed failure = failureIn(body, status);
    // Azure OpenAI sends retry-after-ms beside (or instead of) retry-after; both reach the client, and
    // a client that reads only Retry-After gets the milliseconds as whole seconds, rounded up.
    String retryAfterMs = headers.firstValue("retry-after-ms").map(String::strip).filter(OpenAiTranslator::isMillis).orElse(null);
    String retryAfter = headers.firstValue("retry-after").orElse(retryAfterMs == null ? null : wholeSeconds(retryAfterMs));
    return new UpstreamFailed(
        status, failure.getMessage(), failure.upstreamType(), failure.param(), failure.upstreamCode(), retryAfter, retryAfterMs);
  }

  private static boolean isMillis(String value) {
    return value.matches("\\d{1,9}(\\.\\d+)?");
  }

  /** Milliseconds ({@link #isMillis}) as whole seconds, rounded up. */
  static String wholeSeconds(String millis) {
    return Long.toString((long) Math.ceil(Double.parseDouble(millis) / 1000));
  }

  /** OpenAI's {@code {"error":{...}}} (or Ollama's {@code {"error":"text"}}) in a body, with {@code status}. */
  private static UpstreamFailed failureIn(byte[] body, int status) {
    try {
      return failureIn(Json.MAPPER.readTree(body), status);
    } catch (IOException | RuntimeException notJson) {
      return new UpstreamFailed(status, "The provider answered HTTP " + status + ".", null, null, null, null);
    }
  }

  private static UpstreamFailed failureIn(JsonNode answer, int status) {
    String message = null;
    String type = null;
    String param = null;
    String code = null;
    JsonNode error = answer == null ? null : answer.path("error");
    if (error != null && error.isObject()) {
      message = textOrNull(error.get("message"));
      type = textOrNull(error.get("type"));
      param = textOrNull(error.get("param"));
      code = textOrNull(error.get("code"));
    } else if (error != null && error.isTextual()) {
      message = error.asText(); // Ollama and some others: {"error": "text"}
    }
    if (message == null) {
      message = "The provider answered HTTP " + status + ".";
    }
    return new UpstreamFailed(status, message, type, param, code, null);
  }

  /**
   * An error the provider reported inside a 200 stream: a {@code data:} event carrying {@code error}
   * (OpenAI), or an event named {@code error}, whose data openai-node's {@code Stream} reads as
   * {@code data.error} or else {@code data.message} (src/streaming.ts). Its status: the error's own
   * numeric {@code code} when that is a client error (vLLM sends {@code "code": 400} for a prompt
   * over the context length), a 401/403 as the gateway's credential refused, else 502. It only
   * reaches the client as a status when nothing was sent yet; mid-stream it is an error event.
   */
  private static UpstreamFailed streamFailure(Deployment deployment, String data) {
    JsonNode answer;
    try {
      answer = Json.MAPPER.readTree(data);
    } catch (IOException | RuntimeException notJson) {
      answer = null;
    }
    JsonNode error;
    if (answer != null && answer.isObject() && answer.hasNonNull("error")) {
      error = answer.get("error");
    } else if (answer != null && answer.isObject()) {
      error = answer; // event: error with {"message":..., "type":..., "code":...}
    } else {
      String text = data.strip();
      return new UpstreamFailed(
          502,
          "The provider of '" + deployment.modelName() + "' reported an error in its stream"
              + (text.isEmpty() ? "." : ": " + (text.length() > 500 ? text.substring(0, 500) + "..." : text)),
          null, null, null, null);
    }
    int status = 502;
    JsonNode code = error.isObject() ? error.get("code") : null;
    int numeric = code == null ? 0 : code.canConvertToInt() ? code.asInt() : code.isTextual() ? parseStatus(code.asText()) : 0;
    if (numeric >= 400 && numeric < 500) {
      if (UpstreamErrors.refusesCredential(numeric)) {
        return UpstreamErrors.credentialRefused(deployment, numeric);
      }
      status = numeric;
    }
    var failure = failureIn(Json.MAPPER.createObjectNode().set("error", error), status);
    if (failure.getMessage().startsWith("The provider answered HTTP")) {
      return new UpstreamFailed(
          status, "The provider of '" + deployment.modelName() + "' reported an error in its stream.",
          failure.upstreamType(), failure.param(), failure.upstreamCode(), null);
    }
    return failure;
  }

  private static int parseStatus(String text) {
    try {
      return Integer.parseInt(text.strip());
    } catch (NumberFormatException notANumber) {
      return 0;
    }
  }

  @Override
  public StreamTranslation stream(Deployment deployment, ProviderRequest request) {
    return request.operation() == Operation.RESPONSES ? new ResponsesEventPassThrough(deployment) : new ChunkPassThrough(deployment);
  }

  /**
   * The Responses API's stream (https://platform.openai.com/docs/api-reference/responses-streaming):
   * typed events ({@code "type":"response.output_text.delta"}...) passed on as they came. It has no
   * {@code [DONE]}: {@code response.completed}, {@code response.incomplete} or {@code
   * response.failed} ends it, and carries the usage ({@code response.usage}, input/output tokens).
   * An {@code error} event is thrown as the provider's failure.
   */
  private static final class ResponsesEventPassThrough implements StreamTranslation {
    private final Deployment deployment;
    private boolean complete;

    ResponsesEventPassThrough(Deployment deployment) {
      this.deployment = deployment;
    }

    @Override
    public List<StreamChunk> onEvent(ServerSentEvent event) {
      if (DONE.equals(event.data().strip())) { // not sent by OpenAI, harmless from a look-alike
        complete = true;
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
      String type = data.path("type").asText("");
      if ("error".equals(type) || "error".equals(event.event())) {
        // {"type":"error","code":...,"message":...,"param":...}: the envelope's fields, not nested;
        // its "type" names the event, not the kind of error, so it is not read as the error's type.
        ObjectNode error = ((ObjectNode) data).deepCopy();
        error.remove(List.of("type", "sequence_number"));
        throw streamFailure(deployment, error.toString());
      }
      TokenUsage tokens = null;
      if (type.equals("response.completed") || type.equals("response.incomplete") || type.equals("response.failed")) {
        complete = true;
        JsonNode usage = data.path("response").get("usage");
        tokens = usage != null && usage.isObject() ? TokenUsage.fromResponses(usage) : null;
      }
      long generated = type.endsWith(".delta") ? length(data.get("delta")) : 0;
      return List.of(new StreamChunk(event.data().getBytes(StandardCharsets.UTF_8), tokens, false, generated));
    }

    @Override
    public boolean complete() {
      return complete;
    }
  }

  /**
   * A provider that answered a stream request with one whole JSON completion (some servers ignore
   * {@code stream}): the client asked for a stream and its SDK parses Server-Sent Events, so the
   * completion becomes the chunks OpenAI would have sent: one with every choice's message as its
   * {@code delta} (tool calls given their {@code index}) and its {@code finish_reason}, then the usage
   * chunk ({@code choices: []}). A legacy {@code text_completion} already has a chunk's shape. A
   * whole Response ({@code object: response}) to a Responses stream request is one chunk with its
   * usage, which the Responses route writes as the event sequence.
   *
   * @throws UpstreamFailed for an {@code error} in it
   * @throws UpstreamUnreachable for JSON that is not a completion
   */
  @Override
  public List<StreamChunk> chunksOf(Deployment deployment, ProviderRequest request, byte[] body) {
    JsonNode answer;
    try {
      answer = Json.MAPPER.readTree(body);
    } catch (IOException e) {
      answer = null;
    }
    if (answer != null && answer.isObject() && answer.hasNonNull("error")) {
      throw streamFailure(deployment, new String(body, StandardCharsets.UTF_8));
    }
    if (request.operation() == Operation.RESPONSES) { // a Responses stream has only events; anything else is not one
      if (answer != null && "response".equals(answer.path("object").asText())) {
        // A whole Response: one chunk with its usage, written as the Responses events by the route (NativeEvents).
        return List.of(new StreamChunk(body, TokenUsage.fromResponses(answer.get("usage")), false, 0));
      }
      throw new UpstreamUnreachable(
          "The provider of '" + deployment.modelName() + "' answered a Responses stream request with "
              + (answer == null ? "a body that is not JSON" : "JSON") + " that is not a Responses event (no event 'type');"
              + " nothing could be relayed.",
          null, false);
    }
    if (answer == null || !answer.isObject() || !answer.path("choices").isArray()) {
      throw new UpstreamUnreachable(
          "The provider of '" + deployment.modelName() + "' answered a stream request with JSON that is not a completion"
              + " (no 'choices'); nothing could be relayed.",
          null, false);
    }
    ObjectNode chunk = ((ObjectNode) answer).deepCopy();
    JsonNode usage = chunk.remove("usage");
    if ("chat.completion".equals(chunk.path("object").asText()) || request.operation() == Operation.CHAT_COMPLETIONS) {
      chunk.put("object", "chat.completion.chunk");
      for (JsonNode choice : chunk.path("choices")) {
        if (choice instanceof ObjectNode c && c.get("message") instanceof ObjectNode message) {
          c.remove("message");
          int index = 0;
          for (JsonNode call : message.path("tool_calls")) {
            if (call instanceof ObjectNode toolCall && !toolCall.has("index")) {
              toolCall.put("index", index);
            }
            index++;
          }
          c.set("delta", message);
        }
      }
    }
    var chunks = new java.util.ArrayList<StreamChunk>(2);
    chunks.add(new StreamChunk(Json.bytes(chunk), null, false, generatedChars(chunk.path("choices"))));
    if (usage != null && usage.isObject()) {
      ObjectNode usageChunk = chunk.deepCopy();
      usageChunk.set("choices", Json.MAPPER.createArrayNode());
      usageChunk.set("usage", usage);
      chunks.add(new StreamChunk(Json.bytes(usageChunk), TokenUsage.fromOpenAi(usage), true, 0));
    }
    return chunks;
  }

  /**
   * OpenAI's stream is already OpenAI's: each {@code data:} event is passed on as it came; the
   * gateway only reads usage (from whichever chunk carries it) and generated text from it. {@code
   * data: [DONE]} ends it; an event carrying {@code error} or named {@code error} is thrown.
   */
  private static final class ChunkPassThrough implements StreamTranslation {
    private final Deployment deployment;
    private boolean complete;

    ChunkPassThrough(Deployment deployment) {
      this.deployment = deployment;
    }

    @Override
    public List<StreamChunk> onEvent(ServerSentEvent event) {
      if ("error".equals(event.event())) {
        throw streamFailure(deployment, event.data());
      }
      if (DONE.equals(event.data().strip())) {
        complete = true;
        return List.of();
      }
      ChunkFields chunk;
      try (JsonParser parser = Json.MAPPER.createParser(event.data())) {
        chunk = ChunkFields.read(parser, event.data());
      } catch (IOException e) {
        throw new UpstreamUnreachable("The provider of '" + deployment.modelName() + "' sent a stream event that is not JSON.", e, false);
      }
      if (chunk == null) {
        throw new UpstreamUnreachable("The provider of '" + deployment.modelName() + "' sent a stream event that is not a JSON object.", null, false);
      }
      if (chunk.error) {
        throw streamFailure(deployment, event.data());
      }
      TokenUsage tokens = chunk.usage != null ? TokenUsage.fromOpenAi(chunk.usage) : null;
      boolean usageOnly = tokens != null && (!chunk.choicesPresent || chunk.choicesEmptyArray);
      return List.of(new StreamChunk(event.data().getBytes(StandardCharsets.UTF_8), tokens, usageOnly, chunk.generatedChars));
    }

    @Override
    public boolean complete() {
      return complete;
    }
  }

  /**
   * What the gateway reads from one chunk of OpenAI's stream, read with Jackson's streaming parser:
   * a chunk is passed on as the provider sent it, so building its whole tree (and every string in
   * it) on every chunk only to read three things was most of the gateway's cost per chunk. Reads
   * exactly what {@code readTree} and {@link #generatedChars} read, with the same rules: a repeated
   * field's last value wins, a container of another kind than expected is skipped, trailing tokens
   * after the object make the event "not JSON" ({@code FAIL_ON_TRAILING_TOKENS}), and {@code usage}
   * (one chunk per stream) is read as a tree with the mapper's settings.
   */
  private static final class ChunkFields {
    /** The mapper's settings for the usage object, read in the middle of the chunk: the chunk's own end is checked here. */
    private static final ObjectReader USAGE = Json.MAPPER.reader().without(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    /** {@code usage} when it is an object, else null. */
    JsonNode usage;
    /** {@code error} is present and not null: the event is the provider's failure. */
    boolean error;
    boolean choicesPresent;
    boolean choicesEmptyArray;
    long generatedChars;

    /**
     * @return the chunk's fields, or null when the event is JSON but not an object
     * @throws IOException the event is not JSON (malformed, or tokens after its value)
     */
    static ChunkFields read(JsonParser parser, String data) throws IOException {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        Json.MAPPER.readTree(data); // the same failure as before for malformed JSON; else valid JSON that is no object
        return null;
      }
      ChunkFields fields = new ChunkFields();
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String name = parser.currentName();
        JsonToken value = parser.nextToken();
        switch (name) {
          case "usage" -> fields.usage = value == JsonToken.START_OBJECT ? USAGE.readTree(parser) : skipped(parser);
          case "error" -> {
            fields.error = value != JsonToken.VALUE_NULL;
            parser.skipChildren();
          }
          case "choices" -> {
            fields.choicesPresent = true;
            fields.choicesEmptyArray = value == JsonToken.START_ARRAY && parser.nextToken() == JsonToken.END_ARRAY;
            fields.generatedChars = fields.choicesEmptyArray ? 0 : choicesChars(parser, value);
          }
          default -> parser.skipChildren();
        }
      }
      if (parser.nextToken() != null) {
        throw new JsonParseException(parser, "a token after the chunk's object");
      }
      return fields;
    }

    private static JsonNode skipped(JsonParser parser) throws IOException {
      parser.skipChildren();
      return null;
    }

    /**
     * The generated characters of {@code choices}, as {@link #generatedChars} counts them: each
     * element of an array (or value of an object) that is an object. For an array, the parser is
     * already on its first element's token (read to tell an empty array).
     */
    private static long choicesChars(JsonParser parser, JsonToken container) throws IOException {
      if (container == JsonToken.START_ARRAY) {
        long chars = 0;
        for (JsonToken element = parser.currentToken(); element != JsonToken.END_ARRAY; element = parser.nextToken()) {
          chars += element == JsonToken.START_OBJECT ? choiceChars(parser) : skippedChars(parser);
        }
        return chars;
      }
      if (container == JsonToken.START_OBJECT) {
        long chars = 0;
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
          chars += parser.nextToken() == JsonToken.START_OBJECT ? choiceChars(parser) : skippedChars(parser);
        }
        return chars;
      }
      return 0; // a scalar has no elements
    }

    /** One choice (the parser on its START_OBJECT): {@code text} (legacy completions) and its {@code delta}. */
    private static long choiceChars(JsonParser parser) throws IOException {
      long text = 0;
      long delta = 0;
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String name = parser.currentName();
        JsonToken value = parser.nextToken();
        switch (name) {
          case "text" -> text = textLength(parser, value);
          case "delta" -> delta = value == JsonToken.START_OBJECT ? deltaChars(parser) : skippedChars(parser);
          default -> parser.skipChildren();
        }
      }
      return text + delta;
    }

    /** A delta: content, refusal, reasoning_content and each tool call's function arguments. */
    private static long deltaChars(JsonParser parser) throws IOException {
      long content = 0;
      long refusal = 0;
      long reasoning = 0;
      long arguments = 0;
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String name = parser.currentName();
        JsonToken value = parser.nextToken();
        switch (name) {
          case "content" -> content = textLength(parser, value);
          case "refusal" -> refusal = textLength(parser, value);
          case "reasoning_content" -> reasoning = textLength(parser, value);
          case "tool_calls" -> arguments = toolCallsChars(parser, value);
          default -> parser.skipChildren();
        }
      }
      return content + refusal + reasoning + arguments;
    }

    /** Each tool call (an array's elements or an object's values) that is an object: its function's arguments. */
    private static long toolCallsChars(JsonParser parser, JsonToken container) throws IOException {
      JsonToken end = container == JsonToken.START_ARRAY ? JsonToken.END_ARRAY : container == JsonToken.START_OBJECT ? JsonToken.END_OBJECT : null;
      if (end == null) {
        return 0;
      }
      long chars = 0;
      for (JsonToken token = parser.nextToken(); token != end; token = parser.nextToken()) {
        if (token == JsonToken.FIELD_NAME) {
          token = parser.nextToken();
        }
        chars += token == JsonToken.START_OBJECT ? objectChars(parser, "function", "arguments") : skippedChars(parser);
      }
      return chars;
    }

    /** In an object: the length of the text at {@code outer.inner}, when {@code outer} is an object (the last one wins). */
    private static long objectChars(JsonParser parser, String outer, String inner) throws IOException {
      long chars = 0;
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        boolean wanted = outer.equals(parser.currentName());
        JsonToken value = parser.nextToken();
        if (wanted && value == JsonToken.START_OBJECT) {
          chars = 0;
          while (parser.nextToken() == JsonToken.FIELD_NAME) {
            boolean text = inner.equals(parser.currentName());
            JsonToken innerValue = parser.nextToken();
            if (text) {
              chars = textLength(parser, innerValue);
            } else {
              parser.skipChildren();
            }
          }
        } else {
          if (wanted) {
            chars = 0;
          }
          parser.skipChildren();
        }
      }
      return chars;
    }

    /** A string's length in UTF-16 units (as {@code asText().length()}), else 0 (its children skipped). */
    private static long textLength(JsonParser parser, JsonToken value) throws IOException {
      if (value == JsonToken.VALUE_STRING) {
        return parser.getTextLength();
      }
      parser.skipChildren();
      return 0;
    }

    private static long skippedChars(JsonParser parser) throws IOException {
      parser.skipChildren();
      return 0;
    }
  }

  /** Characters of generated text in a chunk's choices: content, refusal, reasoning, tool call arguments, text. */
  static long generatedChars(JsonNode choices) {
    long chars = 0;
    for (JsonNode choice : choices) {
      chars += length(choice.get("text")); // legacy completions
      JsonNode delta = choice.path("delta");
      chars += length(delta.get("content")) + length(delta.get("refusal")) + length(delta.get("reasoning_content"));
      for (JsonNode call : delta.path("tool_calls")) {
        chars += length(call.path("function").get("arguments"));
      }
    }
    return chars;
  }

  private static long length(JsonNode text) {
    return text != null && text.isTextual() ? text.asText().length() : 0;
  }

  private static String textOrNull(JsonNode node) {
    return node == null || node.isNull() ? null : node.asText();
  }
}

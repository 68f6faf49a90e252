package aigw.core.providers.bedrock;

import aigw.core.config.Deployment;
import aigw.core.config.Provider;
import aigw.core.errors.BadRequest;
import aigw.core.errors.GatewayException;
import aigw.core.errors.UpstreamFailed;
import aigw.core.errors.UpstreamUnreachable;
import aigw.core.json.Json;
import aigw.core.providers.Operation;
import aigw.core.providers.ProviderRequest;
import aigw.core.providers.ProviderResponse;
import aigw.core.providers.StreamChunk;
import aigw.core.providers.anthropic.AnthropicTranslator;
import aigw.core.providers.http.ServerSentEvent;
import aigw.core.providers.http.StreamTranslation;
import aigw.core.providers.http.UpstreamCall;
import aigw.core.usage.TokenUsage;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Anthropic's Messages API passed through to Claude on Amazon Bedrock, pure (no I/O, no signing:
 * {@link BedrockConverseProvider} signs and sends): the client's {@code /v1/messages} body goes to
 * Bedrock's InvokeModel or InvokeModelWithResponseStream as Bedrock's Anthropic body, and Bedrock's
 * answer, Anthropic's Message or its events, comes back as Anthropic sends it. Nothing a Converse
 * translation would drop is lost: {@code cache_control}, thinking blocks with their signatures, the
 * beta fields Claude Code sends.
 *
 * <p>Request ({@code POST /model/<model id>/invoke} or {@code /invoke-with-response-stream}, the model
 * id URL-encoded as one path segment; Anthropic's "Claude on Amazon Bedrock" and AWS's "Anthropic
 * Claude Messages API" pages): the client's body without {@code model} (the model is the path) and
 * {@code stream} (the operation says it), with {@code anthropic_version: "bedrock-2023-05-31"}, and
 * the client's {@code anthropic-beta} header as the body's {@code anthropic_beta} array (Bedrock
 * reads betas from the body, not from a header), less the betas Bedrock does not take ({@link
 * #BEDROCK_BETAS}), and less the fields Bedrock refuses with 400 "Extra inputs are not permitted"
 * (Claude Code sends several on every request): {@link #invokeBody} lists them, after LiteLLM's
 * {@code AmazonAnthropicClaudeMessagesConfig}. Any other field Bedrock does not take is its 400
 * {@code ValidationException}, passed on.
 *
 * <p>Answer: InvokeModel's body is Anthropic's Message ({@code type: "message"}, {@code usage} with
 * the cache tokens), relayed as sent. InvokeModelWithResponseStream's events are {@code chunk}s whose
 * JSON payload's {@code bytes} is the base64 of one Anthropic stream event ({@code message_start} ...
 * {@code message_stop}); each is decoded and relayed as that event, Bedrock's own {@code
 * amazon-bedrock-invocationMetrics} (on {@code message_stop}) left out. The usage is read as on the
 * Anthropic pass-through ({@link AnthropicTranslator}): {@code message_start}'s, updated by {@code
 * message_delta}'s cumulative counts.
 *
 * <p>Token counting ({@code /v1/messages/count_tokens}) uses Bedrock's CountTokens ({@code POST
 * /model/<foundation model id>/count-tokens}, {@code {"input":{"invokeModel":{"body":<base64 of the
 * InvokeModel body>}}}}, answering {@code {"inputTokens": n}}), answered as Anthropic's {@code
 * {"input_tokens": n}}; the counted body is the InvokeModel body, with {@code max_tokens} {@value
 * #COUNT_TOKENS_MAX_TOKENS} when the client sent none (Bedrock requires it there). CountTokens takes
 * a foundation model id only: an inference profile's is counted on the model it names (the
 * tokenizer is the model's). Bedrock's CountTokens does not serve every Claude model (AWS's
 * "Count tokens" page: some, among them those offered only through cross-region inference, are not
 * supported on {@code bedrock-runtime}); its refusal is answered as {@link #countTokensUnavailable}.
 *
 * <p>When a stream's Anthropic {@code usage} lacks the counts, Bedrock's {@code
 * amazon-bedrock-invocationMetrics} on {@code message_stop} ({@code inputTokenCount}, {@code
 * outputTokenCount}, {@code cacheReadInputTokenCount}, {@code cacheWriteInputTokenCount}) give them
 * for accounting; the client still sees {@code message_stop} without them.
 */
public final class BedrockClaudeMessages {
  /** The {@code anthropic_version} Bedrock requires in every Claude Messages body. */
  static final String BEDROCK_ANTHROPIC_VERSION = "bedrock-2023-05-31";

  /**
   * The betas Bedrock's InvokeModel takes for Claude. Bedrock answers 400 {@code invalid beta flag}
   * to a request naming any other, and Claude Code names several on every request (its own {@code
   * claude-code-20250219}, {@code oauth-2025-04-20}, {@code prompt-caching-scope-2026-01-05}, {@code
   * mcp-servers-2025-12-04}...), so the others are left out rather than failing every call. Sources:
   * AWS's "Anthropic Claude Messages API" request parameters ({@code anthropic_beta}) and LiteLLM's
   * {@code anthropic_beta_headers_config.json} ({@code bedrock}: the betas it forwards to InvokeModel,
   * kept current from Bedrock's answers). A model may still refuse one of these it lacks: that is
   * Bedrock's 400, passed on.
   */
  static final Set<String> BEDROCK_BETAS = Set.of(
      "computer-use-2024-10-22",
      "computer-use-2025-01-24",
      "computer-use-2025-11-24",
      "token-efficient-tools-2025-02-19",
      "interleaved-thinking-2025-05-14",
      "output-128k-2025-02-19",
      "dev-full-thinking-2025-05-14",
      "context-1m-2025-08-07",
      "context-management-2025-06-27",
      "effort-2025-11-24",
      "fine-grained-tool-streaming-2025-05-14",
      "tool-search-tool-2025-10-19",
      "tool-examples-2025-10-29",
      "compact-2026-01-12",
      "dangerous-tool-use-2026-09-03",
      "thinking-binding-controls-2026-08-01",
      "thinking-display-updates-2026-08-18",
      "mid-conversation-output-config-2026-07-01",
      "mid-conversation-tool-changes-2026-07-01");

  /** Anthropic's name of a beta that Bedrock knows under another (LiteLLM's same table). */
  private static final Map<String, String> BEDROCK_BETA_NAMES = Map.of("advanced-tool-use-2025-11-20", "tool-search-tool-2025-10-19");

  /**
   * A Bedrock id of a Claude model, bare ({@code anthropic.claude-...}), behind a cross-region
   * inference profile's geography ({@code us.}, {@code eu.}, {@code apac.}, {@code global.}, {@code
   * us-gov.}...), or as the last part of a foundation-model or inference-profile ARN.
   */
  private static final Pattern CLAUDE_ID = Pattern.compile("^(?:arn:[^/]+/)?(?:[a-z]{2,6}(?:-[a-z]+)?\\.)?anthropic\\.claude[^/]*$");

  private final AnthropicTranslator anthropic = new AnthropicTranslator();

  /**
   * Whether {@code deployment} is Claude on Amazon Bedrock, which {@code /v1/messages} reaches
   * natively. An application inference profile's ARN names no model and is not recognised: its
   * calls go through Converse like other Bedrock models.
   */
  public static boolean servesClaude(Deployment deployment) {
    return deployment.provider() == Provider.BEDROCK
        && deployment.upstreamModel() != null
        && CLAUDE_ID.matcher(deployment.upstreamModel().toLowerCase(Locale.ROOT)).matches();
  }

  // ---------------------------------------------------------------- request

  /**
   * The unsigned call for {@link Operation#MESSAGES} (InvokeModel, or InvokeModelWithResponseStream
   * when {@code request.stream()}) or {@link Operation#MESSAGES_COUNT_TOKENS} (CountTokens).
   *
   * @throws BadRequest when the client's body is not a JSON object
   */
  UpstreamCall request(Deployment deployment, ProviderRequest request) {
    ObjectNode client;
    try {
      client = Json.readObject(request.body().sent());
    } catch (Json.NotAJsonObject e) {
      throw new BadRequest("The request body is not valid JSON: " + e.getMessage());
    }
    ObjectNode invokeBody = invokeBody(client, request.clientHeaders().get("anthropic-beta"), deployment.upstreamModel());
    var headers = new LinkedHashMap<String, String>();
    headers.put("Content-Type", "application/json");
    URI uri;
    byte[] body;
    if (request.operation() == Operation.MESSAGES_COUNT_TOKENS) {
      headers.put("Accept", "application/json");
      uri = BedrockTranslator.modelUri(deployment.apiBase(), foundationModelId(deployment.upstreamModel()), "count-tokens");
      if (!invokeBody.has("max_tokens")) {
        invokeBody.put("max_tokens", COUNT_TOKENS_MAX_TOKENS);
      }
      body = Json.bytes(countTokensBody(invokeBody));
    } else if (request.stream()) {
      // InvokeModelWithResponseStream: Accept is the event stream; the inference body's type is X-Amzn-Bedrock-Accept.
      headers.put("Accept", "application/vnd.amazon.eventstream");
      headers.put("X-Amzn-Bedrock-Accept", "application/json");
      uri = BedrockTranslator.modelUri(deployment.apiBase(), deployment.upstreamModel(), "invoke-with-response-stream");
      body = Json.bytes(invokeBody);
    } else {
      headers.put("Accept", "application/json");
      uri = BedrockTranslator.modelUri(deployment.apiBase(), deployment.upstreamModel(), "invoke");
      body = Json.bytes(invokeBody);
    }
    return new UpstreamCall(deployment.modelName(), uri, headers, body, deployment.timeout(), List.of());
  }

  /**
   * The top-level fields Bedrock's InvokeModel takes in a Claude Messages body (AWS's "Anthropic
   * Claude Messages API" request; LiteLLM's {@code BedrockInvokeAnthropicMessagesRequest}, whose keys
   * are its allowlist). Bedrock answers 400 "Extra inputs are not permitted" to any other, and
   * Anthropic's API takes more than these ({@code mcp_servers}, {@code speed}, {@code container},
   * {@code service_tier}, ... and whatever Claude Code sends next), so the others are left out.
   */
  static final Set<String> BEDROCK_FIELDS = Set.of(
      "anthropic_version", "max_tokens", "messages", "anthropic_beta", "system", "stop_sequences", "temperature", "top_p",
      "top_k", "tools", "tool_choice", "thinking", "metadata", "output_config", "context_management");

  /** The only {@code context_management} edit Bedrock takes, and the beta it takes it with (LiteLLM #27532). */
  static final String COMPACT_EDIT = "compact_20260112";

  static final String COMPACT_BETA = "compact-2026-01-12";

  /**
   * {@code max_tokens} of a CountTokens body whose client sent none: Anthropic's count_tokens takes
   * no {@code max_tokens}, but Bedrock validates {@code input.invokeModel.body} against InvokeModel's
   * Claude schema, where it is required (LiteLLM's {@code _transform_to_invoke_model_format} sets
   * the same 1024). It does not change the count: only the input is counted.
   */
  static final int COUNT_TOKENS_MAX_TOKENS = 1024;

  /**
   * A Claude model's generation in a Bedrock id, as major and minor: {@code claude-sonnet-4-5-...},
   * {@code claude-opus-4-1-...}, {@code claude-sonnet-4-2025...} (4.0: an 8-digit date is no minor),
   * and the older order {@code claude-3-7-sonnet-...}, {@code claude-3-haiku-...}.
   */
  private static final Pattern CLAUDE_GENERATION =
      Pattern.compile("claude-(?:[a-z]+-(?<major>\\d+)(?:[-.](?<minor>\\d)(?!\\d))?|(?<oldMajor>\\d+)(?:[-.](?<oldMinor>\\d)(?!\\d))?-[a-z]+)");

  /**
   * A Bedrock id's Claude generation times ten ({@code 45} for Claude Sonnet 4.5, {@code 37} for
   * Claude 3.7 Sonnet), or 0 when the id names none the gateway can read (such a model is treated
   * as the oldest: its body loses what older models refuse).
   */
  static int claudeGeneration(String modelId) {
    var matcher = CLAUDE_GENERATION.matcher(modelId == null ? "" : modelId.toLowerCase(Locale.ROOT));
    if (!matcher.find()) {
      return 0;
    }
    String major = matcher.group("major") != null ? matcher.group("major") : matcher.group("oldMajor");
    String minor = matcher.group("major") != null ? matcher.group("minor") : matcher.group("oldMinor");
    return Integer.parseInt(major) * 10 + (minor == null ? 0 : Integer.parseInt(minor));
  }

  /**
   * Bedrock's Claude body for a client's Messages body, the one builder of InvokeModel,
   * InvokeModelWithResponseStream and CountTokens (so what is sent and what is counted are the same
   * body). The rules follow LiteLLM's {@code AmazonAnthropicClaudeMessagesConfig} (its Bedrock Invoke
   * transformation for {@code /v1/messages}), each for a field Bedrock answers 400 to:
   *
   * <ul>
   *   <li>{@code model} and {@code stream} removed (the path says them), {@code anthropic_version}
   *       set to {@value #BEDROCK_ANTHROPIC_VERSION};
   *   <li>the betas of the {@code anthropic-beta} header (comma-separated) added to {@code
   *       anthropic_beta}, after any the body already names, each once, only those Bedrock takes
   *       ({@link #BEDROCK_BETAS}, under Bedrock's name); no {@code anthropic_beta} when none is left;
   *   <li>{@code context_management}: only its {@value #COMPACT_EDIT} edits kept, with the {@value
   *       #COMPACT_BETA} beta; without one the field is removed (Claude Code sends {@code
   *       clear_thinking_20251015} on every request, which Bedrock refuses: LiteLLM #27532);
   *   <li>{@code cache_control}: {@code scope} removed; {@code ttl} removed unless the model is
   *       Claude 4.5 or later and the ttl is {@code 5m} or {@code 1h} ({@link #withBedrockCacheControl});
   *   <li>{@code output_format} (structured outputs, which InvokeModel lacks) removed, its schema
   *       appended as a text block to the last user message, as LiteLLM does;
   *   <li>{@code output_config} removed unless the model is Claude 4.6 or later (LiteLLM #22797 and
   *       #23971: earlier models refuse it, {@code output_config.effort} among them);
   *   <li>{@code tools[].custom} removed, its boolean {@code defer_loading} moved onto the tool when
   *       the tool has none of its own (Claude Code 2.1.69+ sends {@code custom: {defer_loading:
   *       true}}, which Bedrock refuses; LiteLLM #22847 and #36855);
   *   <li>last, every top-level field not in {@link #BEDROCK_FIELDS} removed.
   * </ul>
   *
   * @param client the client's body, changed in place (a request's own parse: it may be large)
   * @param anthropicBeta the client's {@code anthropic-beta} header, or null
   * @param modelId the deployment's Bedrock model id (profile or ARN), for the per-model rules
   * @return {@code client}
   */
  static ObjectNode invokeBody(ObjectNode client, String anthropicBeta, String modelId) {
    ObjectNode body = client;
    int generation = claudeGeneration(modelId);
    body.remove("model");
    body.remove("stream");
    body.put("anthropic_version", BEDROCK_ANTHROPIC_VERSION);
    var asked = new ArrayList<String>();
    if (body.remove("anthropic_beta") instanceof ArrayNode named) {
      named.forEach(beta -> asked.add(beta.asText()));
    }
    if (anthropicBeta != null) {
      asked.addAll(List.of(anthropicBeta.split(",")));
    }
    var betas = new LinkedHashSet<String>();
    for (String beta : asked) {
      String name = BEDROCK_BETA_NAMES.getOrDefault(beta.strip(), beta.strip());
      if (BEDROCK_BETAS.contains(name)) {
        betas.add(name);
      }
    }
    if (withCompactEditsOnly(body)) {
      betas.add(COMPACT_BETA);
    }
    withBedrockCacheControl(body, generation >= 45);
    if (body.remove("output_format") instanceof ObjectNode outputFormat) {
      appendSchemaToLastUserMessage(body, outputFormat.get("schema"));
    }
    if (generation < 46) {
      body.remove("output_config");
    }
    withoutToolCustom(body);
    if (!betas.isEmpty()) {
      ArrayNode out = body.putArray("anthropic_beta");
      betas.forEach(out::add);
    }
    body.retain(BEDROCK_FIELDS);
    return body;
  }

  /**
   * {@code context_management} reduced to its {@value #COMPACT_EDIT} edits, or removed when it has
   * none (or is not an object with an {@code edits} array).
   *
   * @return whether compact edits remain (the caller adds {@value #COMPACT_BETA})
   */
  private static boolean withCompactEditsOnly(ObjectNode body) {
    if (!body.has("context_management")) {
      return false;
    }
    if (body.get("context_management") instanceof ObjectNode management && management.get("edits") instanceof ArrayNode edits) {
      ArrayNode compact = Json.MAPPER.createArrayNode();
      edits.forEach(edit -> {
        if (COMPACT_EDIT.equals(edit.path("type").asText())) {
          compact.add(edit);
        }
      });
      if (!compact.isEmpty()) {
        management.set("edits", compact);
        return true;
      }
    }
    body.remove("context_management");
    return false;
  }

  /**
   * {@code cache_control} of the tools, system blocks and message blocks as Bedrock takes it: {@code
   * scope} removed (it belongs to Anthropic's {@code prompt-caching-scope-2026-01-05} beta, which
   * Bedrock lacks; Claude Code sends {@code scope: "global"}); {@code ttl} kept only when {@code
   * ttlTaken} (Claude 4.5 and later; LiteLLM's {@code is_claude_4_5_on_bedrock} lists 4.5 to 4.7,
   * read here as "4.5 or later") and it is {@code 5m} or {@code 1h}. The breakpoint itself stays.
   */
  private static void withBedrockCacheControl(ObjectNode body, boolean ttlTaken) {
    body.path("tools").forEach(block -> withBedrockCacheControl(block, ttlTaken));
    body.path("system").forEach(block -> withBedrockCacheControl(block, ttlTaken));
    for (JsonNode message : body.path("messages")) {
      message.path("content").forEach(block -> withBedrockCacheControl(block, ttlTaken));
    }
  }

  private static void withBedrockCacheControl(JsonNode block, boolean ttlTaken) {
    if (block.get("cache_control") instanceof ObjectNode cacheControl) {
      cacheControl.remove("scope");
      String ttl = cacheControl.path("ttl").asText(null);
      if (cacheControl.has("ttl") && !(ttlTaken && ("5m".equals(ttl) || "1h".equals(ttl)))) {
        cacheControl.remove("ttl");
      }
    }
  }

  /**
   * {@code output_format}'s JSON schema as a text block at the end of the last user message (a
   * string content becomes one text block first), LiteLLM's stand-in for structured outputs on
   * InvokeModel; nothing when there is no schema or no user message.
   */
  private static void appendSchemaToLastUserMessage(ObjectNode body, JsonNode schema) {
    if (schema == null || schema.isNull() || !(body.get("messages") instanceof ArrayNode messages)) {
      return;
    }
    for (int i = messages.size() - 1; i >= 0; i--) {
      if (messages.get(i) instanceof ObjectNode message && "user".equals(message.path("role").asText())) {
        ArrayNode content;
        if (message.get("content") instanceof ArrayNode blocks) {
          content = blocks;
        } else {
          content = Json.MAPPER.createArrayNode();
          if (message.get("content") != null && message.get("content").isTextual()) {
            content.addObject().put("type", "text").put("text", message.get("content").asText());
          }
          message.set("content", content);
        }
        content.addObject().put("type", "text").put("text", Json.string(schema));
        return;
      }
    }
  }

  /** Each tool's {@code custom} removed, its boolean {@code defer_loading} kept on the tool unless the tool sets its own. */
  private static void withoutToolCustom(ObjectNode body) {
    for (JsonNode tool : body.path("tools")) {
      if (tool instanceof ObjectNode definition && definition.remove("custom") instanceof ObjectNode custom
          && custom.path("defer_loading").isBoolean() && !definition.has("defer_loading")) {
        definition.put("defer_loading", custom.get("defer_loading").booleanValue());
      }
    }
  }

  /** CountTokens' body: the InvokeModel body, base64 (a blob in Bedrock's JSON protocol). */
  static ObjectNode countTokensBody(ObjectNode invokeBody) {
    ObjectNode body = Json.MAPPER.createObjectNode();
    body.putObject("input").putObject("invokeModel").put("body", Base64.getEncoder().encodeToString(Json.bytes(invokeBody)));
    return body;
  }

  /**
   * The foundation model an id names, for CountTokens, which takes no inference profile: an ARN's
   * resource id, without a cross-region profile's geography ({@code us.anthropic.claude-...} →
   * {@code anthropic.claude-...}).
   */
  static String foundationModelId(String modelId) {
    String id = modelId.startsWith("arn:") ? modelId.substring(modelId.lastIndexOf('/') + 1) : modelId;
    int anthropic = id.indexOf("anthropic.");
    return anthropic > 0 ? id.substring(anthropic) : id;
  }

  /**
   * Bedrock's refusal to count tokens for a model, in its words (a 400 {@code ValidationException}):
   * "The provided model doesn't support counting tokens." for a model CountTokens does not serve,
   * or "... with on-demand throughput isn't supported" for one offered only through an inference
   * profile, which CountTokens does not take.
   */
  private static final Pattern COUNT_TOKENS_UNSUPPORTED =
      Pattern.compile("(?i)counting tokens|count[ _-]?tokens|on-demand throughput");

  /**
   * A Bedrock failure of a Claude call as the client is answered: Bedrock's refusal to count tokens
   * for the deployment's model becomes 400 {@code invalid_request_error} saying that {@code
   * count_tokens} is not available for this model on Amazon Bedrock (Bedrock's own text names
   * neither the route nor the gateway's model); any other failure is returned as it is.
   *
   * @param failure Bedrock's answer as {@link BedrockTranslator#error} made it
   */
  GatewayException failure(Deployment deployment, ProviderRequest request, GatewayException failure) {
    if (request.operation() == Operation.MESSAGES_COUNT_TOKENS
        && failure instanceof UpstreamFailed refused
        && refused.upstreamStatus() == 400
        && "ValidationException".equals(refused.upstreamCode())
        && refused.getMessage() != null
        && COUNT_TOKENS_UNSUPPORTED.matcher(refused.getMessage()).find()) {
      return countTokensUnavailable(deployment);
    }
    return failure;
  }

  /** The 400 of a token count Bedrock does not offer for the deployment's model. */
  static BadRequest countTokensUnavailable(Deployment deployment) {
    return new BadRequest(
        "count_tokens is not available for model '" + deployment.modelName() + "' on Amazon Bedrock: Bedrock's CountTokens does not"
            + " support this Claude model (AWS supports it on bedrock-runtime for some Claude models only, not for those offered only"
            + " through cross-region inference). Messages to this model work; their answers report the tokens used.");
  }

  // ---------------------------------------------------------------- answer

  /**
   * InvokeModel's Message, relayed as sent, with its usage; or CountTokens' {@code inputTokens} as
   * Anthropic's {@code {"input_tokens": n}}.
   *
   * @throws UpstreamUnreachable when Bedrock's body is not a Message (or a count)
   */
  ProviderResponse response(Deployment deployment, ProviderRequest request, byte[] body) {
    if (request.operation() != Operation.MESSAGES_COUNT_TOKENS) {
      return anthropic.response(deployment, request, body);
    }
    JsonNode count = parse(deployment, body, "answer").get("inputTokens");
    if (count == null || !count.isIntegralNumber()) {
      throw new UpstreamUnreachable("The provider of '" + deployment.modelName() + "' sent a token count without inputTokens.", null, false);
    }
    return new ProviderResponse(Json.bytes(Json.MAPPER.createObjectNode().put("input_tokens", count.longValue())), TokenUsage.NONE);
  }

  /** The translation of one InvokeModelWithResponseStream answer. */
  BedrockEventTranslation stream(Deployment deployment, ProviderRequest request) {
    return new ChunksPassedOn(deployment, anthropic.stream(deployment, request));
  }

  /**
   * InvokeModelWithResponseStream's {@code chunk} events ({@code PayloadPart}: {@code bytes}, base64
   * of one Anthropic event), each passed on as that event; other event types are skipped, as Bedrock
   * may add members to its stream union. Bedrock's exceptions inside the stream are thrown by the
   * event stream reader before they get here.
   */
  private static final class ChunksPassedOn implements BedrockEventTranslation {
    private final Deployment deployment;
    private final StreamTranslation events;
    private boolean inputCounted; // message_start's usage had input_tokens
    private boolean outputCounted; // a message_delta's usage had output_tokens
    private TokenUsage anthropicUsage = TokenUsage.NONE; // the usage the events last reported

    ChunksPassedOn(Deployment deployment, StreamTranslation events) {
      this.deployment = deployment;
      this.events = events;
    }

    @Override
    public List<StreamChunk> onEvent(String eventType, byte[] payload) {
      if (!"chunk".equals(eventType)) {
        return List.of();
      }
      JsonNode bytes = parse(deployment, payload, "stream event").get("bytes");
      byte[] decoded;
      try {
        decoded = Base64.getDecoder().decode(bytes == null ? "" : bytes.asText());
      } catch (IllegalArgumentException e) {
        throw new UpstreamUnreachable("The provider of '" + deployment.modelName() + "' sent a stream chunk whose bytes are not base64.", e, false);
      }
      JsonNode event = parse(deployment, decoded, "stream event");
      String type = event.path("type").asText("");
      switch (type) {
        case "message_start" -> inputCounted = event.path("message").path("usage").path("input_tokens").isIntegralNumber();
        case "message_delta" -> outputCounted |= event.path("usage").path("output_tokens").isIntegralNumber();
        default -> {}
      }
      String data;
      JsonNode metrics = null;
      if (event.has("amazon-bedrock-invocationMetrics")) { // Bedrock's addition to message_stop; Anthropic's has none
        metrics = ((ObjectNode) event).remove("amazon-bedrock-invocationMetrics");
        data = Json.string(event);
      } else {
        data = new String(decoded, java.nio.charset.StandardCharsets.UTF_8);
      }
      List<StreamChunk> chunks = events.onEvent(new ServerSentEvent(type, data));
      for (StreamChunk chunk : chunks) {
        anthropicUsage = chunk.usage() != null ? chunk.usage() : anthropicUsage;
      }
      if (metrics != null && metrics.isObject() && (!inputCounted || !outputCounted) && chunks.size() == 1) {
        StreamChunk stop = chunks.getFirst();
        return List.of(new StreamChunk(stop.json(), usageFromMetrics(metrics), stop.usageOnly(), stop.generatedChars(), stop.promptTokens()));
      }
      return chunks;
    }

    /**
     * The usage of the answer from Bedrock's invocation metrics, for the counts Anthropic's events
     * lacked: the input side ({@code inputTokenCount}, {@code cacheReadInputTokenCount}, {@code
     * cacheWriteInputTokenCount}) when {@code message_start} had no {@code input_tokens}, else the
     * events' (as last reported, {@link #anthropicUsage}); likewise the output side ({@code
     * outputTokenCount}) when no {@code message_delta} had {@code output_tokens}.
     */
    private TokenUsage usageFromMetrics(JsonNode metrics) {
      long input = inputCounted ? anthropicUsage.promptTokens() - anthropicUsage.cacheReadTokens() - anthropicUsage.cacheWriteTokens()
          : count(metrics, "inputTokenCount");
      long read = inputCounted ? anthropicUsage.cacheReadTokens() : count(metrics, "cacheReadInputTokenCount");
      long written = inputCounted ? anthropicUsage.cacheWriteTokens() : count(metrics, "cacheWriteInputTokenCount");
      long output = outputCounted ? anthropicUsage.completionTokens() : count(metrics, "outputTokenCount");
      ObjectNode usage = Json.MAPPER.createObjectNode();
      usage.put("prompt_tokens", input + read + written);
      usage.put("completion_tokens", output);
      usage.put("cache_read_input_tokens", read);
      usage.put("cache_creation_input_tokens", written);
      return TokenUsage.fromOpenAi(usage);
    }

    private static long count(JsonNode metrics, String field) {
      JsonNode value = metrics.get(field);
      return value != null && value.isIntegralNumber() && value.longValue() >= 0 ? value.longValue() : 0;
    }

    @Override
    public boolean complete() {
      return events.complete();
    }

    @Override
    public boolean stopped() {
      return false; // message_stop is both the end of the answer and of the stream
    }
  }

  private static JsonNode parse(Deployment deployment, byte[] body, String what) {
    JsonNode node;
    try {
      node = Json.MAPPER.readTree(body);
    } catch (IOException e) {
      throw new UpstreamUnreachable("The provider of '" + deployment.modelName() + "' sent a " + what + " that is not JSON.", e, false);
    }
    if (node == null || !node.isObject()) {
      throw new UpstreamUnreachable("The provider of '" + deployment.modelName() + "' sent a " + what + " that is not a JSON object.", null, false);
    }
    return node;
  }
}

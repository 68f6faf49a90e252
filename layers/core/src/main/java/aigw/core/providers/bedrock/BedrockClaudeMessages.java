package aigw.core.providers.bedrock;

import aigw.core.config.Deployment;
import aigw.core.config.Provider;
import aigw.core.errors.BadRequest;
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
 * #BEDROCK_BETAS}). LiteLLM's {@code AmazonAnthropicClaudeMessagesConfig} does the same, and further
 * drops fields per model; here every other field reaches Bedrock, which answers 400 {@code
 * ValidationException} for a field it does not take.
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
 * {"input_tokens": n}}. CountTokens takes a foundation model id only: an inference profile's is
 * counted on the model it names (the tokenizer is the model's).
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
    ObjectNode invokeBody = invokeBody(client, request.clientHeaders().get("anthropic-beta"));
    var headers = new LinkedHashMap<String, String>();
    headers.put("Content-Type", "application/json");
    URI uri;
    byte[] body;
    if (request.operation() == Operation.MESSAGES_COUNT_TOKENS) {
      headers.put("Accept", "application/json");
      uri = BedrockTranslator.modelUri(deployment.apiBase(), foundationModelId(deployment.upstreamModel()), "count-tokens");
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
   * Bedrock's Claude body for a client's Messages body: {@code model} and {@code stream} removed,
   * {@code anthropic_version} set, and the betas of the {@code anthropic-beta} header (comma-separated)
   * added to {@code anthropic_beta}, after any the body already names, each once, only those Bedrock
   * takes ({@link #BEDROCK_BETAS}, under Bedrock's name); no {@code anthropic_beta} when none is left;
   * {@code cache_control.scope} removed ({@link #withoutCacheScopes}).
   *
   * @param client the client's body, changed in place (a request's own parse: it may be large)
   * @param anthropicBeta the client's {@code anthropic-beta} header, or null
   * @return {@code client}
   */
  static ObjectNode invokeBody(ObjectNode client, String anthropicBeta) {
    ObjectNode body = client;
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
    if (!betas.isEmpty()) {
      ArrayNode out = body.putArray("anthropic_beta");
      betas.forEach(out::add);
    }
    withoutCacheScopes(body);
    return body;
  }

  /**
   * {@code cache_control.scope} removed from the tools, system blocks and message blocks: it belongs
   * to Anthropic's {@code prompt-caching-scope-2026-01-05} beta, which Bedrock does not take (Claude
   * Code sends {@code scope: "global"} with it), and Bedrock refuses the field ("Extra inputs are not
   * permitted"); the breakpoint itself ({@code type}, {@code ttl}) stays. LiteLLM removes it likewise.
   */
  private static void withoutCacheScopes(ObjectNode body) {
    body.path("tools").forEach(BedrockClaudeMessages::withoutCacheScope);
    body.path("system").forEach(BedrockClaudeMessages::withoutCacheScope);
    for (JsonNode message : body.path("messages")) {
      message.path("content").forEach(BedrockClaudeMessages::withoutCacheScope);
    }
  }

  private static void withoutCacheScope(JsonNode block) {
    if (block.get("cache_control") instanceof ObjectNode cacheControl) {
      cacheControl.remove("scope");
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
      String data;
      if (event.has("amazon-bedrock-invocationMetrics")) { // Bedrock's addition to message_stop; Anthropic's has none
        ((ObjectNode) event).remove("amazon-bedrock-invocationMetrics");
        data = Json.string(event);
      } else {
        data = new String(decoded, java.nio.charset.StandardCharsets.UTF_8);
      }
      return events.onEvent(new ServerSentEvent(type, data));
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

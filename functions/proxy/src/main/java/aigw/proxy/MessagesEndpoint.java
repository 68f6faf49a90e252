package aigw.proxy;

import aigw.core.auth.Caller;
import aigw.core.config.Deployment;
import aigw.core.config.Provider;
import aigw.core.errors.BadRequest;
import aigw.core.http.GatewayRequest;
import aigw.core.http.GatewayResponse;
import aigw.core.json.Json;
import aigw.core.providers.ForwardedBody;
import aigw.core.providers.Operation;
import aigw.core.providers.ProviderRequest;
import aigw.core.providers.ProviderResponse;
import aigw.core.providers.ProviderStream;
import aigw.core.providers.bedrock.BedrockClaudeMessages;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;

/**
 * Anthropic's Messages API in front of every configured model, for Anthropic's SDKs and Claude Code:
 *
 * <ul>
 *   <li>{@code POST /v1/messages}, whole or streamed ({@code stream: true}, Anthropic's event
 *       sequence);
 *   <li>{@code POST /v1/messages/count_tokens}, for Claude models only (Anthropic's count, Bedrock's CountTokens).
 * </ul>
 *
 * The virtual key comes in {@code x-api-key} (Anthropic's SDKs) or {@code Authorization: Bearer}
 * (Claude Code's {@code ANTHROPIC_AUTH_TOKEN}), both read by the {@code Authenticator}; the
 * client's {@code anthropic-version} is accepted and not needed (the gateway states its own to
 * Anthropic). The call takes ProxyService's steps: authenticate, size limit, admit (the key's
 * models), call (failover), record. Two ways to the provider, by the model's deployments:
 *
 * <ul>
 *   <li><b>Every deployment is Claude</b> ({@code anthropic/...}, or {@code bedrock/} with a Claude
 *       model id, inference profile or ARN): passed through. The client's body, only {@code model}
 *       replaced, with the client's {@code anthropic-beta}, goes to Anthropic ({@link
 *       Operation#MESSAGES}), or to Bedrock's InvokeModel in Bedrock's Anthropic body ({@link
 *       BedrockClaudeMessages}); its Message or events come back as sent, the usage (cache tokens
 *       included) read on the way.
 *   <li><b>Otherwise</b> (OpenAI-compatible, Azure, Gemini, and a model name mixing Anthropic with
 *       others, whose Anthropic deployments then take the translated request too): translated to a
 *       chat completion ({@link MessagesToChat}) and back ({@link ChatToMessages}).
 * </ul>
 *
 * Failures are answered in Anthropic's error shape: {@code GatewayApplication} picks it for these
 * paths ({@code ErrorEnvelope.Dialect}); in a stream, an {@code error} event ({@link AnthropicEvents}).
 */
final class MessagesEndpoint {
  /** Anthropic's stream headers, as the chat completion stream's. */
  private static final Map<String, String> STREAM_HEADERS = StreamRelay.HEADERS;

  private final ProxyService steps;

  MessagesEndpoint(ProxyService steps) {
    this.steps = steps;
  }

  /** {@code POST /v1/messages}. */
  GatewayResponse messages(GatewayRequest request) {
    ProxyService.requireMethod(request, "POST");
    Caller caller = steps.authenticate(request);
    steps.requireWithinSizeLimit(request);
    ObjectNode body = ProxyService.parse(request.body());
    String model = model(body);
    boolean stream = stream(body);
    requireMessages(body);
    NumberFields.check(body, NumberFields.MESSAGES); // passed through as sent to Anthropic: checked here for every provider
    var admitted = steps.admit(request, caller, model, body);
    if (passedThrough(admitted.reachable())) { // fallback groups included: one request shape for the whole call
      // The client's body goes on as sent: a field that picks a dearer tier (Anthropic's speed "fast")
      // would reach the provider while the call is costed at the standard price (RoutingFields).
      steps.gateway().settings().allowedRoutingFields().check(body, model, admitted.reachable());
      var providerRequest =
          new ProviderRequest(Operation.MESSAGES, ForwardedBody.of(request.body()), stream, clientHeaders(request));
      return switch (steps.call(admitted, providerRequest)) {
        case ProviderResponse answer -> {
          steps.recordAnswered(admitted, answer);
          yield withRequestId(GatewayResponse.json(200, answer.body()), request);
        }
        case ProviderStream events -> streaming(request, steps.streamAccounting(admitted, events), events, AnthropicEvents.passedThrough(request.requestId()));
      };
    }
    ObjectNode chat = MessagesToChat.chatRequest(body, readsThinkingBlocks(admitted.reachable()));
    var forwarded = ForwardedBody.of(Json.bytes(chat));
    var providerRequest = stream
        ? ProviderRequest.streamed(Operation.CHAT_COMPLETIONS, forwarded)
        : ProviderRequest.complete(Operation.CHAT_COMPLETIONS, forwarded);
    return switch (steps.call(admitted, providerRequest)) {
      case ProviderResponse answer -> {
        ObjectNode message = ChatToMessages.message(answer.body(), model); // a 502 here is not counted: nothing reached the client
        steps.recordAnswered(admitted, answer);
        yield withRequestId(GatewayResponse.json(200, message), request);
      }
      case ProviderStream chunks -> streaming(request, steps.streamAccounting(admitted, chunks), chunks, AnthropicEvents.translated(request.requestId(), model));
    };
  }

  /**
   * {@code POST /v1/messages/count_tokens}: Anthropic's own count (or Bedrock's CountTokens), for a
   * model whose deployments are all Claude. Other providers have no such API; rather than an estimate that could be far
   * off (tokenizers differ by a third and more), the client is told so: 400 {@code
   * invalid_request_error}. A body with {@code stream} is 400 naming it (count_tokens has no stream).
   * Nothing is recorded on the key (no tokens are generated).
   */
  GatewayResponse countTokens(GatewayRequest request) {
    ProxyService.requireMethod(request, "POST");
    Caller caller = steps.authenticate(request);
    steps.requireWithinSizeLimit(request);
    ObjectNode body = ProxyService.parse(request.body());
    String model = model(body);
    requireMessages(body);
    if (body.has("stream")) {
      // Anthropic's count_tokens takes messages, model, system, tools, tool_choice, thinking,
      // output_config and cache_control (MessageCountTokensParams in anthropic-sdk-typescript), no
      // stream: the answer is one count. Refused here rather than sent on.
      throw new BadRequest("stream: Extra inputs are not permitted (token counting has no stream).", "stream");
    }
    var admitted = steps.admit(request, caller, model);
    if (!passedThrough(admitted.reachable())) {
      boolean withFallbacks = admitted.reachable().stream().anyMatch(deployment -> !deployment.modelName().equals(model));
      throw new BadRequest(
          "Token counting is only available for models served by Anthropic (or Claude on Amazon Bedrock); '" + model + "' is served by "
              + providers(admitted.reachable()) + (withFallbacks ? " (with its fallbacks)" : "")
              + ", which has no token counting API.",
          "model");
    }
    var providerRequest =
        new ProviderRequest(Operation.MESSAGES_COUNT_TOKENS, ForwardedBody.of(request.body()), false, clientHeaders(request));
    var answer = (ProviderResponse) steps.call(admitted, providerRequest);
    return withRequestId(GatewayResponse.json(200, answer.body()), request);
  }

  /** @param accounting of the call, taken from the provider's stream before it was wrapped (it names the deployment that answered) */
  private GatewayResponse streaming(GatewayRequest request, CallAccounting.Finish accounting, ProviderStream chunks, AnthropicEvents format) {
    var relay = new StreamRelay(chunks, format, request.body().length, accounting);
    relay.awaitFirstChunk(); // a failure before the first event is still an error response with its status
    var response = GatewayResponse.streaming(200, STREAM_HEADERS, relay);
    return withRequestId(response, request);
  }

  /** Anthropic answers every request with its {@code request-id}; the gateway's id stands in. */
  private static GatewayResponse withRequestId(GatewayResponse response, GatewayRequest request) {
    return request.requestId() == null ? response : response.withHeader("request-id", request.requestId());
  }

  /**
   * Passed through when every deployment of the model is Claude, at Anthropic or on Amazon Bedrock
   * (InvokeModel, {@link BedrockClaudeMessages}): failover keeps one request for all.
   */
  static boolean passedThrough(List<Deployment> rotation) {
    return rotation.stream()
        .allMatch(deployment -> deployment.provider() == Provider.ANTHROPIC || BedrockClaudeMessages.servesClaude(deployment));
  }

  /**
   * Whether a translated request carries the conversation's thinking blocks: when one of the
   * deployments it may reach is Anthropic's (a model name or fallback mixing providers), whose
   * adapter sends them back to Anthropic; an OpenAI-compatible API may refuse the unknown member.
   */
  static boolean readsThinkingBlocks(List<Deployment> rotation) {
    return rotation.stream().anyMatch(deployment -> deployment.provider() == Provider.ANTHROPIC);
  }

  private static String providers(List<Deployment> rotation) {
    return String.join(", ", rotation.stream().map(d -> d.provider().prefix()).distinct().toList());
  }

  /** {@code anthropic-beta}, which enables the beta fields a passed-through body may hold. */
  private static Map<String, String> clientHeaders(GatewayRequest request) {
    String beta = request.header("anthropic-beta");
    return beta == null ? Map.of() : Map.of("anthropic-beta", beta);
  }

  private static String model(ObjectNode body) {
    JsonNode model = body.get("model");
    if (model == null || model.isNull()) {
      throw new BadRequest("model: Field required", "model");
    }
    if (!model.isTextual() || model.asText().isBlank()) {
      throw new BadRequest("'model' must be a non-empty string.", "model");
    }
    return model.asText();
  }

  private static boolean stream(ObjectNode body) {
    JsonNode stream = body.get("stream");
    if (stream == null || stream.isNull()) {
      return false;
    }
    if (!stream.isBoolean()) {
      throw new BadRequest("'stream' must be a boolean.", "stream");
    }
    return stream.booleanValue();
  }

  private static void requireMessages(ObjectNode body) {
    JsonNode messages = body.get("messages");
    if (messages == null || messages.isNull()) {
      throw new BadRequest("messages: Field required", "messages");
    }
    if (!messages.isArray() || messages.isEmpty()) {
      throw new BadRequest("'messages' must be a non-empty array.", "messages");
    }
    for (JsonNode message : messages) {
      if (!message.isObject()) {
        throw new BadRequest("Each entry of 'messages' must be an object.", "messages");
      }
    }
  }
}

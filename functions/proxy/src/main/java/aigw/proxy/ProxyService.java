package aigw.proxy;

import aigw.core.Gateway;
import aigw.core.auth.Caller;
import aigw.core.config.Deployment;
import aigw.core.config.Provider;
import aigw.core.errors.BadRequest;
import aigw.core.errors.GatewayException;
import aigw.core.errors.MethodNotAllowed;
import aigw.core.errors.ModelNotAllowed;
import aigw.core.errors.ModelNotFound;
import aigw.core.errors.NotFound;
import aigw.core.errors.PayloadTooLarge;
import aigw.core.errors.PermissionDenied;
import aigw.core.http.GatewayRequest;
import aigw.core.http.GatewayResponse;
import aigw.core.http.PathSegments;
import aigw.core.json.Json;
import aigw.core.providers.ForwardedBody;
import aigw.core.providers.Operation;
import aigw.core.providers.ProviderAnswer;
import aigw.core.providers.ProviderRequest;
import aigw.core.providers.ProviderResponse;
import aigw.core.providers.ProviderStream;
import aigw.core.limits.Admission;
import aigw.core.limits.Demand;
import aigw.core.limits.LimitScope;
import aigw.core.teams.TeamAccess;
import aigw.core.usage.TokenUsage;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The OpenAI-compatible routes, with or without the {@code /v1} prefix:
 *
 * <ul>
 *   <li>{@code POST /v1/chat/completions}, whole or streamed ({@code stream: true})
 *   <li>{@code POST /v1/completions} (legacy text completions), whole or streamed
 *   <li>{@code POST /v1/embeddings}
 *   <li>{@code POST /v1/responses}, {@code GET|DELETE /v1/responses/{id}}: {@link ResponsesRoute}
 *   <li>{@code GET /v1/models} (only the models the key may use)
 *   <li>{@code GET /v1/models/{id}}: OpenAI's "retrieve model"; the id may hold {@code /}, sent
 *       as is or as {@code %2F}
 *   <li>{@code POST /v1/messages} and {@code /v1/messages/count_tokens}: Anthropic's Messages API
 *       ({@link MessagesEndpoint})
 * </ul>
 *
 * Each call: authenticate, validate, route, call the provider, account it ({@link CallAccounting}:
 * cost, usage and spend on the key, a spend-log entry), answer. A streamed answer is accounted
 * inside its body ({@link StreamRelay}), before the stream ends.
 */
public final class ProxyService {
  private static final String MODEL_ROUTE = "/models/";

  private final Gateway gateway;
  private final CallAccounting accounting;
  private final long createdEpochSecond;
  private final ResponsesRoute responses = new ResponsesRoute(this, aigw.proxy.responses.Ids.random());
  private final MessagesEndpoint messages = new MessagesEndpoint(this);

  public ProxyService(Gateway gateway) {
    this(gateway, gateway.spendLogs());
  }

  /** @param spendLogs where each model call's spend-log entry goes (tests: a list to read back) */
  ProxyService(Gateway gateway, aigw.core.spend.SpendLogs spendLogs) {
    this.gateway = gateway;
    this.accounting = new CallAccounting(gateway, spendLogs);
    this.createdEpochSecond = gateway.clock().instant().getEpochSecond();
  }

  /**
   * The limits admission of the request this thread is serving ({@link #admit(GatewayRequest,
   * Caller, String, ObjectNode)} sets it): whatever path a call takes, its response gets the key's
   * {@code x-ratelimit-*} headers, and a request that fails after admission releases what it held
   * (a settled one is not released again).
   */
  private static final ThreadLocal<Admission> ADMITTED = new ThreadLocal<>();

  public GatewayResponse handle(GatewayRequest request) {
    try {
      GatewayResponse response = dispatch(request);
      Admission admission = ADMITTED.get();
      if (admission != null) {
        for (var header : admission.headers().entrySet()) {
          response = response.withHeader(header.getKey(), header.getValue());
        }
      }
      return response;
    } catch (RuntimeException failed) {
      Admission admission = ADMITTED.get();
      if (admission != null) {
        admission.releaseAfterAnswer(); // the error answer goes first, as for a failed call
      }
      throw failed;
    } finally {
      ADMITTED.remove();
    }
  }

  private GatewayResponse dispatch(GatewayRequest request) {
    String route = route(request.path());
    return switch (route) {
      case "/chat/completions" -> {
        requireMethod(request, "POST");
        yield forward(request, Operation.CHAT_COMPLETIONS);
      }
      case "/completions" -> {
        requireMethod(request, "POST");
        yield forward(request, Operation.COMPLETIONS);
      }
      case "/embeddings" -> {
        requireMethod(request, "POST");
        yield forward(request, Operation.EMBEDDINGS);
      }
      case ResponsesRoute.ROUTE -> responses.handle(request, route);
      case "/messages" -> messages.messages(request);
      case "/messages/count_tokens" -> messages.countTokens(request);
      case "/models" -> {
        requireMethod(request, "GET");
        yield models(request);
      }
      default -> {
        if (route.startsWith(ResponsesRoute.ROUTE + "/")) {
          yield responses.handle(request, route);
        }
        if (route.startsWith(MODEL_ROUTE)) {
          requireMethod(request, "GET");
          yield model(request, route.substring(MODEL_ROUTE.length()));
        }
        throw new NotFound("Unknown route " + request.method() + " " + request.path() + ".", null);
      }
    };
  }

  /**
   * A model call the gateway has agreed to make: who asked, the public model name, and its
   * deployments starting with the one whose turn it is.
   *
   * @param keyId the virtual key to record usage on; null for the master key, whose calls are not counted
   * @param reachable every deployment the call may reach: the rotation, then its fallback groups'
   *     ({@code FailoverPolicy#reachableFrom}); what a rule about the whole call must check
   * @param requestId the gateway's request id, for the spend log
   * @param startedAt when the call was admitted (just after authentication), for its latency in the spend log
   * @param admission what the call holds against its key's and its team's limits, settled when it
   *     is accounted ({@link CallAccounting}); null when neither has limits, and for the master key
   */
  record Admitted(
      Caller caller,
      String keyId,
      String model,
      List<Deployment> rotation,
      List<Deployment> reachable,
      String requestId,
      Instant startedAt,
      Admission admission) {
    Admitted withAdmission(Admission value) {
      return new Admitted(caller, keyId, model, rotation, reachable, requestId, startedAt, value);
    }
  }

  /**
   * The caller of a model route (any inbound protocol): a valid virtual key, or the master key when
   * {@code AIGW_ALLOW_MASTER_KEY_FOR_MODELS} allows it.
   *
   * @throws aigw.core.errors.AuthenticationFailed no key, or one that is unknown, expired or blocked (401)
   * @throws PermissionDenied the master key while master-key model calls are off (403)
   */
  Caller authenticate(GatewayRequest request) {
    Caller caller = gateway.authenticator().forModelRoute(request, gateway.clock().instant());
    if (caller instanceof Caller.Master && !gateway.settings().allowMasterKeyForModels()) {
      throw new PermissionDenied(
          "The master key is for the admin API only and is not accepted for model calls. Create a"
              + " virtual key with POST /key/generate and use that (or set"
              + " AIGW_ALLOW_MASTER_KEY_FOR_MODELS=true).");
    }
    return caller;
  }

  /**
   * Admits a call to {@code model} for {@code caller}: the key may use it, and it exists.
   *
   * @throws ModelNotAllowed the key's {@code models} do not include it (401, LiteLLM's key_model_access_denied),
   *     or its team's do not (401, team_model_access_denied)
   * @throws NotFound no deployment has this {@code model_name} (404)
   */
  Admitted admit(GatewayRequest request, Caller caller, String model) {
    if (caller instanceof Caller.Virtual virtual) {
      TeamAccess.requireModel(gateway.router(), virtual.key(), virtual.team(), model); // key's and team's models
    }
    List<Deployment> rotation = gateway.router().rotation(model);
    if (rotation.isEmpty()) {
      throw new NotFound(
          "The model '" + model + "' does not exist on this gateway. GET /v1/models lists the models your key can use.",
          "model");
    }
    String keyId = caller instanceof Caller.Virtual virtual ? virtual.key().keyId() : null;
    return new Admitted(
        caller, keyId, model, rotation, gateway.failover().reachableFrom(model, rotation), request.requestId(), gateway.clock().instant(),
        null);
  }

  /**
   * {@link #admit(GatewayRequest, Caller, String)} for a model call, which also counts against the
   * key's limits ({@code rpm_limit}, {@code tpm_limit}, {@code max_parallel_requests}, {@code
   * max_budget}) and, for a key in a team, its team's: the team's limits hold for the sum of its
   * keys (LiteLLM's rule), in one admission that takes both or neither. Reserves the call's expected
   * tokens (request bytes / 4 + {@code max_tokens}) and cost, settled when the call is accounted
   * ({@link CallAccounting}). A key and team without limits cost nothing (no DynamoDB call). The
   * master key is never limited (LiteLLM: it bypasses budgets).
   *
   * @throws aigw.core.errors.RateLimited over a rate limit of the key or its team (429, Retry-After)
   * @throws aigw.core.errors.BudgetExceeded the key's or its team's budget is spent (429)
   */
  Admitted admit(GatewayRequest request, Caller caller, String model, ObjectNode body) {
    Admitted admitted = admit(request, caller, model);
    if (!(caller instanceof Caller.Virtual virtual)) {
      return admitted;
    }
    var key = virtual.key();
    var scopes = new ArrayList<LimitScope>(2);
    if (!key.limits().isEmpty()) {
      scopes.add(LimitScope.ofKey(key.keyId(), key.keyName(), key.limits()));
    }
    if (virtual.team() != null && !virtual.team().limits().asLimits().isEmpty()) {
      scopes.add(virtual.team().limitScope());
    }
    if (scopes.isEmpty()) {
      return admitted;
    }
    Admission admission = gateway.limits().admit(scopes, demand(admitted, body, request.body().length));
    ADMITTED.set(admission);
    return admitted.withAdmission(admission);
  }

  /** What a call is expected to use: tokens of its request and of its longest answer, and their cost when priced. */
  private Demand demand(Admitted admitted, ObjectNode body, long requestBytes) {
    long prompt = (requestBytes + 3) / 4;
    long maxTokens = maxTokens(body);
    if (maxTokens < 0) {
      return new Demand(prompt, null);
    }
    // The first deployment's prices: an estimate, settled at the answering deployment's.
    var cost = gateway.costs().cost(admitted.rotation().get(0), new TokenUsage(prompt, maxTokens, prompt + maxTokens));
    return new Demand(prompt + maxTokens, cost.signum() > 0 ? cost : null);
  }

  /** Refuses a body larger than {@code AIGW_MAX_REQUEST_BYTES} (413) before it is parsed. */
  void requireWithinSizeLimit(GatewayRequest request) {
    long limit = gateway.settings().maxRequestBytes();
    if (request.body().length > limit) {
      throw new PayloadTooLarge(request.body().length, limit);
    }
  }

  /**
   * Accounts a whole (not streamed) answer, before the client hears back: its cost at the answering
   * deployment's prices, the key's usage and spend (not for the master key), a spend-log entry.
   */
  void recordAnswered(Admitted admitted, ProviderResponse answer) {
    // A client that left once its answer was generated (UpstreamHttp reads it whole then): the
    // provider's tokens count as for any answer, and the spend log says the client did not get it.
    int status = aigw.core.http.ClientDeparture.clientLeft() ? aigw.core.http.ClientClosedRequest.STATUS : 200;
    accounting.answered(admitted, answer.answeredBy(), answer.usage(), false, status);
  }

  /** How a streamed answer of {@code admitted} is accounted when it ends ({@link CallAccounting}). */
  CallAccounting.Finish streamAccounting(Admitted admitted, ProviderStream stream) {
    return accounting.streamed(admitted, stream.answeredBy());
  }

  Gateway gateway() {
    return gateway;
  }

  private GatewayResponse forward(GatewayRequest request, Operation operation) {
    Caller caller = authenticate(request);
    requireWithinSizeLimit(request);
    ObjectNode body = parse(request.body()); // to validate; what is sent is the client's bytes (ForwardedBody)
    Admitted admitted = admit(request, caller, validate(body, operation), body);
    String model = admitted.model();
    List<Deployment> rotation = admitted.rotation();
    // Fields such as OpenRouter's models/route would make the provider run models the key may not
    // use: checked against every deployment the call may reach, fallback groups included.
    gateway.settings().allowedRoutingFields().check(body, model, admitted.reachable());
    boolean stream = body.path("stream").asBoolean(false);
    var forwarded = ForwardedBody.of(request.body());
    var providerRequest = stream ? ProviderRequest.streamed(operation, forwarded) : ProviderRequest.complete(operation, forwarded);
    return switch (call(admitted, providerRequest)) {
      case ProviderResponse answer -> {
        recordAnswered(admitted, answer); // before the client hears back: an answered request is always counted
        // No size check: on AWS every proxy answer leaves through the streaming runtime, where
        // Lambda's 6 MB buffered limit does not apply (docs/architecture.md, Streaming on AWS).
        yield GatewayResponse.json(200, answer.body());
      }
      case ProviderStream chunks -> {
        boolean clientWantsUsage = body.path("stream_options").path("include_usage").asBoolean(false);
        var relay = new StreamRelay(chunks, new ChatChunkEvents(clientWantsUsage), request.body().length, streamAccounting(admitted, chunks));
        // The first chunk is awaited here: a provider that fails before it (an error event, a cut-off
        // or silent stream) still gets a normal error response with its status.
        relay.awaitFirstChunk();
        yield GatewayResponse.streaming(200, StreamRelay.HEADERS, relay);
      }
    };
  }

  /**
   * Calls the model group whose deployments {@code rotation} lists (in the order to try them), with
   * the config's retries, cooldowns and fallbacks ({@link aigw.core.routing.FailoverPolicy}). A
   * request is sent again only when it cannot have run: nothing was sent, or the provider answered
   * an error (for a stream, before its first chunk, which has arrived when this returns).
   */
  ProviderAnswer call(List<Deployment> rotation, ProviderRequest request) {
    return gateway.failover().call(rotation, request);
  }

  /**
   * As {@link #call(List, ProviderRequest)} for an admitted call: its key id is named in the
   * fallback log line, and a failure gets its spend-log entry ({@link CallAccounting#failed}; not
   * token counting, which generates nothing), a call whose client left before the answer its 499
   * ({@link CallAccounting#clientLeft}).
   */
  ProviderAnswer call(Admitted admitted, ProviderRequest request) {
    try {
      return gateway.failover().call(admitted.rotation(), request, admitted.keyId());
    } catch (aigw.core.http.ClientClosedRequest gone) {
      if (request.operation() != Operation.MESSAGES_COUNT_TOKENS) {
        accounting.clientLeft(admitted, gone, request.body().sent().length);
      }
      throw gone;
    } catch (GatewayException failed) {
      if (request.operation() == Operation.MESSAGES_COUNT_TOKENS) {
        throw failed;
      }
      if (failed instanceof aigw.core.errors.ServiceUnavailable busy && busy.gatewayBusy()
          || failed instanceof aigw.core.errors.UpstreamTimeout late && late.afterSuccessStatus()
          || failed instanceof aigw.core.errors.UpstreamUnreachable broken && broken.afterSuccessStatus()) {
        // The provider ran the call (and may bill it); only the gateway's answer budget could not
        // hold its answer, or its body (a stream's first chunk) stalled past the timeout or broke
        // off after its 2xx status, or was over the gateway's bound, when a client leaving in the
        // same state would be counted so too (CallAccounting.clientLeft). Counted as a cut stream
        // is: estimated tokens, at the first deployment's prices, logged with its status (503, 504,
        // 502). The prompt from the body sent; the completion from the answer's bytes read before
        // it broke off or was refused (the same 4 bytes a token), at most the request's max tokens
        // (for each of its n choices), and none for embeddings, which generate no completion: bytes
        // read are a rough measure (JSON, logprobs, a wrong api_base serving a large file), never
        // more than the provider could have generated for this request.
        long answerBytes = failed instanceof aigw.core.errors.UpstreamUnreachable broken ? broken.answerBytes() : 0;
        TokenUsage estimate = StreamRelay.estimate(request.body().sent().length, answerBytes);
        long completion = Math.min(estimate.completionTokens(), completionCap(request));
        estimate = new TokenUsage(estimate.promptTokens(), completion, estimate.promptTokens() + completion);
        accounting.answered(admitted, admitted.rotation().get(0), estimate, true, aigw.core.errors.ErrorEnvelope.status(failed));
      } else {
        accounting.failed(admitted, failed);
      }
      throw failed;
    }
  }

  /**
   * A request's longest answer in tokens: the first of {@code max_tokens} (Chat Completions' older
   * field and Anthropic's), {@code max_completion_tokens} (Chat Completions) and {@code
   * max_output_tokens} (Responses) that is a whole number of 0 or more; -1 when it gives none.
   */
  private static long maxTokens(JsonNode body) {
    for (String field : new String[] {"max_tokens", "max_completion_tokens", "max_output_tokens"}) {
      JsonNode value = body.get(field);
      if (value != null && value.canConvertToLong() && value.asLong() >= 0) {
        return value.asLong();
      }
    }
    return -1;
  }

  /**
   * The most completion tokens a request can have generated: 0 for embeddings; else its {@code
   * max_tokens}, {@code max_completion_tokens} or {@code max_output_tokens} (the first given, as
   * {@link #demand} reads them) times its {@code n} when that is over 1; unbounded when it gives none.
   * Read from the body sent, on the rare path of an answer that could not be given.
   */
  static long completionCap(ProviderRequest request) {
    if (request.operation() == Operation.EMBEDDINGS) {
      return 0;
    }
    JsonNode body;
    try {
      body = aigw.core.json.Json.MAPPER.readTree(request.body().sent());
    } catch (java.io.IOException | RuntimeException e) {
      return Long.MAX_VALUE;
    }
    if (body == null || !body.isObject()) {
      return Long.MAX_VALUE;
    }
    long maxTokens = maxTokens(body);
    if (maxTokens < 0) {
      return Long.MAX_VALUE;
    }
    JsonNode n = body.get("n");
    long choices = n != null && n.canConvertToLong() && n.asLong() > 1 ? n.asLong() : 1;
    try {
      return Math.multiplyExact(maxTokens, choices);
    } catch (ArithmeticException overflow) {
      return Long.MAX_VALUE;
    }
  }

  private GatewayResponse models(GatewayRequest request) {
    Caller caller = gateway.authenticator().forModelRoute(request, gateway.clock().instant());
    var data = new ArrayList<Map<String, Object>>();
    gateway
        .router()
        .models()
        .forEach(
            (name, provider) -> {
              if (mayUse(caller, name)) {
                data.add(modelObject(name, provider));
              }
            });
    var list = new LinkedHashMap<String, Object>();
    list.put("object", "list");
    list.put("data", data);
    return GatewayResponse.json(200, list);
  }

  /**
   * GET /v1/models/{id}: the model object, as in the list, for a model the key may use. Any other
   * id gets OpenAI's 404 for it, the same whether the model does not exist or the key may not use
   * it.
   */
  private GatewayResponse model(GatewayRequest request, String rawId) {
    Caller caller = gateway.authenticator().forModelRoute(request, gateway.clock().instant());
    String id;
    try {
      id = PathSegments.decode(rawId);
    } catch (IllegalArgumentException e) {
      throw new BadRequest("The model id in the path has a malformed %-escape.", "model");
    }
    Provider provider = gateway.router().providerOf(id);
    if (provider == null || !mayUse(caller, id)) {
      throw new ModelNotFound(id);
    }
    return GatewayResponse.json(200, modelObject(id, provider));
  }

  /** The master key sees every model; a virtual key those its {@code models} and its team's allow. */
  private boolean mayUse(Caller caller, String model) {
    return !(caller instanceof Caller.Virtual virtual) || TeamAccess.allows(gateway.router(), virtual.key(), virtual.team(), model);
  }

  /** OpenAI's Model object: exactly id, object, created, owned_by (what the SDKs parse). */
  private Map<String, Object> modelObject(String name, Provider provider) {
    var model = new LinkedHashMap<String, Object>();
    model.put("id", name);
    model.put("object", "model");
    model.put("created", createdEpochSecond);
    model.put("owned_by", provider.prefix());
    return model;
  }

  static ObjectNode parse(byte[] body) {
    if (body.length == 0) {
      throw new BadRequest("The request body is empty; send a JSON object.");
    }
    try {
      return Json.readObject(body);
    } catch (Json.NotAJsonObject e) {
      throw new BadRequest("Invalid JSON in the request body: " + e.getMessage());
    }
  }

  /**
   * Checks what the gateway itself needs, and every numeric field it reads or forwards against its
   * documented range ({@link NumberFields}); everything else is the provider's to judge.
   */
  private static String validate(ObjectNode body, Operation operation) {
    JsonNode model = body.get("model");
    if (model == null || model.isNull()) {
      throw new BadRequest("'model' is required.", "model");
    }
    if (!model.isTextual() || model.asText().isBlank()) {
      throw new BadRequest("'model' must be a non-empty string.", "model");
    }
    JsonNode stream = body.get("stream");
    boolean streaming = false;
    if (stream != null && !stream.isNull()) {
      if (!stream.isBoolean()) {
        throw new BadRequest("'stream' must be a boolean.", "stream");
      }
      streaming = stream.booleanValue();
      if (streaming && operation == Operation.EMBEDDINGS) {
        throw new BadRequest("'stream' is not supported for embeddings; send the request without it.", "stream");
      }
    }
    JsonNode streamOptions = body.get("stream_options");
    if (streamOptions != null && !streamOptions.isNull()) {
      // OpenAI's rule and words: https://platform.openai.com/docs/api-reference/chat/create#chat-create-stream_options
      if (!streaming) {
        throw new BadRequest("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options");
      }
      if (!streamOptions.isObject()) {
        throw new BadRequest("'stream_options' must be an object.", "stream_options");
      }
      JsonNode includeUsage = streamOptions.get("include_usage");
      if (includeUsage != null && !includeUsage.isNull() && !includeUsage.isBoolean()) {
        throw new BadRequest("'stream_options.include_usage' must be a boolean.", "stream_options");
      }
    }
    switch (operation) {
      case CHAT_COMPLETIONS -> {
        JsonNode messages = body.get("messages");
        if (messages == null || messages.isNull()) {
          throw new BadRequest("'messages' is required.", "messages");
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
      case COMPLETIONS -> {
        JsonNode prompt = body.get("prompt");
        if (prompt == null || prompt.isNull()) {
          throw new BadRequest("'prompt' is required.", "prompt");
        }
        if (!isPrompt(prompt)) {
          throw new BadRequest(
              "'prompt' must be a string, an array of strings, an array of tokens (integers) or an array of token arrays.", "prompt");
        }
      }
      case EMBEDDINGS -> {
        JsonNode input = body.get("input");
        if (input == null || input.isNull()) {
          throw new BadRequest("'input' is required.", "input");
        }
        if (!input.isTextual() && !input.isArray()) {
          throw new BadRequest("'input' must be a string or an array.", "input");
        }
      }
    }
    NumberFields.check(body, NumberFields.of(operation));
    return model.asText();
  }

  /**
   * OpenAI's forms of {@code prompt} (https://platform.openai.com/docs/api-reference/completions/create#completions-create-prompt):
   * a string, or a non-empty array of strings, of token ids, or of token id arrays, one form per array.
   */
  private static boolean isPrompt(JsonNode prompt) {
    if (prompt.isTextual()) {
      return true;
    }
    if (!prompt.isArray() || prompt.isEmpty()) {
      return false;
    }
    JsonNode first = prompt.get(0);
    for (JsonNode item : prompt) {
      boolean sameForm =
          first.isTextual() ? item.isTextual()
              : first.isIntegralNumber() ? item.isIntegralNumber()
              : first.isArray() && item.isArray() && !item.isEmpty() && allIntegers(item);
      if (!sameForm) {
        return false;
      }
    }
    return true;
  }

  private static boolean allIntegers(JsonNode array) {
    for (JsonNode item : array) {
      if (!item.isIntegralNumber()) {
        return false;
      }
    }
    return true;
  }

  static void requireMethod(GatewayRequest request, String method) {
    if (!request.method().equals(method)) {
      throw new MethodNotAllowed(request.method(), request.path(), method);
    }
  }

  /** {@code /v1/chat/completions}, {@code /chat/completions} and a trailing slash all name one route. */
  static String route(String path) {
    String route = path;
    while (route.length() > 1 && route.endsWith("/")) {
      route = route.substring(0, route.length() - 1);
    }
    if (route.startsWith("/v1/")) {
      route = route.substring(3);
    }
    return route;
  }
}

package aigw.proxy;

import aigw.core.config.Deployment;
import aigw.core.config.Provider;
import aigw.core.errors.MethodNotAllowed;
import aigw.core.errors.NotFound;
import aigw.core.http.GatewayRequest;
import aigw.core.http.GatewayResponse;
import aigw.core.json.Json;
import aigw.core.providers.ForwardedBody;
import aigw.core.providers.Operation;
import aigw.core.providers.ProviderRequest;
import aigw.core.providers.ProviderResponse;
import aigw.core.providers.ProviderStream;
import aigw.core.providers.azure.AzureApiVersion;
import aigw.proxy.responses.ChatStreamToEvents;
import aigw.proxy.responses.ChatToResponse;
import aigw.proxy.responses.Ids;
import aigw.proxy.responses.NativeEvents;
import aigw.proxy.responses.ResponseEventSource;
import aigw.proxy.responses.ResponsesRequest;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.List;

/**
 * OpenAI's Responses API (https://platform.openai.com/docs/api-reference/responses), the protocol
 * of Codex CLI and of the OpenAI SDKs' {@code responses.create}:
 *
 * <ul>
 *   <li>{@code POST /v1/responses}, whole or streamed. When every deployment of the model has the
 *       Responses API (OpenAI, Azure's v1 API) the request is passed through, only {@code model}
 *       replaced, and the provider keeps whatever state it keeps ({@code store}, {@code
 *       previous_response_id}, built-in tools). Otherwise it is translated to chat completions
 *       ({@link ResponsesRequest}) and the answer back to a Response ({@link ChatToResponse}) or to
 *       the Responses event sequence ({@link ChatStreamToEvents}); state the gateway cannot keep is
 *       then a 400 naming the field.
 *   <li>{@code GET} and {@code DELETE /v1/responses/{id}}: the gateway stores no response, so these
 *       are a 404 for any id (a translated response was never stored; a stored one lives at the
 *       provider, reached there directly).
 * </ul>
 *
 * Authentication, admission, failover and usage recording are {@link ProxyService}'s steps, as for
 * chat completions; usage is recorded on the key from the answer (or stream) either way.
 */
final class ResponsesRoute {
  static final String ROUTE = "/responses";

  private final ProxyService proxy;
  private final Ids ids;

  ResponsesRoute(ProxyService proxy, Ids ids) {
    this.proxy = proxy;
    this.ids = ids;
  }

  /** {@code route}: the path without {@code /v1} and trailing slashes ({@link ProxyService#route}). */
  GatewayResponse handle(GatewayRequest request, String route) {
    if (route.equals(ROUTE)) {
      if (!request.method().equals("POST")) {
        throw new MethodNotAllowed(request.method(), request.path(), "POST");
      }
      return create(request);
    }
    // /responses/{id} and below (input_items, cancel)
    proxy.authenticate(request);
    // Worded for both kinds of model: a translated response was never stored anywhere; one a provider
    // stored (passthrough with store) lives at the provider, which the gateway does not read back.
    throw new NotFound(
        "The gateway does not serve stored responses, so there is no response to " + request.method() + " at "
            + request.path() + ". A response a provider stored can be read at that provider directly; to continue a"
            + " conversation through the gateway, send it whole in 'input' (or previous_response_id, for models passed"
            + " through to a provider that stores responses).",
        null);
  }

  private GatewayResponse create(GatewayRequest request) {
    var caller = proxy.authenticate(request);
    proxy.requireWithinSizeLimit(request);
    ObjectNode body = ProxyService.parse(request.body());
    var admitted = proxy.admit(request, caller, ResponsesRequest.validate(body), body);
    boolean stream = ResponsesRequest.streamed(body);
    var gateway = proxy.gateway();
    long now = gateway.clock().instant().getEpochSecond();
    if (allHaveResponsesApi(admitted.reachable())) { // fallback groups included: one request shape for the whole call
      gateway.settings().allowedRoutingFields().check(body, admitted.model(), admitted.reachable());
      var forwarded = ForwardedBody.of(request.body());
      var providerRequest = stream
          ? ProviderRequest.streamed(Operation.RESPONSES, forwarded)
          : ProviderRequest.complete(Operation.RESPONSES, forwarded);
      return answer(admitted, providerRequest, new NativeEvents(), null, request.body().length);
    }
    ObjectNode chat = ResponsesRequest.toChat(body);
    gateway.settings().allowedRoutingFields().check(chat, admitted.model(), admitted.reachable());
    var forwarded = ForwardedBody.of(Json.bytes(chat));
    var providerRequest = stream
        ? ProviderRequest.streamed(Operation.CHAT_COMPLETIONS, forwarded)
        : ProviderRequest.complete(Operation.CHAT_COMPLETIONS, forwarded);
    return answer(admitted, providerRequest, new ChatStreamToEvents(body, admitted.model(), now, ids), body, request.body().length);
  }

  /**
   * Calls the model and answers: a whole answer as is (native) or as a Response (translated,
   * {@code translatedFrom} the client's request), a stream through {@link StreamRelay}.
   */
  private GatewayResponse answer(
      ProxyService.Admitted admitted, ProviderRequest providerRequest, ResponseEventSource events, ObjectNode translatedFrom, long requestBytes) {
    var gateway = proxy.gateway();
    return switch (proxy.call(admitted, providerRequest)) {
      case ProviderResponse answer -> {
        proxy.recordAnswered(admitted, answer); // before the client hears back
        if (translatedFrom == null) {
          yield GatewayResponse.json(200, answer.body());
        }
        JsonNode completion;
        try {
          completion = Json.MAPPER.readTree(answer.body());
        } catch (IOException e) {
          throw new IllegalStateException("a provider answer is checked to be JSON before it is returned", e);
        }
        long now = gateway.clock().instant().getEpochSecond();
        yield GatewayResponse.json(200, Json.bytes(ChatToResponse.response(translatedFrom, completion, admitted.model(), now, ids)));
      }
      case ProviderStream chunks -> {
        var relay = new StreamRelay(chunks, events, requestBytes, proxy.streamAccounting(admitted, chunks));
        relay.awaitFirstChunk(); // a failure before the first chunk is a normal error response
        yield GatewayResponse.streaming(200, StreamRelay.HEADERS, relay);
      }
    };
  }

  /**
   * True when every deployment of the rotation has the Responses API, so the request can go as is
   * whichever is tried: OpenAI, and Azure's v1 API (its dated {@code api_version}s have it only as
   * a preview at another URL, so they are translated). One deployment without it makes the whole
   * model translated, so the answer does not depend on which deployment's turn it is.
   */
  static boolean allHaveResponsesApi(List<Deployment> rotation) {
    for (Deployment deployment : rotation) {
      boolean has = deployment.provider() == Provider.OPENAI
          || (deployment.provider() == Provider.AZURE && AzureApiVersion.isV1(deployment.apiVersion()));
      if (!has) {
        return false;
      }
    }
    return true;
  }

}

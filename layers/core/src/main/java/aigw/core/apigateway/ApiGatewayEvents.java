package aigw.core.apigateway;

import aigw.core.errors.ErrorEnvelope;
import aigw.core.http.CorsPolicy;
import aigw.core.http.GatewayApplication;
import aigw.core.http.GatewayRequest;
import aigw.core.http.GatewayResponse;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The adapter between API Gateway REST proxy events (the buffered Lambda proxy integration) and
 * the {@link GatewayApplication}: an event becomes a {@link GatewayRequest}, the application's
 * {@link GatewayResponse} (a stream run to its end) the response event. The Lambda handlers and
 * the local gateway's {@code invoke} command go through it; the local server serves the
 * application directly, with the same request shape (header names lower-cased, first values).
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
 */
public final class ApiGatewayEvents {
  private static final Logger LOG = Logger.getLogger(ApiGatewayEvents.class.getName());

  private ApiGatewayEvents() {}

  /** Runs {@code app} on the event without CORS; see {@link #handle(ProxyRequestEvent, CorsPolicy, Function)}. */
  public static ProxyResponseEvent handle(
      ProxyRequestEvent event, Function<GatewayRequest, GatewayResponse> app) {
    return handle(event, CorsPolicy.DISABLED, app);
  }

  /**
   * Runs {@code app} on the event through {@link GatewayApplication} (CORS, {@code HEAD}, errors as
   * envelopes) and answers with the whole body in the event.
   */
  public static ProxyResponseEvent handle(
      ProxyRequestEvent event, CorsPolicy cors, Function<GatewayRequest, GatewayResponse> app) {
    return handle(event, GatewayApplication.of(cors, app));
  }

  /** Runs {@code application} on the event and answers with the whole body in the event. */
  public static ProxyResponseEvent handle(ProxyRequestEvent event, GatewayApplication application) {
    GatewayRequest request;
    try {
      request = toRequest(event);
    } catch (RuntimeException e) { // e.g. a body flagged base64 that is not
      LOG.log(Level.WARNING, "An API Gateway event could not be read", e);
      return toEvent(ErrorEnvelope.response(new aigw.core.errors.BadRequest("The request could not be read: " + e.getMessage())));
    }
    return toEvent(application.handle(request));
  }

  /** Reads an event file as API Gateway sends it (events/*.json); fields this class lacks are ignored. */
  public static ProxyRequestEvent parseEvent(byte[] json) {
    try {
      return EVENT_READER.readValue(json);
    } catch (java.io.IOException e) {
      throw new IllegalArgumentException("not an API Gateway REST proxy event: " + (e instanceof com.fasterxml.jackson.core.JsonProcessingException p ? p.getOriginalMessage() : e.getMessage()), e);
    }
  }

  private static final com.fasterxml.jackson.databind.ObjectReader EVENT_READER =
      aigw.core.json.Json.MAPPER
          .readerFor(ProxyRequestEvent.class)
          .without(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  public static GatewayRequest toRequest(ProxyRequestEvent event) {
    byte[] body;
    if (event.getBody() == null) {
      body = new byte[0];
    } else if (Boolean.TRUE.equals(event.getIsBase64Encoded())) {
      body = Base64.getDecoder().decode(event.getBody());
    } else {
      body = event.getBody().getBytes(StandardCharsets.UTF_8);
    }
    var context = event.getRequestContext();
    return new GatewayRequest(
        event.getHttpMethod(),
        event.getPath(),
        firstValues(event.getHeaders(), event.getMultiValueHeaders()),
        firstValues(event.getQueryStringParameters(), event.getMultiValueQueryStringParameters()),
        body,
        context == null ? null : context.getRequestId(),
        context == null || context.getIdentity() == null ? null : context.getIdentity().getSourceIp());
  }

  public static ProxyResponseEvent toEvent(GatewayResponse response) {
    response = response.buffered(); // the buffered integration carries the whole body in the event
    return new ProxyResponseEvent()
        .withStatusCode(response.status())
        .withHeaders(response.headers())
        .withBody(new String(response.body(), StandardCharsets.UTF_8))
        .withIsBase64Encoded(false);
  }

  /** API Gateway sends both single- and multi-value maps; either may be null. */
  private static Map<String, String> firstValues(Map<String, String> single, Map<String, List<String>> multi) {
    var merged = new HashMap<String, String>();
    if (multi != null) {
      multi.forEach(
          (name, values) -> {
            if (name != null && values != null && !values.isEmpty()) {
              merged.put(name, values.get(0));
            }
          });
    }
    if (single != null) {
      single.forEach(
          (name, value) -> {
            if (name != null && value != null) {
              merged.putIfAbsent(name, value);
            }
          });
    }
    return merged;
  }

}

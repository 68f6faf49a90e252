package aigw.core.errors;

import aigw.core.http.GatewayResponse;
import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * The only place a failure becomes HTTP: OpenAI's error envelope {@code {"error":{"message","type",
 * "param","code"}}} with LiteLLM's types, and {@code code} as the status string, as LiteLLM's
 * ProxyException does (except where OpenAI's own code is kept: a provider's 4xx, an unknown model
 * on {@code GET /v1/models/{id}}).
 */
public record ErrorEnvelope(Body error) {
  @JsonInclude(JsonInclude.Include.ALWAYS)
  public record Body(String message, String type, String param, String code) {}

  // Exhaustive switch: a new exception type will not compile until it is mapped.
  public static int status(GatewayException e) {
    return switch (e) {
      case AuthenticationFailed a -> 401;
      case ModelNotAllowed m -> 401; // LiteLLM answers 401 key_model_access_denied
      case PermissionDenied p -> 403;
      case BadRequest b -> 400;
      case NotFound n -> 404;
      case ModelNotFound m -> 404;
      case Conflict c -> 409;
      case MethodNotAllowed m -> 405;
      case PayloadTooLarge p -> 413;
      case UpstreamFailed u -> u.upstreamStatus() >= 500 ? 502 : u.upstreamStatus();
      case UpstreamUnreachable u -> 502;
      case ServiceUnavailable s -> 503;
      case UpstreamTimeout t -> 504;
    };
  }

  public static String type(GatewayException e) {
    return switch (e) {
      case AuthenticationFailed a -> a.reason().type;
      case ModelNotAllowed m -> "key_model_access_denied";
      case PermissionDenied p -> "auth_error";
      case BadRequest b -> "invalid_request_error";
      case NotFound n -> "not_found_error";
      case ModelNotFound m -> "invalid_request_error"; // OpenAI's type for it
      case Conflict c -> "conflict_error";
      case MethodNotAllowed m -> "invalid_request_error";
      case PayloadTooLarge p -> "invalid_request_error";
      case UpstreamFailed u -> u.upstreamType() != null ? u.upstreamType() : "upstream_error";
      case UpstreamUnreachable u -> "api_connection_error";
      case ServiceUnavailable s -> "service_unavailable";
      case UpstreamTimeout t -> "timeout";
    };
  }

  public static ErrorEnvelope of(GatewayException e) {
    int status = status(e);
    String code;
    if (e instanceof UpstreamFailed u && u.upstreamCode() != null && status < 500) {
      code = u.upstreamCode();
    } else if (e instanceof ModelNotFound) {
      code = ModelNotFound.CODE; // as OpenAI answers GET /v1/models/{id}, so SDKs see their usual code
    } else {
      code = Integer.toString(status);
    }
    return new ErrorEnvelope(new Body(e.getMessage(), type(e), e.param(), code));
  }

  public static GatewayResponse response(GatewayException e) {
    var response = GatewayResponse.json(status(e), of(e));
    if (e instanceof MethodNotAllowed m) {
      response = response.withHeader("Allow", m.allowed());
    }
    if (e instanceof UpstreamFailed u && u.retryAfter() != null) {
      response = response.withHeader("Retry-After", u.retryAfter());
    }
    if (e instanceof UpstreamFailed u && u.retryAfterMs() != null) {
      response = response.withHeader("retry-after-ms", u.retryAfterMs());
    }
    return response;
  }

  /** For failures that are the gateway's own bug: a fixed message, never the exception's text. */
  public static GatewayResponse internalError(String requestId) {
    return GatewayResponse.json(
        500,
        new ErrorEnvelope(
            new Body(
                "Internal error in the gateway"
                    + (requestId == null ? "" : " (request id " + requestId + ")")
                    + ". The details are in the gateway's log.",
                "internal_server_error",
                null,
                "500")));
  }

  /**
   * When the function itself failed, outside the handler's own error handling (an invoke that
   * crashed): 502, as API Gateway answers then, with a fixed message.
   */
  public static GatewayResponse integrationFailure(String requestId) {
    return GatewayResponse.json(
        502,
        new ErrorEnvelope(
            new Body(
                "The gateway's function failed"
                    + (requestId == null ? "" : " (request id " + requestId + ")")
                    + ". The details are in the gateway's log.",
                "internal_server_error",
                null,
                "502")));
  }

  /**
   * A request whose {@code Host} names a server other than this one (421 Misdirected Request, RFC
   * 9110 section 15.5.20): the local server answers it for a name it was not told it serves, the
   * defence against DNS rebinding. Not a {@link GatewayException}: only a transport gives it.
   *
   * @param host the {@code Host} value refused, as the client sent it
   */
  public static GatewayResponse misdirected(String host) {
    return GatewayResponse.json(
        421,
        new ErrorEnvelope(
            new Body(
                "This gateway does not answer for the host '" + host + "'. Call it by its address (127.0.0.1, localhost or [::1])"
                    + " or add the name to AIGW_ALLOWED_HOSTS (--allowed-hosts).",
                "invalid_request_error",
                "Host",
                "421")));
  }
}

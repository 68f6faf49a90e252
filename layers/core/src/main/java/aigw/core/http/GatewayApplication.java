package aigw.core.http;

import aigw.core.errors.ErrorEnvelope;
import aigw.core.errors.GatewayException;
import aigw.core.errors.UnsupportedContentEncoding;
import aigw.core.keys.ApiKeys;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The gateway's HTTP application, whatever carries it (the local server, API Gateway's buffered
 * event, the Lambda streaming runtime): routes plus what applies to every route. A CORS preflight
 * is answered by the {@link CorsPolicy} without reaching the routes (so without authentication),
 * every answer gets the CORS headers the policy gives it, {@code HEAD} is answered as {@code GET}
 * without the body (RFC 9110 9.3.2), and an exception becomes an answer here and nowhere else: a
 * client's mistake its error envelope ({@link ErrorEnvelope}), a bug a bare 500, both in the shape
 * of the route's API ({@link ErrorEnvelope.Dialect}: Anthropic's on {@code /v1/messages}).
 *
 * <p>A streamed answer's body runs after {@link #handle} has returned: the transport sends the
 * status and headers, then runs {@link StreamingBody#writeTo} on its own output. A failure there
 * can no longer change the status, so it is the transport's to end the stream visibly (the local
 * server closes the connection without the last chunk). {@code HEAD} never runs a stream.
 */
public final class GatewayApplication {
  private static final Logger LOG = Logger.getLogger(GatewayApplication.class.getName());

  private final CorsPolicy cors;
  private final Function<GatewayRequest, GatewayResponse> routes;

  private GatewayApplication(CorsPolicy cors, Function<GatewayRequest, GatewayResponse> routes) {
    this.cors = cors;
    this.routes = routes;
  }

  /** @param routes the routes (e.g. {@code ProxyService::handle}); may throw {@link GatewayException} */
  public static GatewayApplication of(CorsPolicy cors, Function<GatewayRequest, GatewayResponse> routes) {
    return new GatewayApplication(cors, routes);
  }

  public CorsPolicy cors() {
    return cors;
  }

  /** Answers {@code request}; never throws. */
  public GatewayResponse handle(GatewayRequest request) {
    GatewayResponse response;
    try {
      var preflight = cors.preflight(request);
      if (preflight.isPresent()) {
        response = preflight.get();
      } else {
        requireIdentityEncoding(request.header("content-encoding"));
        response = routes.apply(isHead(request) ? asGet(request) : request);
      }
    } catch (GatewayException e) {
      if (ErrorEnvelope.status(e) >= 500) {
        LOG.warning(describe(request) + " failed: " + e.getMessage());
      }
      response = ErrorEnvelope.response(e, ErrorEnvelope.Dialect.of(request.path()), request.requestId());
    } catch (ClientClosedRequest gone) {
      // Nobody reads this answer (the transport that saw the client leave does not send it); the call is accounted already.
      LOG.fine(() -> describe(request) + ": " + gone.getMessage());
      response = GatewayResponse.json(ClientClosedRequest.STATUS,
          new ErrorEnvelope(new ErrorEnvelope.Body(gone.getMessage(), "client_closed_request", null, Integer.toString(ClientClosedRequest.STATUS))));
    } catch (RuntimeException e) {
      LOG.log(Level.SEVERE, describe(request) + " failed with an unexpected error", e);
      response = ErrorEnvelope.internalError(request.requestId(), ErrorEnvelope.Dialect.of(request.path()));
    }
    response = cors.onResponse(request, response);
    if (isHead(request)) {
      response = new GatewayResponse(response.status(), response.headers(), new byte[0]);
    }
    return response;
  }

  /**
   * Refuses a request body in a content coding (RFC 9110 section 8.4): the gateway reads bodies as
   * they arrived, so {@code Content-Encoding: gzip} on JSON would be parsed as plain and fail in
   * confusing ways, or a body checked as one thing would be something else. OpenAI's API and SDKs
   * send uncompressed bodies, and LiteLLM's proxy does not decode request codings either, so a 415
   * that says so is what a client can act on; decoding would also need the body bounds applied to
   * the decoded size (a zip bomb). {@code identity} (or none) passes; a list of codings, as several
   * header lines joined by commas, is refused if any is another.
   *
   * @param contentEncoding the request's {@code Content-Encoding}, every line joined by commas; null for none
   * @throws UnsupportedContentEncoding (415, {@code Accept-Encoding: identity}) for any other coding
   */
  public static void requireIdentityEncoding(String contentEncoding) {
    if (contentEncoding == null) {
      return;
    }
    for (String coding : contentEncoding.split(",")) {
      String name = coding.strip();
      if (!name.isEmpty() && !name.equalsIgnoreCase("identity")) {
        throw new UnsupportedContentEncoding(contentEncoding.strip());
      }
    }
  }

  /** What a failure the application could not answer looks like to a client; see {@link ErrorEnvelope#internalError}. */
  public GatewayResponse internalError(GatewayRequest request) {
    return cors.onResponse(request, ErrorEnvelope.internalError(request.requestId(), ErrorEnvelope.Dialect.of(request.path())));
  }

  private static boolean isHead(GatewayRequest request) {
    return request.method().equals("HEAD");
  }

  private static GatewayRequest asGet(GatewayRequest head) {
    return new GatewayRequest("GET", head.path(), head.headers(), head.query(), head.body(), head.requestId(), head.sourceIp());
  }

  static String describe(GatewayRequest request) {
    return request.method() + " " + loggablePath(request.path()) + (request.requestId() == null ? "" : " (" + request.requestId() + ")");
  }

  /**
   * The path with any segment that may be a key masked: LiteLLM's {@code /key/{key}/regenerate}
   * carries a key in the path. Route words, and 64-hex hashes (not secret), are kept.
   */
  public static String loggablePath(String path) {
    if (path == null) {
      return null;
    }
    var segments = new java.util.ArrayList<String>();
    for (String segment : path.split("/", -1)) {
      boolean routeWord =
          segment.length() <= 24 && segment.chars().allMatch(c -> c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.');
      segments.add(!segment.startsWith("sk-") && (routeWord || ApiKeys.isHash(segment)) ? segment : ApiKeys.mask(segment));
    }
    return String.join("/", segments);
  }
}

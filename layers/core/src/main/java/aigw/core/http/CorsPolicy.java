package aigw.core.http;

import aigw.core.errors.ErrorEnvelope;
import aigw.core.errors.PermissionDenied;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.logging.Logger;

/**
 * Which web pages may call the gateway from a browser: the server's half of the Fetch standard's
 * CORS protocol (https://fetch.spec.whatwg.org/#http-cors-protocol). Off unless origins are
 * configured (AIGW_CORS_ALLOWED_ORIGINS, {@code --cors-allowed-origins}); an origin is never
 * reflected unless it is in the list, or the list is {@code *}.
 *
 * <ul>
 *   <li>A preflight ({@code OPTIONS} with {@code Origin} and {@code Access-Control-Request-Method})
 *       is answered here, before any authentication, on every path: 204 with the allowed origin,
 *       methods, headers and {@code Max-Age} for an allowed origin, 403 in the error envelope for
 *       another.
 *   <li>Every other answer, errors included, gets {@code Access-Control-Allow-Origin} and {@code
 *       Access-Control-Expose-Headers} when its {@code Origin} is allowed, so that a browser client
 *       can read the error envelope and {@code Retry-After}.
 * </ul>
 *
 * No {@code Access-Control-Allow-Credentials}: clients send their key in a header, never a cookie,
 * so a page cannot borrow a user's credentials.
 */
public final class CorsPolicy {
  /** No origin is allowed and no CORS header is ever sent: the default. */
  public static final CorsPolicy DISABLED = new CorsPolicy(List.of());

  /** The methods the gateway's routes answer; OPTIONS is the preflight itself. */
  static final String ALLOWED_METHODS = "GET, HEAD, POST";
  /**
   * Always allowed: the three ways to send a key (docs/api.md) and JSON bodies. {@code content-type:
   * application/json} is not CORS-safelisted, so every JSON POST needs it.
   */
  static final List<String> BASE_HEADERS = List.of("authorization", "x-api-key", "api-key", "content-type");
  /**
   * Also allowed when a preflight asks for them: what the OpenAI SDKs send (Stainless-generated
   * clients add {@code x-stainless-*} telemetry, retry and timeout headers to every request).
   */
  static final Set<String> OPTIONAL_HEADERS =
      Set.of("openai-organization", "openai-project", "openai-beta", "idempotency-key", "x-request-id");

  static final String OPTIONAL_HEADER_PREFIX = "x-stainless-";
  /**
   * How long a browser may reuse a preflight, in seconds: Chromium's cap (Firefox allows a day).
   * Safe to be long: a removed origin still fails on the actual response, which lacks the header.
   */
  static final long MAX_AGE_SECONDS = 7200;
  /** Response headers a page can read without being told (Fetch: CORS-safelisted response-header names). */
  private static final Set<String> SAFELISTED_RESPONSE_HEADERS =
      Set.of("cache-control", "content-language", "content-length", "content-type", "expires", "last-modified", "pragma");

  private static final Logger LOG = Logger.getLogger(CorsPolicy.class.getName());

  private final Set<String> allowedOrigins;
  private final boolean anyOrigin;

  private CorsPolicy(List<String> origins) {
    this.allowedOrigins = Set.copyOf(origins);
    this.anyOrigin = allowedOrigins.contains("*");
  }

  /**
   * The policy for these origins, as {@link #parseOrigins} returns them; logs a warning for {@code
   * *} (build one per container or process: the warning is logged once).
   */
  public static CorsPolicy allowing(List<String> origins) {
    if (origins.isEmpty()) {
      return DISABLED;
    }
    var policy = new CorsPolicy(origins);
    if (policy.anyOrigin) {
      LOG.warning(
          "CORS: every web page may call this gateway from a browser (allowed origins '*'). A virtual key"
              + " given to a page is readable by its users; list the pages' origins instead unless that is meant.");
    } else {
      LOG.info("CORS: browsers may call this gateway from " + String.join(", ", origins));
    }
    return policy;
  }

  /**
   * Parses a comma-separated origin list such as {@code https://chat.example.com,
   * http://localhost:8080} into serialized origins as browsers send them (lower-case scheme and
   * host, no default port, no trailing slash), or {@code [*]}. Blank: the empty list (CORS off).
   *
   * @param setting where the list came from, for the error message
   * @throws IllegalArgumentException for an entry that is not an origin (a path, a query, {@code
   *     null}, a wildcard inside a host)
   */
  public static List<String> parseOrigins(String list, String setting) {
    if (list == null || list.isBlank()) {
      return List.of();
    }
    var origins = new LinkedHashSet<String>();
    for (String entry : list.split(",")) {
      String origin = entry.strip();
      if (origin.isEmpty()) {
        continue;
      }
      origins.add(origin.equals("*") ? "*" : serializedOrigin(origin, setting));
    }
    return origins.contains("*") ? List.of("*") : List.copyOf(origins);
  }

  private static String serializedOrigin(String text, String setting) {
    String problem = setting + ": '" + text + "' is not an origin; write scheme://host[:port], e.g. https://chat.example.com";
    if (text.equalsIgnoreCase("null")) {
      // Sandboxed frames and file: pages all send "null": allowing it allows any of them.
      throw new IllegalArgumentException(setting + ": the origin 'null' is shared by every sandboxed or file: page; list real origins or '*'");
    }
    URI uri;
    try {
      uri = new URI(text.endsWith("/") ? text.substring(0, text.length() - 1) : text);
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException(problem, e);
    }
    if (uri.getScheme() == null || uri.getHost() == null || uri.getRawUserInfo() != null
        || !(uri.getRawPath() == null || uri.getRawPath().isEmpty()) || uri.getRawQuery() != null || uri.getRawFragment() != null) {
      throw new IllegalArgumentException(problem);
    }
    String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
    int port = uri.getPort();
    boolean defaultPort = scheme.equals("https") && port == 443 || scheme.equals("http") && port == 80;
    return scheme + "://" + uri.getHost().toLowerCase(Locale.ROOT) + (port < 0 || defaultPort ? "" : ":" + port);
  }

  public boolean enabled() {
    return !allowedOrigins.isEmpty();
  }

  /** Whether a page of this origin (the request's Origin header) may read the gateway's answers. */
  public boolean allows(String origin) {
    return origin != null && (anyOrigin || allowedOrigins.contains(origin));
  }

  /**
   * The answer to a CORS preflight, or empty when the request is not one (or CORS is off): then the
   * request goes to its route as usual.
   */
  public Optional<GatewayResponse> preflight(GatewayRequest request) {
    String origin = request.header("origin");
    if (!enabled() || !request.method().equals("OPTIONS") || origin == null || request.header("access-control-request-method") == null) {
      return Optional.empty();
    }
    String vary = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";
    if (!allows(origin)) {
      // A browser fails the preflight for want of Allow-Origin; the envelope tells a person with curl why.
      return Optional.of(
          ErrorEnvelope.response(
                  new PermissionDenied(
                      "Origin '" + origin + "' may not call this gateway from a browser: it is not among the gateway's"
                          + " allowed origins (AIGW_CORS_ALLOWED_ORIGINS)."))
              .withHeader("Vary", vary));
    }
    var headers = new LinkedHashSet<>(BASE_HEADERS);
    String requested = request.header("access-control-request-headers");
    if (requested != null) {
      for (String name : requested.split(",")) {
        String header = name.strip().toLowerCase(Locale.ROOT);
        if (OPTIONAL_HEADERS.contains(header) || header.startsWith(OPTIONAL_HEADER_PREFIX) && isToken(header)) {
          headers.add(header);
        }
      }
    }
    // The requested method is not echoed: one not listed (PUT, DELETE) fails in the browser.
    return Optional.of(
        new GatewayResponse(204, Map.of(), new byte[0])
            .withHeader("Access-Control-Allow-Origin", anyOrigin ? "*" : origin)
            .withHeader("Access-Control-Allow-Methods", ALLOWED_METHODS)
            .withHeader("Access-Control-Allow-Headers", String.join(", ", headers))
            .withHeader("Access-Control-Max-Age", Long.toString(MAX_AGE_SECONDS))
            .withHeader("Vary", vary));
  }

  /**
   * The actual answer with the CORS headers it needs: {@code Access-Control-Allow-Origin} and
   * {@code Access-Control-Expose-Headers} (each non-safelisted header it carries, e.g. {@code
   * Retry-After}) for an allowed origin, and {@code Vary: Origin} whenever CORS is on, since the
   * answer depends on the origin (caches must not serve one page's answer to another).
   */
  public GatewayResponse onResponse(GatewayRequest request, GatewayResponse response) {
    if (!enabled() || response.headers().keySet().stream().anyMatch(n -> n.equalsIgnoreCase("Access-Control-Allow-Origin"))) {
      return response; // off, or a preflight answered above
    }
    var exposed = new ArrayList<String>();
    for (String name : response.headers().keySet()) {
      String lower = name.toLowerCase(Locale.ROOT);
      if (!SAFELISTED_RESPONSE_HEADERS.contains(lower) && !lower.startsWith("access-control-") && !lower.equals("vary")) {
        exposed.add(name);
      }
    }
    String vary = response.headers().entrySet().stream()
        .filter(e -> e.getKey().equalsIgnoreCase("Vary"))
        .map(e -> Arrays.stream(e.getValue().split(",")).anyMatch(v -> v.strip().equalsIgnoreCase("Origin")) ? e.getValue() : e.getValue() + ", Origin")
        .findFirst()
        .orElse("Origin");
    GatewayResponse answer = response.withHeader("Vary", vary);
    String origin = request.header("origin");
    if (!allows(origin)) {
      return answer;
    }
    answer = answer.withHeader("Access-Control-Allow-Origin", anyOrigin ? "*" : origin);
    return exposed.isEmpty() ? answer : answer.withHeader("Access-Control-Expose-Headers", String.join(", ", exposed));
  }

  /** RFC 9110 token characters: what a header name may hold. */
  private static boolean isToken(String name) {
    return !name.isEmpty() && name.chars().allMatch(c -> c > 0x20 && c < 0x7f && "\"(),/:;<=>?@[\\]{}".indexOf(c) < 0);
  }
}

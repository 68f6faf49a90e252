package aigw.admin;

import aigw.core.audit.AuditLog;
import aigw.core.Gateway;
import aigw.core.http.GatewayResponse;
import aigw.core.rotation.VirtualKeyRotator;
import java.util.List;
import java.util.Optional;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Every route of the admin API, in one table: {@link AdminService} dispatches by it, the local
 * server sends the paths under its {@link #RESOURCES} to the admin function by it, and {@code
 * TemplateTest} holds {@code template.yaml}'s AdminFunction routes ({@code /<resource>/{proxy+}},
 * each with the admin API's own throttling) to it.
 *
 * <p>A resource is a path prefix and the endpoints class that answers under it; each endpoints
 * class opens with the {@link Route}s it owns. Adding one is one line in {@link #RESOURCES}: an
 * endpoints class declares {@code static final List<Route<TeamEndpoints>> ROUTES =
 * List.of(Route.post("/team/new", TeamEndpoints::create), …)}, each method taking an {@link
 * AdminRequest} (route matched, method and master key checked, JSON body read) and answering a
 * {@code GatewayResponse}, and is built from the {@link Wiring} ({@code TeamEndpoints(Wiring)}).
 * The local server follows the table by itself; a new prefix also needs its {@code
 * /<prefix>/{proxy+}} resource, throttling and WAF admin rule in template.yaml, which {@code
 * TemplateTest} and {@code TransformedTemplateTest} hold to the table.
 */
public final class AdminRoutes {
  private AdminRoutes() {}

  /** Who may call a route. */
  public enum Access {
    /** Anyone: load balancers and uptime checks (LiteLLM's /health/liveliness needs no key either). */
    PUBLIC,
    /** The master key only: every other admin route. */
    MASTER_KEY
  }

  /**
   * The admin API's resources, in the order routes are matched. {@link SpendEndpoints} answers
   * under two prefixes, as LiteLLM's spend routes do ({@code /spend/logs}, {@code
   * /global/spend/keys}): one resource each, one endpoints object for both. {@code /audit} is
   * LiteLLM's route itself ({@code GET /audit}, what its UI's {@code uiAuditLogsCall} sends), so
   * that resource serves its own prefix ({@link Resource#servesItsPrefix}).
   */
  public static final List<Resource<?>> RESOURCES =
      List.of(
          Resource.of("/health", HealthEndpoints.class, HealthEndpoints.ROUTES, HealthEndpoints::new),
          Resource.of("/key", KeyEndpoints.class, KeyEndpoints.ROUTES, KeyEndpoints::new),
          Resource.of("/team", TeamEndpoints.class, TeamEndpoints.ROUTES, TeamEndpoints::new),
          Resource.of("/spend", SpendEndpoints.class, under("/spend", SpendEndpoints.ROUTES), SpendEndpoints::new),
          Resource.of("/global", SpendEndpoints.class, under("/global", SpendEndpoints.ROUTES), SpendEndpoints::new),
          Resource.of("/audit", AuditEndpoints.class, AuditEndpoints.ROUTES, AuditEndpoints::new));

  /** The routes of an endpoints class that lie under {@code prefix}: for a class answering under two prefixes. */
  static <E> List<Route<E>> under(String prefix, List<Route<E>> routes) {
    return routes.stream().filter(route -> Resource.within(prefix, route.path())).toList();
  }

  /** Every route of every resource. */
  public static List<Route<?>> routes() {
    return RESOURCES.stream().<Route<?>>flatMap(r -> r.routes().stream()).toList();
  }

  /**
   * The resource a request path belongs to, if it is an admin path: {@code /key/generate} (under
   * {@code /key/{proxy+}}), and {@code /audit} itself (a resource that {@link
   * Resource#servesItsPrefix serves its prefix}); not {@code /key}, which API Gateway has no
   * resource for. A trailing slash is ignored ({@code /audit/}), as the dispatcher ignores it.
   */
  public static Optional<Resource<?>> resourceOf(String path) {
    if (path == null) {
      return Optional.empty();
    }
    // Asked for every request (the local gateway and the API Gateway adapter route by it): no regex, no stream.
    int end = path.length();
    while (end > 0 && path.charAt(end - 1) == '/') {
      end--;
    }
    String trimmed = path.substring(0, end);
    for (Resource<?> resource : RESOURCES) {
      String prefix = resource.prefix();
      if (trimmed.startsWith(prefix)
          && (trimmed.length() == prefix.length() ? resource.servesItsPrefix() : trimmed.charAt(prefix.length()) == '/')) {
        return Optional.of(resource);
      }
    }
    return Optional.empty();
  }

  /** Whether API Gateway sends {@code path} to the admin function (every other path goes to the proxy). */
  public static boolean isAdminPath(String path) {
    return resourceOf(path).isPresent();
  }

  /** What an admin function needs to build its endpoints classes: each takes what it uses. */
  public record Wiring(Gateway gateway, VirtualKeyRotator rotator, AuditLog auditLog) {}

  /**
   * A path prefix the admin function answers under, and the endpoints class that answers it.
   *
   * @param prefix e.g. {@code /key}; API Gateway's resource is {@code /key/{proxy+}}
   * @param owner the endpoints class (several resources may share one: built once)
   * @param routes the routes {@code owner} declares under {@code prefix}: {@code prefix/...}, or
   *     {@code prefix} itself (LiteLLM's {@code GET /audit})
   * @param build makes the endpoints class from the function's wiring
   */
  public record Resource<E>(String prefix, Class<E> owner, List<Route<E>> routes, Function<Wiring, E> build) {
    public static <E> Resource<E> of(String prefix, Class<E> owner, List<Route<E>> routes, Function<Wiring, E> build) {
      if (routes.isEmpty()) {
        throw new IllegalArgumentException(prefix + " has no routes");
      }
      for (Route<E> route : routes) {
        if (!within(prefix, route.path())) {
          throw new IllegalArgumentException(route + " is outside " + prefix);
        }
      }
      return new Resource<>(prefix, owner, List.copyOf(routes), build);
    }

    static boolean within(String prefix, String path) {
      return path.equals(prefix) || path.startsWith(prefix + "/");
    }

    /** The API Gateway resource of template.yaml that carries the paths under this prefix to the admin function. */
    public String apiGatewayResource() {
      return prefix + "/{proxy+}";
    }

    /**
     * Whether a route's path is the prefix itself ({@code GET /audit}): API Gateway's {@code
     * /audit/{proxy+}} does not match {@code /audit}, so template.yaml also has the resource
     * {@code /audit}, sent to the admin function for any method like the others (a POST gets the
     * dispatcher's 405 naming GET, on AWS as locally).
     */
    public boolean servesItsPrefix() {
      return routes.stream().anyMatch(route -> route.path().equals(prefix));
    }

    /** Every API Gateway resource of template.yaml this prefix needs: {@link #apiGatewayResource()}, and the prefix itself when it {@link #servesItsPrefix serves it}. */
    public List<String> apiGatewayResources() {
      return servesItsPrefix() ? List.of(apiGatewayResource(), prefix) : List.of(apiGatewayResource());
    }
  }

  /**
   * One route: method, path and the method of its endpoints class that answers it.
   *
   * @param method {@code GET} (which also answers {@code HEAD}) or {@code POST}
   * @param path the path, trailing slash removed; a {@code {name}} segment matches any text,
   *     slashes included (LiteLLM's {@code /key/{key}/regenerate}), still %-encoded
   * @param answer the endpoints method; it receives the request with the body parsed (POST) and
   *     the caller authenticated
   */
  public record Route<E>(String method, String path, Access access, BiFunction<E, AdminRequest, GatewayResponse> answer) {
    private static final Pattern PARAMETER = Pattern.compile("\\{[a-z_]+}");

    public static <E> Route<E> get(String path, Access access, BiFunction<E, AdminRequest, GatewayResponse> answer) {
      return new Route<>("GET", path, access, answer);
    }

    public static <E> Route<E> post(String path, BiFunction<E, AdminRequest, GatewayResponse> answer) {
      return new Route<>("POST", path, Access.MASTER_KEY, answer);
    }

    public static <E> Route<E> get(String path, BiFunction<E, AdminRequest, GatewayResponse> answer) {
      return get(path, Access.MASTER_KEY, answer);
    }

    /** The path's parameters when {@code requestPath} is this route's path; empty when it is not. */
    Optional<List<String>> match(String requestPath) {
      if (!path.contains("{")) {
        return path.equals(requestPath) ? Optional.of(List.of()) : Optional.empty();
      }
      Matcher matcher = pattern().matcher(requestPath);
      if (!matcher.matches()) {
        return Optional.empty();
      }
      var parameters = new java.util.ArrayList<String>();
      for (int group = 1; group <= matcher.groupCount(); group++) {
        parameters.add(matcher.group(group));
      }
      return Optional.of(List.copyOf(parameters));
    }

    private Pattern pattern() {
      var regex = new StringBuilder();
      Matcher parameter = PARAMETER.matcher(path);
      int last = 0;
      while (parameter.find()) {
        regex.append(Pattern.quote(path.substring(last, parameter.start()))).append("(.+)");
        last = parameter.end();
      }
      regex.append(Pattern.quote(path.substring(last)));
      return Pattern.compile(regex.toString());
    }

    @Override
    public String toString() {
      return method + " " + path;
    }
  }
}

package aigw.admin;

import aigw.admin.AdminRoutes.Access;
import aigw.admin.AdminRoutes.Resource;
import aigw.admin.AdminRoutes.Route;
import aigw.core.Gateway;
import aigw.core.audit.AuditLog;
import aigw.core.auth.Caller;
import aigw.core.errors.BadRequest;
import aigw.core.errors.MethodNotAllowed;
import aigw.core.errors.NotFound;
import aigw.core.errors.PayloadTooLarge;
import aigw.core.errors.PermissionDenied;
import aigw.core.http.GatewayRequest;
import aigw.core.http.GatewayResponse;
import aigw.core.json.Json;
import aigw.core.rotation.LoggedRotationEvents;
import aigw.core.rotation.VirtualKeyRotator;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The admin API's dispatcher: finds the route of {@link AdminRoutes} a request names, checks its
 * method, authenticates the master key (public routes excepted), reads a POST's JSON body, and
 * hands the request to the endpoints class that owns the route ({@link KeyEndpoints}, {@link
 * HealthEndpoints}, …). Errors are thrown as {@link aigw.core.errors.GatewayException}s; the
 * application ({@link aigw.core.http.GatewayApplication}) turns them into the error envelope.
 */
public final class AdminService {
  /** Largest admin request body, bytes (413 over it): an admin request is a few fields. The local server refuses a larger declared length unread. */
  public static final int MAX_ADMIN_BODY_BYTES = 64 * 1024;

  private final Gateway gateway;
  /** Each endpoints class, built once (the /spend and /global resources share SpendEndpoints). */
  private final Map<Class<?>, Object> endpoints = new HashMap<>();

  /** Without secret targets: keys rotate, but cannot name a secret to receive their new value. */
  public AdminService(Gateway gateway) {
    this(gateway, new VirtualKeyRotator(gateway.keyStore(), gateway.keyCache(), null, VirtualKeyRotator.DEFAULT_SECRET_PREFIX,
        new LoggedRotationEvents(), gateway.clock()));
  }

  public AdminService(Gateway gateway, VirtualKeyRotator rotator) {
    this(gateway, rotator, gateway.auditLog());
  }

  /** @param auditLog where admin actions are recorded (the gateway's, or a test's) */
  public AdminService(Gateway gateway, VirtualKeyRotator rotator, AuditLog auditLog) {
    this.gateway = gateway;
    var wiring = new AdminRoutes.Wiring(gateway, rotator, auditLog);
    for (Resource<?> resource : AdminRoutes.RESOURCES) {
      endpoints.computeIfAbsent(resource.owner(), owner -> resource.build().apply(wiring));
    }
  }

  public GatewayResponse handle(GatewayRequest request) {
    String path = request.path().replaceAll("/+$", "");
    Optional<Resource<?>> resource = AdminRoutes.resourceOf(path);
    if (resource.isPresent()) {
      for (Route<?> route : resource.get().routes()) {
        Optional<List<String>> parameters = route.match(path);
        if (parameters.isPresent()) {
          return answer(resource.get(), route, request, parameters.get());
        }
      }
    }
    throw new NotFound("Unknown route " + request.method() + " " + request.path() + ".", null);
  }

  private <E> GatewayResponse answer(Resource<E> resource, Route<?> route, GatewayRequest request, List<String> parameters) {
    if (!request.method().equals(route.method())) {
      throw new MethodNotAllowed(request.method(), request.path(), route.method());
    }
    String actor = null;
    if (route.access() == Access.MASTER_KEY) {
      requireMaster(request);
      actor = AdminRequest.MASTER_KEY;
    }
    ObjectNode body = route.method().equals("POST") ? jsonBody(request) : null;
    @SuppressWarnings("unchecked") // the route is one of this resource's
    Route<E> owned = (Route<E>) route;
    E owner = resource.owner().cast(endpoints.get(resource.owner()));
    return owned.answer().apply(owner, new AdminRequest(request, body, parameters, actor, now()));
  }

  private void requireMaster(GatewayRequest request) {
    Caller caller = gateway.authenticator().forAdminRoute(request, now());
    if (!(caller instanceof Caller.Master)) {
      throw new PermissionDenied("Admin-only endpoint. Not allowed to access this. Use the master key.");
    }
  }

  private static ObjectNode jsonBody(GatewayRequest request) {
    if (request.body().length > MAX_ADMIN_BODY_BYTES) {
      throw new PayloadTooLarge(request.body().length, MAX_ADMIN_BODY_BYTES);
    }
    if (request.body().length == 0) {
      throw new BadRequest("The request body is empty; send a JSON object.");
    }
    try {
      return Json.readObject(request.body());
    } catch (Json.NotAJsonObject e) {
      throw new BadRequest("Invalid JSON in the request body: " + e.getMessage());
    }
  }

  private Instant now() {
    return gateway.clock().instant();
  }
}

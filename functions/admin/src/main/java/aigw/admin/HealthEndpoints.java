package aigw.admin;

import aigw.admin.AdminRoutes.Access;
import aigw.admin.AdminRoutes.Route;
import aigw.core.Gateway;
import aigw.core.errors.ServiceUnavailable;
import aigw.core.http.GatewayResponse;
import aigw.core.secrets.SecretSource;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.logging.Logger;

/** LiteLLM's health checks, no key needed: for load balancers, uptime checks and deploy scripts. */
final class HealthEndpoints {
  static final List<Route<HealthEndpoints>> ROUTES =
      List.of(
          Route.get("/health/liveliness", Access.PUBLIC, (e, r) -> e.liveliness()),
          Route.get("/health/liveness", Access.PUBLIC, (e, r) -> e.liveliness()), // the spelling people expect
          Route.get("/health/readiness", Access.PUBLIC, (e, r) -> e.readiness()));

  private static final Logger LOG = Logger.getLogger(HealthEndpoints.class.getName());

  private final Gateway gateway;

  HealthEndpoints(AdminRoutes.Wiring wiring) {
    this.gateway = wiring.gateway();
  }

  // GET /health/liveliness: the function runs
  private GatewayResponse liveliness() {
    return GatewayResponse.json(200, "I'm alive!");
  }

  // GET /health/readiness: the keys table and the master key can be read; 503 when one cannot
  private GatewayResponse readiness() {
    var status = new LinkedHashMap<String, Object>();
    boolean healthy = true;
    try {
      gateway.keyStore().findByHash("0".repeat(64)); // one real GetItem on the keys table
      status.put("db", "connected");
    } catch (ServiceUnavailable e) {
      healthy = false;
      status.put("db", "unreachable");
      LOG.warning("Readiness: " + e.getMessage());
    }
    try {
      gateway.masterKey().check();
      status.put("master_key", "readable");
    } catch (SecretSource.SecretUnavailable e) {
      healthy = false;
      status.put("master_key", "unreadable");
      LOG.warning("Readiness: " + e.getMessage());
    }
    status.put("models", gateway.router().size());
    var response = new LinkedHashMap<String, Object>();
    response.put("status", healthy ? "healthy" : "unhealthy");
    response.putAll(status);
    return GatewayResponse.json(healthy ? 200 : 503, response);
  }
}

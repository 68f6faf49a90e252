package aigw.admin;

import aigw.core.Gateway;
import aigw.core.apigateway.ApiGatewayEvents;
import aigw.core.http.CorsPolicy;
import aigw.core.rotation.VirtualKeyRotator;
import aigw.core.snapstart.Priming;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import aigw.core.apigateway.ProxyRequestEvent;
import aigw.core.apigateway.ProxyResponseEvent;

/** Lambda entry point of the admin API: the routes of {@link AdminRoutes} (master key only, health excepted). */
public final class AdminHandler
    implements RequestHandler<ProxyRequestEvent, ProxyResponseEvent> {
  private final AdminService admin;
  private final CorsPolicy cors;

  public AdminHandler() { // Lambda runtime
    this(Gateway.fromEnvironment(System.getenv()));
  }

  private AdminHandler(Gateway gateway) {
    this(new AdminService(gateway, VirtualKeyRotator.fromEnvironment(gateway.keyStore(), gateway.keyCache(), gateway.clock(), System.getenv())),
        CorsPolicy.allowing(gateway.settings().corsAllowedOrigins()));
    Priming.register(gateway, admin::handle); // SnapStart: warm the request path before the snapshot
  }

  public AdminHandler(AdminService admin) { // tests: no CORS
    this(admin, CorsPolicy.DISABLED);
  }

  public AdminHandler(AdminService admin, CorsPolicy cors) { // tests and local/
    this.admin = admin;
    this.cors = cors;
  }

  @Override
  public ProxyResponseEvent handleRequest(ProxyRequestEvent event, Context context) {
    return ApiGatewayEvents.handle(event, cors, admin::handle);
  }
}

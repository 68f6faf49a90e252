package aigw.admin;

import aigw.core.Gateway;
import aigw.core.apigateway.ApiGatewayEvents;
import aigw.core.rotation.VirtualKeyRotator;
import aigw.core.snapstart.Priming;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.events.APIGatewayProxyRequestEvent;
import com.amazonaws.services.lambda.runtime.events.APIGatewayProxyResponseEvent;

/** Lambda entry point of the admin API: /key/*, /health/* (master key only, health excepted). */
public final class AdminHandler
    implements RequestHandler<APIGatewayProxyRequestEvent, APIGatewayProxyResponseEvent> {
  private final AdminService admin;

  public AdminHandler() { // Lambda runtime
    this(Gateway.fromEnvironment(System.getenv()));
  }

  private AdminHandler(Gateway gateway) {
    this(new AdminService(gateway, VirtualKeyRotator.fromEnvironment(gateway.keyStore(), gateway.keyCache(), gateway.clock(), System.getenv())));
    Priming.register(gateway, admin::handle); // SnapStart: warm the request path before the snapshot
  }

  public AdminHandler(AdminService admin) { // tests and local/
    this.admin = admin;
  }

  @Override
  public APIGatewayProxyResponseEvent handleRequest(APIGatewayProxyRequestEvent event, Context context) {
    return ApiGatewayEvents.handle(event, admin::handle);
  }
}

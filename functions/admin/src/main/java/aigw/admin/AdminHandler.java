package aigw.admin;

import aigw.core.Gateway;
import aigw.core.apigateway.ApiGatewayEvents;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.events.APIGatewayProxyRequestEvent;
import com.amazonaws.services.lambda.runtime.events.APIGatewayProxyResponseEvent;

/** Lambda entry point of the admin API: /key/*, /health/* (master key only, health excepted). */
public final class AdminHandler
    implements RequestHandler<APIGatewayProxyRequestEvent, APIGatewayProxyResponseEvent> {
  private final AdminService admin;

  public AdminHandler() { // Lambda runtime
    this(new AdminService(Gateway.fromEnvironment(System.getenv())));
  }

  public AdminHandler(AdminService admin) { // tests and local/
    this.admin = admin;
  }

  @Override
  public APIGatewayProxyResponseEvent handleRequest(APIGatewayProxyRequestEvent event, Context context) {
    return ApiGatewayEvents.handle(event, admin::handle);
  }
}

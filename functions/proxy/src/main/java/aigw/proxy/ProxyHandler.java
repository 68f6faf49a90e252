package aigw.proxy;

import aigw.core.Gateway;
import aigw.core.apigateway.ApiGatewayEvents;
import aigw.core.snapstart.Priming;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.events.APIGatewayProxyRequestEvent;
import com.amazonaws.services.lambda.runtime.events.APIGatewayProxyResponseEvent;

/** Lambda entry point of the OpenAI-compatible routes (API Gateway REST proxy integration). */
public final class ProxyHandler
    implements RequestHandler<APIGatewayProxyRequestEvent, APIGatewayProxyResponseEvent> {
  private final ProxyService proxy;

  public ProxyHandler() { // Lambda runtime: wiring from the environment, once per container
    this(Gateway.fromEnvironment(System.getenv(), true));
  }

  private ProxyHandler(Gateway gateway) {
    this(new ProxyService(gateway));
    Priming.register(gateway, proxy::handle); // SnapStart: warm the request path before the snapshot
  }

  public ProxyHandler(ProxyService proxy) { // tests and local/
    this.proxy = proxy;
  }

  @Override
  public APIGatewayProxyResponseEvent handleRequest(APIGatewayProxyRequestEvent event, Context context) {
    return ApiGatewayEvents.handle(event, proxy::handle);
  }
}

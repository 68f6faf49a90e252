package aigw.proxy;

import aigw.core.Gateway;
import aigw.core.apigateway.ApiGatewayEvents;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.events.APIGatewayProxyRequestEvent;
import com.amazonaws.services.lambda.runtime.events.APIGatewayProxyResponseEvent;

/** Lambda entry point of the OpenAI-compatible routes (API Gateway REST proxy integration). */
public final class ProxyHandler
    implements RequestHandler<APIGatewayProxyRequestEvent, APIGatewayProxyResponseEvent> {
  private final ProxyService proxy;

  public ProxyHandler() { // Lambda runtime: wiring from the environment, once per container
    this(new ProxyService(Gateway.fromEnvironment(System.getenv(), true)));
  }

  public ProxyHandler(ProxyService proxy) { // tests and local/
    this.proxy = proxy;
  }

  @Override
  public APIGatewayProxyResponseEvent handleRequest(APIGatewayProxyRequestEvent event, Context context) {
    return ApiGatewayEvents.handle(event, proxy::handle);
  }
}

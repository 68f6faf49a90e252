package aigw.proxy;

import aigw.core.Gateway;
import aigw.core.apigateway.ApiGatewayEvents;
import aigw.core.http.CorsPolicy;
import aigw.core.snapstart.Priming;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.events.APIGatewayProxyRequestEvent;
import com.amazonaws.services.lambda.runtime.events.APIGatewayProxyResponseEvent;

/** Lambda entry point of the OpenAI-compatible routes (API Gateway REST proxy integration). */
public final class ProxyHandler
    implements RequestHandler<APIGatewayProxyRequestEvent, APIGatewayProxyResponseEvent> {
  private final ProxyService proxy;
  private final CorsPolicy cors;

  public ProxyHandler() { // Lambda runtime: wiring from the environment, once per container
    this(Gateway.fromEnvironment(System.getenv(), true));
  }

  private ProxyHandler(Gateway gateway) {
    this(new ProxyService(gateway), CorsPolicy.allowing(gateway.settings().corsAllowedOrigins()));
    Priming.register(gateway, proxy::handle); // SnapStart: warm the request path before the snapshot
  }

  public ProxyHandler(ProxyService proxy) { // tests: no CORS
    this(proxy, CorsPolicy.DISABLED);
  }

  public ProxyHandler(ProxyService proxy, CorsPolicy cors) { // tests and local/
    this.proxy = proxy;
    this.cors = cors;
  }

  @Override
  public APIGatewayProxyResponseEvent handleRequest(APIGatewayProxyRequestEvent event, Context context) {
    return ApiGatewayEvents.handle(event, cors, proxy::handle);
  }
}

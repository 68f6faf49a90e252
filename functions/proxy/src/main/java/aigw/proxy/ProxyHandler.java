package aigw.proxy;

import aigw.core.Gateway;
import aigw.core.apigateway.ApiGatewayEvents;
import aigw.core.http.CorsPolicy;
import aigw.core.http.GatewayApplication;
import aigw.core.lambda.StreamingFunction;
import aigw.core.snapstart.Priming;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import aigw.core.apigateway.ProxyRequestEvent;
import aigw.core.apigateway.ProxyResponseEvent;

/**
 * Lambda entry point of the OpenAI-compatible routes.
 *
 * <p>On AWS it runs under {@code aigw.core.lambda.StreamingRuntime} (template.yaml's {@code
 * AWS_LAMBDA_EXEC_WRAPPER}), which answers API Gateway's {@code STREAM} integration from {@link
 * #application()}, streamed. {@link #handleRequest} is the buffered form of the same application,
 * for the runtime interface client (an integration in {@code BUFFERED} mode), tests and {@code
 * aigw-local.jar invoke}.
 */
public final class ProxyHandler
    implements RequestHandler<ProxyRequestEvent, ProxyResponseEvent>, StreamingFunction {
  private final GatewayApplication application;
  /** Holds what the answers handed over (usage): written after each response, inside the invocation. */
  private final Gateway gateway;
  private final ProxyService proxy;

  public ProxyHandler() { // Lambda: wiring from the environment, once per execution environment
    this(Gateway.fromEnvironment(System.getenv(), true));
  }

  private ProxyHandler(Gateway gateway) {
    this(new ProxyService(gateway), CorsPolicy.allowing(gateway.settings().corsAllowedOrigins()));
    // SnapStart: warm the request path before the snapshot, the streamed one included
    Priming.register(gateway, application::handle, () -> StreamPriming.prime(proxy));
  }

  public ProxyHandler(ProxyService proxy) { // tests: no CORS
    this(proxy, CorsPolicy.DISABLED);
  }

  public ProxyHandler(ProxyService proxy, CorsPolicy cors) { // tests and local/
    this.application = GatewayApplication.of(cors, proxy::handle);
    this.gateway = proxy.gateway();
    this.proxy = proxy;
  }

  @Override
  public GatewayApplication application() {
    return application;
  }

  /** Under {@code StreamingRuntime}: after the response's last byte, before the next invocation. */
  @Override
  public void afterResponse() {
    gateway.flushWrites();
  }

  /**
   * The buffered form: the runtime interface client sends the answer only once this returns, and
   * asks for the next invocation right after, with no hook in between; so here the usage is written
   * before returning, on the client's path (as before write-behind). Only the streaming runtime
   * takes the write off it.
   */
  @Override
  public ProxyResponseEvent handleRequest(ProxyRequestEvent event, Context context) {
    try {
      return ApiGatewayEvents.handle(event, application);
    } finally {
      gateway.flushWrites();
    }
  }
}

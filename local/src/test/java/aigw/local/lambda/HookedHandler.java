package aigw.local.lambda;

import aigw.core.http.CorsPolicy;
import aigw.core.http.GatewayApplication;
import aigw.core.http.GatewayResponse;
import aigw.core.lambda.StreamingFunction;
import java.util.Map;
import org.crac.Context;
import org.crac.Core;
import org.crac.Resource;

/**
 * A function for the streaming runtime whose CRaC hooks fail on demand (environment variable
 * {@code FAIL_HOOK}: {@code before} or {@code after}), as a SnapStart hook of a real function can.
 */
public final class HookedHandler implements StreamingFunction, Resource {
  public HookedHandler() {
    Core.getGlobalContext().register(this);
  }

  @Override
  public GatewayApplication application() {
    return GatewayApplication.of(CorsPolicy.DISABLED, request -> GatewayResponse.json(200, Map.of("hooked", true)));
  }

  @Override
  public void beforeCheckpoint(Context<? extends Resource> context) {
    if ("before".equals(System.getenv("FAIL_HOOK"))) {
      throw new IllegalStateException("refused before the snapshot");
    }
  }

  @Override
  public void afterRestore(Context<? extends Resource> context) {
    if ("after".equals(System.getenv("FAIL_HOOK"))) {
      throw new IllegalStateException("refused after the restore");
    }
  }
}

package aigw.core.lambda;

import aigw.core.http.GatewayApplication;

/**
 * A Lambda handler class that {@link StreamingRuntime} can run: its public no-argument constructor
 * wires the function (once per execution environment, during init, before a SnapStart snapshot)
 * and {@link #application} is what every invocation is answered by.
 */
public interface StreamingFunction {
  /** The HTTP application that answers this function's API Gateway events. */
  GatewayApplication application();
}

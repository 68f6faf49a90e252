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

  /**
   * Work that belongs to the invocation but not to its answer (writing the usage the answer handed
   * over): {@link StreamingRuntime} calls it after the response has been sent to the Runtime API
   * and before it asks for the next invocation, so it runs while the invocation is still billed
   * and is never frozen half done. Must not throw; nothing by default.
   */
  default void afterResponse() {}
}

package aigw.core.lambda.crac;

/**
 * What {@code org.crac}'s compatibility layer registers (a proxy of the application's {@code
 * org.crac.Resource}); same shape as {@code javax.crac.Resource}. See {@link Core}.
 */
public interface Resource {
  void beforeCheckpoint(Context<? extends Resource> context) throws Exception;

  void afterRestore(Context<? extends Resource> context) throws Exception;
}

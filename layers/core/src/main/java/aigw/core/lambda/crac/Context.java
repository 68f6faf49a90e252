package aigw.core.lambda.crac;

/** A group of resources notified together; same shape as {@code javax.crac.Context}. See {@link Core}. */
public abstract class Context<R extends Resource> implements Resource {
  protected Context() {}

  public abstract void register(R resource);
}

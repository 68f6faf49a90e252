package aigw.core.http;

import aigw.core.config.Deployment;

/**
 * Thrown on the thread of a request whose client closed its connection ({@link ClientDeparture})
 * while a provider call was being made for it: the call was cancelled (its connection closed) or
 * not started. Not a {@link aigw.core.errors.GatewayException}: nobody is left to read an answer,
 * and nothing may retry or fall back on it. The call is accounted with {@link #STATUS}, as a
 * stream the client leaves midway is.
 */
public final class ClientClosedRequest extends RuntimeException {
  /** nginx's status for a request whose client closed the connection before the answer (no HTTP status says it); the spend log's. */
  public static final int STATUS = 499;

  private final boolean sent;
  private final transient Deployment deployment;

  /**
   * @param sent whether the request had left for the provider (which may then have run, and bill, it)
   * @param deployment the deployment called; null when not known (yet)
   */
  public ClientClosedRequest(boolean sent, Deployment deployment) {
    super("The client closed its connection before the provider answered; the provider call was "
        + (sent ? "cancelled." : "not made."), null, false, false);
    this.sent = sent;
    this.deployment = deployment;
  }

  /** Whether the request had left for the provider. */
  public boolean sent() {
    return sent;
  }

  /** The deployment called; null when not known. */
  public Deployment deployment() {
    return deployment;
  }

  /** This departure, naming the deployment that was called. */
  public ClientClosedRequest calling(Deployment called) {
    return deployment != null ? this : new ClientClosedRequest(sent, called);
  }
}

package aigw.core.providers.http;

import aigw.core.config.Deployment;
import aigw.core.errors.UpstreamFailed;

/** Error rules every provider shares, for translators to use. */
public final class UpstreamErrors {
  private UpstreamErrors() {}

  /**
   * A provider's 401/403: it refused the gateway's own credential, not the client's key, so the
   * client gets a 502 {@code upstream_auth_error} and the provider's words stay out of it (they are
   * for the operator).
   */
  public static UpstreamFailed credentialRefused(Deployment deployment, int status) {
    return new UpstreamFailed(
        502,
        "The provider of '" + deployment.modelName() + "' refused the gateway's credentials (HTTP " + status
            + "). The operator must check the provider key configured for it.",
        UpstreamFailed.CREDENTIAL_REFUSED,
        null,
        null,
        null);
  }

  public static boolean refusesCredential(int status) {
    return status == 401 || status == 403;
  }
}

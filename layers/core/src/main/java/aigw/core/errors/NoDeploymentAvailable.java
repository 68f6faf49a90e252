package aigw.core.errors;

import java.time.Duration;

/**
 * Thrown when every deployment of a model group is cooling down after repeated failures and no
 * fallback group answered (HTTP 429 with {@code Retry-After}): LiteLLM's {@code RouterRateLimitError},
 * with its message ("No deployments available for selected model, Try again in N seconds. Passed
 * model=…"), which LiteLLM's proxy answers with 429 ({@code litellm/types/router.py}, {@code
 * ProxyException}).
 */
public final class NoDeploymentAvailable extends GatewayException {
  private final long retryAfterSeconds;

  /** @param wait until the first of the group's deployments is tried again; rounded up to whole seconds */
  public NoDeploymentAvailable(String model, Duration wait) {
    this(model, Math.max(1, (wait.toMillis() + 999) / 1000));
  }

  private NoDeploymentAvailable(String model, long seconds) {
    super(
        "No deployments available for selected model, Try again in " + seconds + " seconds. Passed model=" + model
            + ". Its deployments failed repeatedly and are skipped for router_settings.cooldown_time.",
        "model");
    this.retryAfterSeconds = seconds;
  }

  /** Whole seconds until a deployment of the group is tried again, for the {@code Retry-After} header. */
  public long retryAfterSeconds() {
    return retryAfterSeconds;
  }
}

package aigw.core.secrets;

import java.util.Map;
import java.util.logging.Logger;

/**
 * The local master key: {@code AIGW_MASTER_KEY}, else {@code sk-development-only} with a WARNING,
 * as LiteLLM-based gateways do. Never used on AWS, where the key lives only in Secrets Manager.
 */
public final class StaticSecretSource implements SecretSource {
  public static final String DEVELOPMENT_KEY = "sk-development-only";
  private static final Logger LOG = Logger.getLogger(StaticSecretSource.class.getName());

  private final String value;
  private final String origin;

  private StaticSecretSource(String value, String origin) {
    this.value = value;
    this.origin = origin;
  }

  public static StaticSecretSource of(String value) {
    return new StaticSecretSource(value, "a fixed value");
  }

  /** Reads AIGW_MASTER_KEY, else falls back to the development key and says so loudly. */
  public static StaticSecretSource fromEnvironment(Map<String, String> env) {
    String configured = env.get("AIGW_MASTER_KEY");
    if (configured != null && !configured.isBlank()) {
      return new StaticSecretSource(configured.trim(), "AIGW_MASTER_KEY");
    }
    LOG.warning(
        "AIGW_MASTER_KEY is not set; using the default master key '"
            + DEVELOPMENT_KEY
            + "'. Anyone who can reach this gateway can administer it. For development only: set"
            + " AIGW_MASTER_KEY to a random value (openssl rand -hex 32) anywhere else.");
    return new StaticSecretSource(DEVELOPMENT_KEY, "the development default");
  }

  public boolean isDevelopmentDefault() {
    return DEVELOPMENT_KEY.equals(value);
  }

  @Override
  public String read() {
    return value;
  }

  @Override
  public String describe() {
    return origin;
  }
}

package aigw.core.secrets;

import aigw.core.config.Deployment;
import aigw.core.config.InvalidConfig;
import aigw.core.config.ModelList;
import aigw.core.errors.ServiceUnavailable;
import aigw.core.json.Json;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.logging.Logger;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.secretsmanager.SecretsManagerClient;

/**
 * The provider credentials a deployment's {@code api_key: os.environ/NAME} names, as of now.
 *
 * <p>Locally (and in tests) the names come from the process environment, which cannot change, so a
 * deployment keeps the credential the model list was read with ({@link #environmentOnly()}).
 *
 * <p>On AWS no provider key may sit in a function's environment: the names come from one Secrets
 * Manager secret holding a JSON object of named keys, e.g. {@code {"OPENAI_API_KEY": "sk-...",
 * "AZURE_API_KEY": "..."}}, overlaid by the environment ({@link #overSecret}). That secret is read
 * again like the master key ({@link MasterKey}), because with SnapStart the value read at init
 * lives in the snapshot that every execution environment is restored from (the template creates
 * the secret as {@code {}}, and the operator fills it after the first deploy):
 *
 * <ul>
 *   <li>after {@code ttl} (AIGW_PROVIDER_SECRET_TTL_SECONDS, default 300 s), at the next call;
 *   <li>at once, at most once per {@code recheckInterval} (AIGW_PROVIDER_SECRET_RECHECK_SECONDS,
 *       default 5 s), when a deployment's name is missing from it, or when a provider refused the
 *       credential it holds (HTTP 401/403, see {@link #renewedAfterRefusal});
 *   <li>at the first call after a SnapStart restore ({@link #expire}).
 * </ul>
 *
 * A read that fails keeps the values read before (a Secrets Manager outage must not take every
 * model down) and is not retried before the recheck interval has passed, for at most {@link
 * SecretSource#MAX_STALENESS} (1 h) after the last successful read: after that a deployment whose
 * credential comes from the secret gets 503 until a read succeeds. Values are never logged.
 */
public final class ProviderCredentials {
  private static final Logger LOG = Logger.getLogger(ProviderCredentials.class.getName());
  private static final String ENV_PREFIX = "os.environ/";
  static final Duration DEFAULT_TTL = Duration.ofMinutes(5);
  static final Duration DEFAULT_RECHECK = Duration.ofSeconds(5);

  private static final ProviderCredentials ENVIRONMENT_ONLY = new ProviderCredentials(Map.of(), null, null, Clock.systemUTC(), Duration.ZERO, Duration.ZERO);

  private final Map<String, String> env;
  private final SecretsManagerClient secrets;
  private final String secretId;
  private final Clock clock;
  private final long ttlMillis;
  private final long recheckMillis;

  /**
   * The secret's named keys, when they were read (or last tried), and when a read last succeeded
   * (or, before any success, first failed); replaced as a whole.
   */
  private record Cached(Map<String, String> names, long readAtMillis, long confirmedAtMillis) {}

  private volatile Cached cached;

  private ProviderCredentials(
      Map<String, String> env, SecretsManagerClient secrets, String secretId, Clock clock, Duration ttl, Duration recheckInterval) {
    this.env = Map.copyOf(env);
    this.secrets = secrets;
    this.secretId = secretId;
    this.clock = clock;
    this.ttlMillis = ttl.toMillis();
    this.recheckMillis = recheckInterval.toMillis();
  }

  /** Deployments keep the credential the model list was read with: the process environment's. */
  public static ProviderCredentials environmentOnly() {
    return ENVIRONMENT_ONLY;
  }

  /**
   * Names from {@code env} first, then from the secret {@code secretId}.
   *
   * @param ttl how long a read of the secret is trusted
   * @param recheckInterval least time between two reads of the secret
   */
  public static ProviderCredentials overSecret(
      Map<String, String> env, SecretsManagerClient secrets, String secretId, Clock clock, Duration ttl, Duration recheckInterval) {
    return new ProviderCredentials(env, Objects.requireNonNull(secrets), Objects.requireNonNull(secretId), clock, ttl, recheckInterval);
  }

  /** {@link #overSecret} with the TTL and recheck interval from AIGW_PROVIDER_SECRET_TTL_SECONDS and _RECHECK_SECONDS. */
  public static ProviderCredentials overSecret(Map<String, String> env, SecretsManagerClient secrets, String secretId, Clock clock) {
    return overSecret(
        env, secrets, secretId, clock,
        seconds(env, "AIGW_PROVIDER_SECRET_TTL_SECONDS", DEFAULT_TTL),
        seconds(env, "AIGW_PROVIDER_SECRET_RECHECK_SECONDS", DEFAULT_RECHECK));
  }

  /**
   * The names the model list can resolve at init: the secret's fields overlaid by the environment.
   * A secret that cannot be read or parsed is logged (never its content) and contributes nothing,
   * so the deployments that need it answer 503 naming the missing credential, and are read again
   * at their next call, instead of the function failing to start.
   */
  public Map<String, String> names() {
    var names = new HashMap<String, String>();
    if (secrets != null) {
      names.putAll(fresh(clock.millis(), false).names());
    }
    names.putAll(env);
    return names;
  }

  /**
   * The deployment with the credential, base URL and API version its {@code os.environ/NAME} references hold
   * now; a deployment with literal values, no key, or names set in the environment is returned as
   * it is. A name missing from the secret is looked up again at once (at most every recheck
   * interval): the operator may have just added it (the first deploy creates the secret empty).
   *
   * @throws ServiceUnavailable when the secret's {@code api_base} value is not an http(s) URL
   */
  public Deployment current(Deployment deployment) {
    Deployment current = deployment;
    String keyName = secretName(deployment.apiKeySource());
    if (keyName != null) {
      String value = lookUp(keyName);
      if (!Objects.equals(value, deployment.apiKey())) {
        current = current.withApiKey(value);
      }
    }
    String baseName = secretName(deployment.apiBaseSource());
    if (baseName != null) {
      String value = lookUp(baseName);
      if (value != null) {
        try {
          URI base = ModelList.apiBase(deployment.provider(), value.trim(), baseName + " in " + secretId);
          if (!base.equals(deployment.apiBase())) {
            current = current.withApiBase(base);
          }
        } catch (InvalidConfig e) {
          throw new ServiceUnavailable("The gateway's api_base for model '" + deployment.modelName() + "' is not usable: "
              + e.getMessage() + ". The operator must correct it.", null);
        }
      }
    }
    String versionName = secretName(deployment.apiVersionSource());
    if (versionName != null) {
      String value = lookUp(versionName);
      try {
        String version = ModelList.apiVersion(deployment.provider(), value, versionName + " in " + secretId);
        if (!Objects.equals(version, deployment.apiVersion())) {
          current = current.withApiVersion(version);
        }
      } catch (InvalidConfig e) {
        throw new ServiceUnavailable("The gateway's api_version for model '" + deployment.modelName() + "' is not usable: "
            + e.getMessage() + ". The operator must correct it.", null);
      }
    }
    return current;
  }

  private String lookUp(String name) {
    long now = clock.millis();
    Cached seen = fresh(now, false);
    if (now - seen.confirmedAtMillis() >= SecretSource.MAX_STALENESS.toMillis()) {
      seen = fresh(now, true); // one more try, at most once per recheck interval
      if (now - seen.confirmedAtMillis() >= SecretSource.MAX_STALENESS.toMillis()) {
        throw new ServiceUnavailable(
            "The provider credentials in " + secretId + " could not be read since " + java.time.Instant.ofEpochMilli(seen.confirmedAtMillis())
                + ", longer than the " + SecretSource.MAX_STALENESS.toMinutes() + " min the gateway uses a credential it cannot confirm; "
                + name + " is not used until Secrets Manager answers again.",
            null);
      }
    }
    String value = seen.names().get(name);
    return value != null ? value : fresh(now, true).names().get(name);
  }

  /**
   * After a provider refused {@code refused}'s credential (HTTP 401/403): reads the secret again,
   * unless it was read within the recheck interval, and returns the deployment with its new
   * credential if it changed; empty when there is nothing new to try.
   */
  public Optional<Deployment> renewedAfterRefusal(Deployment refused) {
    String name = secretName(refused.apiKeySource());
    if (name == null) {
      return Optional.empty();
    }
    String value = fresh(clock.millis(), true).names().get(name);
    if (value == null || value.equals(refused.apiKey())) {
      return Optional.empty();
    }
    LOG.info("The provider credential " + name + " in " + secretId + " changed since it was read; trying the new one.");
    return Optional.of(refused.withApiKey(value));
  }

  /**
   * Makes the next use read the secret again. Called after a SnapStart restore: what was read at
   * init may be days old, and the execution environment is a new one.
   */
  public void expire() {
    Cached seen = cached;
    if (seen != null) {
      cached = new Cached(seen.names(), Long.MIN_VALUE / 2, seen.confirmedAtMillis());
    }
  }

  /** The name an {@code os.environ/NAME} source is read under from the secret; null when the secret plays no part. */
  private String secretName(String source) {
    if (secrets == null || source == null || !source.startsWith(ENV_PREFIX)) {
      return null;
    }
    String name = source.substring(ENV_PREFIX.length());
    String fromEnv = env.get(name);
    return fromEnv != null && !fromEnv.isBlank() ? null : name; // the environment wins, and it cannot change
  }

  /**
   * The cached names, read again when the TTL has passed, or when {@code recheck} is asked and the
   * last read (or failed read) is older than the recheck interval.
   */
  private Cached fresh(long now, boolean recheck) {
    Cached seen = cached;
    if (seen != null && now - seen.readAtMillis() < (recheck ? recheckMillis : ttlMillis)) {
      return seen;
    }
    synchronized (this) {
      seen = cached;
      if (seen != null && now - seen.readAtMillis() < (recheck ? recheckMillis : ttlMillis)) {
        return seen; // another thread read it meanwhile
      }
      Cached read;
      try {
        read = new Cached(Map.copyOf(parse(secrets.getSecretValue(r -> r.secretId(secretId)).secretString(), secretId)), now, now);
        if (seen != null && !seen.names().equals(read.names())) {
          LOG.info("The provider credentials in " + secretId + " changed; using the new values for " + changedNames(seen.names(), read.names()) + ".");
        }
      } catch (SdkException | SecretSource.SecretUnavailable e) {
        LOG.warning("Cannot read provider credentials from " + secretId + " (" + e.getMessage() + ")"
            + (seen == null ? "" : "; keeping the values read before") + ".");
        // Not retried before the recheck interval; kept at most MAX_STALENESS after the last success.
        read = seen == null ? new Cached(Map.of(), now, now) : new Cached(seen.names(), now, seen.confirmedAtMillis());
      }
      cached = read;
      return read;
    }
  }

  private static String changedNames(Map<String, String> before, Map<String, String> after) {
    var names = new java.util.TreeSet<String>();
    before.forEach((name, value) -> {
      if (!value.equals(after.get(name))) {
        names.add(name);
      }
    });
    after.keySet().stream().filter(name -> !before.containsKey(name)).forEach(names::add);
    return String.join(", ", names);
  }

  static Map<String, String> parse(String secretString, String secretId) {
    if (secretString == null || secretString.isBlank()) {
      return Map.of();
    }
    JsonNode root;
    try {
      root = Json.MAPPER.readTree(secretString);
    } catch (IOException e) {
      throw new SecretSource.SecretUnavailable("secret " + secretId + " is not a JSON object of named keys", null);
    }
    if (root == null || !root.isObject()) {
      throw new SecretSource.SecretUnavailable("secret " + secretId + " is not a JSON object of named keys", null);
    }
    var names = new HashMap<String, String>();
    root.fields().forEachRemaining(field -> {
      if (field.getValue().isTextual() && !field.getValue().asText().isBlank()) {
        names.put(field.getKey(), field.getValue().asText().trim());
      } else {
        LOG.warning("Provider credential " + field.getKey() + " in " + secretId + " is not a non-empty string; ignored");
      }
    });
    return names;
  }

  private static Duration seconds(Map<String, String> env, String name, Duration fallback) {
    String value = env.get(name);
    if (value == null || value.isBlank()) {
      return fallback;
    }
    try {
      double seconds = Double.parseDouble(value.trim());
      if (seconds < 0 || Double.isNaN(seconds) || Double.isInfinite(seconds)) {
        throw new NumberFormatException();
      }
      return Duration.ofMillis(Math.round(seconds * 1000));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " must be a non-negative number, got '" + value + "'");
    }
  }
}

package aigw.core;

import java.time.Duration;
import java.util.Map;

/**
 * Every setting the functions read, from the environment, once per container. Each has a documented
 * default (docs/configuration.md).
 *
 * @param keysTable DynamoDB table of virtual keys (AIGW_KEYS_TABLE)
 * @param masterKeySecretId Secrets Manager name or ARN of the master key (AIGW_MASTER_KEY_SECRET_ID);
 *     null means the local master key (AIGW_MASTER_KEY or the development default)
 * @param configFile path of the model list YAML (AIGW_CONFIG); null for none
 * @param keyCacheTtl how long a container trusts a key it has read (AIGW_KEY_CACHE_TTL_SECONDS)
 * @param masterKeyTtl how long the master key is cached (AIGW_MASTER_KEY_TTL_SECONDS)
 * @param masterKeyRecheck least time between re-reads of the master key on a mismatch
 *     (AIGW_MASTER_KEY_RECHECK_SECONDS)
 * @param masterKeyGrace how long after a rotation the previous master key still works
 *     (AIGW_MASTER_KEY_GRACE_SECONDS); zero: not at all
 * @param allowMasterKeyForModels whether the master key may call models (AIGW_ALLOW_MASTER_KEY_FOR_MODELS)
 * @param maxRequestBytes larger bodies get 413 (AIGW_MAX_REQUEST_BYTES)
 * @param corsAllowedOrigins origins whose pages may call the gateway from a browser
 *     (AIGW_CORS_ALLOWED_ORIGINS, comma-separated, or {@code *}); empty, the default: CORS off.
 *     See {@link aigw.core.http.CorsPolicy}.
 * @param allowedRoutingFields the body fields by which a provider picks another model, route or price
 *     tier that the operator allows, per provider (AIGW_ALLOWED_ROUTING_FIELDS); none by default.
 *     See {@link aigw.core.config.RoutingFields}.
 * @param logs the spend and audit logs table and how long records are kept
 */
public record GatewaySettings(
    String keysTable,
    String masterKeySecretId,
    String configFile,
    Duration keyCacheTtl,
    Duration masterKeyTtl,
    Duration masterKeyRecheck,
    Duration masterKeyGrace,
    boolean allowMasterKeyForModels,
    long maxRequestBytes,
    java.util.List<String> corsAllowedOrigins,
    aigw.core.config.RoutingFields allowedRoutingFields,
    Logs logs) {

  /**
   * @param table DynamoDB table of the spend logs and the audit log (AIGW_LOGS_TABLE)
   * @param retention how long a record is kept before DynamoDB's TTL removes it
   *     (AIGW_LOG_RETENTION_DAYS, whole days, default 30)
   */
  public record Logs(String table, Duration retention) {
    public static final String DEFAULT_TABLE = "aigw-logs";
    public static final int DEFAULT_RETENTION_DAYS = 30;

    static Logs fromEnvironment(Map<String, String> env) {
      String table = blankToNull(env.get("AIGW_LOGS_TABLE"));
      String days = blankToNull(env.get("AIGW_LOG_RETENTION_DAYS"));
      int retention = DEFAULT_RETENTION_DAYS;
      if (days != null) {
        try {
          retention = Integer.parseInt(days);
        } catch (NumberFormatException e) {
          retention = 0;
        }
        if (retention < 1) {
          throw new IllegalArgumentException("AIGW_LOG_RETENTION_DAYS must be a whole number of days from 1 up, got '" + days + "'");
        }
      }
      return new Logs(table == null ? DEFAULT_TABLE : table, Duration.ofDays(retention));
    }
  }

  public static final String DEFAULT_KEYS_TABLE = "aigw-keys";
  /** Lambda takes at most 6 MB of synchronous payload, and the event wraps the body. */
  public static final long DEFAULT_MAX_REQUEST_BYTES = 5L * 1024 * 1024;

  public static GatewaySettings fromEnvironment(Map<String, String> env) {
    return new GatewaySettings(
        blankToNull(env.get("AIGW_KEYS_TABLE")) == null ? DEFAULT_KEYS_TABLE : env.get("AIGW_KEYS_TABLE").trim(),
        blankToNull(env.get("AIGW_MASTER_KEY_SECRET_ID")),
        blankToNull(env.get("AIGW_CONFIG")),
        seconds(env, "AIGW_KEY_CACHE_TTL_SECONDS", 5),
        seconds(env, "AIGW_MASTER_KEY_TTL_SECONDS", 300),
        seconds(env, "AIGW_MASTER_KEY_RECHECK_SECONDS", 5),
        seconds(env, "AIGW_MASTER_KEY_GRACE_SECONDS", 3600),
        Boolean.parseBoolean(env.getOrDefault("AIGW_ALLOW_MASTER_KEY_FOR_MODELS", "false")),
        number(env, "AIGW_MAX_REQUEST_BYTES", DEFAULT_MAX_REQUEST_BYTES),
        aigw.core.http.CorsPolicy.parseOrigins(env.get("AIGW_CORS_ALLOWED_ORIGINS"), "AIGW_CORS_ALLOWED_ORIGINS"),
        aigw.core.config.RoutingFields.parse(env.get(aigw.core.config.RoutingFields.ENV)),
        Logs.fromEnvironment(env));
  }

  public GatewaySettings withKeysTable(String table) {
    return new GatewaySettings(
        table, masterKeySecretId, configFile, keyCacheTtl, masterKeyTtl, masterKeyRecheck, masterKeyGrace, allowMasterKeyForModels, maxRequestBytes, corsAllowedOrigins, allowedRoutingFields, logs);
  }

  public GatewaySettings withAllowMasterKeyForModels(boolean allow) {
    return new GatewaySettings(
        keysTable, masterKeySecretId, configFile, keyCacheTtl, masterKeyTtl, masterKeyRecheck, masterKeyGrace, allow, maxRequestBytes, corsAllowedOrigins, allowedRoutingFields, logs);
  }

  public GatewaySettings withAllowedRoutingFields(aigw.core.config.RoutingFields allowed) {
    return new GatewaySettings(
        keysTable, masterKeySecretId, configFile, keyCacheTtl, masterKeyTtl, masterKeyRecheck, masterKeyGrace, allowMasterKeyForModels, maxRequestBytes, corsAllowedOrigins, allowed, logs);
  }

  public GatewaySettings withLogsTable(String table) {
    return new GatewaySettings(
        keysTable, masterKeySecretId, configFile, keyCacheTtl, masterKeyTtl, masterKeyRecheck, masterKeyGrace, allowMasterKeyForModels, maxRequestBytes, corsAllowedOrigins, allowedRoutingFields, new Logs(table, logs.retention()));
  }

  private static Duration seconds(Map<String, String> env, String name, long fallback) {
    return Duration.ofMillis(Math.round(decimal(env, name, fallback) * 1000));
  }

  private static double decimal(Map<String, String> env, String name, double fallback) {
    String value = env.get(name);
    if (value == null || value.isBlank()) {
      return fallback;
    }
    try {
      double parsed = Double.parseDouble(value.trim());
      if (parsed < 0) {
        throw new NumberFormatException();
      }
      return parsed;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " must be a non-negative number, got '" + value + "'");
    }
  }

  private static long number(Map<String, String> env, String name, long fallback) {
    return (long) decimal(env, name, fallback);
  }

  private static String blankToNull(String value) {
    return value == null || value.isBlank() ? null : value.trim();
  }
}

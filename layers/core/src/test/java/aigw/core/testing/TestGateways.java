package aigw.core.testing;

import aigw.core.Gateway;
import aigw.core.GatewaySettings;
import aigw.core.config.Deployment;
import aigw.core.config.Provider;
import aigw.core.keys.ApiKeys;
import aigw.core.keys.VirtualKey;
import aigw.core.secrets.StaticSecretSource;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** Gateways over DynamoDB Local, with a test master key and providers at loopback URLs. */
public final class TestGateways {
  /** Obviously not a real key: used only against in-memory databases. */
  public static final String MASTER_KEY = "sk-test-master-key-for-unit-tests-only";

  private TestGateways() {}

  public static GatewaySettings settings(LocalDynamo dynamo) {
    return GatewaySettings.fromEnvironment(Map.of("AIGW_KEYS_TABLE", dynamo.keysTable(), "AIGW_LOGS_TABLE", dynamo.logsTable()));
  }

  public static Gateway gateway(LocalDynamo dynamo, List<Deployment> models, Clock clock) {
    return gateway(settings(dynamo), dynamo, models, clock);
  }

  public static Gateway gateway(GatewaySettings settings, LocalDynamo dynamo, List<Deployment> models, Clock clock) {
    return Gateway.over(settings, dynamo.client(), StaticSecretSource.of(MASTER_KEY), models, clock);
  }

  /** An OpenAI-compatible deployment at {@code baseUrl} (e.g. a WireMock server). */
  public static Deployment openAi(String modelName, String upstreamModel, String baseUrl) {
    return new Deployment(
        modelName, Provider.OPENAI, upstreamModel, URI.create(baseUrl), "sk-upstream-test-credential", "test", Duration.ofSeconds(5));
  }

  /** Stores a key with the given plaintext and returns it as stored. */
  public static VirtualKey storeKey(Gateway gateway, String key, List<String> models, Instant expiresAt, boolean blocked) {
    return storeKey(gateway, key, models, expiresAt, blocked, aigw.core.limits.Limits.NONE);
  }

  /** As above, with limits (rpm/tpm, max_parallel_requests, budget). */
  public static VirtualKey storeKey(
      Gateway gateway, String key, List<String> models, Instant expiresAt, boolean blocked, aigw.core.limits.Limits limits) {
    return storeKey(gateway, key, models, expiresAt, blocked, limits, null);
  }

  /** As above, in team {@code teamId} (null: none). */
  public static VirtualKey storeKey(
      Gateway gateway, String key, List<String> models, Instant expiresAt, boolean blocked, aigw.core.limits.Limits limits, String teamId) {
    Instant now = gateway.clock().instant();
    var virtualKey =
        new VirtualKey(
            ApiKeys.hash(key),
            UUID.randomUUID().toString(),
            ApiKeys.mask(key),
            null,
            models,
            teamId,
            null,
            Map.of(),
            now,
            now,
            expiresAt,
            blocked,
            null,
            null,
            null,
            limits);
    gateway.keyStore().create(virtualKey);
    return virtualKey;
  }
}

package aigw.core.snapstart;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.Gateway;
import aigw.core.config.Deployment;
import aigw.core.config.Provider;
import aigw.core.http.GatewayResponse;
import aigw.core.providers.Providers;
import aigw.core.providers.openai.OpenAiCompatibleProvider;
import aigw.core.secrets.InMemorySecretsManager;
import aigw.core.secrets.ProviderCredentials;
import aigw.core.secrets.SecretSource;
import aigw.core.testing.LocalDynamo;
import aigw.core.testing.MutableClock;
import aigw.core.testing.TestGateways;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** What a SnapStart restore renews: the secrets read at init are read again at their next use. */
class PrimingTest {
  private final LocalDynamo dynamo = new LocalDynamo();
  private final MutableClock clock = MutableClock.at("2026-05-01T12:00:00Z");

  @AfterEach
  void close() {
    dynamo.close();
  }

  /** A master key secret the test changes, counting reads. */
  private static final class MasterKeySecret implements SecretSource {
    volatile String value = "sk-master-key-in-the-snapshot";
    final AtomicInteger reads = new AtomicInteger();

    @Override
    public String read() {
      reads.incrementAndGet();
      return value;
    }

    @Override
    public String describe() {
      return "test secret";
    }
  }

  @Test
  void afterARestoreTheMasterKeyAndTheProviderCredentialsAreReadAgainAtTheirNextUse() {
    var masterKey = new MasterKeySecret();
    var secrets = new InMemorySecretsManager(clock);
    secrets.createSecret(r -> r.name("providers").secretString("{}"));
    var credentials = ProviderCredentials.overSecret(Map.of(), secrets, "providers", clock, Duration.ofMinutes(5), Duration.ofSeconds(5));
    var deployment = new Deployment("m", Provider.OPENAI, "m", URI.create("https://api.openai.com/v1"),
        credentials.names().get("OPENAI_API_KEY"), "os.environ/OPENAI_API_KEY", Duration.ofSeconds(30));
    var gateway = Gateway.over(TestGateways.settings(dynamo), dynamo.client(), masterKey,
        List.of(deployment), new Providers(OpenAiCompatibleProvider.defaultHttpClient(), credentials), clock);
    gateway.masterKey().load();
    var priming = Priming.register(gateway, request -> GatewayResponse.json(200, Map.of()));

    // Changed while the snapshot waited; the restore comes back at the very instant of the snapshot,
    // within every TTL and recheck interval: only the restore hook makes them be read again.
    masterKey.value = "sk-master-key-rotated-since";
    secrets.putSecretValue(r -> r.secretId("providers").secretString("{\"OPENAI_API_KEY\":\"sk-put-after-the-snapshot\"}"));
    assertThat(gateway.masterKey().matches("sk-master-key-rotated-since")).isFalse();
    assertThat(gateway.masterKey().matches("sk-master-key-in-the-snapshot")).isTrue();
    int masterKeyReads = masterKey.reads.get();

    priming.afterRestore(null);

    assertThat(gateway.masterKey().matches("sk-master-key-rotated-since")).isTrue();
    assertThat(masterKey.reads.get()).isEqualTo(masterKeyReads + 1);
    assertThat(credentials.current(deployment).apiKey()).isEqualTo("sk-put-after-the-snapshot");
  }

  @Test
  void usageHandedOverWhilePrimingIsNotInTheSnapshotSoNoRestoredEnvironmentWritesIt() {
    var gateway = TestGateways.gateway(dynamo, List.of(), clock);
    String keyId = TestGateways.storeKey(gateway, "sk-aigw-primed-key-usage-0001", List.of(), null, false).keyId();
    // A priming request that was counted on a key (one that does not call a provider today could
    // start to): its usage waits in the writer, as every answer's does until the flush.
    var priming = Priming.register(gateway, request -> {
      gateway.usage().record(keyId, aigw.core.usage.UsageDelta.oneRequest(new aigw.core.usage.TokenUsage(1, 1, 2), clock.instant()));
      return GatewayResponse.json(200, Map.of());
    });

    priming.beforeCheckpoint(null);
    priming.afterRestore(null);
    gateway.usageWriter().flush(); // the first invocation after the restore

    assertThat(gateway.usageWriter().backlog()).isZero();
    assertThat(gateway.keyStore().usageOf(keyId).requests()).isZero();
  }
}

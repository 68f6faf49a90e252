package aigw.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import aigw.core.config.InvalidConfig;
import aigw.core.secrets.InMemorySecretsManager;
import aigw.core.secrets.SecretSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.secretsmanager.SecretsManagerClient;
import software.amazon.awssdk.services.secretsmanager.model.GetSecretValueRequest;
import software.amazon.awssdk.services.secretsmanager.model.GetSecretValueResponse;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Lambda's wiring reads the model list file on a second thread while it reads the secrets: a file
 * that is not a model list still fails the init with the reason and the file's name, as the
 * runtime reports it (not wrapped in the thread hand-over's exception).
 */
class GatewayFromEnvironmentTest {
  private static final String MASTER_KEY = "sk-test-master-key-from-secrets-manager";

  @TempDir Path dir;

  @Test
  void aModelListThatIsNotYamlFailsTheInitNamingTheFile() throws Exception {
    Path config = Files.writeString(dir.resolve("models.yaml"), "model_list: [unclosed\n");
    var env = Map.of("AIGW_CONFIG", config.toString(), "AIGW_MASTER_KEY", "sk-test-master-key");

    for (boolean callsProviders : new boolean[] {true, false}) {
      assertThatThrownBy(() -> Gateway.fromEnvironment(env, callsProviders))
          .isInstanceOf(InvalidConfig.class)
          .hasMessageStartingWith(config + " is not valid YAML");
    }
  }

  @Test
  void aModelListThatCannotBeReadFailsTheInitNamingTheFile() {
    Path missing = dir.resolve("missing.yaml");
    var env = Map.of("AIGW_CONFIG", missing.toString(), "AIGW_MASTER_KEY", "sk-test-master-key");

    assertThatThrownBy(() -> Gateway.fromEnvironment(env, true))
        .isInstanceOf(InvalidConfig.class)
        .hasMessageStartingWith("cannot read the model list " + missing);
  }

  @Test
  void aModelListWithoutModelNamesFailsTheInitNamingTheEntry() throws Exception {
    Path config = Files.writeString(dir.resolve("models.yaml"), "model_list:\n  - litellm_params: {model: openai/gpt-4o-mini}\n");
    var env = Map.of("AIGW_CONFIG", config.toString(), "AIGW_MASTER_KEY", "sk-test-master-key");

    assertThatThrownBy(() -> Gateway.fromEnvironment(env, true))
        .isInstanceOf(InvalidConfig.class)
        .hasMessageContaining(config + ": model_list[0]");
  }

  /**
   * The master key is read beside the second init thread, not after joining it (issue 14: the admin
   * function's first Secrets Manager call is this read). Here the model list can be read only once
   * the master key has been: the file is a named pipe that the master key's read writes the list
   * into, so an init that read the master key after the join would wait for itself forever.
   */
  @Test
  void theMasterKeyIsReadWhileTheSecondThreadReadsTheModelList() throws Exception {
    Path pipe = dir.resolve("models.yaml");
    assumeTrue(new ProcessBuilder("mkfifo", pipe.toString()).start().waitFor() == 0, "mkfifo (a named pipe)");
    var store = new InMemorySecretsManager(Clock.systemUTC());
    store.createSecret(r -> r.name("master-key-secret").secretString("{\"master_key\":\"" + MASTER_KEY + "\"}"));
    var modelListWritten = new AtomicBoolean();
    SecretsManagerClient secrets = new Forwarding(store) {
      @Override
      public GetSecretValueResponse getSecretValue(GetSecretValueRequest request) {
        var value = super.getSecretValue(request);
        if (modelListWritten.compareAndSet(false, true)) {
          try {
            Files.writeString(pipe, "model_list:\n  - model_name: gpt-4o-mini\n    litellm_params: {model: openai/gpt-4o-mini}\n");
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        }
        return value;
      }
    };
    var env = Map.of("AIGW_CONFIG", pipe.toString(), "AIGW_MASTER_KEY_SECRET_ID", "master-key-secret");

    // The admin function's wiring. The bound is for the deadlock of a wrong order only.
    var init = CompletableFuture.supplyAsync(() -> Gateway.fromEnvironment(env, false, () -> secrets, NoDynamoDb::new));
    Gateway gateway = init.get(60, TimeUnit.SECONDS);

    assertThat(gateway.masterKey().matches(MASTER_KEY)).isTrue();
    assertThat(gateway.router().rotation("gpt-4o-mini")).hasSize(1);
  }

  /** A master key secret that cannot be read fails the init with Secrets Manager's reason, naming the secret. */
  @Test
  void aMasterKeySecretThatCannotBeReadFailsTheInitWithTheReason() {
    var store = new InMemorySecretsManager(Clock.systemUTC()); // no secret in it
    var env = Map.of("AIGW_MASTER_KEY_SECRET_ID", "master-key-secret", "AWS_LAMBDA_FUNCTION_NAME", "AdminFunction");

    assertThatThrownBy(() -> Gateway.fromEnvironment(env, false, () -> store, NoDynamoDb::new))
        .isInstanceOf(SecretSource.SecretUnavailable.class)
        .hasMessageContaining("cannot read secret master-key-secret")
        .hasMessageContaining("can't find the specified secret");
  }

  /** Secrets Manager calls passed to an in-memory one. */
  private static class Forwarding implements SecretsManagerClient {
    private final SecretsManagerClient to;

    Forwarding(SecretsManagerClient to) {
      this.to = to;
    }

    @Override
    public GetSecretValueResponse getSecretValue(GetSecretValueRequest request) {
      return to.getSecretValue(request);
    }

    @Override
    public String serviceName() {
      return SERVICE_NAME;
    }

    @Override
    public void close() {}
  }

  /** A DynamoDB client that is never called: the init only hands it to the stores. */
  private static final class NoDynamoDb implements DynamoDbClient {
    @Override
    public String serviceName() {
      return SERVICE_NAME;
    }

    @Override
    public void close() {}
  }

  /**
   * The DynamoDB client is built by whichever init thread is free first: a build that fails (no
   * region found, say) fails the init with the SDK's own exception, on either thread, as it did
   * when the runtime's thread built it.
   */
  @Test
  void aDynamoDbClientThatCannotBeBuiltFailsTheInitWithTheSdksReason() throws Exception {
    var noRegion = SdkClientException.create("Unable to load region from any of the providers in the chain");
    var build = new FutureTask<DynamoDbClient>(() -> {
      throw noRegion;
    });
    var secondThread = Thread.ofPlatform().start(build);
    secondThread.join();
    build.run(); // the runtime's thread, after the secrets: the second thread has taken it

    assertThatThrownBy(() -> Gateway.built(build)).isSameAs(noRegion);
  }
}

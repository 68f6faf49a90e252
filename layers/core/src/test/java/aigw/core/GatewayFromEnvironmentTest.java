package aigw.core;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.config.InvalidConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.FutureTask;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Lambda's wiring reads the model list file on a second thread while it reads the secrets: a file
 * that is not a model list still fails the init with the reason and the file's name, as the
 * runtime reports it (not wrapped in the thread hand-over's exception).
 */
class GatewayFromEnvironmentTest {
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

package aigw.core.secrets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.config.Deployment;
import aigw.core.config.Provider;
import aigw.core.testing.MutableClock;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.secretsmanager.SecretsManagerClient;
import software.amazon.awssdk.services.secretsmanager.model.GetSecretValueRequest;
import software.amazon.awssdk.services.secretsmanager.model.GetSecretValueResponse;
import software.amazon.awssdk.services.secretsmanager.model.ResourceNotFoundException;

class ProviderCredentialsTest {
  private static final String SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:aigw-providers";
  private static final Duration TTL = Duration.ofMinutes(5);
  private static final Duration RECHECK = Duration.ofSeconds(5);

  /** Secrets Manager holding one secret string the test changes (null: GetSecretValue fails); counts reads. */
  private static final class Holding implements SecretsManagerClient {
    volatile String secretString;
    final AtomicInteger reads = new AtomicInteger();

    Holding(String secretString) {
      this.secretString = secretString;
    }

    @Override
    public GetSecretValueResponse getSecretValue(GetSecretValueRequest request) {
      reads.incrementAndGet();
      if (secretString == null) {
        throw ResourceNotFoundException.builder().message("Secrets Manager can't find the specified secret.").build();
      }
      return GetSecretValueResponse.builder().name(request.secretId()).secretString(secretString).build();
    }

    @Override
    public String serviceName() {
      return "secretsmanager";
    }

    @Override
    public void close() {}
  }

  private final MutableClock clock = MutableClock.at("2026-05-01T12:00:00Z");

  private ProviderCredentials over(Map<String, String> env, Holding secrets) {
    return ProviderCredentials.overSecret(env, secrets, SECRET, clock, TTL, RECHECK);
  }

  private static Deployment needing(String name, String valueAtInit) {
    return new Deployment("gpt-4o-mini", Provider.OPENAI, "gpt-4o-mini", URI.create("https://api.openai.com/v1"), valueAtInit, "os.environ/" + name, Duration.ofSeconds(30));
  }

  @Test
  void theModelListResolvesNamesFromTheSecretWhenTheEnvironmentLacksThem() {
    var names = over(Map.of("AZURE_API_KEY", "from-env"), new Holding("{\"OPENAI_API_KEY\":\"sk-from-secret\",\"AZURE_API_KEY\":\"from-secret\",\"n\":5}")).names();
    assertThat(names).containsEntry("OPENAI_API_KEY", "sk-from-secret");
    assertThat(names).containsEntry("AZURE_API_KEY", "from-env"); // the environment wins
    assertThat(names).doesNotContainKey("n"); // not a string
  }

  @Test
  void anUnreadableOrMalformedSecretContributesNothingInsteadOfStoppingTheFunction() {
    assertThat(over(Map.of("A", "1"), new Holding(null)).names()).containsOnlyKeys("A");
    assertThat(over(Map.of(), new Holding("sk-not-json")).names()).isEmpty();
    assertThat(over(Map.of(), new Holding("{}")).names()).isEmpty();
  }

  @Test
  void aSecretEmptyAtInitAndFilledLaterIsUsedAtTheNextCallOnceTheRecheckIntervalHasPassed() {
    var secrets = new Holding("{}"); // as the template creates it
    var credentials = over(Map.of(), secrets);
    var deployment = needing("OPENAI_API_KEY", credentials.names().get("OPENAI_API_KEY"));
    assertThat(deployment.apiKey()).isNull();
    assertThat(secrets.reads).hasValue(1);

    secrets.secretString = "{\"OPENAI_API_KEY\":\"sk-set-after-deploy\"}";
    assertThat(credentials.current(deployment).apiKey()).as("read within the recheck interval: not again").isNull();
    assertThat(secrets.reads).hasValue(1);

    clock.advance(RECHECK);
    assertThat(credentials.current(deployment).apiKey()).isEqualTo("sk-set-after-deploy");
    assertThat(secrets.reads).hasValue(2);
    assertThat(credentials.current(deployment).apiKey()).as("now cached").isEqualTo("sk-set-after-deploy");
    assertThat(secrets.reads).hasValue(2);
  }

  /**
   * An Azure deployment whose api_base and key both name the secret: the first deploy's empty
   * secret must neither stop the function (the model list is read at init, inside the SnapStart
   * snapshot) nor freeze a base URL; once the operator sets both, the next call goes there.
   */
  @Test
  void anApiBaseFromTheSecretIsReadAtTheCallLikeTheKeyAndAnUnsetOneIsA503NamingIt() throws Exception {
    var secrets = new Holding("{}");
    var credentials = over(Map.of(), secrets);
    var deployments = aigw.core.config.ModelList.read(
        java.nio.file.Files.writeString(java.nio.file.Files.createTempFile("models", ".yaml"), """
            model_list:
              - model_name: gpt-4o
                litellm_params: {model: azure/my-gpt-4o, api_base: os.environ/AZURE_API_BASE, api_key: os.environ/AZURE_API_KEY}
            """),
        credentials.names());
    Deployment azure = deployments.get(0);
    assertThat(azure.apiBase()).as("unset at init: no start error").isNull();
    var provider = new aigw.core.providers.openai.OpenAiCompatibleProvider(java.net.http.HttpClient.newHttpClient());
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> provider.answer(credentials.current(azure), aigw.core.providers.ProviderRequest.complete(aigw.core.providers.Operation.CHAT_COMPLETIONS,
            aigw.core.providers.ForwardedBody.of("{\"model\":\"gpt-4o\"}".getBytes()))))
        .isInstanceOf(aigw.core.errors.ServiceUnavailable.class)
        .hasMessageContaining("os.environ/AZURE_API_BASE is not set");

    secrets.secretString = "{\"AZURE_API_BASE\":\"https://my-resource.openai.azure.com/\",\"AZURE_API_KEY\":\"azure-key-1\"}";
    clock.advance(RECHECK);
    Deployment current = credentials.current(azure);
    assertThat(current.apiBase()).hasToString("https://my-resource.openai.azure.com/openai/v1");
    assertThat(current.apiKey()).isEqualTo("azure-key-1");

    secrets.secretString = "{\"AZURE_API_BASE\":\"ftp://nowhere\",\"AZURE_API_KEY\":\"azure-key-1\"}";
    clock.advance(TTL);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> credentials.current(azure))
        .isInstanceOf(aigw.core.errors.ServiceUnavailable.class)
        .hasMessageContaining("AZURE_API_BASE")
        .hasMessageContaining("http(s)");
  }

  /**
   * An Azure api_version naming the secret is read at the call like api_base, so that the value
   * read at init (inside the SnapStart snapshot, empty at the first deploy) never sticks: the call
   * goes to the dated deployment URL once the operator sets it, and a value Azure does not have is
   * a 503 naming it, not a start failure.
   */
  @Test
  void anApiVersionFromTheSecretIsReadAtTheCallAndAWrongOneIsA503NamingIt() throws Exception {
    var secrets = new Holding("{\"AZURE_API_KEY\":\"azure-key-1\"}");
    var credentials = over(Map.of(), secrets);
    var deployments = aigw.core.config.ModelList.read(
        java.nio.file.Files.writeString(java.nio.file.Files.createTempFile("models", ".yaml"), """
            model_list:
              - model_name: gpt-4o
                litellm_params: {model: azure/my-gpt-4o, api_base: https://res.openai.azure.com, api_key: os.environ/AZURE_API_KEY, api_version: os.environ/AZURE_API_VERSION}
            """),
        credentials.names());
    Deployment azure = deployments.get(0);
    assertThat(azure.apiVersion()).as("unset at init: the v1 API, no start error").isNull();

    secrets.secretString = "{\"AZURE_API_KEY\":\"azure-key-1\",\"AZURE_API_VERSION\":\"2024-10-21\"}";
    clock.advance(TTL);
    assertThat(credentials.current(azure).apiVersion()).isEqualTo("2024-10-21");

    secrets.secretString = "{\"AZURE_API_KEY\":\"azure-key-1\",\"AZURE_API_VERSION\":\"2024-13\"}";
    clock.advance(TTL);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> credentials.current(azure))
        .isInstanceOf(aigw.core.errors.ServiceUnavailable.class)
        .hasMessageContaining("AZURE_API_VERSION")
        .hasMessageContaining("'2024-13' is not an Azure OpenAI API version");
  }

  @Test
  void aChangedCredentialIsUsedOnceTheTtlHasPassedWithoutAnyFailure() {
    var secrets = new Holding("{\"OPENAI_API_KEY\":\"sk-first\"}");
    var credentials = over(Map.of(), secrets);
    var deployment = needing("OPENAI_API_KEY", credentials.names().get("OPENAI_API_KEY"));
    secrets.secretString = "{\"OPENAI_API_KEY\":\"sk-second\"}";

    clock.advance(TTL.minusSeconds(1));
    assertThat(credentials.current(deployment).apiKey()).isEqualTo("sk-first");
    assertThat(secrets.reads).hasValue(1);
    clock.advance(Duration.ofSeconds(1));
    assertThat(credentials.current(deployment).apiKey()).isEqualTo("sk-second");
    assertThat(secrets.reads).hasValue(2);
  }

  @Test
  void aRefusedCredentialIsReadAgainAtOnceButAtMostOncePerRecheckInterval() {
    var secrets = new Holding("{\"OPENAI_API_KEY\":\"sk-revoked\"}");
    var credentials = over(Map.of(), secrets);
    var atInit = needing("OPENAI_API_KEY", credentials.names().get("OPENAI_API_KEY"));
    clock.advance(RECHECK); // the init read is older than the recheck interval
    var refused = credentials.current(atInit);
    assertThat(credentials.renewedAfterRefusal(refused)).as("unchanged: nothing new to try").isEmpty();
    assertThat(secrets.reads).hasValue(2);

    secrets.secretString = "{\"OPENAI_API_KEY\":\"sk-replacement\"}";
    assertThat(credentials.renewedAfterRefusal(refused)).as("read a moment ago: a stream of 401s cannot hammer Secrets Manager").isEmpty();
    assertThat(secrets.reads).hasValue(2);

    clock.advance(RECHECK);
    assertThat(credentials.renewedAfterRefusal(refused)).get().extracting(Deployment::apiKey).isEqualTo("sk-replacement");
    assertThat(secrets.reads).hasValue(3);
    assertThat(credentials.current(refused).apiKey()).isEqualTo("sk-replacement");
  }

  @Test
  void aFailedReadKeepsTheValuesReadBeforeAndIsNotRetriedBeforeTheRecheckInterval() {
    var secrets = new Holding("{\"OPENAI_API_KEY\":\"sk-good\"}");
    var credentials = over(Map.of(), secrets);
    var deployment = needing("OPENAI_API_KEY", credentials.names().get("OPENAI_API_KEY"));
    secrets.secretString = null; // Secrets Manager fails from now on
    clock.advance(TTL);
    assertThat(credentials.current(deployment).apiKey()).isEqualTo("sk-good");
    assertThat(secrets.reads).hasValue(2);
    clock.advance(RECHECK.minusMillis(1));
    assertThat(credentials.current(deployment).apiKey()).isEqualTo("sk-good");
    assertThat(secrets.reads).hasValue(2);
  }

  @Test
  void duringAnOutageTheCredentialIsUsedForTheMaximumStalenessThenA503UntilSecretsManagerAnswers() {
    var secrets = new Holding("{\"OPENAI_API_KEY\":\"sk-good\"}");
    var credentials = over(Map.of(), secrets);
    var deployment = needing("OPENAI_API_KEY", credentials.names().get("OPENAI_API_KEY"));
    secrets.secretString = null; // Secrets Manager fails from now on
    clock.advance(SecretSource.MAX_STALENESS.minusSeconds(1));
    assertThat(credentials.current(deployment).apiKey()).isEqualTo("sk-good");

    clock.advance(Duration.ofSeconds(1));
    assertThatThrownBy(() -> credentials.current(deployment))
        .isInstanceOfSatisfying(aigw.core.errors.ServiceUnavailable.class, e -> assertThat(e.getMessage())
            .contains(SECRET).contains("could not be read since 2026-05-01T12:00:00Z").contains("OPENAI_API_KEY").doesNotContain("sk-good"));

    secrets.secretString = "{\"OPENAI_API_KEY\":\"sk-good\"}";
    clock.advance(RECHECK);
    assertThat(credentials.current(deployment).apiKey()).as("back at the next read that succeeds").isEqualTo("sk-good");
  }

  @Test
  void afterARestoreTheNextCallReadsTheSecretAgainEvenWithinTheTtl() {
    var secrets = new Holding("{\"OPENAI_API_KEY\":\"sk-in-the-snapshot\"}");
    var credentials = over(Map.of(), secrets);
    var deployment = needing("OPENAI_API_KEY", credentials.names().get("OPENAI_API_KEY"));
    secrets.secretString = "{\"OPENAI_API_KEY\":\"sk-current\"}";
    credentials.expire();
    assertThat(credentials.current(deployment).apiKey()).isEqualTo("sk-current");
    assertThat(secrets.reads).hasValue(2);
  }

  @Test
  void namesInTheEnvironmentAndLiteralKeysNeverCauseARead() {
    var secrets = new Holding("{\"OPENAI_API_KEY\":\"sk-from-secret\"}");
    var credentials = over(Map.of("OPENAI_API_KEY", "sk-from-env"), secrets);
    var fromEnv = needing("OPENAI_API_KEY", "sk-from-env");
    var literal = new Deployment("m", Provider.OPENAI, "m", URI.create("https://api.openai.com/v1"), "sk-literal", "litellm_params.api_key", Duration.ofSeconds(30));
    clock.advance(TTL.multipliedBy(2));
    assertThat(credentials.current(fromEnv)).isSameAs(fromEnv);
    assertThat(credentials.current(literal)).isSameAs(literal);
    assertThat(credentials.renewedAfterRefusal(fromEnv)).isEmpty();
    assertThat(secrets.reads).hasValue(0);
  }

  @Test
  void withoutASecretDeploymentsKeepTheCredentialTheModelListWasReadWith() {
    var deployment = needing("OPENAI_API_KEY", "sk-at-start");
    assertThat(ProviderCredentials.environmentOnly().current(deployment)).isSameAs(deployment);
    assertThat(ProviderCredentials.environmentOnly().renewedAfterRefusal(deployment)).isEmpty();
  }

  @Test
  void ttlAndRecheckComeFromTheEnvironmentAndMustBeNumbers() {
    var secrets = new Holding("{}");
    var credentials = ProviderCredentials.overSecret(Map.of("AIGW_PROVIDER_SECRET_RECHECK_SECONDS", "0.5"), secrets, SECRET, clock);
    var deployment = needing("K", null);
    credentials.names();
    secrets.secretString = "{\"K\":\"v\"}";
    clock.advance(Duration.ofMillis(500));
    assertThat(credentials.current(deployment).apiKey()).isEqualTo("v");
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> ProviderCredentials.overSecret(Map.of("AIGW_PROVIDER_SECRET_TTL_SECONDS", "soon"), secrets, SECRET, Clock.systemUTC()))
        .hasMessage("AIGW_PROVIDER_SECRET_TTL_SECONDS must be a non-negative number, got 'soon'");
  }
}

package aigw.core.providers;

import static com.github.tomakehurst.wiremock.client.WireMock.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.config.Deployment;
import aigw.core.config.Provider;
import aigw.core.errors.ErrorEnvelope;
import aigw.core.errors.UpstreamFailed;
import aigw.core.providers.openai.OpenAiCompatibleProvider;
import aigw.core.secrets.InMemorySecretsManager;
import aigw.core.secrets.ProviderCredentials;
import aigw.core.testing.MutableClock;
import com.github.tomakehurst.wiremock.WireMockServer;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A provider's 401/403 for the gateway's own credential, with the credentials secret in between. */
class ProvidersTest {
  private static final String SECRET = "aigw/providers";
  private static final String COMPLETION =
      "{\"id\":\"c\",\"object\":\"chat.completion\",\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}";
  private static WireMockServer upstream;

  private final MutableClock clock = MutableClock.at("2026-05-01T12:00:00Z");
  private InMemorySecretsManager secrets;
  private Providers providers;
  private Deployment deployment;

  @BeforeAll
  static void start() {
    upstream = aigw.core.testing.Upstream.start();
  }

  @AfterAll
  static void stop() {
    upstream.stop();
  }

  @BeforeEach
  void setUp() {
    upstream.resetAll();
    upstream.stubFor(post("/v1/chat/completions").willReturn(aResponse().withStatus(401).withBody("{\"error\":{\"message\":\"Incorrect API key provided\"}}")));
    upstream.stubFor(post("/v1/chat/completions").withHeader("Authorization", equalTo("Bearer sk-new")).willReturn(okJson(COMPLETION)));
    secrets = new InMemorySecretsManager(clock);
    secrets.createSecret(r -> r.name(SECRET).secretString("{\"OPENAI_API_KEY\":\"sk-old\"}"));
    var credentials = ProviderCredentials.overSecret(Map.of(), secrets, SECRET, clock, Duration.ofMinutes(5), Duration.ofSeconds(5));
    providers = new Providers(OpenAiCompatibleProvider.defaultHttpClient(), credentials);
    deployment = new Deployment("gpt-4o-mini", Provider.OPENAI, "gpt-4o-mini", URI.create(upstream.baseUrl() + "/v1"),
        credentials.names().get("OPENAI_API_KEY"), "os.environ/OPENAI_API_KEY", Duration.ofSeconds(5));
    clock.advance(Duration.ofSeconds(5)); // the init read is older than the recheck interval
  }

  private ProviderResponse call() {
    return (ProviderResponse) providers.call(deployment, ProviderRequest.complete(Operation.CHAT_COMPLETIONS, ForwardedBody.of("{\"model\":\"gpt-4o-mini\",\"messages\":[]}".getBytes(StandardCharsets.UTF_8))));
  }

  @Test
  void aRefusedCredentialThatWasReplacedInTheSecretIsRetriedOnceWithTheNewOne() {
    secrets.putSecretValue(r -> r.secretId(SECRET).secretString("{\"OPENAI_API_KEY\":\"sk-new\"}"));
    assertThat(call().usage().totalTokens()).isEqualTo(2);
    upstream.verify(1, postRequestedFor(urlEqualTo("/v1/chat/completions")).withHeader("Authorization", equalTo("Bearer sk-old")));
    upstream.verify(1, postRequestedFor(urlEqualTo("/v1/chat/completions")).withHeader("Authorization", equalTo("Bearer sk-new")));
    // The next call sends the new credential at once.
    call();
    upstream.verify(2, postRequestedFor(urlEqualTo("/v1/chat/completions")).withHeader("Authorization", equalTo("Bearer sk-new")));
    upstream.verify(1, postRequestedFor(urlEqualTo("/v1/chat/completions")).withHeader("Authorization", equalTo("Bearer sk-old")));
  }

  @Test
  void aStreamWhoseCredentialIsRefusedIsRetriedOnceWithTheReplacement() {
    upstream.stubFor(post("/v1/chat/completions").withHeader("Authorization", equalTo("Bearer sk-new"))
        .willReturn(aResponse().withHeader("Content-Type", "text/event-stream").withBody("data: " + COMPLETION + "\n\ndata: [DONE]\n\n")));
    secrets.putSecretValue(r -> r.secretId(SECRET).secretString("{\"OPENAI_API_KEY\":\"sk-new\"}"));
    var body = ForwardedBody.of("{\"model\":\"gpt-4o-mini\",\"messages\":[],\"stream\":true}".getBytes(StandardCharsets.UTF_8));
    try (var stream = (ProviderStream) providers.call(deployment, ProviderRequest.streamed(Operation.CHAT_COMPLETIONS, body))) {
      assertThat(stream.next().usage().totalTokens()).isEqualTo(2);
      assertThat(stream.next()).isNull();
    }
    upstream.verify(1, postRequestedFor(urlEqualTo("/v1/chat/completions")).withHeader("Authorization", equalTo("Bearer sk-old")));
    upstream.verify(1, postRequestedFor(urlEqualTo("/v1/chat/completions")).withHeader("Authorization", equalTo("Bearer sk-new")));
  }

  @Test
  void aRefusedCredentialThatIsStillTheSecretsValueIsNotSentAgain() {
    assertThatThrownBy(this::call).isInstanceOfSatisfying(UpstreamFailed.class, e -> {
      assertThat(ErrorEnvelope.status(e)).isEqualTo(502);
      assertThat(ErrorEnvelope.type(e)).isEqualTo("upstream_auth_error");
    });
    upstream.verify(1, postRequestedFor(urlEqualTo("/v1/chat/completions")));
  }

  @Test
  void aReplacementThatIsRefusedTooIsNotRetriedAgain() {
    upstream.stubFor(post("/v1/chat/completions").withHeader("Authorization", equalTo("Bearer sk-new")).willReturn(aResponse().withStatus(403)));
    secrets.putSecretValue(r -> r.secretId(SECRET).secretString("{\"OPENAI_API_KEY\":\"sk-new\"}"));
    assertThatThrownBy(this::call).isInstanceOfSatisfying(UpstreamFailed.class, e -> assertThat(e.credentialRefused()).isTrue());
    upstream.verify(2, postRequestedFor(urlEqualTo("/v1/chat/completions")));
  }

  @Test
  void otherProviderErrorsNeverCauseAReadOrARetry() {
    upstream.stubFor(post("/v1/chat/completions").willReturn(aResponse().withStatus(429).withBody("{\"error\":{\"message\":\"slow down\"}}")));
    secrets.putSecretValue(r -> r.secretId(SECRET).secretString("{\"OPENAI_API_KEY\":\"sk-new\"}"));
    assertThatThrownBy(this::call).isInstanceOfSatisfying(UpstreamFailed.class, e -> assertThat(ErrorEnvelope.status(e)).isEqualTo(429));
    upstream.verify(1, postRequestedFor(urlEqualTo("/v1/chat/completions")));
  }
}

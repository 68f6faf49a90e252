package aigw.local.clients;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.matchingJsonPath;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.testing.Upstream;
import aigw.local.LocalGateway;
import aigw.local.LocalOptions;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.stubbing.Scenario;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.errors.InternalServerException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code router_settings} end to end: the official OpenAI Java SDK (its own retries as shipped,
 * unless a test says otherwise) through the local gateway to WireMock stand-ins, one path per
 * deployment, counting what each deployment received.
 */
class FailoverEndToEndTest {
  private static final String MASTER = "sk-failover-master-key-for-tests-only";
  private static final String COMPLETION =
      """
      {"id":"c","object":"chat.completion","created":1,"model":"%s","choices":[{"index":0,
       "message":{"role":"assistant","content":"answer of %s"},"finish_reason":"stop"}],
       "usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}
      """;

  @TempDir static Path dir;
  private static WireMockServer provider;
  private static LocalGateway gateway;
  private static String key;

  @BeforeAll
  static void start() throws Exception {
    provider = Upstream.start();
    int deadPort;
    try (var socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      deadPort = socket.getLocalPort(); // closed again: nothing listens there
    }
    Path config = dir.resolve("config.yaml");
    Files.writeString(config, """
        model_list:
          - model_name: gpt-4o
            litellm_params: {model: openai/gpt-4o, api_base: "http://127.0.0.1:%2$d/v1", api_key: os.environ/PROVIDER_KEY}
          - model_name: gpt-4o
            litellm_params: {model: openai/gpt-4o, api_base: "%1$s/healthy/v1", api_key: os.environ/PROVIDER_KEY}
          - model_name: primary
            litellm_params: {model: openai/primary-model, api_base: "%1$s/failing/v1", api_key: os.environ/PROVIDER_KEY}
          - model_name: backup
            litellm_params: {model: openai/backup-model, api_base: "%1$s/healthy/v1", api_key: os.environ/PROVIDER_KEY}
          - model_name: refused
            litellm_params: {model: openai/refused-model, api_base: "%1$s/refusing/v1", api_key: os.environ/PROVIDER_KEY}
          - model_name: limited
            litellm_params: {model: openai/limited-model, api_base: "%1$s/limited/v1", api_key: os.environ/PROVIDER_KEY}
        router_settings:
          num_retries: 1
          fallbacks: [{primary: [backup]}]
        """.formatted(provider.baseUrl(), deadPort));
    gateway = LocalGateway.start(LocalOptions.inMemory(config, Map.of("AIGW_MASTER_KEY", MASTER, "PROVIDER_KEY", "sk-provider-failover")));
    key = new GatewayAdmin(gateway.baseUrl(), MASTER).newKey("failover");
  }

  @AfterAll
  static void stop() {
    gateway.close();
    provider.stop();
  }

  @BeforeEach
  void stubs() {
    provider.resetAll();
    for (String model : List.of("gpt-4o", "backup-model")) {
      provider.stubFor(post("/healthy/v1/chat/completions").withRequestBody(matchingJsonPath("$.model", equalTo(model)))
          .withRequestBody(matchingJsonPath("$.stream", equalTo("true")))
          .atPriority(1)
          .willReturn(aResponse().withHeader("Content-Type", "text/event-stream").withBody(
              "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"" + model
                  + "\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"streamed by " + model + "\"},\"finish_reason\":null}]}\n\n"
                  + "data: [DONE]\n\n")));
      provider.stubFor(post("/healthy/v1/chat/completions").withRequestBody(matchingJsonPath("$.model", equalTo(model)))
          .atPriority(2)
          .willReturn(okJson(COMPLETION.formatted(model, model))));
    }
    provider.stubFor(post("/failing/v1/chat/completions").willReturn(aResponse().withStatus(500)
        .withHeader("Content-Type", "application/json").withBody("{\"error\":{\"message\":\"internal error\",\"type\":\"server_error\"}}")));
    provider.stubFor(post("/refusing/v1/chat/completions").willReturn(aResponse().withStatus(401)
        .withHeader("Content-Type", "application/json").withBody("{\"error\":{\"message\":\"Incorrect API key provided\",\"type\":\"invalid_request_error\"}}")));
  }

  private static OpenAIClient sdk() {
    return OpenAIOkHttpClient.builder().baseUrl(gateway.baseUrl() + "/v1").apiKey(key).maxRetries(0).build();
  }

  private static ChatCompletionCreateParams ask(String model) {
    return ChatCompletionCreateParams.builder().model(model).addUserMessage("Hi").build();
  }

  @Test
  void aDeadDeploymentFallsToTheLiveOneWithoutTheClientNoticing() {
    for (int i = 0; i < 4; i++) { // the round robin starts at the dead one every other call
      ChatCompletion answer = sdk().chat().completions().create(ask("gpt-4o"));
      assertThat(answer.choices().getFirst().message().content()).contains("answer of gpt-4o");
    }
    try (var stream = sdk().chat().completions().createStreaming(ask("gpt-4o"))) {
      List<ChatCompletionChunk> chunks = stream.stream().toList();
      assertThat(chunks.stream().flatMap(c -> c.choices().stream()).map(c -> c.delta().content().orElse("")).collect(Collectors.joining()))
          .isEqualTo("streamed by gpt-4o");
    }
    provider.verify(5, postRequestedFor(urlEqualTo("/healthy/v1/chat/completions")));
  }

  @Test
  void aGroupThatKeepsFailingFallsBackToItsFallbackGroup() {
    ChatCompletion answer = sdk().chat().completions().create(ask("primary"));

    assertThat(answer.choices().getFirst().message().content()).contains("answer of backup-model");
    assertThat(answer.model()).isEqualTo("backup-model");
    // num_retries: 1 on its only deployment (after a backoff of at most 0.5 s), then the fallback.
    provider.verify(2, postRequestedFor(urlEqualTo("/failing/v1/chat/completions")));
  }

  @Test
  void aProviderRefusingTheGatewaysCredentialIsAnsweredOnceAndTheSdkDoesNotRetryIt() {
    // The SDK as applications use it: 2 retries for any status >= 500, unless x-should-retry: false.
    var retryingSdk = OpenAIOkHttpClient.builder().baseUrl(gateway.baseUrl() + "/v1").apiKey(key).build();

    assertThatThrownBy(() -> retryingSdk.chat().completions().create(ask("refused")))
        .isInstanceOfSatisfying(InternalServerException.class, e -> {
          assertThat(e.statusCode()).isEqualTo(502);
          assertThat(e.headers().values("x-should-retry")).containsExactly("false");
          assertThat(e.getMessage()).contains("refused the gateway's credentials").doesNotContain("sk-provider-failover");
        });
    provider.verify(1, postRequestedFor(urlEqualTo("/refusing/v1/chat/completions")));
  }

  @Test
  void aRateLimitWithRetryAfterIsWaitedForAndRetriedByTheGateway() {
    provider.stubFor(post("/limited/v1/chat/completions").inScenario("limited").whenScenarioStateIs(Scenario.STARTED)
        .willReturn(aResponse().withStatus(429).withHeader("Retry-After", "1").withHeader("Content-Type", "application/json")
            .withBody("{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\",\"code\":\"rate_limit_exceeded\"}}"))
        .willSetStateTo("waited"));
    provider.stubFor(post("/limited/v1/chat/completions").inScenario("limited").whenScenarioStateIs("waited")
        .willReturn(okJson(COMPLETION.formatted("limited-model", "limited-model"))));

    long started = System.nanoTime();
    ChatCompletion answer = sdk().chat().completions().create(ask("limited"));
    long tookMillis = (System.nanoTime() - started) / 1_000_000;

    assertThat(answer.choices().getFirst().message().content()).contains("answer of limited-model");
    assertThat(tookMillis).as("the provider's Retry-After: 1").isGreaterThanOrEqualTo(1000);
    provider.verify(2, postRequestedFor(urlEqualTo("/limited/v1/chat/completions")));
  }
}

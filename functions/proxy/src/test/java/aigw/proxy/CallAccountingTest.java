package aigw.proxy;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.matchingJsonPath;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.Gateway;
import aigw.core.config.ModelList;
import aigw.core.http.CorsPolicy;
import aigw.core.http.GatewayApplication;
import aigw.core.http.GatewayRequest;
import aigw.core.http.GatewayResponse;
import aigw.core.keys.KeyUsage;
import aigw.core.keys.VirtualKey;
import aigw.core.providers.Providers;
import aigw.core.providers.http.UpstreamHttp;
import aigw.core.secrets.StaticSecretSource;
import aigw.core.spend.SpendLogEntry;
import aigw.core.testing.LocalDynamo;
import aigw.core.testing.MutableClock;
import aigw.core.testing.TestGateways;
import aigw.core.testing.Upstream;
import aigw.core.usage.TokenUsage;
import com.github.tomakehurst.wiremock.WireMockServer;
import java.io.ByteArrayInputStream;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Every finished model call is accounted once, in one place: its cost at the prices of the
 * deployment that answered (after failover too), the key's usage and spend, one spend-log entry;
 * whole and streamed, with the provider's usage or the gateway's estimate; failed calls logged.
 */
class CallAccountingTest {
  private static final String KEY = "sk-aigw-accounting-test-key-0001";
  private static final String COMPLETION = """
      {"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,
       "message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],
       "usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}""";
  /** A stream whose usage chunk reports 1000 prompt tokens, 800 of them read from the cache. */
  private static final String STREAM_WITH_USAGE =
      "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}\n\n"
          + "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[],\"usage\":"
          + "{\"prompt_tokens\":1000,\"completion_tokens\":10,\"total_tokens\":1010,\"prompt_tokens_details\":{\"cached_tokens\":800}}}\n\n"
          + "data: [DONE]\n\n";
  private static WireMockServer wiremock;

  private final MutableClock clock = MutableClock.at("2026-05-01T12:00:00Z");
  private final List<SpendLogEntry> logged = new CopyOnWriteArrayList<>();
  private LocalDynamo dynamo;
  private Gateway gateway;
  private GatewayApplication app;
  private VirtualKey key;

  @BeforeAll
  static void startWireMock() {
    wiremock = Upstream.start();
  }

  @AfterAll
  static void stopWireMock() {
    wiremock.stop();
  }

  @BeforeEach
  void setUp() {
    wiremock.resetAll();
    for (String path : List.of("/ok/v1/chat/completions", "/nousage/v1/chat/completions")) {
      wiremock.stubFor(post(path).atPriority(2).willReturn(okJson(COMPLETION)));
    }
    wiremock.stubFor(post("/ok/v1/chat/completions").atPriority(1).withRequestBody(matchingJsonPath("$.stream", equalTo("true")))
        .willReturn(aResponse().withHeader("Content-Type", "text/event-stream").withBody(STREAM_WITH_USAGE)));
    wiremock.stubFor(post("/nousage/v1/chat/completions").atPriority(1).withRequestBody(matchingJsonPath("$.stream", equalTo("true")))
        .willReturn(aResponse().withHeader("Content-Type", "text/event-stream").withBody(
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"abcdefgh\"},\"finish_reason\":\"stop\"}]}\n\n"
                + "data: [DONE]\n\n")));
    // A stream the provider breaks off after one chunk: no finish, no usage, no [DONE].
    wiremock.stubFor(post("/broken/v1/chat/completions").willReturn(aResponse().withHeader("Content-Type", "text/event-stream").withBody(
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"abcdefgh\"},\"finish_reason\":null}]}\n\n")));
    wiremock.stubFor(post("/failing/v1/chat/completions").willReturn(aResponse().withStatus(500)
        .withHeader("Content-Type", "application/json").withBody("{\"error\":{\"message\":\"internal error\",\"type\":\"server_error\"}}")));
    wiremock.stubFor(post("/bad/v1/chat/completions").willReturn(aResponse().withStatus(400)
        .withHeader("Content-Type", "application/json").withBody("{\"error\":{\"message\":\"bad temperature\",\"type\":\"invalid_request_error\"}}")));

    String yaml = """
        model_list:
          - model_name: priced
            litellm_params: {model: openai/priced-model, api_base: "%1$s/ok/v1", api_key: os.environ/PROVIDER_KEY,
              input_cost_per_token: 0.001, output_cost_per_token: 0.002, cache_read_input_token_cost: 0.0001}
          - model_name: cut
            litellm_params: {model: openai/cut-model, api_base: "%1$s/nousage/v1", api_key: os.environ/PROVIDER_KEY,
              input_cost_per_token: 0.001, output_cost_per_token: 0.002}
          - model_name: broken
            litellm_params: {model: openai/broken-model, api_base: "%1$s/broken/v1", api_key: os.environ/PROVIDER_KEY,
              input_cost_per_token: 0.001, output_cost_per_token: 0.002}
          - model_name: primary
            litellm_params: {model: openai/primary-model, api_base: "%1$s/failing/v1", api_key: os.environ/PROVIDER_KEY,
              input_cost_per_token: 1, output_cost_per_token: 1}
          - model_name: backup
            litellm_params: {model: openai/backup-model, api_base: "%1$s/ok/v1", api_key: os.environ/PROVIDER_KEY,
              input_cost_per_token: 0.01, output_cost_per_token: 0.02}
          - model_name: refused
            litellm_params: {model: openai/refused-model, api_base: "%1$s/bad/v1", api_key: os.environ/PROVIDER_KEY}
        router_settings:
          num_retries: 0
          fallbacks: [{primary: [backup]}]
        """.formatted(wiremock.baseUrl());
    ModelList.Config config = ModelList.readConfig(
        new ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8)), "test.yaml", Map.of("PROVIDER_KEY", "sk-provider-test-0001"));
    dynamo = new LocalDynamo();
    gateway = Gateway.over(TestGateways.settings(dynamo), dynamo.client(), StaticSecretSource.of(TestGateways.MASTER_KEY), config,
        new Providers(UpstreamHttp.defaultHttpClient()), clock);
    app = GatewayApplication.of(CorsPolicy.DISABLED, new ProxyService(gateway, logged::add)::handle);
    key = TestGateways.storeKey(gateway, KEY, List.of(), null, false);
  }

  @AfterEach
  void tearDown() {
    dynamo.close();
  }

  private static String body(String model, boolean stream) {
    return "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]" + (stream ? ",\"stream\":true}" : "}");
  }

  private GatewayResponse send(String body) {
    return app.handle(new GatewayRequest("POST", "/v1/chat/completions", Map.of("Authorization", "Bearer " + KEY), Map.of(),
        body.getBytes(StandardCharsets.UTF_8), "req-1")).buffered();
  }

  private KeyUsage usage() {
    return gateway.keyStore().usageOf(key.keyId());
  }

  @Test
  void aWholeAnswerAddsItsCostToTheKeyAndLogsOneEntry() {
    assertThat(send(body("priced", false)).status()).isEqualTo(200);

    assertThat(usage().requests()).isEqualTo(1);
    assertThat(usage().spend()).isEqualByComparingTo("0.007"); // 3 × 0.001 + 2 × 0.002
    assertThat(logged).singleElement().satisfies(entry -> {
      assertThat(entry.requestId()).isEqualTo("req-1");
      assertThat(entry.keyId()).isEqualTo(key.keyId());
      assertThat(entry.model()).isEqualTo("priced");
      assertThat(entry.deployment()).isEqualTo("openai/priced-model");
      assertThat(List.of(entry.promptTokens(), entry.completionTokens(), entry.totalTokens())).containsExactly(3L, 2L, 5L);
      assertThat(entry.cost()).isEqualByComparingTo("0.007");
      assertThat(entry.status()).isEqualTo(200);
      assertThat(entry.estimated()).isFalse();
      assertThat(entry.startTime()).isEqualTo(clock.instant());
      assertThat(entry.latencyMillis()).isZero(); // the test's clock does not move
    });
    assertThat(logged.toString()).doesNotContain(KEY).doesNotContain("Hi");
  }

  @Test
  void aStreamedAnswerIsCostedOnTheUsageTheProviderReportedCacheReadsIncluded() {
    var response = send(body("priced", true));

    assertThat(response.status()).isEqualTo(200);
    assertThat(response.bodyText()).endsWith("data: [DONE]\n\n");
    // 200 uncached × 0.001 + 800 cached × 0.0001 + 10 × 0.002: never $0 (LiteLLM's #37923).
    assertThat(usage().spend()).isEqualByComparingTo("0.3");
    assertThat(logged).singleElement().satisfies(entry -> {
      assertThat(entry.cost()).isEqualByComparingTo("0.3");
      assertThat(entry.promptTokens()).isEqualTo(1000);
      assertThat(entry.estimated()).isFalse();
      assertThat(entry.status()).isEqualTo(200);
    });
  }

  @Test
  void aStreamEndingWithoutTheProvidersUsageIsCostedOnTheEstimateAndMarkedSo() {
    String request = body("cut", true);

    assertThat(send(request).status()).isEqualTo(200);

    TokenUsage estimate = StreamRelay.estimate(request.getBytes(StandardCharsets.UTF_8).length, "abcdefgh".length());
    BigDecimal expected = new BigDecimal("0.001").multiply(BigDecimal.valueOf(estimate.promptTokens()))
        .add(new BigDecimal("0.002").multiply(BigDecimal.valueOf(estimate.completionTokens())));
    assertThat(expected).isPositive();
    assertThat(usage().estimatedRequests()).isEqualTo(1);
    assertThat(usage().spend()).isEqualByComparingTo(expected);
    assertThat(logged).singleElement().satisfies(entry -> {
      assertThat(entry.estimated()).isTrue();
      assertThat(entry.cost()).isEqualByComparingTo(expected);
      assertThat(entry.completionTokens()).isEqualTo(2);
    });
  }

  @Test
  void aStreamTheProviderBreaksOffIsCountedOnTheKeyAndLoggedAsTheFailureItsClientSaw() {
    var response = send(body("broken", true));

    assertThat(response.status()).isEqualTo(200); // the stream had started
    assertThat(response.bodyText()).contains("abcdefgh").contains("\"error\"").doesNotContain("[DONE]");
    assertThat(usage().requests()).isEqualTo(1); // what was generated is counted
    assertThat(usage().estimatedRequests()).isEqualTo(1);
    assertThat(logged).singleElement().satisfies(entry -> {
      // The error event's status, not 200: /spend/logs shows it as a failure, with its tokens and cost.
      assertThat(entry.status()).isEqualTo(502);
      assertThat(entry.estimated()).isTrue();
      assertThat(entry.completionTokens()).isEqualTo(2);
      assertThat(entry.cost()).isPositive();
      assertThat(entry.deployment()).isEqualTo("openai/broken-model");
    });
  }

  @Test
  void afterAFailoverTheCallIsCostedAtThePricesOfTheDeploymentThatAnswered() {
    assertThat(send(body("primary", false)).status()).isEqualTo(200);
    assertThat(send(body("primary", true)).status()).isEqualTo(200);

    // backup's prices, not primary's (1 USD a token): 3 × 0.01 + 2 × 0.02, then 1000 × 0.01 (no
    // cache price: cached tokens cost the input price) + 10 × 0.02.
    assertThat(usage().requests()).isEqualTo(2);
    assertThat(usage().spend()).isEqualByComparingTo("10.27");
    assertThat(logged).hasSize(2).allSatisfy(entry -> {
      assertThat(entry.model()).isEqualTo("primary");
      assertThat(entry.deployment()).isEqualTo("openai/backup-model");
    });
    assertThat(logged.get(0).cost()).isEqualByComparingTo("0.07");
    assertThat(logged.get(1).cost()).isEqualByComparingTo("10.2");
  }

  @Test
  void aFailedCallIsLoggedWithItsStatusAndAddsNothingToTheKey() {
    assertThat(send(body("refused", false)).status()).isEqualTo(400);

    assertThat(usage()).isEqualTo(KeyUsage.NONE);
    assertThat(logged).singleElement().satisfies(entry -> {
      assertThat(entry.status()).isEqualTo(400);
      assertThat(entry.cost()).isZero();
      assertThat(entry.deployment()).isNull();
      assertThat(entry.model()).isEqualTo("refused");
    });
  }

  @Test
  void aCallRefusedBeforeItIsAdmittedIsNotAModelCallAndIsNotLogged() {
    assertThat(send(body("no-such-model", false)).status()).isEqualTo(404);

    assertThat(logged).isEmpty();
  }
}

package aigw.proxy;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.Gateway;
import aigw.core.config.Deployment;
import aigw.core.config.ModelList;
import aigw.core.config.Provider;
import aigw.core.config.RouterSettings;
import aigw.core.http.CorsPolicy;
import aigw.core.http.GatewayApplication;
import aigw.core.http.GatewayRequest;
import aigw.core.http.GatewayResponse;
import aigw.core.keys.KeyUsage;
import aigw.core.providers.Providers;
import aigw.core.providers.http.UpstreamHttp;
import aigw.core.secrets.StaticSecretSource;
import aigw.core.testing.LocalDynamo;
import aigw.core.testing.MutableClock;
import aigw.core.testing.TestGateways;
import aigw.core.testing.Upstream;
import com.github.tomakehurst.wiremock.WireMockServer;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * One relay for every client protocol ({@link StreamRelay} with its {@link
 * aigw.proxy.stream.StreamFormat}): a stream the provider cut off is counted the same way whatever
 * protocol the client speaks and whether Anthropic's events are passed through or translated, with
 * the prompt tokens the provider reported in {@code message_start} and only the completion
 * estimated, and ends with that protocol's error event.
 */
class StreamRelayTest {
  private static final String KEY = "sk-aigw-stream-relay-key-0001";
  private static WireMockServer wiremock;

  private LocalDynamo dynamo;
  private Gateway gateway;
  private GatewayApplication app;
  private String keyId;

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
    dynamo = new LocalDynamo();
    URI anthropic = URI.create(wiremock.baseUrl() + "/anthropic");
    // "claude" falls back to an OpenAI model, so /v1/messages translates it; "claude-direct" is passed through.
    var claude = new Deployment("claude", Provider.ANTHROPIC, "claude-sonnet-4-5", anthropic, "sk-ant-provider-credential-0001",
        "os.environ/ANTHROPIC_API_KEY", Duration.ofSeconds(5));
    var direct = new Deployment("claude-direct", Provider.ANTHROPIC, "claude-sonnet-4-5", anthropic, "sk-ant-provider-credential-0001",
        "os.environ/ANTHROPIC_API_KEY", Duration.ofSeconds(5));
    var gpt = TestGateways.openAi("gpt", "gpt-4o-mini", wiremock.baseUrl() + "/openai/v1");
    var settings = new RouterSettings(0, Map.of("claude", List.of("gpt")), Map.of(), 3, Duration.ofSeconds(5), Duration.ZERO, false, 5);
    gateway = Gateway.over(
        TestGateways.settings(dynamo), dynamo.client(), StaticSecretSource.of(TestGateways.MASTER_KEY),
        new ModelList.Config(List.of(claude, direct, gpt), settings), new Providers(UpstreamHttp.defaultHttpClient()),
        MutableClock.at("2026-05-01T12:00:00Z"));
    app = GatewayApplication.of(CorsPolicy.DISABLED, new ProxyService(gateway)::handle);
    keyId = TestGateways.storeKey(gateway, KEY, List.of(), null, false).keyId();
  }

  @AfterEach
  void tearDown() {
    dynamo.close();
  }

  /** Anthropic's stream cut off after its first text: message_start reported 25 input tokens and 100 read from the cache. */
  private static final String CUT_AFTER_MESSAGE_START = String.join("\n",
      "event: message_start",
      "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],"
          + "\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":25,\"cache_read_input_tokens\":100,\"output_tokens\":1}}}",
      "",
      "event: content_block_start",
      "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}",
      "",
      "event: content_block_delta",
      "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello, wor\"}}",
      "", "");

  @ParameterizedTest(name = "{0} {1}")
  @CsvSource(delimiter = '|', value = {
      "/v1/chat/completions | claude        | {\"model\":\"claude\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}"
          + " | data: {\"error\":",
      "/v1/messages         | claude        | {\"model\":\"claude\",\"max_tokens\":64,\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}"
          + " | event: error",
      "/v1/messages         | claude-direct | {\"model\":\"claude-direct\",\"max_tokens\":64,\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}"
          + " | event: error",
      "/v1/responses        | claude        | {\"model\":\"claude\",\"input\":\"Hi\",\"stream\":true}"
          + " | event: error",
  })
  void aStreamCutAfterMessageStartIsCountedWithItsReportedPromptAndAnEstimatedCompletionInEveryProtocol(
      String path, String model, String body, String errorEvent) {
    wiremock.stubFor(post(urlEqualTo("/anthropic/v1/messages")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream").withBody(CUT_AFTER_MESSAGE_START)));

    GatewayResponse response = app.handle(new GatewayRequest("POST", path, Map.of("Authorization", "Bearer " + KEY), Map.of(),
        body.getBytes(StandardCharsets.UTF_8), "req-cut-1")).buffered();

    assertThat(response.status()).isEqualTo(200);
    String text = response.bodyText();
    assertThat(text).contains("Hello, wor");
    String lastEvent = text.substring(text.lastIndexOf("\n\n", text.length() - 3) + 2);
    assertThat(lastEvent).as("the stream ends with the protocol's error event").startsWith(errorEvent);
    KeyUsage usage = gateway.keyStore().usageOf(keyId);
    assertThat(usage.requests()).isEqualTo(1);
    assertThat(usage.estimatedRequests()).as("the completion is an estimate, and marked so").isEqualTo(1);
    assertThat(usage.promptTokens()).as("message_start's 25 + 100 cached, not the request's bytes / 4").isEqualTo(125);
    assertThat(usage.completionTokens()).as("\"Hello, wor\": 10 characters / 4, rounded up").isEqualTo(3);
  }
}

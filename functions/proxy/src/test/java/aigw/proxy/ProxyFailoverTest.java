package aigw.proxy;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
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
import aigw.core.providers.Providers;
import aigw.core.providers.http.UpstreamHttp;
import aigw.core.secrets.StaticSecretSource;
import aigw.core.testing.LocalDynamo;
import aigw.core.testing.MutableClock;
import aigw.core.testing.StreamingUpstream;
import aigw.core.testing.TestGateways;
import aigw.core.testing.Upstream;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.http.Fault;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Retries, cooldowns and the never-twice rule through the proxy's HTTP application, against
 * loopback providers that fail, hang, reset or stream and die ({@code router_settings}).
 */
class ProxyFailoverTest {
  private static final String KEY = "sk-aigw-failover-test-key-0001";
  private static WireMockServer wiremock;

  private LocalDynamo dynamo;
  private final MutableClock clock = MutableClock.at("2026-05-01T12:00:00Z");
  private StreamingUpstream first;
  private StreamingUpstream second;
  private GatewayApplication app;

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
    first = StreamingUpstream.start();
    second = StreamingUpstream.start();
  }

  @AfterEach
  void tearDown() {
    first.close();
    second.close();
    dynamo.close();
  }

  private void useModels(RouterSettings settings, Deployment... deployments) {
    Gateway gateway = Gateway.over(
        TestGateways.settings(dynamo), dynamo.client(), StaticSecretSource.of(TestGateways.MASTER_KEY),
        new ModelList.Config(List.of(deployments), settings), new Providers(UpstreamHttp.defaultHttpClient()), clock);
    app = GatewayApplication.of(CorsPolicy.DISABLED, new ProxyService(gateway)::handle);
    TestGateways.storeKey(gateway, KEY, List.of(), null, false);
  }

  private static Deployment at(String baseUrl, Duration timeout) {
    return new Deployment("gpt-4o", Provider.OPENAI, "gpt-4o", URI.create(baseUrl), "sk-upstream-test-credential", "test", timeout);
  }

  private GatewayResponse send(boolean stream) {
    String body = "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]" + (stream ? ",\"stream\":true}" : "}");
    return app.handle(new GatewayRequest("POST", "/v1/chat/completions", Map.of("Authorization", "Bearer " + KEY), Map.of(),
        body.getBytes(StandardCharsets.UTF_8), "req-1"));
  }

  /** The whole request, its stream run to the end, on another thread (the test plays the providers meanwhile). */
  private CompletableFuture<String[]> streamInBackground() {
    return CompletableFuture.supplyAsync(() -> {
      GatewayResponse response = send(true).buffered();
      return new String[] {Integer.toString(response.status()), new String(response.body(), StandardCharsets.UTF_8)};
    });
  }

  private static String chunk(String content) {
    return "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\""
        + content + "\"},\"finish_reason\":null}]}";
  }

  @Test
  void aStreamWhoseProviderFailsBeforeItsFirstChunkIsRetriedOnTheNextDeployment() throws Exception {
    useModels(RouterSettings.defaults().withNumRetries(1), at(first.baseUrl(), Duration.ofSeconds(5)), at(second.baseUrl(), Duration.ofSeconds(5)));

    var call = streamInBackground();
    var overloaded = first.awaitRequest();
    overloaded.startStream();
    overloaded.sendEvent("{\"error\":{\"message\":\"The server is overloaded\",\"type\":\"server_error\"}}");
    overloaded.finish();
    var healthy = second.awaitRequest();
    healthy.startStream();
    healthy.sendEvent(chunk("Hello"));
    healthy.sendEvent("[DONE]");
    healthy.finish();

    String[] answer = call.get(10, TimeUnit.SECONDS);
    assertThat(answer[0]).isEqualTo("200");
    assertThat(answer[1]).isEqualTo("data: " + chunk("Hello") + "\n\ndata: [DONE]\n\n");
  }

  @Test
  void aStreamThatFailsAfterItsFirstChunkIsNeverSentAgain() throws Exception {
    useModels(RouterSettings.defaults().withNumRetries(3), at(first.baseUrl(), Duration.ofSeconds(5)), at(second.baseUrl(), Duration.ofSeconds(5)));

    var call = CompletableFuture.supplyAsync(() -> send(true));
    var dying = first.awaitRequest();
    dying.startStream();
    dying.sendEvent(chunk("Hel"));
    GatewayResponse response = call.get(10, TimeUnit.SECONDS); // the answer starts: its first chunk has arrived
    dying.die();

    String body = new String(response.buffered().body(), StandardCharsets.UTF_8);
    assertThat(response.status()).isEqualTo(200);
    assertThat(body).startsWith("data: " + chunk("Hel") + "\n\ndata: {\"error\":").doesNotContain("[DONE]");
    assertThat(second.noRequestWithin(Duration.ofMillis(500))).as("the client already has part of the answer").isTrue();
  }

  @Test
  void aConnectionResetAfterTheRequestWasSentIsNotRetried() {
    wiremock.stubFor(post("/a/v1/chat/completions").willReturn(aResponse().withFault(Fault.CONNECTION_RESET_BY_PEER)));
    wiremock.stubFor(post("/b/v1/chat/completions").willReturn(okJson(Upstream.CHAT_COMPLETION)));
    useModels(RouterSettings.defaults().withNumRetries(3),
        at(wiremock.baseUrl() + "/a/v1", Duration.ofSeconds(5)), at(wiremock.baseUrl() + "/b/v1", Duration.ofSeconds(5)));

    GatewayResponse response = send(false);

    assertThat(response.status()).isEqualTo(502);
    wiremock.verify(0, postRequestedFor(urlEqualTo("/b/v1/chat/completions")));
  }

  @Test
  void aProviderErrorIsRetriedOnTheNextDeploymentAndTheClientGetsItsAnswer() {
    wiremock.stubFor(post("/a/v1/chat/completions").willReturn(aResponse().withStatus(503).withBody("{\"error\":{\"message\":\"busy\"}}")));
    wiremock.stubFor(post("/b/v1/chat/completions").willReturn(okJson(Upstream.CHAT_COMPLETION)));
    useModels(RouterSettings.defaults().withNumRetries(1),
        at(wiremock.baseUrl() + "/a/v1", Duration.ofSeconds(5)), at(wiremock.baseUrl() + "/b/v1", Duration.ofSeconds(5)));

    GatewayResponse response = send(false);

    assertThat(response.status()).isEqualTo(200);
    wiremock.verify(1, postRequestedFor(urlEqualTo("/a/v1/chat/completions")));
    wiremock.verify(1, postRequestedFor(urlEqualTo("/b/v1/chat/completions")));
  }

  @Test
  void aHangingDeploymentTimesOutWithoutARetryAndIsThenSkippedForItsCooldown() {
    wiremock.stubFor(post("/a/v1/chat/completions").willReturn(okJson(Upstream.CHAT_COMPLETION).withFixedDelay(3000)));
    wiremock.stubFor(post("/b/v1/chat/completions").willReturn(okJson(Upstream.CHAT_COMPLETION)));
    var settings = new RouterSettings(2, Map.of(), Map.of(), 0, Duration.ofSeconds(30), Duration.ZERO, false, 5); // allowed_fails 0
    useModels(settings, at(wiremock.baseUrl() + "/a/v1", Duration.ofMillis(500)), at(wiremock.baseUrl() + "/b/v1", Duration.ofSeconds(5)));

    GatewayResponse hung = send(false); // the round robin starts at a
    assertThat(hung.status()).as("the provider may still be running it: not sent again").isEqualTo(504);
    wiremock.verify(0, postRequestedFor(urlEqualTo("/b/v1/chat/completions")));

    assertThat(send(false).status()).isEqualTo(200); // b's turn
    assertThat(send(false).status()).as("a's turn, but a is cooling down").isEqualTo(200);
    wiremock.verify(1, postRequestedFor(urlEqualTo("/a/v1/chat/completions")));
    wiremock.verify(2, postRequestedFor(urlEqualTo("/b/v1/chat/completions")));

    clock.advance(Duration.ofSeconds(30));
    send(false); // b's turn
    send(false); // a's turn again: its cooldown is over
    wiremock.verify(2, postRequestedFor(urlEqualTo("/a/v1/chat/completions")));
  }
}

package aigw.proxy;

import static com.github.tomakehurst.wiremock.client.WireMock.*;
import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.Gateway;
import aigw.core.config.Deployment;
import aigw.core.config.Provider;
import aigw.core.json.Json;
import aigw.core.testing.Events;
import aigw.core.testing.LocalDynamo;
import aigw.core.testing.MutableClock;
import aigw.core.testing.TestGateways;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import com.github.tomakehurst.wiremock.http.Fault;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A provider that fails in each way a whole (not streamed) answer can fail, as the client sees it
 * through the proxy function: the error envelope with the gateway's status, no stack trace, no
 * credential, and nothing counted on the key (no answer was served). Streams stopped half-way are
 * in ProxyStreamingTest; the provider-level classification in OpenAiCompatibleProviderTest.
 */
class ProxyProviderFaultsTest {
  private static final String CREDENTIAL = "sk-upstream-faults-credential";
  private static WireMockServer upstream;

  @BeforeAll
  static void start() {
    upstream = aigw.core.testing.Upstream.start();
  }

  @AfterAll
  static void stop() {
    upstream.stop();
  }

  static Stream<Arguments> faults() {
    return Stream.of(
        Arguments.of("hangs past the deployment's timeout", okJson("{}").withFixedDelay(6_000), 504, "timeout"),
        Arguments.of("resets the connection", aResponse().withFault(Fault.CONNECTION_RESET_BY_PEER), 502, "api_connection_error"),
        Arguments.of("closes the connection with no answer", aResponse().withFault(Fault.EMPTY_RESPONSE), 502, "api_connection_error"),
        Arguments.of("sends garbage instead of HTTP", aResponse().withFault(Fault.RANDOM_DATA_THEN_CLOSE), 502, "api_connection_error"),
        Arguments.of("answers 200 with HTML", aResponse().withStatus(200).withHeader("Content-Type", "text/html")
            .withBody("<html><body>Maintenance</body></html>"), 502, "api_connection_error"),
        Arguments.of("answers 200 with JSON cut short", aResponse().withStatus(200).withHeader("Content-Type", "application/json")
            .withBody("{\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,"), 502, "api_connection_error"),
        Arguments.of("answers 200 with an empty body", aResponse().withStatus(200).withHeader("Content-Type", "application/json"), 502,
            "api_connection_error"),
        Arguments.of("answers 200 with a JSON array", okJson("[1,2,3]"), 502, "api_connection_error"));
  }

  @ParameterizedTest(name = "a provider that {0}")
  @MethodSource("faults")
  void aFailingProviderIsAnErrorEnvelopeWithTheGatewaysStatusAndNothingCounted(
      String what, ResponseDefinitionBuilder answer, int status, String type) throws Exception {
    upstream.resetAll();
    upstream.stubFor(post("/v1/chat/completions").willReturn(answer));
    try (var dynamo = new LocalDynamo()) {
      var deployment = new Deployment("gpt-4o-mini", Provider.OPENAI, "gpt-4o-mini", URI.create(upstream.baseUrl() + "/v1"), CREDENTIAL, "test",
          // Long enough that WireMock's faults arrive within it on a loaded 2-core machine (a reset once
          // took over 0.5 s there and read as a timeout); the hanging case waits three times as long.
          Duration.ofSeconds(2));
      Gateway gateway = TestGateways.gateway(dynamo, List.of(deployment), MutableClock.at("2026-05-01T12:00:00Z"));
      var key = TestGateways.storeKey(gateway, Events.EVENTS_VIRTUAL_KEY, List.of(), null, false);

      var response = new ProxyHandler(new ProxyService(gateway)).handleRequest(Events.load("proxy-chat-completions.json"), null);

      assertThat(response.getStatusCode()).as(response.getBody()).isEqualTo(status);
      assertThat(response.getBody()).doesNotContain("\tat ").doesNotContain("Exception").doesNotContain(CREDENTIAL);
      JsonNode error = Json.MAPPER.readTree(response.getBody()).get("error");
      assertThat(error.get("type").asText()).isEqualTo(type);
      assertThat(error.get("code").asText()).isEqualTo(Integer.toString(status));
      assertThat(error.get("message").asText()).contains("gpt-4o-mini");
      assertThat(gateway.keyStore().usageOf(key.keyId()).requests()).as("no answer, nothing counted").isZero();
    }
  }
}

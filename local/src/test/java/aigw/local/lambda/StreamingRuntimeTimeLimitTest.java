package aigw.local.lambda;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.Gateway;
import aigw.core.config.Deployment;
import aigw.core.config.Provider;
import aigw.core.json.Json;
import aigw.core.keys.KeyUsage;
import aigw.core.lambda.StreamingRuntime;
import aigw.core.testing.LocalDynamo;
import aigw.core.testing.MutableClock;
import aigw.core.testing.StreamingUpstream;
import aigw.core.testing.TestGateways;
import aigw.proxy.ProxyHandler;
import aigw.proxy.ProxyService;
import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A stream that reaches the invocation's deadline ({@code Lambda-Runtime-Deadline-Ms}) under aigw's
 * streaming runtime, with the proxy's real application, DynamoDB Local and a provider that stops
 * sending mid-answer: the runtime ends it {@link StreamingRuntime#TIME_LIMIT_MARGIN} before the
 * deadline, so the client reads an error event and the call is recorded.
 */
class StreamingRuntimeTimeLimitTest {
  private static final String KEY = "sk-aigw-time-limit-test-key-0001";
  private static final Duration TIME_LIMIT = Duration.ofSeconds(5);

  private RuntimeApiStandIn api;
  private LocalDynamo dynamo;
  private StreamingUpstream upstream;
  private Gateway gateway;
  private String keyId;
  private StreamingRuntime runtime;

  @BeforeEach
  void start() throws Exception {
    api = new RuntimeApiStandIn();
    api.timeLimit = TIME_LIMIT;
    dynamo = new LocalDynamo();
    upstream = StreamingUpstream.start();
    // The deployment's own idle timeout (60 s) is far beyond the time limit: only the deadline can end the wait.
    var held = new Deployment("held", Provider.OPENAI, "held-upstream", URI.create(upstream.baseUrl()), "sk-upstream-test-credential", "test",
        Duration.ofSeconds(60));
    gateway = TestGateways.gateway(dynamo, List.of(held), MutableClock.at("2026-05-01T12:00:00Z"));
    keyId = TestGateways.storeKey(gateway, KEY, List.of(), null, false).keyId();
    runtime = new StreamingRuntime(api.address(), new ProxyHandler(new ProxyService(gateway)).application());
  }

  @AfterEach
  void stop() throws Exception {
    upstream.close();
    api.close();
    dynamo.close();
  }

  private static byte[] chatStreamEvent() {
    String body = "{\"model\":\"held\",\"messages\":[{\"role\":\"user\",\"content\":\"Write a long story\"}],\"stream\":true}";
    return Json.bytes(Map.of("httpMethod", "POST", "path", "/v1/chat/completions",
        "headers", Map.of("Authorization", "Bearer " + KEY, "Content-Type", "application/json"),
        "body", body, "isBase64Encoded", false, "requestContext", Map.of("requestId", "req-1")));
  }

  @Test
  void aStreamStillWaitingOnItsProviderAtTheDeadlineEndsBeforeItWithAnErrorEventAndIsRecorded() throws Exception {
    Thread.ofPlatform().daemon(true).start(() -> {
      try {
        runtime.serveNext();
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    long asked = System.nanoTime();
    var outcome = api.invoke(chatStreamEvent());
    var exchange = upstream.awaitRequest();
    exchange.startStream();
    exchange.sendEvent("{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\","
        + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Once upon\"},\"finish_reason\":null}],\"usage\":null}");
    // ...and the provider sends nothing more: the proxy waits in its read of the provider's stream.

    var answered = outcome.get(TIME_LIMIT.toSeconds() + 10, TimeUnit.SECONDS);
    long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - asked);

    assertThat(tookMillis).as("the invocation ended by itself before its deadline")
        .isLessThan(TIME_LIMIT.toMillis())
        .isGreaterThanOrEqualTo(TIME_LIMIT.minus(StreamingRuntime.TIME_LIMIT_MARGIN).toMillis() - 500);
    assertThat(answered.kind()).isEqualTo("response");
    assertThat(answered.trailers()).as("a complete response, not a failed invocation").isEmpty();
    assertThat(answered.prelude().get("statusCode").asInt()).isEqualTo(200);
    String payload = answered.payload();
    assertThat(payload).startsWith("data: {\"id\":\"c1\"").contains("Once upon").doesNotContain("[DONE]");
    String last = payload.strip().lines().reduce((a, b) -> b).orElseThrow();
    assertThat(last).startsWith("data: ");
    JsonNode error = Json.MAPPER.readTree(last.substring("data: ".length())).get("error");
    assertThat(error.get("type").asText()).isEqualTo("timeout");
    assertThat(error.get("message").asText()).contains("time limit").contains("incomplete");
    assertThat(error.has("param")).isTrue();
    assertThat(error.has("code")).isTrue();

    assertThat(exchange.awaitClientClosed(Duration.ofSeconds(5))).as("the upstream call was ended").isTrue();
    KeyUsage usage = gateway.keyStore().usageOf(keyId);
    assertThat(usage.requests()).as("the call is counted").isEqualTo(1);
    assertThat(usage.estimatedRequests()).as("without the provider's usage: estimated").isEqualTo(1);
    assertThat(usage.completionTokens()).as("Once upon: 9 characters, about 3 tokens").isEqualTo(3);
  }
}

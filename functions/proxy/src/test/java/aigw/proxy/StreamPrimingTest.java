package aigw.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.Gateway;
import aigw.core.testing.LocalDynamo;
import aigw.core.testing.MutableClock;
import aigw.core.testing.TestGateways;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * SnapStart priming of the streamed path: a whole streamed chat completion runs through the proxy's
 * stream code against the loopback stand-in, and leaves nothing behind for the snapshot.
 */
class StreamPrimingTest {
  private LocalDynamo dynamo;
  private Gateway gateway;

  @BeforeEach
  void start() {
    dynamo = new LocalDynamo();
    gateway = TestGateways.gateway(dynamo, List.of(), MutableClock.at("2026-05-01T12:00:00Z"));
  }

  @AfterEach
  void stop() {
    dynamo.close();
  }

  @Test
  void theStreamIsRelayedToItsEndWithTheUsageChunkTheClientAskedFor() throws Exception {
    String relayed = new String(StreamPriming.prime(new ProxyService(gateway)), StandardCharsets.UTF_8);

    assertThat(relayed).contains("\"content\":\"primed\"").contains("\"finish_reason\":\"stop\"")
        .contains("\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}").endsWith("data: [DONE]\n\n");
  }

  @Test
  void whatTheStreamHandedOverIsDroppedBeforeTheSnapshotAndNoDeploymentIsAdded() throws Exception {
    var priming = aigw.core.snapstart.Priming.register(gateway, request -> aigw.core.http.GatewayResponse.json(200, java.util.Map.of()),
        () -> StreamPriming.prime(new ProxyService(gateway)));

    var logged = aigw.core.testing.Logs.messages(aigw.core.snapstart.Priming.class, () -> priming.beforeCheckpoint(null));

    assertThat(logged).anyMatch(m -> m.startsWith("Primed the request path in"));
    assertThat(logged).noneMatch(m -> m.startsWith("Priming did not complete"));
    assertThat(gateway.discardPendingWrites()).as("the spend-log entry of the primed stream was dropped with the rest").isZero();
    assertThat(gateway.router().models()).doesNotContainKey(StreamPriming.MODEL);
  }
}

package aigw.core.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** What every transport may rely on when the application answers with a stream. */
class GatewayApplicationStreamingTest {
  private static final String PAGE = "https://chat.example.com";

  private final AtomicInteger runs = new AtomicInteger();
  private final GatewayApplication application =
      GatewayApplication.of(
          CorsPolicy.allowing(List.of(PAGE)),
          request ->
              GatewayResponse.streaming(200, Map.of("Content-Type", "text/event-stream"), out -> {
                runs.incrementAndGet();
                out.write("data: 1\n\n".getBytes(StandardCharsets.UTF_8));
                out.flush();
              }));

  private static GatewayRequest request(String method) {
    return new GatewayRequest(method, "/v1/chat/completions", Map.of("Origin", PAGE), Map.of(), new byte[0], "req-1");
  }

  @Test
  void aStreamIsReturnedUnrunWithItsCorsHeadersForTheTransportToSend() {
    GatewayResponse response = application.handle(request("POST"));
    assertThat(response.isStreaming()).isTrue();
    assertThat(runs).hasValue(0); // handle() only says what to send; the transport runs the body
    assertThat(response.headers()).containsEntry("Access-Control-Allow-Origin", PAGE).containsEntry("Content-Type", "text/event-stream");
    assertThat(response.buffered().bodyText()).isEqualTo("data: 1\n\n");
    assertThat(runs).hasValue(1);
  }

  @Test
  void headOnAStreamingRouteHasTheHeadersAndNeverRunsTheStream() {
    GatewayResponse response = application.handle(request("HEAD"));
    assertThat(response.status()).isEqualTo(200);
    assertThat(response.isStreaming()).isFalse();
    assertThat(response.body()).isEmpty();
    assertThat(response.headers()).containsEntry("Content-Type", "text/event-stream").containsEntry("Access-Control-Allow-Origin", PAGE);
    assertThat(response.buffered().body()).isEmpty();
    assertThat(runs).hasValue(0);
  }
}

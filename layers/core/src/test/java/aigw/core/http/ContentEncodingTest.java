package aigw.core.http;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.json.Json;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * A request body in a content coding (issue 15: {@code Content-Encoding: gzip} was ignored and the
 * compressed bytes parsed as JSON) is refused 415 before any route runs, in the route's envelope,
 * as on API Gateway, which passes the header and the bytes through.
 */
class ContentEncodingTest {
  private final AtomicInteger routed = new AtomicInteger();
  private final GatewayApplication app = GatewayApplication.of(CorsPolicy.allowing(List.of()), request -> {
    routed.incrementAndGet();
    return GatewayResponse.json(200, Map.of("ok", true));
  });

  private GatewayResponse post(String path, String encoding) {
    var headers = encoding == null ? Map.<String, String>of() : Map.of("Content-Encoding", encoding);
    return app.handle(new GatewayRequest("POST", path, headers, Map.of(), "{}".getBytes(), "req-1"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"gzip", "deflate", "br", "zstd", "x-gzip", "compress", "identity, gzip", "GZIP", "unknown-coding"})
  void aCodedBodyGets415InOpenAisEnvelopeAndNoRouteRuns(String encoding) {
    GatewayResponse answer = post("/v1/chat/completions", encoding);
    assertThat(answer.status()).isEqualTo(415);
    assertThat(answer.headers()).containsEntry("Accept-Encoding", "identity");
    var error = Json.readObject(answer.body()).get("error");
    assertThat(error.get("type").asText()).isEqualTo("invalid_request_error");
    assertThat(error.get("code").asText()).isEqualTo("415");
    assertThat(error.get("param").asText()).isEqualTo("Content-Encoding");
    assertThat(error.get("message").asText()).contains(encoding.strip());
    assertThat(routed).hasValue(0);
  }

  @Test
  void onAnthropicsRouteItIsInAnthropicsShape() {
    GatewayResponse answer = post("/v1/messages", "gzip");
    assertThat(answer.status()).isEqualTo(415);
    var body = Json.readObject(answer.body());
    assertThat(body.get("type").asText()).isEqualTo("error");
    assertThat(body.get("error").get("type").asText()).isEqualTo("invalid_request_error");
  }

  @ParameterizedTest
  @ValueSource(strings = {"identity", "Identity", " ", ""})
  void anUncodedBodyReachesItsRoute(String encoding) {
    assertThat(post("/v1/chat/completions", encoding).status()).isEqualTo(200);
    assertThat(post("/v1/chat/completions", null).status()).isEqualTo(200);
    assertThat(routed).hasValue(2);
  }
}

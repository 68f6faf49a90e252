package aigw.core.errors;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.errors.ErrorEnvelope.Dialect;
import aigw.core.http.CorsPolicy;
import aigw.core.http.GatewayApplication;
import aigw.core.http.GatewayRequest;
import aigw.core.json.Json;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Anthropic's error shape ({@code {"type":"error","error":{"type","message"},"request_id"}},
 * https://docs.anthropic.com/en/api/errors) for every failure on {@code /v1/messages}: the status
 * of OpenAI's envelope kept, Anthropic's type for it, chosen by the request's path.
 */
class AnthropicErrorShapeTest {
  static Stream<Arguments> cases() {
    return Stream.of(
        Arguments.of(new AuthenticationFailed(AuthenticationFailed.Reason.UNKNOWN, "m"), 401, "authentication_error"),
        Arguments.of(new ModelNotAllowed("x", List.of("a")), 401, "authentication_error"),
        Arguments.of(new PermissionDenied("m"), 403, "permission_error"),
        Arguments.of(new BadRequest("m", "messages"), 400, "invalid_request_error"),
        Arguments.of(new NotFound("m", "model"), 404, "not_found_error"),
        Arguments.of(new MethodNotAllowed("GET", "/v1/messages", "POST"), 405, "invalid_request_error"),
        Arguments.of(new PayloadTooLarge(10, 5), 413, "request_too_large"),
        Arguments.of(new UpstreamFailed(429, "slow down", "rate_limit_error", null, null, "3"), 429, "rate_limit_error"),
        Arguments.of(new UpstreamFailed(429, "slow down", "requests", null, "rate_limit_exceeded", null), 429, "rate_limit_error"),
        Arguments.of(new UpstreamFailed(529, "Overloaded", "overloaded_error", null, null, null), 502, "overloaded_error"),
        Arguments.of(new UpstreamFailed(500, "boom", "server_error", null, null, null), 502, "api_error"),
        Arguments.of(new UpstreamUnreachable("m", null, true), 502, "api_error"),
        Arguments.of(new ServiceUnavailable("m", null), 503, "api_error"),
        Arguments.of(new UpstreamTimeout("m"), 504, "timeout_error"));
  }

  @ParameterizedTest
  @MethodSource("cases")
  void eachFailureKeepsItsStatusWithAnthropicsTypeAndTheRequestId(GatewayException e, int status, String type) throws Exception {
    var response = ErrorEnvelope.response(e, Dialect.ANTHROPIC, "req-9");

    assertThat(response.status()).isEqualTo(status);
    assertThat(response.headers()).containsEntry("request-id", "req-9").containsEntry("Content-Type", "application/json");
    JsonNode body = Json.MAPPER.readTree(response.body());
    assertThat(body).isEqualTo(Json.MAPPER.readTree(Json.bytes(Map.of(
        "type", "error", "error", Map.of("type", type, "message", e.getMessage()), "request_id", "req-9"))));
  }

  @Test
  void headersOfTheFailureAreKept() {
    var limited = ErrorEnvelope.response(new UpstreamFailed(429, "slow down", "rate_limit_error", null, null, "3", "2500"), Dialect.ANTHROPIC, null);
    var wrongMethod = ErrorEnvelope.response(new MethodNotAllowed("GET", "/v1/messages", "POST"), Dialect.ANTHROPIC, null);

    assertThat(limited.headers()).containsEntry("Retry-After", "3").containsEntry("retry-after-ms", "2500").doesNotContainKey("request-id");
    assertThat(wrongMethod.headers()).containsEntry("Allow", "POST");
  }

  @ParameterizedTest
  @CsvSource({
    "/v1/messages, ANTHROPIC", "/v1/messages/, ANTHROPIC", "/messages, ANTHROPIC", "/v1/messages/count_tokens, ANTHROPIC",
    "/v1/chat/completions, OPENAI", "/v1/messagesx, OPENAI", "/key/messages, OPENAI", "/, OPENAI"
  })
  void theShapeIsChosenByTheRoute(String path, Dialect dialect) {
    assertThat(Dialect.of(path)).isEqualTo(dialect);
  }

  @Test
  void aBugOnTheMessagesRouteIsAnAnthropicApiErrorWithAFixedMessage() throws Exception {
    var app = GatewayApplication.of(CorsPolicy.DISABLED, request -> {
      throw new IllegalStateException("secret detail");
    });

    var messages = app.handle(new GatewayRequest("POST", "/v1/messages", Map.of(), Map.of(), new byte[0], "req-5"));
    var chat = app.handle(new GatewayRequest("POST", "/v1/chat/completions", Map.of(), Map.of(), new byte[0], "req-6"));

    assertThat(messages.status()).isEqualTo(500);
    JsonNode body = Json.MAPPER.readTree(messages.body());
    assertThat(body.at("/error/type").asText()).isEqualTo("api_error");
    assertThat(body.at("/error/message").asText()).contains("req-5").doesNotContain("secret detail");
    assertThat(messages.headers()).containsEntry("request-id", "req-5");
    assertThat(Json.MAPPER.readTree(chat.body()).at("/error/type").asText()).isEqualTo("internal_server_error");
  }
}

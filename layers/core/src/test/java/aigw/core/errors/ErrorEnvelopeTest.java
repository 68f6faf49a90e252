package aigw.core.errors;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.json.Json;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class ErrorEnvelopeTest {
  static Stream<Arguments> cases() {
    return Stream.of(
        Arguments.of(new AuthenticationFailed(AuthenticationFailed.Reason.MISSING, "m"), 401, "auth_error", null),
        Arguments.of(new AuthenticationFailed(AuthenticationFailed.Reason.UNKNOWN, "m"), 401, "token_not_found_in_db", "key"),
        Arguments.of(new AuthenticationFailed(AuthenticationFailed.Reason.BLOCKED, "m"), 401, "auth_error", null),
        Arguments.of(new AuthenticationFailed(AuthenticationFailed.Reason.EXPIRED, "m"), 401, "expired_key", "key"),
        Arguments.of(new ModelNotAllowed("x", List.of("a")), 401, "key_model_access_denied", "model"),
        Arguments.of(new PermissionDenied("m"), 403, "auth_error", null),
        Arguments.of(new BadRequest("m", "messages"), 400, "invalid_request_error", "messages"),
        Arguments.of(new NotFound("m", "model"), 404, "not_found_error", "model"),
        Arguments.of(new Conflict("m", "key"), 409, "conflict_error", "key"),
        Arguments.of(new MethodNotAllowed("GET", "/x", "POST"), 405, "invalid_request_error", null),
        Arguments.of(new PayloadTooLarge(10, 5), 413, "invalid_request_error", null),
        Arguments.of(new UpstreamUnreachable("m", null, true), 502, "api_connection_error", null),
        Arguments.of(new ServiceUnavailable("m", null), 503, "service_unavailable", null),
        Arguments.of(new UpstreamTimeout("m"), 504, "timeout", null));
  }

  @ParameterizedTest
  @MethodSource("cases")
  void eachFailureHasItsStatusTypeAndParamInOpenAisEnvelope(GatewayException e, int status, String type, String param) throws Exception {
    var response = ErrorEnvelope.response(e);
    assertThat(response.status()).isEqualTo(status);
    assertThat(response.headers()).containsEntry("Content-Type", "application/json");
    var error = Json.MAPPER.readTree(response.body()).get("error");
    assertThat(error.get("message").asText()).isEqualTo(e.getMessage());
    assertThat(error.get("type").asText()).isEqualTo(type);
    assertThat(error.get("param").isNull() ? null : error.get("param").asText()).isEqualTo(param);
    assertThat(error.get("code").asText()).isEqualTo(Integer.toString(status));
  }

  @ParameterizedTest
  @MethodSource("cases")
  void failuresCarryNoStackTrace(GatewayException e) {
    assertThat(e.getStackTrace()).isEmpty();
  }
}

package aigw.core.lambda;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.apigateway.ApiGatewayEvents;
import aigw.core.apigateway.ProxyRequestEvent;
import aigw.core.apigateway.ProxyResponseEvent;
import aigw.core.json.Json;
import aigw.core.testing.RepoFiles;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The runtime interface client reads the API Gateway functions' events and writes their answers with it. */
class ApiGatewayEventSerializerTest {
  private final ApiGatewayEventSerializer serializer = new ApiGatewayEventSerializer();

  @Test
  void anEventIsReadAsTheEventsFilesAreAndItsStreamIsLeftOpen() throws Exception {
    byte[] json = Files.readAllBytes(RepoFiles.resolve("events/proxy-chat-completions.json"));
    var in = new ClosingWatchedInput(json);

    ProxyRequestEvent event = serializer.fromJson(in, ProxyRequestEvent.class);

    var expected = ApiGatewayEvents.toRequest(ApiGatewayEvents.parseEvent(json));
    var read = ApiGatewayEvents.toRequest(event);
    assertThat(read.method()).isEqualTo("POST").isEqualTo(expected.method());
    assertThat(read.path()).isEqualTo(expected.path());
    assertThat(read.headers()).isEqualTo(expected.headers()).containsKey("authorization");
    assertThat(read.body()).isEqualTo(expected.body()).isNotEmpty();
    assertThat(event.getRequestContext().getRequestId()).isNotBlank();
    assertThat(in.closed).as("the runtime's stream, closed by the runtime").isFalse();
  }

  @Test
  void anAnswerLeavesNullFieldsOutAndItsStreamOpen() throws Exception {
    var out = new ClosingWatchedOutput();
    var answer = new ProxyResponseEvent().withStatusCode(200).withHeaders(Map.of("content-type", "application/json"))
        .withBody("{\"ok\":true}").withIsBase64Encoded(false);

    serializer.toJson(answer, out, ProxyResponseEvent.class);

    var written = Json.MAPPER.readTree(out.toByteArray());
    assertThat(written.properties().stream().map(Map.Entry::getKey).toList())
        .containsExactlyInAnyOrder("statusCode", "headers", "body", "isBase64Encoded");
    assertThat(written.get("statusCode").asInt()).isEqualTo(200);
    assertThat(written.get("body").asText()).isEqualTo("{\"ok\":true}");
    assertThat(written.get("isBase64Encoded").asBoolean()).isFalse();
    assertThat(out.closed).isFalse();
  }

  @Test
  void fieldsTheEventTypeLacksAreIgnoredAndOtherTypesAreRead() {
    ProxyRequestEvent event = serializer.fromJson("{\"httpMethod\":\"GET\",\"path\":\"/v1/models\",\"resource\":\"/{proxy+}\",\"version\":\"1.0\"}", ProxyRequestEvent.class);
    assertThat(event.getHttpMethod()).isEqualTo("GET");

    Map<String, List<Integer>> map = serializer.fromJson("{\"a\":[1,2]}", new com.fasterxml.jackson.core.type.TypeReference<Map<String, List<Integer>>>() {}.getType());
    assertThat(map).containsEntry("a", List.of(1, 2));
  }

  private static final class ClosingWatchedInput extends ByteArrayInputStream {
    boolean closed;

    ClosingWatchedInput(byte[] bytes) {
      super(bytes);
    }

    @Override
    public void close() {
      closed = true;
    }
  }

  private static final class ClosingWatchedOutput extends ByteArrayOutputStream {
    boolean closed;

    @Override
    public void close() {
      closed = true;
    }
  }

  /** What the runtime's own serializer (aws-lambda-java-serialization's JacksonFactory) accepts, read with the same meaning. */
  @Test
  void eventsTheRuntimesOwnSerializerAcceptsAreReadAlike() {
    ProxyRequestEvent anyCase = serializer.fromJson("{\"HttpMethod\":\"POST\",\"Path\":\"/v1/chat/completions\"}", ProxyRequestEvent.class);
    assertThat(anyCase.getHttpMethod()).isEqualTo("POST");
    assertThat(anyCase.getPath()).isEqualTo("/v1/chat/completions");

    ProxyRequestEvent singleValue = serializer.fromJson("{\"httpMethod\":\"GET\",\"multiValueHeaders\":{\"A\":\"1\"},\"requestContext\":\"\"}",
        ProxyRequestEvent.class);
    assertThat(singleValue.getMultiValueHeaders()).containsEntry("A", List.of("1"));
    assertThat(singleValue.getRequestContext()).isNull();

    ProxyRequestEvent lenient = serializer.fromJson("{'httpMethod':'POST', body:'a\u0001b'} and then anything", ProxyRequestEvent.class);
    assertThat(lenient.getHttpMethod()).isEqualTo("POST");
    assertThat(lenient.getBody()).isEqualTo("a\u0001b");

    String longName = "x".repeat(10_001);
    ProxyRequestEvent longHeader = serializer.fromJson("{\"headers\":{\"" + longName + "\":\"v\"}}", ProxyRequestEvent.class);
    assertThat(longHeader.getHeaders()).containsKey(longName);
  }
}

package aigw.core.providers.bedrock;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.config.Deployment;
import aigw.core.config.Provider;
import aigw.core.errors.ErrorEnvelope;
import aigw.core.errors.GatewayException;
import aigw.core.json.Json;
import aigw.core.providers.ForwardedBody;
import aigw.core.providers.Operation;
import aigw.core.providers.ProviderRequest;
import aigw.core.providers.ProviderStream;
import aigw.core.providers.StreamChunk;
import aigw.core.providers.http.UpstreamHttp;
import aigw.core.testing.Upstream;
import com.github.tomakehurst.wiremock.WireMockServer;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.http.ContentStreamProvider;
import software.amazon.awssdk.http.SdkHttpMethod;
import software.amazon.awssdk.http.SdkHttpRequest;
import software.amazon.awssdk.http.auth.aws.signer.AwsV4HttpSigner;
import software.amazon.awssdk.http.auth.spi.signer.HttpSigner;
import software.amazon.eventstream.HeaderValue;
import software.amazon.eventstream.Message;

/**
 * {@link BedrockConverseProvider} over a WireMock stand-in: what the event stream framing and the
 * credentials can do wrong, as the client sees it (the happy paths are in local/'s BedrockEndToEndTest).
 */
class BedrockConverseProviderTest {
  private static WireMockServer bedrock;
  private final StaticCredentialsProvider credentials = StaticCredentialsProvider.create(AwsBasicCredentials.create("AKIDPROVIDERTEST0001", "secret-for-tests-only"));
  private final BedrockConverseProvider provider =
      new BedrockConverseProvider(new BedrockTranslator(), new UpstreamHttp(UpstreamHttp.defaultHttpClient()), credentials);

  @BeforeAll
  static void start() {
    bedrock = Upstream.start();
  }

  @AfterAll
  static void stop() {
    bedrock.stop();
  }

  @BeforeEach
  void reset() {
    bedrock.resetAll();
  }

  private Deployment deployment() {
    return new Deployment(
        "nova", Provider.BEDROCK, "amazon.nova-lite-v1:0", URI.create(bedrock.baseUrl()), null, null, Duration.ofSeconds(10), null, null, null,
        "us-east-1");
  }

  private static ProviderRequest chat(boolean stream) {
    return new ProviderRequest(
        Operation.CHAT_COMPLETIONS,
        ForwardedBody.of("{\"model\":\"nova\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}".getBytes(StandardCharsets.UTF_8)),
        stream);
  }

  private static Message event(String type, String json) {
    var headers = new LinkedHashMap<String, HeaderValue>();
    headers.put(":event-type", HeaderValue.fromString(type));
    headers.put(":content-type", HeaderValue.fromString("application/json"));
    headers.put(":message-type", HeaderValue.fromString("event"));
    return new Message(headers, json.getBytes(StandardCharsets.UTF_8));
  }

  private static byte[] encode(Message... messages) {
    var out = new ByteArrayOutputStream();
    for (Message message : messages) {
      message.encode(out);
    }
    return out.toByteArray();
  }

  private void streamAnswers(byte[] body) {
    bedrock.stubFor(
        post(urlEqualTo("/model/amazon.nova-lite-v1%3A0/converse-stream"))
            .willReturn(aResponse().withHeader("Content-Type", "application/vnd.amazon.eventstream").withBody(body)));
  }

  private static List<String> drain(ProviderStream stream, List<String> contents) {
    try (stream) {
      StreamChunk chunk;
      while ((chunk = stream.next()) != null) {
        var choices = Json.readObject(chunk.json()).path("choices");
        contents.add(choices.isEmpty() ? "<usage>" : choices.get(0).path("delta").path("content").asText(""));
      }
    }
    return contents;
  }

  @Test
  void aStreamEndingAfterMessageStopWithoutMetadataEndsNormallyWithoutUsage() {
    streamAnswers(encode(event("messageStart", "{\"role\":\"assistant\"}"), event("contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hi\"}}"),
        event("messageStop", "{\"stopReason\":\"end_turn\"}")));

    var stream = (ProviderStream) provider.answer(deployment(), chat(true));

    assertThat(drain(stream, new ArrayList<>())).containsExactly("", "Hi", "");
  }

  @Test
  void aStreamCutBeforeMessageStopIsTheProvidersFailureMidStream() {
    streamAnswers(encode(event("messageStart", "{\"role\":\"assistant\"}"), event("contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hi\"}}")));
    var contents = new ArrayList<String>();

    var stream = (ProviderStream) provider.answer(deployment(), chat(true));

    assertThatThrownBy(() -> drain(stream, contents))
        .isInstanceOfSatisfying(GatewayException.class, e -> {
          assertThat(ErrorEnvelope.status(e)).isEqualTo(502);
          assertThat(e.getMessage()).contains("ended its answer before it was complete").contains("in the middle of the stream");
        });
    assertThat(contents).containsExactly("", "Hi");
  }

  @Test
  void anExceptionInTheSameReadAsEarlierEventsComesAfterThemAsAFailureMidStream() {
    var exception = new LinkedHashMap<String, HeaderValue>();
    exception.put(":exception-type", HeaderValue.fromString("throttlingException"));
    exception.put(":content-type", HeaderValue.fromString("application/json"));
    exception.put(":message-type", HeaderValue.fromString("exception"));
    // One body, so the events and the exception arrive together (as TCP may deliver them).
    streamAnswers(encode(event("messageStart", "{\"role\":\"assistant\"}"),
        event("contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hello \"}}"),
        new Message(exception, "{\"message\":\"Too many tokens, please wait before trying again.\"}".getBytes(StandardCharsets.UTF_8))));
    var contents = new ArrayList<String>();

    var stream = (ProviderStream) provider.answer(deployment(), chat(true));

    // The first next() returns the first event, not the exception: the call has started, so the
    // router will not send it again, and the client gets the text before the error.
    assertThatThrownBy(() -> drain(stream, contents))
        .isInstanceOfSatisfying(GatewayException.class, e -> assertThat(ErrorEnvelope.status(e)).isEqualTo(429));
    assertThat(contents).containsExactly("", "Hello ");
    assertThat(bedrock.getAllServeEvents()).hasSize(1);
  }

  @Test
  void aMessageWhoseChecksumDoesNotMatchEndsTheStreamAsCorrupt() {
    byte[] body = encode(event("messageStart", "{\"role\":\"assistant\"}"));
    body[body.length - 1] ^= 0x5a; // the message CRC no longer matches

    streamAnswers(body);
    var stream = (ProviderStream) provider.answer(deployment(), chat(true));

    assertThatThrownBy(() -> drain(stream, new ArrayList<>()))
        .isInstanceOfSatisfying(GatewayException.class, e -> {
          assertThat(ErrorEnvelope.status(e)).isEqualTo(502);
          assertThat(ErrorEnvelope.type(e)).isEqualTo("api_connection_error");
          assertThat(e.getMessage()).contains("sent a corrupt event stream");
        });
  }

  @Test
  void aMessageLargerThanTheBoundEndsTheStreamWithoutBufferingIt() {
    byte[] prelude = encode(event("contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"" + "x".repeat(9 * 1024 * 1024) + "\"}}"));

    streamAnswers(Arrays.copyOf(prelude, prelude.length - 4096)); // never whole: only the bound can end it
    var stream = (ProviderStream) provider.answer(deployment(), chat(true));

    assertThatThrownBy(() -> drain(stream, new ArrayList<>()))
        .isInstanceOfSatisfying(GatewayException.class, e -> assertThat(e.getMessage()).contains("an event stream message of more than 8388608 bytes"));
  }

  @Test
  void aStreamAnsweredWithAnotherContentTypeIsRefusedBeforeAnyChunk() {
    bedrock.stubFor(
        post(urlEqualTo("/model/amazon.nova-lite-v1%3A0/converse-stream"))
            .willReturn(aResponse().withHeader("Content-Type", "text/html").withBody("<html>proxy</html>")));

    assertThatThrownBy(() -> provider.answer(deployment(), chat(true)))
        .isInstanceOfSatisfying(GatewayException.class, e -> {
          assertThat(ErrorEnvelope.status(e)).isEqualTo(502);
          assertThat(e.getMessage()).contains("answered a stream request with text/html, not an event stream");
        });
  }

  @Test
  void noAwsCredentialsIsA503BeforeAnythingIsSent() {
    var withoutCredentials =
        new BedrockConverseProvider(new BedrockTranslator(), new UpstreamHttp(UpstreamHttp.defaultHttpClient()), () -> {
          throw SdkClientException.create("Unable to load credentials from any of the providers in the chain");
        });

    assertThatThrownBy(() -> withoutCredentials.answer(deployment(), chat(false)))
        .isInstanceOfSatisfying(GatewayException.class, e -> {
          assertThat(ErrorEnvelope.status(e)).isEqualTo(503);
          assertThat(e.getMessage()).contains("no AWS credentials to call Amazon Bedrock for model 'nova'");
        });
    assertThat(bedrock.getAllServeEvents()).isEmpty();
  }

  /**
   * The signature holds for the request as Bedrock receives it: what the JDK's HTTP client sent
   * (host with port, content type, body, the model id's encoding) is signed again, at the request's
   * own X-Amz-Date, the way AWS checks it, and gives the same signature.
   */
  @Test
  void theSignatureHoldsForTheRequestAsTheServerReceivesIt() {
    bedrock.stubFor(
        post(urlEqualTo("/model/amazon.nova-lite-v1%3A0/converse"))
            .willReturn(aResponse().withHeader("Content-Type", "application/json").withBody(
                "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":[{\"text\":\"ok\"}]}},\"stopReason\":\"end_turn\","
                    + "\"usage\":{\"inputTokens\":1,\"outputTokens\":1,\"totalTokens\":2},\"metrics\":{\"latencyMs\":1}}")));

    provider.answer(deployment(), chat(false));

    var received = bedrock.getAllServeEvents().getFirst().getRequest();
    var authorization = java.util.regex.Pattern.compile(
            "AWS4-HMAC-SHA256 Credential=AKIDPROVIDERTEST0001/(\\d{8})/us-east-1/bedrock/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})")
        .matcher(received.getHeader("Authorization"));
    assertThat(authorization.matches()).as(received.getHeader("Authorization")).isTrue();
    var date = java.time.LocalDateTime.parse(received.getHeader("X-Amz-Date"), java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'"))
        .toInstant(java.time.ZoneOffset.UTC);
    var request = SdkHttpRequest.builder().method(SdkHttpMethod.POST).uri(URI.create(bedrock.baseUrl() + received.getUrl()));
    for (String name : authorization.group(2).split(";")) {
      if (!name.equals("host") && !name.equals("x-amz-date")) { // the signer writes these two itself
        request.putHeader(name, received.getHeader(name));
      }
    }
    var again = AwsV4HttpSigner.create().sign(r -> r.identity(credentials.resolveCredentials())
        .request(request.build())
        .payload(ContentStreamProvider.fromByteArray(received.getBody()))
        .putProperty(AwsV4HttpSigner.SERVICE_SIGNING_NAME, "bedrock")
        .putProperty(AwsV4HttpSigner.REGION_NAME, "us-east-1")
        .putProperty(HttpSigner.SIGNING_CLOCK, java.time.Clock.fixed(date, java.time.ZoneOffset.UTC)));

    assertThat(again.request().firstMatchingHeader("Authorization").orElseThrow()).isEqualTo(received.getHeader("Authorization"));
    assertThat(authorization.group(2).split(";")).contains("host", "x-amz-date", "content-type");
  }
}

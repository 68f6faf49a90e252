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
import aigw.core.providers.ProviderResponse;
import aigw.core.providers.ProviderStream;
import aigw.core.providers.StreamChunk;
import aigw.core.providers.http.UpstreamHttp;
import aigw.core.testing.Upstream;
import com.github.tomakehurst.wiremock.WireMockServer;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.auth.credentials.AwsSessionCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.eventstream.HeaderValue;
import software.amazon.eventstream.Message;

/**
 * The gateway's AWS credentials never come back to a client through anything Bedrock answers
 * (issue 15: answers were masked for provider keys only): an error's every field, a whole answer,
 * a stream's events and its exceptions. The access key id, the secret access key and the session
 * token the call was signed with are masked, and any AWS access key id ({@code AKIA}/{@code ASIA}).
 */
class BedrockCredentialMaskingTest {
  private static final String KEY_ID = "ASIAQMASKINGTEST4321";
  private static final String SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYMASKTEST99";
  private static final String TOKEN = "IQoJb3JpZ2luX2VjEMASKINGTESTSESSIONTOKENVALUE0123456789abcdef";
  private static final String OTHER_KEY_ID = "AKIAIOSFODNN7EXAMPLE";
  private static final String ECHO = KEY_ID + " " + SECRET + " " + TOKEN + " " + OTHER_KEY_ID;

  private static WireMockServer bedrock;
  private final BedrockConverseProvider provider = new BedrockConverseProvider(new BedrockTranslator(),
      new UpstreamHttp(UpstreamHttp.defaultHttpClient()), StaticCredentialsProvider.create(AwsSessionCredentials.create(KEY_ID, SECRET, TOKEN)));

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
    return new ProviderRequest(Operation.CHAT_COMPLETIONS,
        ForwardedBody.of("{\"model\":\"nova\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}".getBytes(StandardCharsets.UTF_8)), stream);
  }

  private static void assertNoCredential(String text) {
    assertThat(text).doesNotContain(KEY_ID).doesNotContain(SECRET).doesNotContain(TOKEN).doesNotContain(OTHER_KEY_ID)
        .doesNotContain(TOKEN.substring(0, 30));
  }

  private static String everyField(GatewayException e) {
    return e.getMessage() + " " + ErrorEnvelope.of(e) + " " + ErrorEnvelope.anthropic(e, "r");
  }

  @Test
  void anErrorEchoingTheCredentialsIsMaskedInEveryField() {
    bedrock.stubFor(post(urlEqualTo("/model/amazon.nova-lite-v1%3A0/converse")).willReturn(aResponse().withStatus(400)
        .withHeader("x-amzn-ErrorType", "ValidationException").withBody("{\"message\":\"bad signature for " + ECHO + "\"}")));

    assertThatThrownBy(() -> provider.answer(deployment(), chat(false))).isInstanceOfSatisfying(GatewayException.class, e -> {
      assertThat(ErrorEnvelope.status(e)).isEqualTo(400);
      assertNoCredential(everyField(e));
      assertThat(e.getMessage()).contains("ASIA...4321").contains("AKIA...MPLE");
    });
  }

  @Test
  void anOverloadedAnswerQuotingTheKeyIdIsMasked() {
    bedrock.stubFor(post(urlEqualTo("/model/amazon.nova-lite-v1%3A0/converse")).willReturn(aResponse().withStatus(503)
        .withHeader("x-amzn-ErrorType", "ServiceUnavailableException").withBody("{\"message\":\"busy for " + ECHO + "\"}")));

    assertThatThrownBy(() -> provider.answer(deployment(), chat(false))).isInstanceOfSatisfying(GatewayException.class, e -> {
      assertThat(ErrorEnvelope.status(e)).isEqualTo(503);
      assertNoCredential(everyField(e));
    });
  }

  @Test
  void aWholeAnswerRepeatingTheCredentialsIsMasked() {
    String answer = "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":[{\"text\":\"you said " + ECHO + " \u00e9\"}]}},"
        + "\"stopReason\":\"end_turn\",\"usage\":{\"inputTokens\":1,\"outputTokens\":1,\"totalTokens\":2}}";
    bedrock.stubFor(post(urlEqualTo("/model/amazon.nova-lite-v1%3A0/converse")).willReturn(aResponse().withHeader("Content-Type", "application/json")
        .withBody(answer.getBytes(StandardCharsets.UTF_8))));

    var response = (ProviderResponse) provider.answer(deployment(), chat(false));
    String text = Json.readObject(response.body()).path("choices").get(0).path("message").path("content").asText();
    assertNoCredential(text);
    assertThat(text).contains("ASIA...4321").endsWith("\u00e9"); // the UTF-8 around a masked id is kept
  }

  @Test
  void aStreamsEventsAndItsExceptionAreMasked() {
    var exception = new LinkedHashMap<String, HeaderValue>();
    exception.put(":exception-type", HeaderValue.fromString("validationException"));
    exception.put(":content-type", HeaderValue.fromString("application/json"));
    exception.put(":message-type", HeaderValue.fromString("exception"));
    var out = new ByteArrayOutputStream();
    event("messageStart", "{\"role\":\"assistant\"}").encode(out);
    event("contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"" + ECHO + "\"}}").encode(out);
    new Message(exception, ("{\"message\":\"" + ECHO + "\"}").getBytes(StandardCharsets.UTF_8)).encode(out);
    bedrock.stubFor(post(urlEqualTo("/model/amazon.nova-lite-v1%3A0/converse-stream"))
        .willReturn(aResponse().withHeader("Content-Type", "application/vnd.amazon.eventstream").withBody(out.toByteArray())));

    var seen = new StringBuilder();
    var stream = (ProviderStream) provider.answer(deployment(), chat(true));
    assertThatThrownBy(() -> {
      try (stream) {
        StreamChunk chunk;
        while ((chunk = stream.next()) != null) {
          seen.append(new String(chunk.json(), StandardCharsets.UTF_8));
        }
      }
    }).isInstanceOfSatisfying(GatewayException.class, e -> assertNoCredential(everyField(e)));
    assertThat(seen.toString()).contains("ASIA...4321");
    assertNoCredential(seen.toString());
  }

  @Test
  void anyProvidersTextHasAwsAccessKeyIdsMaskedAndOtherWordsKept() {
    assertThat(UpstreamHttp.mask("id AKIAIOSFODNN7EXAMPLE, ASIAQMASKINGTEST4321. AKIAIOSFODNN7EXAMPLEX ASIAN", List.of()))
        .isEqualTo("id AKIA...MPLE, ASIA...4321. AKIAIOSFODNN7EXAMPLEX ASIAN");
    byte[] bytes = "\u00e9 AKIAIOSFODNN7EXAMPLE \u00e9".getBytes(StandardCharsets.UTF_8);
    assertThat(new String(UpstreamHttp.mask(bytes, List.of()), StandardCharsets.UTF_8)).isEqualTo("\u00e9 AKIA...MPLE \u00e9");
    byte[] plain = "nothing here".getBytes(StandardCharsets.UTF_8);
    assertThat(UpstreamHttp.mask(plain, List.of())).isSameAs(plain);
  }

  private static Message event(String type, String json) {
    var headers = new LinkedHashMap<String, HeaderValue>();
    headers.put(":event-type", HeaderValue.fromString(type));
    headers.put(":content-type", HeaderValue.fromString("application/json"));
    headers.put(":message-type", HeaderValue.fromString("event"));
    return new Message(headers, json.getBytes(StandardCharsets.UTF_8));
  }
}

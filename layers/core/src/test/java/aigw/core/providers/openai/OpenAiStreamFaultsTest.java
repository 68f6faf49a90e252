package aigw.core.providers.openai;

import static com.github.tomakehurst.wiremock.client.WireMock.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.config.Deployment;
import aigw.core.config.Provider;
import aigw.core.errors.ErrorEnvelope;
import aigw.core.errors.UpstreamFailed;
import aigw.core.errors.UpstreamTimeout;
import aigw.core.errors.UpstreamUnreachable;
import aigw.core.json.Json;
import aigw.core.providers.ForwardedBody;
import aigw.core.providers.Operation;
import aigw.core.providers.ProviderRequest;
import aigw.core.providers.ProviderStream;
import aigw.core.providers.StreamChunk;
import aigw.core.testing.StreamingUpstream;
import aigw.core.usage.TokenUsage;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A provider misbehaving inside a streamed answer, seen from the gateway's side of the call. */
class OpenAiStreamFaultsTest {
  private static final String CREDENTIAL = "sk-upstream-credential";
  private static WireMockServer upstream;
  private final OpenAiCompatibleProvider provider = new OpenAiCompatibleProvider(OpenAiCompatibleProvider.defaultHttpClient());

  @BeforeAll
  static void startUpstream() {
    upstream = aigw.core.testing.Upstream.start();
  }

  @AfterAll
  static void stopUpstream() {
    upstream.stop();
  }

  @BeforeEach
  void reset() {
    upstream.resetAll();
  }

  private static Deployment at(String baseUrl, Duration timeout) {
    return new Deployment("public-name", Provider.OPENAI, "upstream-model", URI.create(baseUrl), CREDENTIAL, "os.environ/TEST_KEY", timeout);
  }

  private ProviderStream stream(Deployment deployment) {
    var body = ForwardedBody.of("{\"model\":\"m\",\"stream\":true}".getBytes(StandardCharsets.UTF_8));
    return (ProviderStream) provider.answer(deployment, ProviderRequest.streamed(Operation.CHAT_COMPLETIONS, body));
  }

  private ProviderStream stream() {
    return stream(at(upstream.baseUrl() + "/v1", Duration.ofSeconds(5)));
  }

  private static final String CHUNK =
      "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}]}";

  private void stubEvents(String sse) {
    upstream.stubFor(post("/v1/chat/completions").willReturn(aResponse().withHeader("Content-Type", "text/event-stream").withBody(sse)));
  }

  private static void assertNoCredentialIn(UpstreamFailed e) {
    var error = ErrorEnvelope.of(e).error();
    for (String copied : new String[] {error.message(), error.type(), error.param(), error.code()}) {
      assertThat(copied).doesNotContain(CREDENTIAL);
    }
  }

  @Test
  void theCredentialIsMaskedInEveryFieldOfAnErrorBeforeTheFirstByte() {
    upstream.stubFor(post("/v1/chat/completions").willReturn(aResponse().withStatus(400).withBody(
        "{\"error\":{\"message\":\"bad key\",\"type\":\"invalid_" + CREDENTIAL + "\",\"param\":\"" + CREDENTIAL + "\",\"code\":\"key " + CREDENTIAL + " unknown\"}}")));
    assertThatThrownBy(this::stream).isInstanceOfSatisfying(UpstreamFailed.class, e -> {
      assertNoCredentialIn(e);
      assertThat(ErrorEnvelope.of(e).error().param()).isEqualTo("sk-...tial");
      assertThat(ErrorEnvelope.of(e).error().code()).isEqualTo("key sk-...tial unknown");
    });
  }

  @Test
  void theCredentialIsMaskedInEveryFieldOfAnErrorEventMidStream() {
    stubEvents("data: " + CHUNK + "\n\ndata: {\"error\":{\"message\":\"revoked\",\"type\":\"" + CREDENTIAL + "\",\"param\":\"" + CREDENTIAL
        + "\",\"code\":\"" + CREDENTIAL + "\"}}\n\n");
    try (var chunks = stream()) {
      assertThat(chunks.next()).isNotNull();
      assertThatThrownBy(chunks::next).isInstanceOfSatisfying(UpstreamFailed.class, e -> {
        assertNoCredentialIn(e);
        assertThat(e.param()).isEqualTo("sk-...tial");
        assertThat(e.upstreamType()).isEqualTo("sk-...tial");
        assertThat(e.upstreamCode()).isEqualTo("sk-...tial");
      });
    }
  }

  @Test
  void anEventWhoseDataLinesTogetherPassTheBoundEndsTheStreamInsteadOfGrowingWithoutEnd() {
    String megabyteLine = "data: " + "x".repeat(1024 * 1024) + "\n";
    stubEvents("data: " + CHUNK + "\n\n" + megabyteLine.repeat(9) + "\n");
    try (var chunks = stream()) {
      assertThat(chunks.next()).as("the event before it passes").isNotNull();
      assertThatThrownBy(chunks::next).isInstanceOfSatisfying(UpstreamUnreachable.class, e ->
          assertThat(e.getMessage()).isEqualTo("The provider of 'public-name' at localhost:" + upstream.port()
              + " sent a stream event of more than 8388608 bytes (its data lines together); the stream was ended."));
    }
  }

  @Test
  void aWholeJsonCompletionToAStreamRequestIsRelayedAsTheChunksOpenAiWouldHaveSentWithItsUsage() throws Exception {
    upstream.stubFor(post("/v1/chat/completions").willReturn(okJson(
        "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"upstream-model\",\"choices\":[{\"index\":0,"
            + "\"message\":{\"role\":\"assistant\",\"content\":\"Hi!\",\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
            + "\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":3,\"total_tokens\":12}}")));
    try (var chunks = stream()) {
      StreamChunk content = chunks.next();
      JsonNode json = Json.MAPPER.readTree(content.json());
      assertThat(json.get("object").asText()).isEqualTo("chat.completion.chunk");
      assertThat(json.has("usage")).isFalse();
      assertThat(json.at("/choices/0/delta/role").asText()).isEqualTo("assistant");
      assertThat(json.at("/choices/0/delta/content").asText()).isEqualTo("Hi!");
      assertThat(json.at("/choices/0/delta/tool_calls/0/index").asInt()).isZero();
      assertThat(json.at("/choices/0/delta/tool_calls/0/function/name").asText()).isEqualTo("f");
      assertThat(json.at("/choices/0/finish_reason").asText()).isEqualTo("tool_calls");
      assertThat(json.at("/choices/0").has("message")).isFalse();
      assertThat(content.generatedChars()).isEqualTo(5);
      StreamChunk usage = chunks.next();
      assertThat(usage.usageOnly()).isTrue();
      assertThat(usage.usage()).isEqualTo(new TokenUsage(9, 3, 12));
      assertThat(Json.MAPPER.readTree(usage.json()).get("choices")).isEmpty();
      assertThat(chunks.next()).as("the answer is complete").isNull();
    }
  }

  @Test
  void aWholeBodyOfAnotherKindToAStreamRequestIsNamedByItsTypeNotTakenForACutStream() {
    upstream.stubFor(post("/v1/chat/completions").willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/html; charset=utf-8").withBody("<html><body>Maintenance</body></html>")));
    try (var chunks = stream()) {
      assertThatThrownBy(chunks::next).isInstanceOfSatisfying(UpstreamUnreachable.class, e -> assertThat(e.getMessage())
          .isEqualTo("The provider of 'public-name' answered a stream request with text/html; charset=utf-8, neither an event"
              + " stream (text/event-stream) nor JSON."));
    }
  }

  @Test
  void aJsonAnswerToAStreamRequestThatIsNoCompletionOrAnErrorSaysSo() {
    upstream.stubFor(post("/v1/chat/completions").willReturn(okJson("{\"status\":\"queued\"}")));
    assertThatThrownBy(this::stream).isInstanceOfSatisfying(UpstreamUnreachable.class, e -> assertThat(e.getMessage())
        .isEqualTo("The provider of 'public-name' answered a stream request with JSON that is not a completion (no 'choices'); nothing could be relayed."));

    upstream.stubFor(post("/v1/chat/completions").willReturn(okJson(
        "{\"error\":{\"message\":\"context too long for " + CREDENTIAL + "\",\"type\":\"invalid_request_error\",\"code\":400}}")));
    assertThatThrownBy(this::stream).isInstanceOfSatisfying(UpstreamFailed.class, e -> {
      assertThat(ErrorEnvelope.status(e)).isEqualTo(400);
      assertThat(e.getMessage()).isEqualTo("context too long for sk-...tial");
    });
  }

  @Test
  void headersThenSilenceOrAnEndIsNamedAsBeforeAnyPartOfTheAnswerNotTheMiddle() throws Exception {
    try (var silent = StreamingUpstream.start()) {
      // 2 s: the timeout also bounds the wait for the headers, which a loaded machine's test thread
      // may send a few hundred ms late.
      Deployment timed = at(silent.baseUrl(), Duration.ofSeconds(2));
      var answered = java.util.concurrent.CompletableFuture.supplyAsync(() -> stream(timed));
      var exchange = silent.awaitRequest();
      exchange.startStream();
      // The answer is handed over with its first bytes (UpstreamHttp#open), so here the answer itself
      // fails; before its first chunk either is the same to the router (FailoverPolicy#firstChunkRead).
      assertThatThrownBy(answered::get).cause().isInstanceOfSatisfying(UpstreamTimeout.class, e -> assertThat(e.getMessage()).isEqualTo(
          "The provider of 'public-name' at 127.0.0.1:" + URI.create(silent.baseUrl()).getPort()
              + " sent nothing for 2 s after its response headers, before any part of its answer."));

      // No timeout is wanted here: a patient deployment, so a loaded machine that reads the end late
      // still sees the end, not the timeout pass.
      Deployment patient = at(silent.baseUrl(), Duration.ofSeconds(10));
      answered = java.util.concurrent.CompletableFuture.supplyAsync(() -> stream(patient));
      exchange = silent.awaitRequest();
      exchange.startStream();
      exchange.finish();
      try (var chunks = answered.get()) {
        assertThatThrownBy(chunks::next).isInstanceOfSatisfying(UpstreamUnreachable.class, e -> assertThat(e.getMessage()).isEqualTo(
            "The provider of 'public-name' ended its answer before it was complete (the connection closed after its response headers, before any part of its answer)."));
      }

      // The chunk written just after the headers is read within the 2 s even when the machine is
      // loaded; the silence after it then passes the timeout in the middle of the answer.
      answered = java.util.concurrent.CompletableFuture.supplyAsync(() -> stream(timed));
      exchange = silent.awaitRequest();
      exchange.startStream();
      exchange.sendEvent(CHUNK);
      try (var chunks = answered.get()) {
        assertThat(chunks.next()).isNotNull();
        assertThatThrownBy(chunks::next).isInstanceOfSatisfying(UpstreamTimeout.class, e ->
            assertThat(e.getMessage()).endsWith(" sent nothing for 2 s in the middle of its answer."));
      }
    }
  }
}

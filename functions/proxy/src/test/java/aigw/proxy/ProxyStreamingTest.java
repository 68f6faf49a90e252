package aigw.proxy;

import static com.github.tomakehurst.wiremock.client.WireMock.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.Gateway;
import aigw.core.config.Deployment;
import aigw.core.config.Provider;
import aigw.core.http.CorsPolicy;
import aigw.core.http.GatewayApplication;
import aigw.core.http.GatewayRequest;
import aigw.core.http.GatewayResponse;
import aigw.core.json.Json;
import aigw.core.keys.KeyUsage;
import aigw.core.testing.LocalDynamo;
import aigw.core.testing.MutableClock;
import aigw.core.testing.StreamingUpstream;
import aigw.core.testing.TestGateways;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code stream: true} and {@code /v1/completions} through the proxy's HTTP application, against
 * real loopback upstreams: WireMock for whole streams, {@link StreamingUpstream} where timing, a
 * dying provider or a departing client matter.
 */
class ProxyStreamingTest {
  private static final String KEY = "sk-aigw-streaming-test-key-0001";
  private static WireMockServer wiremock;

  private LocalDynamo dynamo;
  private MutableClock clock;
  private StreamingUpstream upstream;
  private Gateway gateway;
  private GatewayApplication app;
  private String keyId;

  @BeforeAll
  static void startWireMock() {
    wiremock = aigw.core.testing.Upstream.start();
  }

  @AfterAll
  static void stopWireMock() {
    wiremock.stop();
  }

  @BeforeEach
  void setUp() {
    wiremock.resetAll();
    dynamo = new LocalDynamo();
    clock = MutableClock.at("2026-05-01T12:00:00Z");
    upstream = StreamingUpstream.start();
    useModels(List.of(
        TestGateways.openAi("held", "held-upstream", upstream.baseUrl()),
        TestGateways.openAi("gpt-4o-mini", "gpt-4o-mini", wiremock.baseUrl() + "/v1"),
        TestGateways.openAi("instruct", "gpt-3.5-turbo-instruct", wiremock.baseUrl() + "/v1")));
  }

  private void useModels(List<Deployment> models) {
    gateway = TestGateways.gateway(dynamo, models, clock);
    app = GatewayApplication.of(CorsPolicy.DISABLED, new ProxyService(gateway)::handle);
    if (keyId == null) { // one table for every gateway of a test
      keyId = TestGateways.storeKey(gateway, KEY, List.of(), null, false).keyId();
    }
  }

  @AfterEach
  void tearDown() {
    upstream.close();
    dynamo.close();
  }

  private GatewayResponse send(String path, String body) {
    return app.handle(new GatewayRequest("POST", path, Map.of("Authorization", "Bearer " + KEY, "Content-Type", "application/json"),
        Map.of(), body.getBytes(StandardCharsets.UTF_8), "req-1"));
  }

  private static String chatStream(String model, String extra) {
    return "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}],\"stream\":true" + extra + "}";
  }

  private static String chunk(String content) {
    return "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\""
        + content + "\"},\"finish_reason\":null}],\"usage\":null}";
  }

  private static final String STOP =
      "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}";
  private static final String USAGE =
      "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":2,\"total_tokens\":13}}";

  private static String sse(String... data) {
    var out = new StringBuilder();
    for (String d : data) {
      out.append("data: ").append(d).append("\n\n");
    }
    return out.toString();
  }

  private void stubStream(String url, String sseBody) {
    wiremock.stubFor(post(url).willReturn(aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream").withBody(sseBody)));
  }

  private KeyUsage usage() {
    return gateway.keyStore().usageOf(keyId);
  }

  /**
   * The client's side: what was written, as it was written, and what of it was flushed (what a
   * transport sends: the local server one chunk per flush, the Lambda runtime one chunk per flush).
   */
  private static final class ClientOutput extends OutputStream {
    private final ByteArrayOutputStream written = new ByteArrayOutputStream();
    private final List<String> sent = new ArrayList<>();
    private int sentBytes;
    private final int flushesBeforeGone;
    private int flushes;

    ClientOutput(int flushesBeforeGone) {
      this.flushesBeforeGone = flushesBeforeGone;
    }

    static ClientOutput staying() {
      return new ClientOutput(Integer.MAX_VALUE);
    }

    @Override
    public synchronized void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) throws IOException {
      if (flushes >= flushesBeforeGone) {
        throw new IOException("Broken pipe"); // the client closed its connection
      }
      written.write(b, off, len);
    }

    @Override
    public synchronized void flush() {
      flushes++;
      byte[] all = written.toByteArray();
      if (all.length > sentBytes) {
        sent.add(new String(all, sentBytes, all.length - sentBytes, StandardCharsets.UTF_8));
        sentBytes = all.length;
      }
    }

    synchronized String text() {
      return written.toString(StandardCharsets.UTF_8);
    }

    /** What each flush that had something to send sent, in order. */
    synchronized List<String> sent() {
      return List.copyOf(sent);
    }

    synchronized String sentText() {
      return String.join("", sent);
    }
  }

  /** Runs the whole request (call, then body) on another thread, as a transport does. */
  private CompletableFuture<GatewayResponse> sendInBackground(String path, String body, OutputStream out) {
    return CompletableFuture.supplyAsync(() -> {
      GatewayResponse response = send(path, body);
      if (response.isStreaming()) {
        try {
          response.stream().writeTo(out);
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }
      return response;
    });
  }

  /** Waits until {@code text} was flushed: it has left for the client, not only been written. */
  private static void awaitWritten(ClientOutput out, String text) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!out.sentText().contains(text)) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not flushed within 10 s: " + text + "\nwritten: " + out.text() + "\nflushed: " + out.sentText());
      }
      Thread.sleep(5);
    }
  }

  @Test
  void chunksReachTheClientAsTheyArriveInOrderAndTheStreamEndsWithDone() throws Exception {
    var out = ClientOutput.staying();
    var call = sendInBackground("/v1/chat/completions", chatStream("held", ""), out);
    var exchange = upstream.awaitRequest();
    assertThat(exchange.requestLine()).isEqualTo("POST /v1/chat/completions HTTP/1.1");
    JsonNode sent = Json.MAPPER.readTree(exchange.body());
    assertThat(sent.get("model").asText()).isEqualTo("held-upstream");
    assertThat(sent.at("/stream_options/include_usage").asBoolean()).as("the gateway always asks for usage").isTrue();
    exchange.startStream();
    exchange.sendEvent(chunk("Hel"));
    // The first event reaches the client while the provider still holds the rest.
    awaitWritten(out, chunk("Hel"));
    assertThat(out.text()).isEqualTo("data: " + chunk("Hel") + "\n\n");
    exchange.sendEvent(chunk("lo"));
    awaitWritten(out, chunk("lo"));
    exchange.sendEvent(STOP);
    exchange.sendEvent(USAGE);
    exchange.sendEvent("[DONE]");
    exchange.finish();
    GatewayResponse response = call.get(10, TimeUnit.SECONDS);

    assertThat(response.status()).isEqualTo(200);
    assertThat(response.headers()).containsEntry("Content-Type", "text/event-stream; charset=utf-8").containsEntry("Cache-Control", "no-cache");
    assertThat(out.text()).as("the usage chunk only for clients that ask for it").isEqualTo(sse(chunk("Hel"), chunk("lo"), STOP, "[DONE]"));
    KeyUsage usage = usage();
    assertThat(usage.requests()).isEqualTo(1);
    assertThat(usage.totalTokens()).as("the provider's usage, recorded before [DONE]").isEqualTo(13);
    assertThat(usage.estimatedRequests()).isZero();
  }

  /**
   * The first event leaves at once, alone; the events that arrived with it are written together and
   * flushed once, before the gateway waits for the provider again; one that arrives alone is flushed
   * alone, at once: nothing that arrived waits on the provider's next bytes.
   */
  @Test
  void eventsThatArriveTogetherAfterTheFirstLeaveInOneWriteAndNoneWaitsForTheProvider() throws Exception {
    var out = ClientOutput.staying();
    var call = sendInBackground("/v1/chat/completions", chatStream("held", ""), out);
    var exchange = upstream.awaitRequest();
    exchange.startStream();
    exchange.sendRaw(sse(chunk("Hel"), chunk("lo"), chunk(" there"))); // one chunk of the body, in one write; then silence
    awaitWritten(out, chunk(" there"));
    assertThat(out.sent()).as("the first event at once, the two that came with it in one write").containsExactly(
        sse(chunk("Hel")), sse(chunk("lo"), chunk(" there")));
    exchange.sendEvent(chunk("!"));
    awaitWritten(out, chunk("!"));
    assertThat(out.sent()).as("an event that arrives alone is not held for the next").containsExactly(
        sse(chunk("Hel")), sse(chunk("lo"), chunk(" there")), sse(chunk("!")));
    exchange.sendEvent(STOP);
    exchange.sendEvent(USAGE);
    exchange.sendEvent("[DONE]");
    exchange.finish();
    call.get(10, TimeUnit.SECONDS);
    assertThat(out.sentText()).isEqualTo(sse(chunk("Hel"), chunk("lo"), chunk(" there"), chunk("!"), STOP, "[DONE]"));
    assertThat(usage().totalTokens()).isEqualTo(13);
  }

  @Test
  void aClientThatAskedForUsageGetsTheUsageChunkWithEmptyChoices() throws Exception {
    stubStream("/v1/chat/completions", sse(chunk("Hi"), STOP, USAGE, "[DONE]"));
    GatewayResponse response = send("/v1/chat/completions", chatStream("gpt-4o-mini", ",\"stream_options\":{\"include_usage\":true}"));
    String body = new String(response.buffered().body(), StandardCharsets.UTF_8);
    assertThat(body).isEqualTo(sse(chunk("Hi"), STOP, USAGE, "[DONE]"));
    assertThat(usage().promptTokens()).isEqualTo(11);
    assertThat(usage().completionTokens()).isEqualTo(2);
    wiremock.verify(postRequestedFor(urlEqualTo("/v1/chat/completions"))
        .withRequestBody(matchingJsonPath("$.stream_options.include_usage", equalTo("true"))));
  }

  @Test
  void toolCallDeltasPassThroughByteForByte() throws Exception {
    String first = "{\"id\":\"c2\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,"
        + "\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}";
    String args = "{\"id\":\"c2\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
        + "\"function\":{\"arguments\":\"{\\\"city\\\": \\\"Paris\\\"}\"}}]},\"finish_reason\":null}]}";
    String last = "{\"id\":\"c2\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}";
    stubStream("/v1/chat/completions", sse(first, args, last, USAGE, "[DONE]"));
    GatewayResponse response = send("/v1/chat/completions", chatStream("gpt-4o-mini", ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}]"));
    assertThat(new String(response.buffered().body(), StandardCharsets.UTF_8)).isEqualTo(sse(first, args, last, "[DONE]"));
  }

  /**
   * Anthropic reports the prompt's tokens in message_start, before any text: a stream cut off after
   * it (no message_stop, so no final usage) is counted with those, cached ones included, and only
   * the completion is estimated.
   */
  @Test
  void anAnthropicStreamCutAfterMessageStartIsCountedWithThePromptTokensItReported() throws Exception {
    useModels(List.of(new Deployment("claude", Provider.ANTHROPIC, "claude-sonnet-4-5", URI.create(wiremock.baseUrl()),
        "sk-ant-provider-test", "test", Duration.ofSeconds(5))));
    stubStream("/v1/messages", String.join("\n",
        "event: message_start",
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],"
            + "\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":25,\"cache_read_input_tokens\":100,\"output_tokens\":1}}}",
        "",
        "event: content_block_start",
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}",
        "",
        "event: content_block_delta",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello, wor\"}}",
        "", ""));
    GatewayResponse response = send("/v1/chat/completions", chatStream("claude", ""));
    String text = new String(response.buffered().body(), StandardCharsets.UTF_8);
    assertThat(text).contains("Hello, wor").as("cut off: no [DONE]").doesNotContain("[DONE]");

    KeyUsage usage = usage();
    assertThat(usage.requests()).isEqualTo(1);
    assertThat(usage.estimatedRequests()).as("the completion is still an estimate").isEqualTo(1);
    assertThat(usage.promptTokens()).as("message_start's 25 + 100 cached, not request bytes / 4").isEqualTo(125);
    assertThat(usage.completionTokens()).as("\"Hello, wor\": 10 characters").isEqualTo(3);
  }

  @Test
  void aClientLeavingMidStreamEndsTheUpstreamCallAndItsOutputIsCountedAsAnEstimate() throws Exception {
    var out = new ClientOutput(1); // the client reads one event, then closes its connection
    String request = chatStream("held", "");
    var call = sendInBackground("/v1/chat/completions", request, out);
    var exchange = upstream.awaitRequest();
    exchange.startStream();
    exchange.sendEvent(chunk("Hello wor"));
    awaitWritten(out, chunk("Hello wor"));
    exchange.sendEvent(chunk("ld, and more"));
    assertThatThrownBy(() -> call.get(10, TimeUnit.SECONDS)).hasRootCauseInstanceOf(IOException.class);
    assertThat(exchange.awaitClientClosed(Duration.ofSeconds(5))).as("the gateway closed its connection to the provider").isTrue();

    KeyUsage usage = usage();
    assertThat(usage.requests()).isEqualTo(1);
    assertThat(usage.estimatedRequests()).as("marked as estimated").isEqualTo(1);
    long requestBytes = request.getBytes(StandardCharsets.UTF_8).length;
    assertThat(usage.promptTokens()).isEqualTo((requestBytes + 3) / 4);
    assertThat(usage.completionTokens()).as("\"Hello wor\" + \"ld, and more\": 21 characters").isEqualTo(6);
  }

  /**
   * A client gone after the finish chunk, where no departure watch is (Lambda: a write fails): the
   * rest is read for its usage for at most UpstreamHttp.DEPARTED_GRACE (5 s), not for the
   * deployment's timeout, even when the provider stalls after its finish chunk.
   */
  @Test
  void aClientGoneAfterTheFinishChunkHoldsAStalledProviderForTheGraceOnly() throws Exception {
    useModels(List.of(new Deployment("held", Provider.OPENAI, "held-upstream", URI.create(upstream.baseUrl()), "sk-upstream-test-credential", "test",
        Duration.ofSeconds(60)))); // a timeout well past the grace
    var out = new ClientOutput(1); // the client reads one event, then closes its connection
    var call = sendInBackground("/v1/chat/completions", chatStream("held", ""), out);
    var exchange = upstream.awaitRequest();
    exchange.startStream();
    String finish = "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"model\":\"held-upstream\","
        + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"stop\"}]}";
    exchange.sendEvent(finish);
    awaitWritten(out, finish);
    exchange.sendEvent(finish); // its write finds the client gone; then the provider stalls
    assertThatThrownBy(() -> call.get(20, TimeUnit.SECONDS)).hasRootCauseInstanceOf(IOException.class);
    assertThat(exchange.awaitClientClosed(Duration.ofSeconds(5))).as("the gateway closed its connection to the provider").isTrue();
    assertThat(usage().estimatedRequests()).as("no usage came: estimated").isEqualTo(1);
  }

  @Test
  void aProviderDyingMidStreamEndsTheStreamWithAnErrorEventAndNoDone() throws Exception {
    var out = ClientOutput.staying();
    var call = sendInBackground("/v1/chat/completions", chatStream("held", ""), out);
    var exchange = upstream.awaitRequest();
    exchange.startStream();
    exchange.sendEvent(chunk("Hel"));
    awaitWritten(out, chunk("Hel"));
    exchange.die();
    assertThat(call.get(10, TimeUnit.SECONDS).status()).isEqualTo(200);

    String[] events = out.text().split("\n\n");
    assertThat(events).hasSize(2);
    assertThat(events[0]).isEqualTo("data: " + chunk("Hel"));
    JsonNode error = Json.MAPPER.readTree(events[1].substring("data: ".length())).get("error");
    assertThat(error.get("type").asText()).isEqualTo("api_connection_error");
    assertThat(error.get("code").asText()).isEqualTo("502");
    assertThat(error.get("message").asText()).contains("provider of 'held'").contains("middle");
    assertThat(out.text()).doesNotContain("[DONE]");
    assertThat(usage().requests()).isEqualTo(1);
    assertThat(usage().estimatedRequests()).isEqualTo(1);
  }

  @Test
  void aProviderClosingItsConnectionMidStreamIsSaidToHaveClosedItInTheMiddleOfTheAnswerNotBeforeAnswering() throws Exception {
    var out = ClientOutput.staying();
    var call = sendInBackground("/v1/chat/completions", chatStream("held", ""), out);
    var exchange = upstream.awaitRequest();
    exchange.startStream();
    exchange.sendEvent(chunk("Hel"));
    awaitWritten(out, chunk("Hel"));
    exchange.hangUp();
    assertThat(call.get(10, TimeUnit.SECONDS).status()).isEqualTo(200);

    String[] events = out.text().split("\n\n");
    assertThat(events).hasSize(2);
    JsonNode error = Json.MAPPER.readTree(events[1].substring("data: ".length())).get("error");
    assertThat(error.get("message").asText()).as("what the client reads")
        .matches("The connection to the provider of 'held' at 127\\.0\\.0\\.1:\\d+ failed in the middle of its answer: "
            + "the provider closed the connection\\.");
  }

  @Test
  void aProviderGoingSilentMidStreamTimesOutWithAnErrorEventInsteadOfHanging() throws Exception {
    useModels(List.of(new Deployment("held", Provider.OPENAI, "held-upstream", URI.create(upstream.baseUrl()), "sk-upstream-test-credential", "test",
        Duration.ofMillis(400))));
    var out = ClientOutput.staying();
    var call = sendInBackground("/v1/chat/completions", chatStream("held", ""), out);
    var exchange = upstream.awaitRequest();
    exchange.startStream();
    exchange.sendEvent(chunk("Hel")); // and then nothing
    assertThat(call.get(10, TimeUnit.SECONDS).status()).isEqualTo(200);
    assertThat(out.text()).startsWith("data: " + chunk("Hel") + "\n\n").doesNotContain("[DONE]");
    JsonNode error = Json.MAPPER.readTree(out.text().split("\n\n")[1].substring("data: ".length())).get("error");
    assertThat(error.get("type").asText()).isEqualTo("timeout");
    assertThat(error.get("message").asText()).contains("sent nothing for 0.4 s");
    assertThat(exchange.awaitClientClosed(Duration.ofSeconds(5))).as("the silent call was ended").isTrue();
  }

  @Test
  void aStreamMayLastLongerThanTheTimeoutAsLongAsChunksKeepComing() throws Exception {
    useModels(List.of(new Deployment("held", Provider.OPENAI, "held-upstream", URI.create(upstream.baseUrl()), "sk-upstream-test-credential", "test",
        Duration.ofMillis(500))));
    var out = ClientOutput.staying();
    var call = sendInBackground("/v1/chat/completions", chatStream("held", ""), out);
    var exchange = upstream.awaitRequest();
    exchange.startStream();
    var sent = new ArrayList<String>();
    for (int i = 0; i < 8; i++) { // 8 x 250 ms: four times the timeout in all, never 500 ms without a byte
      exchange.sendEvent(chunk("t" + i));
      sent.add(chunk("t" + i));
      Thread.sleep(250);
    }
    exchange.sendEvent("[DONE]");
    exchange.finish();
    call.get(10, TimeUnit.SECONDS);
    sent.add("[DONE]");
    assertThat(out.text()).isEqualTo(sse(sent.toArray(String[]::new)));
  }

  @Test
  void aProviderErrorEventMidStreamIsPassedInOpenAisErrorShape() throws Exception {
    stubStream("/v1/chat/completions",
        sse(chunk("Hel"), "{\"error\":{\"message\":\"The server had an error while processing your request.\",\"type\":\"server_error\",\"param\":null,\"code\":null}}"));
    String body = new String(send("/v1/chat/completions", chatStream("gpt-4o-mini", "")).buffered().body(), StandardCharsets.UTF_8);
    assertThat(body).isEqualTo(sse(chunk("Hel"),
        "{\"error\":{\"message\":\"The server had an error while processing your request.\",\"type\":\"server_error\",\"param\":null,\"code\":\"502\"}}"));
  }

  @Test
  void aRateLimitBeforeTheFirstByteIsANormalErrorResponseWithRetryAfter() throws Exception {
    wiremock.stubFor(post("/v1/chat/completions").willReturn(aResponse().withStatus(429).withHeader("Retry-After", "7")
        .withBody("{\"error\":{\"message\":\"slow down\",\"type\":\"rate_limit_error\"}}")));
    GatewayResponse response = send("/v1/chat/completions", chatStream("gpt-4o-mini", ""));
    assertThat(response.isStreaming()).isFalse();
    assertThat(response.status()).isEqualTo(429);
    assertThat(response.headers()).containsEntry("Retry-After", "7").containsEntry("Content-Type", "application/json");
    JsonNode error = Json.MAPPER.readTree(response.body()).get("error");
    assertThat(error.get("message").asText()).isEqualTo("slow down");
    assertThat(error.get("type").asText()).isEqualTo("rate_limit_error");
    assertThat(usage().requests()).as("a refused call is not counted").isZero();
  }

  @Test
  void aServerErrorOrAnErrorAsTheFirstEventIsA502Envelope() throws Exception {
    wiremock.stubFor(post("/v1/chat/completions").willReturn(aResponse().withStatus(500).withBody("{\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}")));
    GatewayResponse failed = send("/v1/chat/completions", chatStream("gpt-4o-mini", ""));
    assertThat(failed.status()).isEqualTo(502);
    assertThat(Json.MAPPER.readTree(failed.body()).at("/error/message").asText()).isEqualTo("boom");

    stubStream("/v1/chat/completions", sse("{\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}"));
    GatewayResponse firstEventError = send("/v1/chat/completions", chatStream("gpt-4o-mini", ""));
    assertThat(firstEventError.isStreaming()).as("nothing was sent yet: a normal error response").isFalse();
    assertThat(firstEventError.status()).isEqualTo(502);
    assertThat(Json.MAPPER.readTree(firstEventError.body()).at("/error/message").asText()).isEqualTo("overloaded");
  }

  @Test
  void aDeploymentThatCannotBeReachedIsSkippedForTheNextAsForWholeAnswers() throws Exception {
    int closedPort;
    try (var socket = new ServerSocket(0)) {
      closedPort = socket.getLocalPort();
    }
    useModels(List.of(
        TestGateways.openAi("gpt-4o-mini", "gpt-4o-mini", "http://127.0.0.1:" + closedPort + "/v1"),
        TestGateways.openAi("gpt-4o-mini", "gpt-4o-mini", wiremock.baseUrl() + "/v1")));
    stubStream("/v1/chat/completions", sse(chunk("Hi"), STOP, USAGE, "[DONE]"));
    GatewayResponse response = send("/v1/chat/completions", chatStream("gpt-4o-mini", ""));
    assertThat(response.status()).isEqualTo(200);
    assertThat(new String(response.buffered().body(), StandardCharsets.UTF_8)).endsWith("data: [DONE]\n\n");
  }

  @Test
  void legacyCompletionsAreProxiedWholeAndStreamedWithUsageRecorded() throws Exception {
    wiremock.stubFor(post("/v1/completions").withRequestBody(notContaining("\"stream\"")).willReturn(okJson(
        "{\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":1,\"model\":\"gpt-3.5-turbo-instruct\",\"choices\":[{\"text\":\" x)\",\"index\":0,"
            + "\"logprobs\":null,\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":2,\"total_tokens\":6}}")));
    GatewayResponse whole = send("/v1/completions", "{\"model\":\"instruct\",\"prompt\":\"def f(\",\"max_tokens\":2}");
    assertThat(whole.status()).isEqualTo(200);
    assertThat(Json.MAPPER.readTree(whole.body()).at("/choices/0/text").asText()).isEqualTo(" x)");
    assertThat(usage().totalTokens()).isEqualTo(6);

    String textChunk = "{\"id\":\"cmpl-2\",\"object\":\"text_completion\",\"created\":1,\"choices\":[{\"text\":\" return\",\"index\":0,\"logprobs\":null,\"finish_reason\":null}],\"model\":\"m\"}";
    String usageChunk = "{\"id\":\"cmpl-2\",\"object\":\"text_completion\",\"created\":1,\"choices\":[],\"model\":\"m\",\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4}}";
    wiremock.stubFor(post("/v1/completions").withRequestBody(containing("\"stream\"")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream").withBody(sse(textChunk, usageChunk, "[DONE]"))));
    GatewayResponse streamed = send("/completions", "{\"model\":\"instruct\",\"prompt\":[\"def f(\"],\"stream\":true}");
    assertThat(new String(streamed.buffered().body(), StandardCharsets.UTF_8)).isEqualTo(sse(textChunk, "[DONE]"));
    assertThat(usage().requests()).isEqualTo(2);
    assertThat(usage().totalTokens()).isEqualTo(10);
    wiremock.verify(postRequestedFor(urlEqualTo("/v1/completions"))
        .withRequestBody(matchingJsonPath("$.model", equalTo("gpt-3.5-turbo-instruct")))
        .withRequestBody(matchingJsonPath("$.stream_options.include_usage", equalTo("true"))));
  }

  @Test
  void invalidStreamingAndCompletionRequestsAre400sThatNeverReachTheProvider() throws Exception {
    String[][] cases = {
      {"/v1/chat/completions", "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream_options\":{\"include_usage\":true}}", "stream_options"},
      {"/v1/chat/completions", "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":true,\"stream_options\":true}", "stream_options"},
      {"/v1/chat/completions", "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":true,\"stream_options\":{\"include_usage\":\"yes\"}}", "stream_options"},
      {"/v1/embeddings", "{\"model\":\"gpt-4o-mini\",\"input\":\"x\",\"stream\":true}", "stream"},
      {"/v1/completions", "{\"model\":\"instruct\"}", "prompt"},
      {"/v1/completions", "{\"model\":\"instruct\",\"prompt\":{\"text\":\"x\"}}", "prompt"},
      {"/v1/completions", "{\"model\":\"instruct\",\"prompt\":[]}", "prompt"},
      {"/v1/completions", "{\"model\":\"instruct\",\"prompt\":[\"a\",1]}", "prompt"},
      {"/v1/completions", "{\"model\":\"instruct\",\"prompt\":[[1,2],[\"x\"]]}", "prompt"},
    };
    for (String[] c : cases) {
      GatewayResponse response = send(c[0], c[1]);
      assertThat(response.status()).as(c[1]).isEqualTo(400);
      JsonNode error = Json.MAPPER.readTree(response.body()).get("error");
      assertThat(error.get("param").asText()).as(c[1]).isEqualTo(c[2]);
      assertThat(error.get("type").asText()).isEqualTo("invalid_request_error");
    }
    for (String valid : List.of("[1,2,3]", "[[1,2],[3]]", "\"x\"", "[\"a\",\"b\"]")) {
      wiremock.stubFor(post("/v1/completions").willReturn(okJson("{\"object\":\"text_completion\",\"choices\":[]}")));
      assertThat(send("/v1/completions", "{\"model\":\"instruct\",\"prompt\":" + valid + "}").status()).as(valid).isEqualTo(200);
    }
    wiremock.verify(0, postRequestedFor(urlEqualTo("/v1/chat/completions")));
    wiremock.verify(0, postRequestedFor(urlEqualTo("/v1/embeddings")));
    wiremock.verify(4, postRequestedFor(urlEqualTo("/v1/completions")));
  }

  @Test
  void mistralGetsNoStreamOptionsAndItsUsageIsTakenFromItsLastChunk() throws Exception {
    useModels(List.of(new Deployment("small", Provider.MISTRAL, "mistral-small-latest", URI.create(wiremock.baseUrl() + "/v1"),
        "sk-upstream-test-credential", "test", Duration.ofSeconds(5))));
    String last = "{\"id\":\"m1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"mistral-small-latest\",\"choices\":[{\"index\":0,"
        + "\"delta\":{\"content\":\"\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":6,\"total_tokens\":8,\"completion_tokens\":2}}";
    // Mistral's own answer to stream_options: 422 extra_forbidden (BerriAI/litellm#8978).
    wiremock.stubFor(post("/v1/chat/completions").withRequestBody(containing("stream_options")).willReturn(aResponse().withStatus(422)
        .withBody("{\"object\":\"error\",\"message\":{\"detail\":[{\"type\":\"extra_forbidden\",\"loc\":[\"body\",\"stream_options\"]}]},\"type\":\"invalid_request_error\"}")));
    wiremock.stubFor(post("/v1/chat/completions").withRequestBody(notContaining("stream_options"))
        .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream").withBody(sse(chunk("Hi"), last, "[DONE]"))));

    GatewayResponse response = send("/v1/chat/completions", chatStream("small", ",\"stream_options\":{\"include_usage\":true}"));
    assertThat(new String(response.buffered().body(), StandardCharsets.UTF_8)).isEqualTo(sse(chunk("Hi"), last, "[DONE]"));
    assertThat(response.buffered().status()).isEqualTo(200);
    assertThat(usage().requests()).isEqualTo(1);
    assertThat(usage().totalTokens()).as("Mistral's own usage, from its last chunk").isEqualTo(8);
    assertThat(usage().estimatedRequests()).isZero();
  }

  @Test
  void aWholeJsonAnswerToAStreamRequestIsRelayedAsAStreamAndCounted() throws Exception {
    wiremock.stubFor(post("/v1/chat/completions").willReturn(okJson(
        "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,"
            + "\"message\":{\"role\":\"assistant\",\"content\":\"Hello!\"},\"finish_reason\":\"stop\"}],"
            + "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":3,\"total_tokens\":12}}")));
    GatewayResponse response = send("/v1/chat/completions", chatStream("gpt-4o-mini", ""));
    assertThat(response.isStreaming()).isTrue();
    assertThat(response.headers()).containsEntry("Content-Type", "text/event-stream; charset=utf-8");
    String[] events = new String(response.buffered().body(), StandardCharsets.UTF_8).split("\n\n");
    assertThat(events).hasSize(2);
    JsonNode chunk = Json.MAPPER.readTree(events[0].substring("data: ".length()));
    assertThat(chunk.get("object").asText()).isEqualTo("chat.completion.chunk");
    assertThat(chunk.at("/choices/0/delta/content").asText()).isEqualTo("Hello!");
    assertThat(chunk.at("/choices/0/finish_reason").asText()).isEqualTo("stop");
    assertThat(events[1]).isEqualTo("data: [DONE]");
    assertThat(usage().requests()).as("a billed call is counted").isEqualTo(1);
    assertThat(usage().totalTokens()).isEqualTo(12);
    assertThat(usage().estimatedRequests()).isZero();
  }

  @Test
  void anEventLargerThanTheBoundEndsTheStreamWithAnErrorEvent() throws Exception {
    stubStream("/v1/chat/completions", sse(chunk("Hel")) + ("data: " + "x".repeat(1024 * 1024) + "\n").repeat(9) + "\n");
    String body = new String(send("/v1/chat/completions", chatStream("gpt-4o-mini", "")).buffered().body(), StandardCharsets.UTF_8);
    String[] events = body.split("\n\n");
    assertThat(events).hasSize(2);
    assertThat(events[0]).isEqualTo("data: " + chunk("Hel"));
    JsonNode error = Json.MAPPER.readTree(events[1].substring("data: ".length())).get("error");
    assertThat(error.get("type").asText()).isEqualTo("api_connection_error");
    assertThat(error.get("message").asText()).contains("a stream event of more than 8388608 bytes");
    assertThat(body).doesNotContain("[DONE]");
  }

  @Test
  void aNamedErrorEventBeforeTheFirstChunkIsAnErrorResponseWithTheProvidersClientErrorStatus() throws Exception {
    stubStream("/v1/chat/completions",
        "event: error\ndata: {\"error\":{\"message\":\"This model's maximum context length is 4096 tokens.\",\"type\":\"BadRequestError\",\"param\":null,\"code\":400}}\n\n");
    GatewayResponse response = send("/v1/chat/completions", chatStream("gpt-4o-mini", ""));
    assertThat(response.isStreaming()).isFalse();
    assertThat(response.status()).isEqualTo(400);
    JsonNode error = Json.MAPPER.readTree(response.body()).get("error");
    assertThat(error.get("message").asText()).isEqualTo("This model's maximum context length is 4096 tokens.");
    assertThat(error.get("type").asText()).isEqualTo("BadRequestError");
    assertThat(error.get("code").asText()).isEqualTo("400");
    assertThat(usage().requests()).isZero();

    stubStream("/v1/chat/completions", "event: error\ndata: {\"message\":\"overloaded\",\"type\":\"server_error\"}\n\n");
    GatewayResponse overloaded = send("/v1/chat/completions", chatStream("gpt-4o-mini", ""));
    assertThat(overloaded.status()).isEqualTo(502);
    assertThat(Json.MAPPER.readTree(overloaded.body()).at("/error/message").asText()).isEqualTo("overloaded");
  }

  @Test
  void blockingTheKeyDoesNotStopAStreamAlreadyRunningWhichIsCountedOnTheKey() throws Exception {
    var out = ClientOutput.staying();
    var call = sendInBackground("/v1/chat/completions", chatStream("held", ""), out);
    var exchange = upstream.awaitRequest();
    exchange.startStream();
    exchange.sendEvent(chunk("Hel"));
    awaitWritten(out, chunk("Hel"));
    gateway.keyStore().update(aigw.core.keys.ApiKeys.hash(KEY), aigw.core.keys.KeyChanges.blocked(true), clock.instant());
    exchange.sendEvent(chunk("lo"));
    exchange.sendEvent(USAGE);
    exchange.sendEvent("[DONE]");
    exchange.finish();
    call.get(10, TimeUnit.SECONDS);
    assertThat(out.text()).isEqualTo(sse(chunk("Hel"), chunk("lo"), "[DONE]"));
    assertThat(usage().requests()).isEqualTo(1);
    assertThat(usage().totalTokens()).isEqualTo(13);
  }
}

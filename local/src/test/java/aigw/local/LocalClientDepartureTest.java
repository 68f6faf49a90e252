package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.json.Json;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client that closes its connection while the local gateway waits for the provider (a whole
 * answer, or a stream before its first event) frees what its call held at once: the provider's
 * connection is closed (the call is cancelled), the key's {@code max_parallel_requests} slot and
 * its share of the workers are free for its next call, and the call is in the spend log with 499,
 * as a stream the client leaves midway is. A client that stays gets its answer as before.
 */
class LocalClientDepartureTest {
  private static final String MASTER = "sk-client-departure-master-key-for-tests";
  private static final String COMPLETION =
      "{\"id\":\"c1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
          + "\"message\":{\"role\":\"assistant\",\"content\":\"Hello\"},\"finish_reason\":\"stop\"}],"
          + "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3,\"total_tokens\":8}}";
  private static final String STREAM =
      "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
          + "\"delta\":{\"content\":\"Hello\"},\"finish_reason\":null}]}\n\n"
          + "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[],"
          + "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3,\"total_tokens\":8}}\n\n"
          + "data: [DONE]\n\n";

  @TempDir static Path dir;
  private static Provider provider;
  private static LocalGateway gateway;
  private static final HttpClient http = HttpClient.newHttpClient();

  @BeforeAll
  static void start() throws Exception {
    provider = new Provider();
    Path config = dir.resolve("config.yaml");
    Files.writeString(config, """
        model_list:
          - model_name: slow
            litellm_params: {model: openai/m, api_base: "http://127.0.0.1:%1$d/slow/v1", api_key: os.environ/PROVIDER_KEY}
          - model_name: fast
            litellm_params: {model: openai/m, api_base: "http://127.0.0.1:%1$d/fast/v1", api_key: os.environ/PROVIDER_KEY}
          - model_name: half-second
            litellm_params: {model: openai/m, api_base: "http://127.0.0.1:%1$d/half-second/v1", api_key: os.environ/PROVIDER_KEY}
          - model_name: quiet-after-first
            litellm_params: {model: openai/m, api_base: "http://127.0.0.1:%1$d/quiet-after-first/v1", api_key: os.environ/PROVIDER_KEY}
          - model_name: half-body
            litellm_params: {model: openai/m, api_base: "http://127.0.0.1:%1$d/half-body/v1", api_key: os.environ/PROVIDER_KEY}
          - model_name: usage-later
            litellm_params: {model: openai/m, api_base: "http://127.0.0.1:%1$d/usage-later/v1", api_key: os.environ/PROVIDER_KEY}
          - model_name: stalled-body-timeout
            litellm_params: {model: openai/m, api_base: "http://127.0.0.1:%1$d/stalled-body/v1", api_key: os.environ/PROVIDER_KEY, timeout: 1}
          - model_name: stalled-body
            litellm_params: {model: openai/m, api_base: "http://127.0.0.1:%1$d/stalled-body/v1", api_key: os.environ/PROVIDER_KEY}
          - model_name: broken-off
            litellm_params: {model: openai/m, api_base: "http://127.0.0.1:%1$d/broken-off/v1", api_key: os.environ/PROVIDER_KEY}
          - model_name: filter-then-broken
            litellm_params: {model: openai/m, api_base: "http://127.0.0.1:%1$d/filter-then-broken/v1", api_key: os.environ/PROVIDER_KEY}
        """.formatted(provider.port()));
    gateway = LocalGateway.start(LocalOptions.inMemory(config, Map.of("AIGW_MASTER_KEY", MASTER, "PROVIDER_KEY", "sk-provider-departure")));
  }

  @AfterAll
  static void stop() throws IOException {
    gateway.close();
    provider.close();
  }

  @Test
  void aClientLeavingBeforeTheAnswerCancelsTheProviderCallAndFreesItsParallelSlotAtOnce() throws Exception {
    leavesBeforeTheAnswer(false);
  }

  @Test
  void aClientLeavingAStreamBeforeItsFirstEventCancelsTheProviderCallAndFreesItsParallelSlotAtOnce() throws Exception {
    leavesBeforeTheAnswer(true);
  }

  private void leavesBeforeTheAnswer(boolean stream) throws Exception {
    String key = keyWithOneParallelRequest();
    String body = "{\"model\":\"slow\",\"stream\":" + stream + ",\"messages\":[{\"role\":\"user\",\"content\":\"take your time\"}]}";
    provider.closedEarly.clear();
    try (var client = new Socket(InetAddress.getLoopbackAddress(), gateway.port())) {
      client.getOutputStream().write(post(key, body).getBytes(StandardCharsets.UTF_8));
      client.getOutputStream().flush();
      provider.awaitRequest("/slow/");
      Thread.sleep(200);
    } // closed: the user pressed "stop" before the first token
    // The provider answers only after 30 s; the gateway must not wait for that.
    assertThat(provider.closedEarly.poll(3, TimeUnit.SECONDS)).as("the gateway closed its connection to the provider").startsWith("/slow/");

    var next = chatOnceTheSlotIsFree(key);
    assertThat(next.statusCode()).as("the key's one parallel slot is free again: %s", next.body()).isEqualTo(200);

    JsonNode left = spendLogRow(key, "slow");
    assertThat(left.path("metadata").path("status_code").asInt()).as("the status of a client that left: %s", left).isEqualTo(499);
    assertThat(left.path("status").asText()).isEqualTo("failure");
    long prompt = (body.getBytes(StandardCharsets.UTF_8).length + 3) / 4;
    assertThat(left.path("prompt_tokens").asLong()).as("the prompt sent, estimated as a cut stream's: %s", left).isEqualTo(prompt);
    assertThat(left.path("completion_tokens").asLong()).isZero();
    assertThat(left.path("metadata").path("usage_estimated").asBoolean()).isTrue();

    JsonNode info = admin("GET", "/key/info?key=" + key, null).path("info");
    assertThat(info.path("request_count").asLong()).as("both calls count on the key: %s", info).isEqualTo(2);
    assertThat(info.path("estimated_request_count").asLong()).as("the one that was cut, as estimated").isEqualTo(1);
  }

  @Test
  void aClientLeavingAStreamWhileTheProviderIsQuietEndsTheProviderCallAtOnceAndCountsWhatCame() throws Exception {
    String key = keyWithOneParallelRequest();
    String body = "{\"model\":\"quiet-after-first\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"go on\"}]}";
    provider.closedEarly.clear();
    try (var client = new Socket(InetAddress.getLoopbackAddress(), gateway.port())) {
      client.setSoTimeout(10_000);
      client.getOutputStream().write(post(key, body).getBytes(StandardCharsets.UTF_8));
      client.getOutputStream().flush();
      var seen = new ByteArrayOutputStream();
      while (!seen.toString(StandardCharsets.UTF_8).contains("Hello")) {
        int b = client.getInputStream().read();
        assertThat(b).as("the first event arrives: %s", seen).isNotNegative();
        seen.write(b);
      }
    } // the user stops while the model is thinking about its next token
    assertThat(provider.closedEarly.poll(3, TimeUnit.SECONDS)).as("the gateway closed its connection to the provider").startsWith("/quiet-after-first/");
    assertThat(chatOnceTheSlotIsFree(key).statusCode()).as("the slot is free").isEqualTo(200);

    JsonNode left = spendLogRow(key, "quiet-after-first");
    assertThat(left.path("metadata").path("status_code").asInt()).as("%s", left).isEqualTo(499);
    assertThat(left.path("completion_tokens").asLong()).as("\"Hello\" was generated: %s", left).isEqualTo(2);
  }

  /**
   * A client that leaves while a whole answer's body is on its way from the provider (its status and
   * part of its body have come, the rest a moment later): the provider generated the answer and
   * bills it, so the gateway reads it to its end and counts the provider's usage, not an estimate
   * without the answer; the spend log says the client did not get it (499).
   */
  @Test
  void aClientLeavingWhileAWholeAnswerArrivesHasTheProvidersTokensCounted() throws Exception {
    String key = keyWithOneParallelRequest();
    String body = "{\"model\":\"half-body\",\"messages\":[{\"role\":\"user\",\"content\":\"answer at once\"}]}";
    provider.halfSent.clear();
    provider.closedEarly.clear();
    try (var client = new Socket(InetAddress.getLoopbackAddress(), gateway.port())) {
      client.getOutputStream().write(post(key, body).getBytes(StandardCharsets.UTF_8));
      client.getOutputStream().flush();
      assertThat(provider.halfSent.poll(10, TimeUnit.SECONDS)).as("the provider's status and half its body are sent").isNotNull();
      // The gateway's HTTP client takes the status in on threads of its own: left only once it has
      // (a client leaving before the status still cancels the call, as it should).
      Thread.sleep(300);
    } // gone while the rest of the answer comes
    assertThat(provider.closedEarly.poll(2, TimeUnit.SECONDS)).as("the gateway read the answer to its end").isNull();

    JsonNode left = spendLogRow(key, "half-body");
    assertThat(left.path("prompt_tokens").asLong()).as("the provider's usage: %s", left).isEqualTo(5);
    assertThat(left.path("completion_tokens").asLong()).as("%s", left).isEqualTo(3);
    assertThat(left.path("metadata").path("usage_estimated").asBoolean()).as("%s", left).isFalse();
    assertThat(left.path("metadata").path("status_code").asInt()).as("%s", left).isEqualTo(499);
    JsonNode info = admin("GET", "/key/info?key=" + key, null).path("info");
    assertThat(info.path("request_count").asLong()).as("%s", info).isEqualTo(1);
    assertThat(info.path("estimated_request_count").asLong()).as("%s", info).isZero();
    assertThat(chatOnceTheSlotIsFree(key).statusCode()).as("the slot is free").isEqualTo(200);
  }

  /**
   * A client that leaves a stream after its last content (the finish_reason chunk came) but before
   * the provider's usage chunk: the provider has generated the answer and bills it, so the gateway
   * reads the few events left and counts the provider's usage, not an estimate; the spend log says
   * the client did not get the end (499). (A client leaving mid-generation still ends the call at
   * once and is estimated: aClientLeavingAStreamWhileTheProviderIsQuiet...)
   */
  @Test
  void aClientLeavingAStreamAfterItsFinishChunkHasTheProvidersUsageCounted() throws Exception {
    String key = keyWithOneParallelRequest();
    String body = "{\"model\":\"usage-later\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"and stop\"}]}";
    provider.closedEarly.clear();
    try (var client = new Socket(InetAddress.getLoopbackAddress(), gateway.port())) {
      client.setSoTimeout(10_000);
      client.getOutputStream().write(post(key, body).getBytes(StandardCharsets.UTF_8));
      client.getOutputStream().flush();
      var seen = new ByteArrayOutputStream();
      while (!seen.toString(StandardCharsets.UTF_8).contains("\"finish_reason\":\"stop\"")) {
        int b = client.getInputStream().read();
        assertThat(b).as("the finish chunk arrives: %s", seen).isNotNegative();
        seen.write(b);
      }
    } // the answer is on screen; the client goes before the usage chunk
    assertThat(provider.closedEarly.poll(2, TimeUnit.SECONDS)).as("the gateway read the stream to its usage").isNull();

    JsonNode left = spendLogRow(key, "usage-later");
    assertThat(left.path("prompt_tokens").asLong()).as("the provider's usage: %s", left).isEqualTo(5);
    assertThat(left.path("completion_tokens").asLong()).as("%s", left).isEqualTo(3);
    assertThat(left.path("metadata").path("usage_estimated").asBoolean()).as("%s", left).isFalse();
    assertThat(left.path("metadata").path("status_code").asInt()).as("%s", left).isEqualTo(499);
    JsonNode info = admin("GET", "/key/info?key=" + key, null).path("info");
    assertThat(info.path("estimated_request_count").asLong()).as("%s", info).isZero();
    assertThat(chatOnceTheSlotIsFree(key).statusCode()).as("the slot is free").isEqualTo(200);
  }

  /**
   * A provider that sends its status and then stalls is read for {@code UpstreamHttp.DEPARTED_GRACE}
   * (5 s) after the client left, not for the call's whole timeout: the worker and the key's
   * parallel slot come back, and the call is counted as one whose client left (estimated).
   */
  @Test
  void aClientLeavingWhileAGeneratedAnswerStallsFreesItsCallAfterTheGrace() throws Exception {
    String key = keyWithOneParallelRequest();
    String body = "{\"model\":\"stalled-body\",\"messages\":[{\"role\":\"user\",\"content\":\"status first\"}]}";
    provider.halfSent.clear();
    provider.closedEarly.clear();
    long left;
    try (var client = new Socket(InetAddress.getLoopbackAddress(), gateway.port())) {
      client.getOutputStream().write(post(key, body).getBytes(StandardCharsets.UTF_8));
      client.getOutputStream().flush();
      assertThat(provider.halfSent.poll(10, TimeUnit.SECONDS)).as("the provider's status and half its body are sent").isNotNull();
      Thread.sleep(300); // the gateway's HTTP client takes the status in on threads of its own
      left = System.nanoTime();
    }
    assertThat(provider.closedEarly.poll(2, TimeUnit.SECONDS)).as("still read within the grace").isNull();
    assertThat(provider.closedEarly.poll(15, TimeUnit.SECONDS)).as("the gateway gave the call up after the grace").isNotNull();
    assertThat(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - left)).as("seconds from the client leaving").isLessThan(20);

    JsonNode row = spendLogRow(key, "stalled-body");
    assertThat(row.path("metadata").path("status_code").asInt()).as("%s", row).isEqualTo(499);
    assertThat(row.path("metadata").path("usage_estimated").asBoolean()).as("no usage came: %s", row).isTrue();
    assertThat(chatOnceTheSlotIsFree(key).statusCode()).as("the slot is free").isEqualTo(200);
  }

  /**
   * The same stall with the client still there: the deployment's timeout (1 s) ends the call with a
   * 504, and it is counted as the call of a client that left in that state is (above): the provider
   * sent its success status, so it was generating the answer and probably bills it; estimated
   * tokens, not a call that used nothing.
   */
  @Test
  void aWholeAnswerWhoseBodyStallsPastTheTimeoutAfterItsStatusIsCountedWithEstimatedTokens() throws Exception {
    String key = keyWithOneParallelRequest();
    provider.closedEarly.clear();
    var answered = chat(key, "stalled-body-timeout", false);
    assertThat(answered.statusCode()).as(answered.body()).isEqualTo(504);
    assertThat(provider.closedEarly.poll(5, TimeUnit.SECONDS)).as("the gateway gave the provider call up").isEqualTo("/stalled-body/v1/chat/completions");
    assertThat(Json.MAPPER.readTree(answered.body()).path("error").path("type").asText()).isEqualTo("timeout");

    JsonNode row = spendLogRow(key, "stalled-body-timeout");
    assertThat(row.path("metadata").path("status_code").asInt()).as("%s", row).isEqualTo(504);
    assertThat(row.path("metadata").path("usage_estimated").asBoolean()).as("%s", row).isTrue();
    String body = "{\"model\":\"stalled-body-timeout\",\"stream\":false,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    assertThat(row.path("prompt_tokens").asLong()).as("the prompt sent, estimated: %s", row).isEqualTo((body.length() + 3) / 4);
    assertThat(row.path("completion_tokens").asLong()).as("%s", row).isZero();
    JsonNode info = admin("GET", "/key/info?key=" + key, null).path("info");
    assertThat(info.path("request_count").asLong()).as("%s", info).isEqualTo(1);
    assertThat(info.path("estimated_request_count").asLong()).as("%s", info).isEqualTo(1);
  }

  /**
   * A provider whose connection breaks off after its success status, before any part of the answer
   * reached the client (half of a whole answer's body came): the client gets the 502 it got before,
   * and the call is counted as one whose body stalled past the timeout (504, above) or whose client
   * left (499) in the same state: the provider was generating the answer and probably bills it, so
   * the prompt and the part of the answer that came are estimated, not a call that used nothing
   * (budgets rely on the count).
   */
  @Test
  void aWholeAnswerWhoseConnectionBreaksOffAfterItsStatusIsCountedWithEstimatedTokens() throws Exception {
    brokenOffAfterItsStatusIsCountedWithEstimatedTokens(false);
  }

  /** The same for a stream whose connection breaks off in its first event (before any chunk reached the client). */
  @Test
  void aStreamWhoseConnectionBreaksOffBeforeItsFirstChunkIsCountedWithEstimatedTokens() throws Exception {
    brokenOffAfterItsStatusIsCountedWithEstimatedTokens(true);
  }

  private void brokenOffAfterItsStatusIsCountedWithEstimatedTokens(boolean stream) throws Exception {
    String key = keyWithOneParallelRequest();
    var answered = chat(key, "broken-off", stream);
    assertThat(answered.statusCode()).as(answered.body()).isEqualTo(502);
    assertThat(Json.MAPPER.readTree(answered.body()).path("error").path("message").asText())
        .as("the error the client got before").startsWith("The connection to the provider of 'broken-off' at 127.0.0.1:" + provider.port() + " failed ");

    JsonNode row = spendLogRow(key, "broken-off");
    assertThat(row.path("metadata").path("status_code").asInt()).as("%s", row).isEqualTo(502);
    assertThat(row.path("metadata").path("usage_estimated").asBoolean()).as("%s", row).isTrue();
    String body = "{\"model\":\"broken-off\",\"stream\":" + stream + ",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    assertThat(row.path("prompt_tokens").asLong()).as("the prompt sent, estimated: %s", row).isGreaterThanOrEqualTo((body.length() + 3) / 4);
    // The half of the answer that came (the provider generated it), about 4 bytes a token.
    String first = STREAM.substring(0, STREAM.indexOf("\n\n") + 2);
    long halfCame = stream ? first.length() / 2 : COMPLETION.getBytes(StandardCharsets.UTF_8).length / 2;
    assertThat(row.path("completion_tokens").asLong()).as("%s", row).isEqualTo((halfCame + 3) / 4);
    JsonNode info = admin("GET", "/key/info?key=" + key, null).path("info");
    assertThat(info.path("request_count").asLong()).as("%s", info).isEqualTo(1);
    assertThat(info.path("estimated_request_count").asLong()).as("%s", info).isEqualTo(1);
    assertThat(info.path("prompt_tokens").asLong()).as("%s", info).isEqualTo(row.path("prompt_tokens").asLong());
    assertThat(info.path("completion_tokens").asLong()).as("%s", info).isEqualTo(row.path("completion_tokens").asLong());
    assertThat(chatOnceTheSlotIsFree(key).statusCode()).as("the slot is free").isEqualTo(200);
  }

  /**
   * A {@code /v1/messages} stream over a chat provider reads provider chunks until one makes an
   * event: a provider that breaks off after a chunk that made none (Azure's filter-only first
   * chunk) gets the client an error response, as before any event, and the call is counted
   * estimated, as a chat stream broken off there is (above), not left uncounted.
   */
  @Test
  void aMessagesStreamWhoseProviderBreaksOffBeforeItsFirstEventIsCountedWithEstimatedTokens() throws Exception {
    String key = keyWithOneParallelRequest();
    String body = "{\"model\":\"filter-then-broken\",\"max_tokens\":16,\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    var answered = send("POST", "/v1/messages", key, body);
    assertThat(answered.statusCode()).as(answered.body()).isEqualTo(502);
    assertThat(Json.MAPPER.readTree(answered.body()).path("type").asText()).as("Anthropic's error shape: %s", answered.body()).isEqualTo("error");

    JsonNode row = spendLogRow(key, "filter-then-broken");
    assertThat(row.path("metadata").path("status_code").asInt()).as("%s", row).isEqualTo(502);
    assertThat(row.path("metadata").path("usage_estimated").asBoolean()).as("%s", row).isTrue();
    assertThat(row.path("prompt_tokens").asLong()).as("the prompt sent, estimated: %s", row).isPositive();
    JsonNode info = admin("GET", "/key/info?key=" + key, null).path("info");
    assertThat(info.path("request_count").asLong()).as("%s", info).isEqualTo(1);
    assertThat(info.path("estimated_request_count").asLong()).as("%s", info).isEqualTo(1);
    assertThat(chatOnceTheSlotIsFree(key).statusCode()).as("the slot is free").isEqualTo(200);
  }

  /**
   * A client that shuts down its sending side after its request cannot be told from one that left
   * (both are the end of its input): it is taken as gone, as nginx takes it, and gets no answer.
   */
  @Test
  void requestsPipelinedBehindACallWhoseClientLeftReachNoProvider() throws Exception {
    String key = admin("POST", "/key/generate", "{}").path("key").asText();
    String body = "{\"model\":\"slow\",\"messages\":[{\"role\":\"user\",\"content\":\"three in one write\"}]}";
    provider.requests.clear();
    provider.closedEarly.clear();
    try (var client = new Socket(InetAddress.getLoopbackAddress(), gateway.port())) {
      client.getOutputStream().write(post(key, body).repeat(3).getBytes(StandardCharsets.UTF_8));
      client.getOutputStream().flush();
      provider.awaitRequest("/slow/");
      Thread.sleep(200);
    } // gone, with two more requests of its own still buffered in the gateway
    assertThat(provider.closedEarly.poll(3, TimeUnit.SECONDS)).as("the first call's provider connection closed").isNotNull();
    // Each later one would have reached the provider by now, one after the other, and been charged.
    assertThat(provider.requests.poll(2, TimeUnit.SECONDS)).as("no provider call for a request of a client already gone").isNull();
    for (JsonNode row : spendLogs(key)) {
      assertThat(row.path("metadata").path("status_code").asInt()).as("only calls of a client that left: %s", row).isEqualTo(499);
    }
  }

  @Test
  void aClientThatHalfClosesAfterItsRequestIsTakenAsGone() throws Exception {
    String key = keyWithOneParallelRequest();
    String body = "{\"model\":\"slow\",\"messages\":[{\"role\":\"user\",\"content\":\"then I stop sending\"}]}";
    provider.closedEarly.clear();
    try (var client = new Socket(InetAddress.getLoopbackAddress(), gateway.port())) {
      client.setSoTimeout(10_000);
      client.getOutputStream().write(post(key, body).getBytes(StandardCharsets.UTF_8));
      client.getOutputStream().flush();
      provider.awaitRequest("/slow/");
      client.shutdownOutput();
      assertThat(provider.closedEarly.poll(3, TimeUnit.SECONDS)).as("the provider call is cancelled").startsWith("/slow/");
      assertThat(client.getInputStream().read()).as("the connection is closed without an answer").isEqualTo(-1);
    }
    assertThat(chatOnceTheSlotIsFree(key).statusCode()).isEqualTo(200);
  }

  @Test
  void aClientThatStaysGetsItsAnswerAndItsConnectionServesTheNextCall() throws Exception {
    String key = keyWithOneParallelRequest();
    for (boolean stream : new boolean[] {false, true}) {
      // Half a second of provider time: the watch for a departing client is up while the client waits.
      var answered = chat(key, "half-second", stream);
      assertThat(answered.statusCode()).as(answered.body()).isEqualTo(200);
      assertThat(answered.body()).contains("Hello");
      if (stream) {
        assertThat(answered.body()).endsWith("data: [DONE]\n\n");
      }
    }
    assertThat(provider.closedEarly).as("no call was cancelled").isEmpty();
    // Two requests on one connection, the second sent while the first waits for its provider
    // (pipelined): its bytes are not taken for a departure, and both are answered in order.
    try (var client = new Socket(InetAddress.getLoopbackAddress(), gateway.port())) {
      client.setSoTimeout(10_000);
      String first = "{\"model\":\"half-second\",\"messages\":[{\"role\":\"user\",\"content\":\"one\"}]}";
      String second = "{\"model\":\"fast\",\"messages\":[{\"role\":\"user\",\"content\":\"two\"}]}";
      client.getOutputStream().write(post(key, first).getBytes(StandardCharsets.UTF_8));
      client.getOutputStream().flush();
      provider.awaitRequest("/half-second/");
      client.getOutputStream().write(post(key, second).getBytes(StandardCharsets.UTF_8));
      client.getOutputStream().flush();
      String answers = readAnswers(client.getInputStream(), 2);
      assertThat(answers).startsWith("HTTP/1.1 200");
      assertThat(answers.split("HTTP/1.1 200", -1)).as(answers).hasSize(3);
    }
    assertThat(provider.closedEarly).as("no call was cancelled").isEmpty();
  }

  /**
   * Calls back to back on kept-alive connections, each answered at once: the watch for a departing
   * client, set up and ended around every call, never takes a next request for a departure nor
   * leaves the connection unable to read it.
   */
  @Test
  void callsBackToBackOnKeptAliveConnectionsAreAllAnswered() throws Exception {
    String key = admin("POST", "/key/generate", "{}").path("key").asText();
    for (int i = 0; i < 400; i++) {
      var answered = chat(key, "fast", i % 2 == 1);
      assertThat(answered.statusCode()).as("call %d: %s", i, answered.body()).isEqualTo(200);
    }
    assertThat(provider.closedEarly).isEmpty();
  }

  private static String post(String key, String body) {
    return "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:" + gateway.port() + "\r\nAuthorization: Bearer " + key
        + "\r\nContent-Type: application/json\r\nContent-Length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body;
  }

  /** {@code count} answers with a Content-Length each, read whole. */
  private static String readAnswers(InputStream in, int count) throws IOException {
    var all = new StringBuilder();
    for (int i = 0; i < count; i++) {
      all.append(RawHttp.readAnswer(in));
    }
    return all.toString();
  }


  private static String keyWithOneParallelRequest() throws Exception {
    return admin("POST", "/key/generate", "{\"max_parallel_requests\": 1}").path("key").asText();
  }

  /**
   * A call of {@code key} to the {@code fast} model once the slot of a call whose client left is
   * free. The gateway closes the provider's connection first and ends the call (freeing its slot)
   * on the call's own thread just after, so a next call sent the instant the provider saw the close
   * can still find the slot held: a 429 of {@code max_parallel_requests} is sent again, for up to
   * 2 s, far less than the 30 s the provider would have taken (refused calls are not counted).
   */
  private static HttpResponse<String> chatOnceTheSlotIsFree(String key) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
    while (true) {
      var answered = chat(key, "fast", false);
      if (answered.statusCode() != 429 || !answered.body().contains("max_parallel_requests") || System.nanoTime() > deadline) {
        return answered;
      }
      Thread.sleep(20);
    }
  }

  private static HttpResponse<String> chat(String key, String model, boolean stream) throws Exception {
    String body = "{\"model\":\"" + model + "\",\"stream\":" + stream + ",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    return send("POST", "/v1/chat/completions", key, body);
  }

  /** {@code key}'s spend-log row of a call to {@code modelGroup}, once written (within 10 s; a failed assertion if not). */
  private static JsonNode spendLogRow(String key, String modelGroup) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < deadline) {
      for (JsonNode row : spendLogs(key)) {
        if (row.path("model_group").asText().equals(modelGroup)) {
          return row;
        }
      }
      Thread.sleep(50);
    }
    throw new AssertionError("no spend-log row of " + modelGroup + " within 10 s");
  }

  private static JsonNode spendLogs(String key) throws Exception {
    return admin("GET", "/spend/logs?api_key=" + key, null);
  }

  private static JsonNode admin(String method, String path, String body) throws Exception {
    var response = send(method, path, MASTER, body);
    assertThat(response.statusCode()).as("%s %s", path, response.body()).isEqualTo(200);
    return Json.MAPPER.readTree(response.body());
  }

  private static HttpResponse<String> send(String method, String path, String key, String body) throws Exception {
    var request = HttpRequest.newBuilder(URI.create(gateway.baseUrl() + path)).timeout(Duration.ofSeconds(20))
        .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  /**
   * A provider on a loopback socket: {@code /fast/} answers at once, {@code /half-second/} after
   * half a second, {@code /slow/} after 30 s unless the gateway closes the connection first, which
   * it notes in {@link #closedEarly}. A whole answer or an event stream, as the request asks; {@code
   * /quiet-after-first/} streams its first event, then waits up to 30 s for the gateway to close.
   */
  private static final class Provider implements AutoCloseable {
    final BlockingQueue<String> requests = new LinkedBlockingQueue<>();
    final BlockingQueue<String> closedEarly = new LinkedBlockingQueue<>();
    /** {@code /half-body/}: its status, headers and half of its body are sent. */
    final BlockingQueue<String> halfSent = new LinkedBlockingQueue<>();
    private final ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());

    Provider() throws IOException {
      Thread.ofPlatform().daemon().name("departure-provider").start(() -> {
        while (!server.isClosed()) {
          try {
            Socket connection = server.accept();
            Thread.ofPlatform().daemon().start(() -> serve(connection));
          } catch (IOException closed) {
            return;
          }
        }
      });
    }

    int port() {
      return server.getLocalPort();
    }

    /** Waits until a request to a path starting with {@code prefix} has arrived (those before it are dropped). */
    void awaitRequest(String prefix) throws InterruptedException {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (System.nanoTime() < deadline) {
        String path = requests.poll(100, TimeUnit.MILLISECONDS);
        if (path != null && path.startsWith(prefix)) {
          return;
        }
      }
      throw new AssertionError("no request to " + prefix + " reached the provider");
    }

    /**
     * Waits up to {@code millis} for the gateway to close {@code connection} (noted in {@link
     * #closedEarly}); false when it stayed open the whole time (the wait's timeout is then cleared).
     */
    private boolean closedWithin(Socket connection, String path, int millis) throws IOException {
      connection.setSoTimeout(millis);
      try {
        if (connection.getInputStream().read() < 0) {
          closedEarly.add(path);
          return true;
        }
      } catch (java.net.SocketTimeoutException stillThere) {
        // the gateway waited the whole time
      } catch (IOException reset) {
        closedEarly.add(path);
        return true;
      }
      connection.setSoTimeout(0);
      return false;
    }

    private void serve(Socket connection) {
      try (connection) {
        InputStream in = connection.getInputStream();
        while (true) {
          String head;
          try {
            head = RawHttp.readHead(in);
          } catch (IOException closed) {
            return; // the gateway closed an idle connection
          }
          int length = Integer.parseInt(head.replaceAll("(?is).*\r\ncontent-length: *(\\d+).*", "$1"));
          String body = new String(in.readNBytes(length), StandardCharsets.UTF_8);
          String path = head.substring(head.indexOf(' ') + 1, head.indexOf(' ', head.indexOf(' ') + 1));
          requests.add(path);
          OutputStream out = connection.getOutputStream();
          if (path.startsWith("/quiet-after-first/")) {
            out.write(("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            byte[] first = STREAM.substring(0, STREAM.indexOf("\n\n") + 2).getBytes(StandardCharsets.UTF_8);
            out.write((Integer.toHexString(first.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(first);
            out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            closedWithin(connection, path, 30_000); // then nothing: the model is slow to go on
            return;
          }
          if (path.startsWith("/usage-later/")) {
            // Its content and finish chunks at once; its usage chunk a second later (or never, if the gateway closes first).
            out.write(("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            writeChunk(out, STREAM.substring(0, STREAM.indexOf("\n\n") + 2));
            writeChunk(out, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
                + "\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n");
            out.flush();
            if (closedWithin(connection, path, 1000)) {
              return;
            }
            writeChunk(out, STREAM.substring(STREAM.indexOf("\n\n") + 2));
            out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            return;
          }
          if (path.startsWith("/filter-then-broken/")) {
            // Azure's first chunk (its prompt filter's results only: no id, no choices), then the
            // connection breaks: a /v1/messages stream over it has no event for the client yet.
            out.write(("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            writeChunk(out, "data: {\"id\":\"\",\"object\":\"\",\"created\":0,\"model\":\"\",\"choices\":[],"
                + "\"prompt_filter_results\":[{\"prompt_index\":0,\"content_filter_results\":{}}]}\n\n");
            out.flush();
            closedWithin(connection, path, 2000); // the chunk is taken alone (the call has returned its stream) before the break
            return; // closed (the try), without the rest
          }
          if (path.startsWith("/broken-off/")) {
            // Its success status, then half of its answer, and the connection closes: a provider
            // that broke off while it was generating (a whole answer's body, or a stream's first event).
            boolean stream = body.contains("\"stream\":true");
            if (stream) {
              out.write(("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
              String first = STREAM.substring(0, STREAM.indexOf("\n\n") + 2);
              writeChunk(out, first.substring(0, first.length() / 2));
            } else {
              byte[] answer = COMPLETION.getBytes(StandardCharsets.UTF_8);
              out.write(("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + answer.length + "\r\n\r\n")
                  .getBytes(StandardCharsets.US_ASCII));
              out.write(answer, 0, answer.length / 2);
            }
            out.flush();
            // The half is taken before the break: the JDK's client may otherwise see the close
            // first and drop the bytes that came with it, which the call's estimate counts (2 s, so
            // a loaded machine's gateway has read them too; it has no reason to close before).
            closedWithin(connection, path, 2000);
            return; // closed (the try), without the rest
          }
          if (path.startsWith("/half-body/") || path.startsWith("/stalled-body/")) {
            byte[] answer = COMPLETION.getBytes(StandardCharsets.UTF_8);
            out.write(("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + answer.length + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
            out.write(answer, 0, answer.length / 2);
            out.flush();
            halfSent.add(path);
            // Time for the gateway to see its client leave, and to close this connection if it gives up;
            // /stalled-body/ sends the rest only after 30 s.
            if (closedWithin(connection, path, path.startsWith("/stalled-body/") ? 30_000 : 1000)) {
              return;
            }
            out.write(answer, answer.length / 2, answer.length - answer.length / 2);
            out.flush();
            continue;
          }
          long delay = path.startsWith("/slow/") ? 30_000 : path.startsWith("/half-second/") ? 500 : 0;
          if (delay > 0 && closedWithin(connection, path, (int) delay)) {
            return;
          }
          boolean stream = body.contains("\"stream\":true");
          byte[] answer = (stream ? STREAM : COMPLETION).getBytes(StandardCharsets.UTF_8);
          out.write(("HTTP/1.1 200 OK\r\nContent-Type: " + (stream ? "text/event-stream" : "application/json") + "\r\nContent-Length: "
              + answer.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
          out.write(answer);
          out.flush();
        }
      } catch (IOException gone) {
        // the test ended
      }
    }

    /** One chunk of a chunked body. */
    private static void writeChunk(OutputStream out, String text) throws IOException {
      byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
      out.write((Integer.toHexString(bytes.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
      out.write(bytes);
      out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
    }

    @Override
    public void close() throws IOException {
      server.close();
    }
  }
}

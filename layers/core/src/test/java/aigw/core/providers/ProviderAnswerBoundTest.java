package aigw.core.providers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import aigw.core.config.Deployment;
import aigw.core.config.Provider;
import aigw.core.errors.ErrorEnvelope;
import aigw.core.errors.GatewayException;
import aigw.core.errors.UpstreamUnreachable;
import aigw.core.providers.openai.OpenAiCompatibleProvider;
import aigw.core.secrets.ProviderCredentials;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A provider whose answer never ends (issue 15, finding 6): the gateway reads a whole answer up to
 * its bound and a stream up to one event's bound, then answers 502 in the envelope and closes the
 * connection. The stand-in generates its bytes as it writes them, so nothing here holds hundreds of
 * megabytes; it reports how its answer ended.
 */
class ProviderAnswerBoundTest {
  private static final int BOUND = 1024 * 1024;

  private HttpServer standIn;
  /** Bytes the stand-in managed to write before its client closed the connection. */
  private final AtomicLong written = new AtomicLong();
  /** Completed when the stand-in's write failed: the gateway closed the connection. */
  private final CompletableFuture<IOException> cutOff = new CompletableFuture<>();

  @BeforeEach
  void start() throws IOException {
    standIn = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
    // A JSON answer that never ends: '{"id":"' and then 'a' for ever.
    standIn.createContext("/json/v1/chat/completions", exchange -> endless(exchange, "application/json", "{\"id\":\""));
    // An event stream whose one line never ends.
    standIn.createContext("/sse/v1/chat/completions", exchange -> endless(exchange, "text/event-stream", "data: {\"id\":\""));
    // An answer just under the bound.
    standIn.createContext("/under/v1/chat/completions", exchange -> {
      String padding = "a".repeat(BOUND - 300);
      byte[] body = ("{\"id\":\"" + padding + "\",\"object\":\"chat.completion\",\"choices\":[],"
          + "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}").getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().set("Content-Type", "application/json");
      exchange.sendResponseHeaders(200, body.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    });
    // A whole answer that declares its length (the common case), noting the client's port per call.
    standIn.createContext("/sized/v1/chat/completions", exchange -> {
      exchange.getRequestBody().readAllBytes();
      clientPorts.add(exchange.getRemoteAddress().getPort());
      exchange.getResponseHeaders().set("Content-Type", "application/json");
      exchange.sendResponseHeaders(200, SIZED.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(SIZED);
      }
    });
    // A stream that ends as providers end theirs: its events, [DONE], and a moment later the
    // chunked body's last chunk (written when the exchange closes), noting the client's port per call.
    standIn.createContext("/streamed/v1/chat/completions", exchange -> {
      exchange.getRequestBody().readAllBytes();
      clientPorts.add(exchange.getRemoteAddress().getPort());
      exchange.getResponseHeaders().set("Content-Type", "text/event-stream");
      exchange.sendResponseHeaders(200, 0);
      OutputStream out = exchange.getResponseBody();
      out.write(("data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
          + "\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}\n\n").getBytes(StandardCharsets.UTF_8));
      out.flush();
      out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
      out.flush();
      try {
        Thread.sleep(20); // the body's end comes after the reader has its [DONE]
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      exchange.close();
    });
    // A declared length over the bound: refused like an endless answer, without waiting for its bytes.
    standIn.createContext("/declared/v1/chat/completions", exchange -> {
      exchange.getRequestBody().readAllBytes();
      exchange.getResponseHeaders().set("Content-Type", "application/json");
      exchange.sendResponseHeaders(200, BOUND + 1000L);
      byte[] block = new byte[64 * 1024];
      Arrays.fill(block, (byte) ' ');
      OutputStream out = exchange.getResponseBody();
      try {
        for (int sent = 0; sent < BOUND + 1000; sent += block.length) {
          out.write(block, 0, Math.min(block.length, BOUND + 1000 - sent));
        }
      } catch (IOException closed) {
        cutOff.complete(closed);
      } finally {
        exchange.close();
      }
    });
    standIn.start();
  }

  private static final byte[] SIZED =
      "{\"id\":\"x\",\"object\":\"chat.completion\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4,\"total_tokens\":7}}"
          .getBytes(StandardCharsets.UTF_8);
  private final java.util.List<Integer> clientPorts = new java.util.concurrent.CopyOnWriteArrayList<>();

  private void endless(com.sun.net.httpserver.HttpExchange exchange, String contentType, String start) throws IOException {
    exchange.getRequestBody().readAllBytes();
    exchange.getResponseHeaders().set("Content-Type", contentType);
    exchange.sendResponseHeaders(200, 0);
    byte[] block = new byte[64 * 1024];
    Arrays.fill(block, (byte) 'a');
    OutputStream out = exchange.getResponseBody();
    try {
      out.write(start.getBytes(StandardCharsets.UTF_8));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (System.nanoTime() < deadline) {
        out.write(block);
        out.flush();
        written.addAndGet(block.length);
      }
    } catch (IOException closed) {
      cutOff.complete(closed);
    } finally {
      exchange.close();
    }
  }

  @AfterEach
  void stop() {
    standIn.stop(0);
  }

  private ProviderAnswer call(String path, boolean stream) {
    return call(new Providers(OpenAiCompatibleProvider.defaultHttpClient(), ProviderCredentials.environmentOnly(), BOUND), path, stream);
  }

  private ProviderAnswer call(Providers providers, String path, boolean stream) {
    var deployment = new Deployment("m", Provider.OPENAI, "m",
        URI.create("http://127.0.0.1:" + standIn.getAddress().getPort() + path + "/v1"), "sk-bound-test-not-a-secret", "x", Duration.ofSeconds(10));
    var body = ForwardedBody.of(("{\"model\":\"m\",\"messages\":[]" + (stream ? ",\"stream\":true}" : "}")).getBytes(StandardCharsets.UTF_8));
    return providers.call(deployment, stream
        ? ProviderRequest.streamed(Operation.CHAT_COMPLETIONS, body)
        : ProviderRequest.complete(Operation.CHAT_COMPLETIONS, body));
  }

  @Test
  void aWholeAnswerOverTheBoundIs502AndItsConnectionIsClosed() throws Exception {
    Throwable thrown = catchThrowable(() -> call("/json", false));
    assertThat(thrown).isInstanceOf(UpstreamUnreachable.class);
    var envelope = ErrorEnvelope.of((GatewayException) thrown);
    assertThat(ErrorEnvelope.status((GatewayException) thrown)).isEqualTo(502);
    assertThat(envelope.error().message()).contains("more than " + BOUND + " bytes").contains("127.0.0.1");
    assertThat(((UpstreamUnreachable) thrown).afterSuccessStatus()).as("generated, so counted with estimated tokens").isTrue();
    assertThat(((UpstreamUnreachable) thrown).answerBytes()).as("the completion is estimated from the bytes read: one past the bound").isEqualTo(BOUND + 1);
    // The stand-in's writes fail once the gateway closed the connection: what it wrote before is
    // the bound plus what the sockets' buffers took, never the 30 s of an endless answer.
    IOException closed = cutOff.get(20, TimeUnit.SECONDS);
    assertThat(closed).isNotNull();
    assertThat(written.get()).isLessThan(64L * 1024 * 1024);
  }

  @Test
  void aWholeAnswerUnderTheBoundIsRead() {
    var answer = (ProviderResponse) call("/under", false);
    assertThat(answer.usage().totalTokens()).isEqualTo(2);
  }

  @Test
  void aWholeAnswerThatDeclaresItsLengthIsReadWholeAndItsConnectionServesTheNextCall() {
    var providers = new Providers(OpenAiCompatibleProvider.defaultHttpClient(), ProviderCredentials.environmentOnly(), BOUND);
    for (int i = 0; i < 3; i++) {
      var answer = (ProviderResponse) call(providers, "/sized", false);
      assertThat(answer.usage().totalTokens()).isEqualTo(7);
    }
    // Each answer was read to its end, so its connection went back to the pool and the next call took it.
    assertThat(clientPorts).hasSize(3).containsOnly(clientPorts.get(0));
  }

  @Test
  void aStreamReadToItsDoneLeavesItsConnectionForTheNextCall() throws Exception {
    var providers = new Providers(OpenAiCompatibleProvider.defaultHttpClient(), ProviderCredentials.environmentOnly(), BOUND);
    for (int i = 0; i < 3; i++) {
      try (var stream = (ProviderStream) call(providers, "/streamed", true)) {
        assertThat(stream.next()).as("the event").isNotNull();
        assertThat(stream.next()).as("[DONE]: the answer is whole").isNull();
      }
      Thread.sleep(300); // the next call comes after the body's end (20 ms after [DONE]), as calls do
    }
    // The body's end was read after [DONE], so each connection went back to the pool and served the
    // next call; closing at [DONE] had cancelled each exchange and closed its connection.
    assertThat(clientPorts).hasSize(3).containsOnly(clientPorts.get(0));
  }

  @Test
  void aWholeAnswerDeclaringALengthOverTheBoundIs502() {
    Throwable thrown = catchThrowable(() -> call("/declared", false));
    assertThat(thrown).isInstanceOf(UpstreamUnreachable.class);
    assertThat(ErrorEnvelope.status((GatewayException) thrown)).isEqualTo(502);
    assertThat(thrown.getMessage()).contains("more than " + BOUND + " bytes");
    assertThat(((UpstreamUnreachable) thrown).afterSuccessStatus()).as("generated, so counted with estimated tokens").isTrue();
  }

  @Test
  void aStreamedEventOverItsBoundIs502AndItsConnectionIsClosed() throws Exception {
    Throwable thrown = catchThrowable(() -> {
      try (var stream = (ProviderStream) call("/sse", true)) {
        while (stream.next() != null) {
          // the one event never ends
        }
      }
    });
    assertThat(thrown).isInstanceOf(UpstreamUnreachable.class);
    assertThat(ErrorEnvelope.status((GatewayException) thrown)).isEqualTo(502);
    assertThat(thrown.getMessage()).contains("8388608 bytes");
    assertThat(((UpstreamUnreachable) thrown).afterSuccessStatus()).as("generated, so counted with estimated tokens").isTrue();
    assertThat(((UpstreamUnreachable) thrown).answerBytes()).as("the completion is estimated from the bytes read").isGreaterThan(8L * 1024 * 1024);
    assertThat(cutOff.get(20, TimeUnit.SECONDS)).isNotNull();
    assertThat(written.get()).isLessThan(64L * 1024 * 1024);
  }
}

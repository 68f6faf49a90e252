package aigw.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.Gateway;
import aigw.core.apigateway.ProxyResponseEvent;
import aigw.core.json.Json;
import aigw.core.testing.Events;
import aigw.core.testing.LocalDynamo;
import aigw.core.testing.MutableClock;
import aigw.core.testing.TestGateways;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A provider whose answer the JDK's HTTP client refuses for a reason the gateway has no words of
 * its own for (a 204 with a body, a status line that is not HTTP) is a 502 whose message says what
 * happened without a Java class name: the attacker's review got {@code "IOException: unexpected
 * content length header with 204 response."} in the client's body (issue 15: no Java names in any
 * body).
 */
class ProviderFailureWithoutJavaNamesTest {
  private LocalDynamo dynamo;
  private ServerSocket provider;
  private Thread answering;

  @BeforeEach
  void setUp() throws Exception {
    dynamo = new LocalDynamo();
    provider = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
  }

  @AfterEach
  void tearDown() throws Exception {
    provider.close();
    if (answering != null) {
      answering.join(5_000);
    }
    dynamo.close();
  }

  /** Answers every connection with {@code raw} once the request's headers have arrived, then closes it. */
  private void answerWith(String raw) {
    answering = Thread.ofPlatform().daemon().start(() -> {
      while (!provider.isClosed()) {
        try (Socket socket = provider.accept()) {
          InputStream in = socket.getInputStream();
          int matched = 0;
          byte[] end = "\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
          for (int b; matched < end.length && (b = in.read()) >= 0; ) {
            matched = b == end[matched] ? matched + 1 : (b == end[0] ? 1 : 0);
          }
          OutputStream out = socket.getOutputStream();
          out.write(raw.getBytes(StandardCharsets.US_ASCII));
          out.flush();
        } catch (Exception closed) {
          return;
        }
      }
    });
  }

  @ParameterizedTest
  @ValueSource(strings = {
    "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello",
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    "ICY 200 OK\r\n\r\n{}",
  })
  void isA502WhoseMessageNamesNoJavaClass(String raw) throws Exception {
    answerWith(raw);
    String base = "http://127.0.0.1:" + provider.getLocalPort() + "/v1";
    Gateway gateway = TestGateways.gateway(dynamo, List.of(TestGateways.openAi("gpt-4o-mini", "gpt-4o-mini", base)), MutableClock.at("2026-05-01T12:00:00Z"));
    TestGateways.storeKey(gateway, Events.EVENTS_VIRTUAL_KEY, List.of(), null, false);
    var handler = new ProxyHandler(new ProxyService(gateway));

    ProxyResponseEvent response = handler.handleRequest(
        Events.withBody(Events.load("proxy-chat-completions.json"), "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"), null);

    assertThat(response.getStatusCode()).as(response.getBody()).isEqualTo(502);
    JsonNode error = Json.MAPPER.readTree(response.getBody()).get("error");
    assertThat(error.get("type").asText()).isEqualTo("api_connection_error");
    assertThat(error.get("message").asText()).as("no Java name")
        .doesNotContainPattern("[A-Z][A-Za-z]*(Exception|Error)\\b").doesNotContain("java.");
  }
}

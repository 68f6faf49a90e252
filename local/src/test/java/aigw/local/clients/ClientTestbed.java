package aigw.local.clients;

import aigw.core.json.Json;
import aigw.local.LocalGateway;
import aigw.local.LocalOptions;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * The local gateway (in memory) in front of an {@link OpenAiStandIn}, as the real-client tests use
 * it: base URLs for both, a fresh virtual key per test, and the usage a key has recorded.
 */
final class ClientTestbed implements AutoCloseable {
  static final String MASTER = "sk-clients-master-key-for-tests-only";
  static final String CHAT_MODEL = "gpt-4o-mini";
  static final String COMPLETION_MODEL = "gpt-3.5-turbo-instruct";

  private static final HttpClient HTTP = HttpClient.newHttpClient();

  final WireMockServer upstream;
  final LocalGateway gateway;

  private ClientTestbed(WireMockServer upstream, LocalGateway gateway) {
    this.upstream = upstream;
    this.gateway = gateway;
  }

  static ClientTestbed start(Path dir) throws Exception {
    var upstream = OpenAiStandIn.start();
    Path config = dir.resolve("config.yaml");
    Files.writeString(
        config,
        """
        model_list:
          - model_name: %2$s
            litellm_params: {model: openai/%2$s, api_base: "%1$s/v1", api_key: os.environ/CLIENTS_PROVIDER_KEY}
          - model_name: %3$s
            litellm_params: {model: openai/%3$s, api_base: "%1$s/v1", api_key: os.environ/CLIENTS_PROVIDER_KEY}
        """
            .formatted(upstream.baseUrl(), CHAT_MODEL, COMPLETION_MODEL));
    var gateway =
        LocalGateway.start(LocalOptions.inMemory(config, Map.of("AIGW_MASTER_KEY", MASTER, "CLIENTS_PROVIDER_KEY", "sk-provider-clients")));
    return new ClientTestbed(upstream, gateway);
  }

  /** The stand-in's OpenAI base URL, for pointing a client at the provider directly. */
  String standInBaseUrl() {
    return upstream.baseUrl() + "/v1";
  }

  /** The gateway's OpenAI base URL, what users configure. */
  String gatewayBaseUrl() {
    return gateway.baseUrl() + "/v1";
  }

  String newKey() throws Exception {
    var response = call("POST", "/key/generate", "{\"key_alias\":\"client-" + System.nanoTime() + "\"}");
    if (response.statusCode() != 200) {
      throw new IllegalStateException("cannot create a key: " + response.body());
    }
    return Json.MAPPER.readTree(response.body()).get("key").asText();
  }

  /**
   * The key's {@code /key/info} once its usage shows {@code requests} requests, or as it stands after
   * 5 s: a stream's usage is written when the stream ends, which may be just after the client has
   * read {@code [DONE]}.
   */
  JsonNode keyInfoAfter(String key, long requests) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    while (true) {
      var response = call("GET", "/key/info?key=" + key, null);
      JsonNode info = Json.MAPPER.readTree(response.body()).path("info");
      if (info.path("request_count").asLong() >= requests || System.nanoTime() > deadline) {
        return info;
      }
      Thread.sleep(20);
    }
  }

  private HttpResponse<String> call(String method, String path, String body) throws Exception {
    var request =
        HttpRequest.newBuilder(URI.create(gateway.baseUrl() + path))
            .timeout(Duration.ofSeconds(20))
            .header("Authorization", "Bearer " + MASTER)
            .header("Content-Type", "application/json")
            .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Override
  public void close() {
    gateway.close();
    upstream.stop();
  }
}

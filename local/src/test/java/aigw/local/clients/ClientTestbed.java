package aigw.local.clients;

import aigw.core.json.Json;
import aigw.local.LocalGateway;
import aigw.local.LocalOptions;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The local gateway (in memory) in front of an {@link OpenAiStandIn}, as the real-client tests use
 * it: base URLs for both, a fresh virtual key per test, and the usage a key has recorded.
 */
final class ClientTestbed implements AutoCloseable {
  static final String MASTER = "sk-clients-master-key-for-tests-only";
  static final String CHAT_MODEL = "gpt-4o-mini";
  static final String COMPLETION_MODEL = "gpt-3.5-turbo-instruct";


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
    return admin().newKey("client");
  }

  /** See {@link GatewayAdmin#keyInfoAfter}. */
  JsonNode keyInfoAfter(String key, long requests) throws Exception {
    return admin().keyInfoAfter(key, requests);
  }

  private GatewayAdmin admin() {
    return new GatewayAdmin(gateway.baseUrl(), MASTER);
  }

  @Override
  public void close() {
    gateway.close();
    upstream.stop();
  }
}

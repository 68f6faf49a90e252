package aigw.local.clients;

import aigw.core.json.Json;
import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/**
 * The admin calls the end-to-end client tests make on a local gateway with its master key: a new
 * virtual key, and the key's {@code /key/info} once its usage has been written.
 *
 * @param baseUrl the gateway's root URL, e.g. {@code http://127.0.0.1:3000}
 * @param masterKey the gateway's master key (a test value)
 */
record GatewayAdmin(URI baseUrl, String masterKey) {
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  /** A new virtual key whose alias starts with {@code aliasPrefix}; fails the test if refused. */
  String newKey(String aliasPrefix) throws Exception {
    var response = call("POST", "/key/generate", "{\"key_alias\":\"" + aliasPrefix + "-" + System.nanoTime() + "\"}");
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
      JsonNode info = Json.MAPPER.readTree(call("GET", "/key/info?key=" + key, null).body()).path("info");
      if (info.path("request_count").asLong() >= requests || System.nanoTime() > deadline) {
        return info;
      }
      Thread.sleep(20);
    }
  }

  /** One call with the master key; {@code body} null for none. */
  HttpResponse<String> call(String method, String path, String body) throws Exception {
    var request =
        HttpRequest.newBuilder(URI.create(baseUrl + path))
            .timeout(Duration.ofSeconds(20))
            .header("Authorization", "Bearer " + masterKey)
            .header("Content-Type", "application/json")
            .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }
}

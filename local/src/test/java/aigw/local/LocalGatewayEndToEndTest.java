package aigw.local;

import static com.github.tomakehurst.wiremock.client.WireMock.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.json.Json;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.errors.BadRequestException;
import com.openai.errors.NotFoundException;
import com.openai.errors.OpenAIServiceException;
import com.openai.errors.PermissionDeniedException;
import com.openai.errors.UnauthorizedException;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.embeddings.EmbeddingCreateParams;
import com.openai.models.models.Model;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The local gateway over real HTTP, called as applications call it: the official OpenAI Java SDK
 * with a virtual key, curl-like requests for the rest. The provider is a loopback WireMock server.
 */
class LocalGatewayEndToEndTest {
  private static final String MASTER = "sk-e2e-master-key-for-tests-only";
  private static final String COMPLETION =
      """
      {"id":"chatcmpl-e2e","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini-2024-07-18",
       "choices":[{"index":0,"message":{"role":"assistant","content":"Hello from upstream","refusal":null},"logprobs":null,"finish_reason":"stop"}],
       "usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}
      """;
  private static final String EMBEDDING =
      """
      {"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,-0.25]}],
       "model":"text-embedding-3-small","usage":{"prompt_tokens":2,"total_tokens":2}}
      """;

  @TempDir static Path dir;
  private static WireMockServer upstream;
  private static LocalGateway gateway;
  private static final HttpClient http = HttpClient.newHttpClient();

  @BeforeAll
  static void start() throws Exception {
    upstream = aigw.core.testing.Upstream.start();
    Path config = dir.resolve("config.yaml");
    Files.writeString(
        config,
        """
        model_list:
          - model_name: gpt-4o-mini
            litellm_params: {model: openai/gpt-4o-mini, api_base: "%1$s/v1", api_key: os.environ/E2E_PROVIDER_KEY}
          - model_name: text-embedding-3-small
            litellm_params: {model: openai/text-embedding-3-small, api_base: "%1$s/v1", api_key: os.environ/E2E_PROVIDER_KEY}
          - model_name: slow-model
            litellm_params: {model: openai/slow, api_base: "%1$s/slow/v1", api_key: os.environ/E2E_PROVIDER_KEY, timeout: 0.5}
          - model_name: gone-model
            litellm_params: {model: openai/gone, api_base: "http://127.0.0.1:1/v1", api_key: os.environ/E2E_PROVIDER_KEY}
        """
            .formatted(upstream.baseUrl()));
    gateway =
        LocalGateway.start(
            LocalOptions.inMemory(config, Map.of("AIGW_MASTER_KEY", MASTER, "E2E_PROVIDER_KEY", "sk-provider-e2e")));
  }

  @AfterAll
  static void stop() {
    gateway.close();
    upstream.stop();
  }

  @BeforeEach
  void stubs() {
    upstream.resetAll();
    upstream.stubFor(post("/v1/chat/completions").willReturn(okJson(COMPLETION)));
    upstream.stubFor(post("/v1/embeddings").willReturn(okJson(EMBEDDING)));
    upstream.stubFor(post("/slow/v1/chat/completions").willReturn(okJson(COMPLETION).withFixedDelay(3000)));
  }

  private static HttpResponse<String> call(String method, String path, String key, String body) throws Exception {
    var request = HttpRequest.newBuilder(URI.create(gateway.baseUrl() + path)).timeout(Duration.ofSeconds(20));
    if (key != null) {
      request.header("Authorization", "Bearer " + key);
    }
    request.header("Content-Type", "application/json");
    request.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static JsonNode json(HttpResponse<String> response) throws Exception {
    return Json.MAPPER.readTree(response.body());
  }

  private static String newKey(String body) throws Exception {
    var response = call("POST", "/key/generate", MASTER, body);
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    return json(response).get("key").asText();
  }

  private static OpenAIClient sdk(String key) {
    return OpenAIOkHttpClient.builder().apiKey(key).baseUrl(gateway.baseUrl() + "/v1").maxRetries(0).build();
  }

  private static ChatCompletionCreateParams chat(String model) {
    return ChatCompletionCreateParams.builder().model(model).addUserMessage("Say hello").build();
  }

  @Test
  void theOpenAiSdkChatsEmbedsAndListsModelsWithAVirtualKey() throws Exception {
    String key = newKey("{\"key_alias\":\"sdk-app\",\"models\":[\"gpt-4o-mini\",\"text-embedding-3-small\"]}");
    var client = sdk(key);

    var completion = client.chat().completions().create(chat("gpt-4o-mini"));
    assertThat(completion.choices().get(0).message().content()).contains("Hello from upstream");
    assertThat(completion.usage().orElseThrow().totalTokens()).isEqualTo(8);

    var embedding = client.embeddings().create(EmbeddingCreateParams.builder().model("text-embedding-3-small").input("hello").build());
    assertThat(embedding.data().get(0).embedding()).containsExactly(0.5f, -0.25f);

    assertThat(client.models().list().data()).extracting(Model::id).containsExactly("gpt-4o-mini", "text-embedding-3-small");

    upstream.verify(postRequestedFor(urlEqualTo("/v1/chat/completions")).withHeader("Authorization", equalTo("Bearer sk-provider-e2e")));
    var info = json(call("GET", "/key/info?key=" + key, MASTER, null)).get("info");
    assertThat(info.get("request_count").asLong()).isEqualTo(2);
    assertThat(info.get("total_tokens").asLong()).isEqualTo(10);
  }

  @Test
  void sdkErrorsCarryLiteLlmsStatusAndType() throws Exception {
    String restricted = newKey("{\"models\":[\"text-embedding-3-small\"]}");
    assertThatThrownBy(() -> sdk(restricted).chat().completions().create(chat("gpt-4o-mini")))
        .isInstanceOfSatisfying(UnauthorizedException.class, e -> assertThat(e.type()).contains("key_model_access_denied"));

    assertThatThrownBy(() -> sdk("sk-not-a-key-of-this-gateway").chat().completions().create(chat("gpt-4o-mini")))
        .isInstanceOfSatisfying(UnauthorizedException.class, e -> assertThat(e.type()).contains("token_not_found_in_db"));

    String key = newKey("{}");
    assertThatThrownBy(() -> sdk(key).chat().completions().create(chat("no-such-model")))
        .isInstanceOfSatisfying(NotFoundException.class, e -> assertThat(e.param()).contains("model"));

    // A provider refusing a stream before its first byte: a normal error response the SDK raises.
    upstream.stubFor(post("/v1/chat/completions").withRequestBody(matchingJsonPath("$.stream", equalTo("true"))).willReturn(aResponse().withStatus(400)
        .withBody("{\"error\":{\"message\":\"streaming is off\",\"type\":\"invalid_request_error\",\"param\":\"stream\",\"code\":null}}")));
    assertThatThrownBy(() -> sdk(key).chat().completions().createStreaming(chat("gpt-4o-mini")).stream().count())
        .isInstanceOfSatisfying(BadRequestException.class, e -> assertThat(e.param()).contains("stream"));

    assertThatThrownBy(() -> sdk(MASTER).chat().completions().create(chat("gpt-4o-mini")))
        .isInstanceOf(PermissionDeniedException.class);
  }

  @Test
  void blockedAndExpiredKeysGet401() throws Exception {
    String blocked = newKey("{}");
    assertThat(call("POST", "/key/block", MASTER, "{\"key\":\"" + blocked + "\"}").statusCode()).isEqualTo(200);
    // Same process as the admin call: the block is seen at once, not after the cache TTL.
    assertThatThrownBy(() -> sdk(blocked).chat().completions().create(chat("gpt-4o-mini")))
        .isInstanceOfSatisfying(UnauthorizedException.class, e -> assertThat(e.getMessage()).contains("blocked"));

    String expiring = newKey("{\"duration\":\"1s\"}");
    Thread.sleep(1100);
    assertThatThrownBy(() -> sdk(expiring).chat().completions().create(chat("gpt-4o-mini")))
        .isInstanceOfSatisfying(UnauthorizedException.class, e -> assertThat(e.type()).contains("expired_key"));
  }

  @Test
  void clientMistakesAndProviderFailuresHaveTheirStatusesOverHttp() throws Exception {
    String key = newKey("{}");
    record Case(String path, String key, String body, int status, String type) {}
    var cases =
        new Case[] {
          new Case("/v1/chat/completions", null, "{\"model\":\"gpt-4o-mini\",\"messages\":[]}", 401, "auth_error"),
          new Case("/v1/chat/completions", key, "{\"model\":", 400, "invalid_request_error"),
          new Case("/v1/chat/completions", key, "{\"model\":\"gpt-4o-mini\",\"messages\":{}}", 400, "invalid_request_error"),
          new Case("/v1/chat/completions", key, "{\"model\":\"slow-model\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 504, "timeout"),
          new Case("/v1/chat/completions", key, "{\"model\":\"gone-model\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 502, "api_connection_error"),
          new Case("/key/generate", key, "{}", 403, "auth_error"),
          new Case("/key/generate", MASTER, "{\"max_budget\":-10}", 400, "invalid_request_error"),
        };
    for (Case c : cases) {
      var response = call("POST", c.path(), c.key(), c.body());
      assertThat(response.statusCode()).as(c.toString()).isEqualTo(c.status());
      assertThat(response.headers().firstValue("content-type")).contains("application/json");
      var error = json(response).get("error");
      assertThat(error.get("type").asText()).as(c.toString()).isEqualTo(c.type());
      assertThat(error.get("code").asText()).isEqualTo(Integer.toString(c.status()));
    }
  }

  @Test
  void anAnswerOverSixMegabytesReachesTheClientWholeAndIsCounted() throws Exception {
    String key = newKey("{}");
    // Over Lambda's 6 MB buffered limit, which does not bind the proxy: locally as on AWS it is answered.
    String huge = COMPLETION.replace("\"Hello from upstream\"", "\"" + "z".repeat(7_000_000) + "\"");
    assertThat(huge.length()).isGreaterThan(7_000_000);
    upstream.stubFor(post("/v1/chat/completions").willReturn(okJson(huge)));
    var response = call("POST", "/v1/chat/completions", key, "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.body()).isEqualTo(huge);
    var info = json(call("GET", "/key/info?key=" + key, MASTER, null)).get("info");
    assertThat(info.get("total_tokens").asLong()).isEqualTo(8);
  }

  @Test
  void aBodyOverTheLimitGets413() throws Exception {
    String key = newKey("{}");
    String big = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"" + "y".repeat(6_000_000) + "\"}]}";
    var response = call("POST", "/v1/chat/completions", key, big);
    assertThat(response.statusCode()).isEqualTo(413);
    assertThat(json(response).at("/error/type").asText()).isEqualTo("invalid_request_error");
  }

  @Test
  void providerErrorsPassThroughToTheSdk() throws Exception {
    upstream.stubFor(
        post("/v1/chat/completions")
            .willReturn(aResponse().withStatus(400).withHeader("Content-Type", "application/json")
                .withBody("{\"error\":{\"message\":\"This model's maximum context length is 8 tokens\",\"type\":\"invalid_request_error\",\"param\":\"messages\",\"code\":\"context_length_exceeded\"}}")));
    String key = newKey("{}");
    assertThatThrownBy(() -> sdk(key).chat().completions().create(chat("gpt-4o-mini")))
        .isInstanceOfSatisfying(
            OpenAIServiceException.class,
            e -> {
              assertThat(e.statusCode()).isEqualTo(400);
              assertThat(e.code()).contains("context_length_exceeded");
              assertThat(e.getMessage()).contains("maximum context length");
            });
  }

  @Test
  void healthNeedsNoKeyAndReadinessTouchesTheDatabase() throws Exception {
    assertThat(call("GET", "/health/liveliness", null, null).body()).isEqualTo("\"I'm alive!\"");
    var ready = call("GET", "/health/readiness", null, null);
    assertThat(ready.statusCode()).isEqualTo(200);
    assertThat(json(ready).get("db").asText()).isEqualTo("connected");
  }
}

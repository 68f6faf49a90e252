package aigw.local.clients;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.containing;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.matchingJsonPath;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.json.Json;
import aigw.core.testing.Upstream;
import aigw.local.LocalGateway;
import aigw.local.LocalOptions;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.MappingBuilder;
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.errors.RateLimitException;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.embeddings.EmbeddingCreateParams;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Azure OpenAI end to end: the official OpenAI Java SDK through the local gateway to a WireMock
 * stand-in that answers only at Azure's URLs ({@code /openai/deployments/<name>/...?api-version=}
 * for a dated {@code api_version}, {@code /openai/v1/...} otherwise) and only with the {@code
 * api-key} header, in Azure's stream shape (a first chunk with {@code choices: []} and {@code
 * prompt_filter_results}), with the usage of every call recorded on the key.
 */
class AzureEndToEndTest {
  private static final String MASTER = "sk-azure-master-key-for-tests-only";
  private static final String AZURE_KEY = "azure-provider-key-0123456789";
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  @TempDir static Path dir;
  private static WireMockServer azure;
  private static LocalGateway gateway;

  private static final String PROMPT_FILTER_CHUNK =
      "{\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\",\"prompt_filter_results\":[{\"prompt_index\":0,"
          + "\"content_filter_results\":{\"hate\":{\"filtered\":false,\"severity\":\"safe\"},\"self_harm\":{\"filtered\":false,\"severity\":\"safe\"},"
          + "\"sexual\":{\"filtered\":false,\"severity\":\"safe\"},\"violence\":{\"filtered\":false,\"severity\":\"safe\"}}}]}";

  private static String chunk(String delta, String finish) {
    return "{\"choices\":[{\"content_filter_results\":{},\"delta\":" + delta + ",\"finish_reason\":" + finish
        + ",\"index\":0,\"logprobs\":null}],\"created\":1733376000,\"id\":\"chatcmpl-Az1\",\"model\":\"gpt-4o-2024-11-20\","
        + "\"object\":\"chat.completion.chunk\",\"system_fingerprint\":\"fp_1\",\"usage\":null}";
  }

  /** Azure's stream, recorded shape: prompt filter chunk, role, two pieces, stop, the usage chunk when asked. */
  private static String stream(boolean withUsage) {
    var events =
        new java.util.ArrayList<>(
            List.of(
                PROMPT_FILTER_CHUNK,
                chunk("{\"content\":\"\",\"refusal\":null,\"role\":\"assistant\"}", "null"),
                chunk("{\"content\":\"Hello\"}", "null"),
                chunk("{\"content\":\" from Azure\"}", "null"),
                chunk("{}", "\"stop\"")));
    if (withUsage) {
      events.add(
          "{\"choices\":[],\"created\":1733376000,\"id\":\"chatcmpl-Az1\",\"model\":\"gpt-4o-2024-11-20\",\"object\":\"chat.completion.chunk\","
              + "\"system_fingerprint\":\"fp_1\",\"usage\":{\"completion_tokens\":3,\"prompt_tokens\":11,\"total_tokens\":14}}");
    }
    events.add("[DONE]");
    return events.stream().map(e -> "data: " + e + "\n\n").collect(Collectors.joining());
  }

  private static final String COMPLETION =
      """
      {"choices":[{"content_filter_results":{},"finish_reason":"stop","index":0,"logprobs":null,
        "message":{"content":"Hello from Azure","refusal":null,"role":"assistant"}}],
       "created":1733376000,"id":"chatcmpl-Az2","model":"gpt-4o-2024-11-20","object":"chat.completion",
       "prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}],
       "system_fingerprint":"fp_1","usage":{"completion_tokens":3,"prompt_tokens":11,"total_tokens":14}}
      """;

  private static ResponseDefinitionBuilder sse(String body) {
    return aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream").withBody(body);
  }

  /** A request Azure would accept at {@code path}: the api-key header, and api-version when dated. */
  private static MappingBuilder azurePost(String path, String apiVersion) {
    var mapping = post(urlPathEqualTo(path)).withHeader("api-key", equalTo(AZURE_KEY));
    return apiVersion == null ? mapping : mapping.withQueryParam("api-version", equalTo(apiVersion));
  }

  @BeforeAll
  static void start() throws Exception {
    azure = Upstream.start();
    // A dated deployment (2024-10-21 accepts stream_options), a v1 deployment, and an old dated one
    // that refuses stream_options as Azure does.
    for (String[] route :
        List.of(
            new String[] {"/openai/deployments/gpt4o-dated/chat/completions", "2024-10-21"},
            new String[] {"/openai/v1/chat/completions", null},
            new String[] {"/openai/deployments/gpt4o-old/chat/completions", "2024-06-01"})) {
      String path = route[0];
      String version = route[1];
      if ("2024-06-01".equals(version)) {
        azure.stubFor(
            azurePost(path, version).atPriority(1).withRequestBody(containing("stream_options"))
                .willReturn(aResponse().withStatus(400).withHeader("Content-Type", "application/json").withBody(
                    "{\"error\":{\"message\":\"Unrecognized request argument supplied: stream_options\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}")));
      } else {
        azure.stubFor(
            azurePost(path, version).atPriority(1)
                .withRequestBody(matchingJsonPath("$.stream_options.include_usage", equalTo("true")))
                .willReturn(sse(stream(true))));
      }
      azure.stubFor(azurePost(path, version).atPriority(2).withRequestBody(matchingJsonPath("$.stream", equalTo("true"))).willReturn(sse(stream(false))));
      azure.stubFor(azurePost(path, version).atPriority(3).willReturn(okJson(COMPLETION)));
    }
    azure.stubFor(
        azurePost("/openai/deployments/embed-dated/embeddings", "2024-10-21")
            .willReturn(okJson("{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,\"embedding\":[0.5,-0.25]}],"
                + "\"model\":\"text-embedding-3-small\",\"usage\":{\"prompt_tokens\":2,\"total_tokens\":2}}")));
    azure.stubFor(
        azurePost("/openai/deployments/busy/chat/completions", "2024-10-21")
            .willReturn(aResponse().withStatus(429).withHeader("Content-Type", "application/json").withHeader("retry-after-ms", "1500")
                .withBody("{\"error\":{\"code\":\"429\",\"message\":\"Requests to the ChatCompletions_Create Operation have exceeded call rate limit. Please retry after 2 seconds.\"}}")));

    Path config = dir.resolve("config.yaml");
    Files.writeString(
        config,
        """
        model_list:
          - model_name: gpt-4o-dated
            litellm_params: {model: azure/gpt4o-dated, api_base: "%1$s", api_key: os.environ/AZURE_API_KEY, api_version: "2024-10-21"}
          - model_name: gpt-4o-v1
            litellm_params: {model: azure/gpt-4o-v1-deployment, api_base: "%1$s/openai/v1", api_key: os.environ/AZURE_API_KEY}
          - model_name: gpt-4o-old
            litellm_params: {model: azure/gpt4o-old, api_base: "%1$s", api_key: os.environ/AZURE_API_KEY, api_version: os.environ/OLD_AZURE_API_VERSION}
          - model_name: embed
            litellm_params: {model: azure/embed-dated, api_base: "%1$s", api_key: os.environ/AZURE_API_KEY, api_version: "2024-10-21"}
          - model_name: busy
            litellm_params: {model: azure/busy, api_base: "%1$s", api_key: os.environ/AZURE_API_KEY, api_version: "2024-10-21"}
        """
            .formatted(azure.baseUrl()));
    gateway =
        LocalGateway.start(
            LocalOptions.inMemory(
                config, Map.of("AIGW_MASTER_KEY", MASTER, "AZURE_API_KEY", AZURE_KEY, "OLD_AZURE_API_VERSION", "2024-06-01")));
  }

  @AfterAll
  static void stop() {
    if (gateway != null) {
      gateway.close();
    }
    if (azure != null) {
      azure.stop();
    }
  }

  private static OpenAIClient sdk(String key) {
    return OpenAIOkHttpClient.builder().baseUrl(gateway.baseUrl() + "/v1").apiKey(key).maxRetries(0).build();
  }

  private static ChatCompletionCreateParams chat(String model, String prompt, boolean includeUsage) {
    var params = ChatCompletionCreateParams.builder().model(model).addUserMessage(prompt);
    if (includeUsage) {
      params.streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build());
    }
    return params.build();
  }

  private static List<ChatCompletionChunk> streamChat(String key, String model, String prompt, boolean includeUsage) {
    try (var stream = sdk(key).chat().completions().createStreaming(chat(model, prompt, includeUsage))) {
      return stream.stream().toList();
    }
  }

  private static String text(List<ChatCompletionChunk> chunks) {
    return chunks.stream().flatMap(c -> c.choices().stream()).map(c -> c.delta().content().orElse("")).collect(Collectors.joining());
  }

  @Test
  void aDatedDeploymentAnswersAtItsDeploymentUrlWithApiVersionAndApiKey() throws Exception {
    String key = newKey();
    String prompt = "plain dated " + key.substring(key.length() - 6);

    var completion = sdk(key).chat().completions().create(chat("gpt-4o-dated", prompt, false));

    assertThat(completion.choices().getFirst().message().content()).contains("Hello from Azure");
    azure.verify(
        postRequestedFor(urlPathEqualTo("/openai/deployments/gpt4o-dated/chat/completions"))
            .withQueryParam("api-version", equalTo("2024-10-21"))
            .withHeader("api-key", equalTo(AZURE_KEY))
            .withoutHeader("Authorization")
            .withRequestBody(matchingJsonPath("$.messages[0].content", equalTo(prompt))));
    JsonNode info = keyInfoAfter(key, 1);
    assertThat(info.get("total_tokens").asLong()).isEqualTo(14);
    assertThat(info.get("estimated_request_count").asLong()).isZero();
  }

  @Test
  void aDatedDeploymentStreamsAzuresChunksAndTheKeyRecordsTheReportedUsage() throws Exception {
    String key = newKey();
    String prompt = "stream dated " + key.substring(key.length() - 6);

    var chunks = streamChat(key, "gpt-4o-dated", prompt, false);

    assertThat(text(chunks)).isEqualTo("Hello from Azure");
    assertThat(chunks.getFirst().choices()).as("Azure's prompt filter chunk, relayed").isEmpty();
    assertThat(chunks.stream().flatMap(c -> c.usage().stream()).toList()).as("no usage chunk unless the client asks").isEmpty();
    azure.verify(
        postRequestedFor(urlPathEqualTo("/openai/deployments/gpt4o-dated/chat/completions"))
            .withQueryParam("api-version", equalTo("2024-10-21"))
            .withRequestBody(matchingJsonPath("$.messages[0].content", equalTo(prompt)))
            .withRequestBody(matchingJsonPath("$.stream_options.include_usage", equalTo("true"))));
    JsonNode info = keyInfoAfter(key, 1);
    assertThat(info.get("prompt_tokens").asLong()).isEqualTo(11);
    assertThat(info.get("completion_tokens").asLong()).isEqualTo(3);
    assertThat(info.get("estimated_request_count").asLong()).isZero();
  }

  @Test
  void theV1ApiStreamsWithTheDeploymentAsModelAndGivesTheUsageChunkWhenAsked() throws Exception {
    String key = newKey();

    var chunks = streamChat(key, "gpt-4o-v1", "stream v1", true);

    assertThat(text(chunks)).isEqualTo("Hello from Azure");
    assertThat(chunks.getLast().usage().orElseThrow().totalTokens()).isEqualTo(14);
    azure.verify(
        postRequestedFor(urlPathEqualTo("/openai/v1/chat/completions"))
            .withHeader("api-key", equalTo(AZURE_KEY))
            .withRequestBody(matchingJsonPath("$.model", equalTo("gpt-4o-v1-deployment"))));
    assertThat(azure.findAll(postRequestedFor(urlPathEqualTo("/openai/v1/chat/completions"))))
        .allSatisfy(request -> assertThat(request.getUrl()).as("the v1 API takes no api-version").doesNotContain("api-version"));
    assertThat(keyInfoAfter(key, 1).get("total_tokens").asLong()).isEqualTo(14);
  }

  @Test
  void anOldDatedVersionStreamsWithoutStreamOptionsAndItsUsageIsEstimated() throws Exception {
    String key = newKey();

    var chunks = streamChat(key, "gpt-4o-old", "stream old", true);

    assertThat(text(chunks)).isEqualTo("Hello from Azure");
    azure.verify(
        postRequestedFor(urlPathEqualTo("/openai/deployments/gpt4o-old/chat/completions"))
            .withQueryParam("api-version", equalTo("2024-06-01"))
            .withRequestBody(matchingJsonPath("$.stream", equalTo("true"))));
    JsonNode info = keyInfoAfter(key, 1);
    assertThat(info.get("request_count").asLong()).isEqualTo(1);
    assertThat(info.get("estimated_request_count").asLong()).isEqualTo(1);
  }

  @Test
  void embeddingsGoToTheDeploymentsEmbeddingsUrl() throws Exception {
    String key = newKey();

    var embeddings = sdk(key).embeddings().create(EmbeddingCreateParams.builder().model("embed").input("hi").build());

    assertThat(embeddings.data().getFirst().embedding()).containsExactly(0.5f, -0.25f);
    assertThat(keyInfoAfter(key, 1).get("prompt_tokens").asLong()).isEqualTo(2);
  }

  @Test
  void azuresRateLimitReachesTheClientAs429WithRetryAfterFromRetryAfterMs() throws Exception {
    String key = newKey();

    var response = call("POST", "/v1/chat/completions", key, "{\"model\":\"busy\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");

    assertThat(response.statusCode()).isEqualTo(429);
    assertThat(response.headers().firstValue("Retry-After")).contains("2");
    assertThat(response.headers().firstValue("retry-after-ms")).as("the OpenAI SDKs read it first").contains("1500");
    JsonNode error = Json.MAPPER.readTree(response.body()).get("error");
    assertThat(error.get("message").asText()).contains("exceeded call rate limit");
    assertThat(error.get("code").asText()).isEqualTo("429");
    assertThat(response.body()).doesNotContain(AZURE_KEY);
    assertThatThrownBy(() -> sdk(key).chat().completions().create(chat("busy", "hi", false))).isInstanceOf(RateLimitException.class);
  }

  private static String newKey() throws Exception {
    return new GatewayAdmin(gateway.baseUrl(), MASTER).newKey("azure");
  }

  private static JsonNode keyInfoAfter(String key, long requests) throws Exception {
    return new GatewayAdmin(gateway.baseUrl(), MASTER).keyInfoAfter(key, requests);
  }

  private static HttpResponse<String> call(String method, String path, String bearer, String body) throws Exception {
    var request =
        HttpRequest.newBuilder(URI.create(gateway.baseUrl() + path))
            .timeout(Duration.ofSeconds(20))
            .header("Authorization", "Bearer " + bearer)
            .header("Content-Type", "application/json")
            .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }
}

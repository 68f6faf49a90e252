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
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code POST /v1/responses} through the proxy's HTTP application against a WireMock provider:
 * translated to chat completions for an OpenAI-compatible model without the Responses API ({@code
 * hosted_vllm/}), passed through to OpenAI's; whole and streamed; usage recorded on the key.
 */
class ResponsesRouteTest {
  private static final String KEY = "sk-aigw-responses-test-key-0001";
  private static WireMockServer wiremock;

  private LocalDynamo dynamo;
  private Gateway gateway;
  private GatewayApplication app;
  private String keyId;
  private StreamingUpstream upstream;

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
    var vllm = new Deployment(
        "local-llama", Provider.HOSTED_VLLM, "meta-llama/Llama-3.1-8B", URI.create(wiremock.baseUrl() + "/v1"), "sk-upstream-test-credential",
        "test", Duration.ofSeconds(5));
    upstream = StreamingUpstream.start();
    var held = new Deployment(
        "held-llama", Provider.HOSTED_VLLM, "llama", URI.create(upstream.baseUrl()), null, null, Duration.ofSeconds(5));
    var azureV1 = new Deployment(
        "azure-gpt", Provider.AZURE, "my-gpt41", URI.create(wiremock.baseUrl() + "/openai/v1"), "azure-provider-key", "test",
        Duration.ofSeconds(5), null, "v1", null);
    var azureDated = new Deployment(
        "azure-dated", Provider.AZURE, "my-gpt4o", URI.create(wiremock.baseUrl() + "/openai/v1"), "azure-provider-key", "test",
        Duration.ofSeconds(5), null, "2024-10-21", null);
    gateway = TestGateways.gateway(
        dynamo,
        List.of(vllm, TestGateways.openAi("gpt-4.1", "gpt-4.1-2025-04-14", wiremock.baseUrl() + "/v1"), held, azureV1, azureDated,
            TestGateways.openAi("mixed", "gpt-4.1", wiremock.baseUrl() + "/v1"),
            new Deployment("mixed", Provider.HOSTED_VLLM, "llama", URI.create(wiremock.baseUrl() + "/v1"), null, null, Duration.ofSeconds(5))),
        MutableClock.at("2026-05-01T12:00:00Z"));
    app = GatewayApplication.of(CorsPolicy.DISABLED, new ProxyService(gateway)::handle);
    keyId = TestGateways.storeKey(gateway, KEY, List.of(), null, false).keyId();
  }

  @AfterEach
  void tearDown() {
    upstream.close();
    dynamo.close();
  }

  private GatewayResponse send(String method, String path, String body) {
    return app.handle(new GatewayRequest(method, path, Map.of("Authorization", "Bearer " + KEY, "Content-Type", "application/json"),
        Map.of(), body.getBytes(StandardCharsets.UTF_8), "req-1"));
  }

  private KeyUsage usage() {
    return gateway.keyStore().usageOf(keyId);
  }

  private static final String TOOL =
      "{\"type\":\"function\",\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}";

  @Test
  void aTranslatedRequestReachesTheProviderAsChatAndItsAnswerComesBackAsAResponseNamingTheAnsweringModelWithUsageRecorded() throws Exception {
    wiremock.stubFor(post("/v1/chat/completions").willReturn(okJson(
        "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"meta-llama/Llama-3.1-8B\",\"choices\":[{\"index\":0,"
            + "\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":"
            + "{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},\"finish_reason\":\"tool_calls\"}],"
            + "\"usage\":{\"prompt_tokens\":30,\"completion_tokens\":8,\"total_tokens\":38}}")));

    GatewayResponse response = send("POST", "/v1/responses",
        "{\"model\":\"local-llama\",\"instructions\":\"Be brief.\",\"input\":\"Weather in Paris?\",\"tools\":[" + TOOL + "]}");

    assertThat(response.status()).as(response.bodyText()).isEqualTo(200);
    JsonNode body = Json.MAPPER.readTree(response.body());
    assertThat(body.get("object").asText()).isEqualTo("response");
    assertThat(body.get("id").asText()).startsWith("resp_");
    assertThat(body.get("status").asText()).isEqualTo("completed");
    assertThat(body.get("model").asText()).as("the model that answered, as chat completions says").isEqualTo("meta-llama/Llama-3.1-8B");
    assertThat(body.at("/output/0/type").asText()).isEqualTo("function_call");
    assertThat(body.at("/output/0/call_id").asText()).isEqualTo("call_1");
    assertThat(body.at("/output/0/arguments").asText()).isEqualTo("{\"city\":\"Paris\"}");
    assertThat(body.at("/usage/input_tokens").asLong()).isEqualTo(30);
    assertThat(body.at("/usage/output_tokens").asLong()).isEqualTo(8);
    assertThat(body.at("/usage/total_tokens").asLong()).isEqualTo(38);

    var sent = wiremock.findAll(postRequestedFor(urlEqualTo("/v1/chat/completions"))).get(0);
    JsonNode chat = Json.MAPPER.readTree(sent.getBody());
    assertThat(chat.get("model").asText()).isEqualTo("meta-llama/Llama-3.1-8B");
    assertThat(chat.at("/messages/0").toString()).isEqualTo("{\"role\":\"system\",\"content\":\"Be brief.\"}");
    assertThat(chat.at("/messages/1").toString()).isEqualTo("{\"role\":\"user\",\"content\":\"Weather in Paris?\"}");
    assertThat(chat.at("/tools/0/function/name").asText()).isEqualTo("get_weather");
    assertThat(usage().requests()).isEqualTo(1);
    assertThat(usage().totalTokens()).isEqualTo(38);
  }

  @Test
  void aTranslatedStreamIsTheResponsesEventSequenceNamingTheAnsweringModelAndItsUsageIsRecorded() throws Exception {
    String sse = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"llama-3.1-8b-answering\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n"
        + "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n"
        + "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":2,\"total_tokens\":13}}\n\n"
        + "data: [DONE]\n\n";
    wiremock.stubFor(post("/v1/chat/completions").willReturn(aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream").withBody(sse)));

    GatewayResponse response = send("POST", "/v1/responses", "{\"model\":\"local-llama\",\"input\":\"Say hello\",\"stream\":true,\"store\":false}");

    assertThat(response.status()).isEqualTo(200);
    assertThat(response.headers()).containsEntry("Content-Type", "text/event-stream; charset=utf-8");
    List<JsonNode> events = events(response.buffered().bodyText());
    assertThat(events).extracting(e -> e.get("type").asText()).containsExactly(
        "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
        "response.output_text.delta", "response.output_text.delta", "response.output_text.done", "response.content_part.done",
        "response.output_item.done", "response.completed");
    JsonNode completed = events.get(events.size() - 1);
    assertThat(completed.at("/response/output/0/content/0/text").asText()).isEqualTo("Hello");
    assertThat(events.get(0).at("/response/model").asText()).isEqualTo("llama-3.1-8b-answering");
    assertThat(completed.at("/response/model").asText()).isEqualTo("llama-3.1-8b-answering");
    assertThat(completed.at("/response/usage/total_tokens").asLong()).isEqualTo(13);
    assertThat(usage().requests()).isEqualTo(1);
    assertThat(usage().totalTokens()).isEqualTo(13);
    assertThat(usage().estimatedRequests()).isZero();
    wiremock.verify(postRequestedFor(urlEqualTo("/v1/chat/completions"))
        .withRequestBody(matchingJsonPath("$.stream_options.include_usage", equalTo("true"))));
  }

  @Test
  void aTranslatedStreamThatBreaksMidWayEndsWithResponseFailedAndAnErrorEventAndIsCounted() throws Exception {
    String sse = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n";
    wiremock.stubFor(post("/v1/chat/completions").willReturn(aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream").withBody(sse)));

    GatewayResponse response = send("POST", "/v1/responses", "{\"model\":\"local-llama\",\"input\":\"Say hello\",\"stream\":true}");

    List<JsonNode> events = events(response.buffered().bodyText());
    assertThat(events.get(events.size() - 2).get("type").asText()).isEqualTo("response.failed");
    assertThat(events.get(events.size() - 2).at("/response/error/message").asText()).contains("ended its answer before it was complete");
    assertThat(events.get(events.size() - 1).get("type").asText()).isEqualTo("error");
    assertThat(events.get(events.size() - 1).get("code").asText()).isEqualTo("502");
    assertThat(usage().requests()).isEqualTo(1);
    assertThat(usage().estimatedRequests()).isEqualTo(1);
  }

  @Test
  void stateTheGatewayCannotKeepIsA400NamingTheFieldForATranslatedModel() throws Exception {
    GatewayResponse response = send("POST", "/v1/responses", "{\"model\":\"local-llama\",\"input\":\"hi\",\"previous_response_id\":\"resp_1\"}");
    assertThat(response.status()).isEqualTo(400);
    JsonNode error = Json.MAPPER.readTree(response.body()).get("error");
    assertThat(error.get("param").asText()).isEqualTo("previous_response_id");
    assertThat(error.get("type").asText()).isEqualTo("invalid_request_error");
    assertThat(error.get("message").asText()).startsWith("'previous_response_id' is not supported for this model");
    response = send("POST", "/v1/responses", "{\"model\":\"local-llama\",\"input\":\"hi\",\"tools\":[{\"type\":\"function\"}]}");
    assertThat(response.status()).isEqualTo(400);
    assertThat(Json.MAPPER.readTree(response.body()).at("/error/param").asText()).isEqualTo("tools");
    assertThat(wiremock.getAllServeEvents()).as("nothing reached the provider").isEmpty();
    assertThat(usage().requests()).isZero();
  }

  @Test
  void anOpenAiModelGetsTheRequestAsSentOnlyTheModelReplacedStateIncludedAndItsUsageIsRecorded() throws Exception {
    String answer = "{\"id\":\"resp_abc\",\"object\":\"response\",\"status\":\"completed\",\"model\":\"gpt-4.1-2025-04-14\",\"output\":[],"
        + "\"usage\":{\"input_tokens\":21,\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens\":5,"
        + "\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":26}}";
    wiremock.stubFor(post("/v1/responses").willReturn(okJson(answer)));
    String request = "{\"model\":\"gpt-4.1\",\"input\":\"hi\",\"previous_response_id\":\"resp_0\",\"store\":true,\"tools\":[{\"type\":\"web_search\"}]}";

    GatewayResponse response = send("POST", "/v1/responses", request);

    assertThat(response.status()).as(response.bodyText()).isEqualTo(200);
    assertThat(response.bodyText()).isEqualTo(answer);
    var sent = wiremock.findAll(postRequestedFor(urlEqualTo("/v1/responses"))).get(0);
    assertThat(sent.getBodyAsString()).isEqualTo(request.replace("\"gpt-4.1\"", "\"gpt-4.1-2025-04-14\""));
    assertThat(sent.getHeader("Authorization")).isEqualTo("Bearer sk-upstream-test-credential");
    assertThat(usage().requests()).isEqualTo(1);
    assertThat(usage().promptTokens()).isEqualTo(21);
    assertThat(usage().completionTokens()).isEqualTo(5);
  }

  @Test
  void backgroundIsRefusedForEveryModelBecauseItsUsageCouldNotBeCounted() throws Exception {
    for (String model : List.of("gpt-4.1", "local-llama")) {
      GatewayResponse response = send("POST", "/v1/responses", "{\"model\":\"" + model + "\",\"input\":\"hi\",\"background\":true}");
      assertThat(response.status()).as(model).isEqualTo(400);
      JsonNode error = Json.MAPPER.readTree(response.body()).get("error");
      assertThat(error.get("param").asText()).isEqualTo("background");
      assertThat(error.get("type").asText()).isEqualTo("invalid_request_error");
      assertThat(error.get("message").asText()).startsWith("'background': true is not supported");
    }
    assertThat(wiremock.getAllServeEvents()).as("nothing reached a provider").isEmpty();
    assertThat(usage().requests()).isZero();
  }

  @Test
  void codexCliDefaultToolsReachATranslatedModelAndANamespacedCallComesBackAsCodexDispatchesIt() throws Exception {
    wiremock.stubFor(post("/v1/chat/completions").willReturn(okJson(
        "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"meta-llama/Llama-3.1-8B\",\"choices\":[{\"index\":0,"
            + "\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":"
            + "{\"name\":\"multi_agent_v1__spawn_agent\",\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\"}],"
            + "\"usage\":{\"prompt_tokens\":30,\"completion_tokens\":8,\"total_tokens\":38}}")));
    String tools = "[{\"type\":\"namespace\",\"name\":\"multi_agent_v1\",\"tools\":[{\"type\":\"function\",\"name\":\"spawn_agent\","
        + "\"parameters\":{\"type\":\"object\"}}]},{\"type\":\"web_search\",\"external_web_access\":false}]";

    GatewayResponse response = send("POST", "/v1/responses", "{\"model\":\"local-llama\",\"input\":\"hi\",\"tools\":" + tools + "}");

    assertThat(response.status()).as(response.bodyText()).isEqualTo(200);
    JsonNode call = Json.MAPPER.readTree(response.body()).at("/output/0");
    assertThat(call.get("namespace").asText()).isEqualTo("multi_agent_v1");
    assertThat(call.get("name").asText()).isEqualTo("spawn_agent");
    JsonNode chat = Json.MAPPER.readTree(wiremock.findAll(postRequestedFor(urlEqualTo("/v1/chat/completions"))).get(0).getBody());
    assertThat(chat.get("tools")).hasSize(1);
    assertThat(chat.at("/tools/0/function/name").asText()).isEqualTo("multi_agent_v1__spawn_agent");
  }

  @Test
  void aPassedThroughStreamAnsweredWithSomethingElseThanEventsIsA502SpeakingOfResponsesEvents() throws Exception {
    // a proxy's page labelled as JSON, and JSON that is no event: neither is a completion's business
    for (String garbage : List.of("<html><body>Welcome to the captive portal</body></html>", "{\"unexpected\":true}")) {
      wiremock.resetAll();
      wiremock.stubFor(post("/v1/responses").willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
          .withBody(garbage)));

      GatewayResponse response = send("POST", "/v1/responses", "{\"model\":\"gpt-4.1\",\"input\":\"hi\",\"stream\":true}");

      assertThat(response.status()).as(response.bodyText()).isEqualTo(502);
      String message = Json.MAPPER.readTree(response.body()).at("/error/message").asText();
      assertThat(message).contains("answered a Responses stream request").contains("not a Responses event")
          .doesNotContain("choices").doesNotContain("completion");
    }
  }

  /**
   * A Responses provider that ignores stream and answers one whole Response: the client, whose SDK
   * reads only events, gets the events OpenAI would have streamed for it, and the call is counted
   * with the Response's usage.
   */
  @Test
  void aPassedThroughProviderAnsweringAStreamRequestWithAWholeResponseIsRelayedAsItsEventsAndCounted() throws Exception {
    wiremock.stubFor(post("/v1/responses").willReturn(okJson("""
        {"id":"resp_abc","object":"response","created_at":1,"status":"completed","model":"gpt-4.1-2025-04-14","error":null,
         "output":[{"id":"msg_1","type":"message","status":"completed","role":"assistant",
                    "content":[{"type":"output_text","text":"Hello there","annotations":[]}]},
                   {"id":"fc_1","type":"function_call","status":"completed","call_id":"call_1","name":"get_weather",
                    "arguments":"{\\"city\\":\\"Paris\\"}"}],
         "usage":{"input_tokens":9,"output_tokens":4,"total_tokens":13}}""")));

    GatewayResponse response = send("POST", "/v1/responses", "{\"model\":\"gpt-4.1\",\"input\":\"hi\",\"stream\":true}");

    assertThat(response.status()).as(response.bodyText()).isEqualTo(200);
    assertThat(response.isStreaming()).isTrue();
    List<JsonNode> events = events(response.buffered().bodyText());
    assertThat(events).extracting(e -> e.get("type").asText()).containsExactly(
        "response.created", "response.in_progress",
        "response.output_item.added", "response.content_part.added", "response.output_text.delta", "response.output_text.done",
        "response.content_part.done", "response.output_item.done",
        "response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed");
    for (int i = 0; i < events.size(); i++) {
      assertThat(events.get(i).get("sequence_number").asInt()).as("event %d is numbered in order", i).isEqualTo(i);
    }
    assertThat(events.get(0).at("/response/status").asText()).isEqualTo("in_progress");
    assertThat(events.get(0).at("/response/output").isEmpty()).isTrue();
    assertThat(events.get(2).at("/item/content").isEmpty()).as("an item is added empty, then filled by its deltas").isTrue();
    assertThat(events.get(4).get("delta").asText()).isEqualTo("Hello there");
    assertThat(events.get(9).get("delta").asText()).isEqualTo("{\"city\":\"Paris\"}");
    assertThat(events.get(12).at("/response/usage/total_tokens").asInt()).isEqualTo(13);
    assertThat(usage().requests()).isEqualTo(1);
    assertThat(usage().totalTokens()).isEqualTo(13);
    assertThat(usage().estimatedRequests()).isZero();
  }

  @Test
  void anOpenAiStreamIsPassedThroughEventByEventWithoutStreamOptionsAndItsUsageIsRecorded() throws Exception {
    String created = "{\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_abc\",\"status\":\"in_progress\"}}";
    String delta = "{\"type\":\"response.output_text.delta\",\"sequence_number\":1,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hi\"}";
    String completed = "{\"type\":\"response.completed\",\"sequence_number\":2,\"response\":{\"id\":\"resp_abc\",\"status\":\"completed\","
        + "\"usage\":{\"input_tokens\":9,\"output_tokens\":1,\"total_tokens\":10}}}";
    String sse = "event: response.created\ndata: " + created + "\n\nevent: response.output_text.delta\ndata: " + delta
        + "\n\nevent: response.completed\ndata: " + completed + "\n\n";
    wiremock.stubFor(post("/v1/responses").willReturn(aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream").withBody(sse)));

    GatewayResponse response = send("POST", "/v1/responses", "{\"model\":\"gpt-4.1\",\"input\":\"hi\",\"stream\":true}");

    assertThat(response.buffered().bodyText()).isEqualTo(sse);
    wiremock.verify(postRequestedFor(urlEqualTo("/v1/responses")).withRequestBody(notContaining("stream_options")));
    assertThat(usage().requests()).isEqualTo(1);
    assertThat(usage().totalTokens()).isEqualTo(10);
    assertThat(usage().estimatedRequests()).isZero();
  }

  @Test
  void aStoredResponseCannotBeReadOrDeletedThroughTheGatewayA404SaysWhy() throws Exception {
    for (String method : List.of("GET", "DELETE")) {
      GatewayResponse response = send(method, "/v1/responses/resp_123", "");
      assertThat(response.status()).isEqualTo(404);
      JsonNode error = Json.MAPPER.readTree(response.body()).get("error");
      assertThat(error.get("type").asText()).isEqualTo("not_found_error");
      assertThat(error.get("message").asText())
          .startsWith("The gateway does not serve stored responses")
          .contains("can be read at that provider directly")
          .doesNotContain("store is false"); // untrue for a model passed through with store
    }
    assertThat(send("GET", "/v1/responses", "").status()).isEqualTo(405);
  }

  @Test
  void anAzureV1ModelIsPassedThroughToItsResponsesUrlWithTheDeploymentNameAndApiKey() throws Exception {
    wiremock.stubFor(post("/openai/v1/responses").willReturn(okJson(
        "{\"id\":\"resp_az\",\"object\":\"response\",\"status\":\"completed\",\"output\":[],"
            + "\"usage\":{\"input_tokens\":4,\"output_tokens\":2,\"total_tokens\":6}}")));

    GatewayResponse response = send("POST", "/v1/responses", "{\"model\":\"azure-gpt\",\"input\":\"hi\",\"store\":true}");

    assertThat(response.status()).as(response.bodyText()).isEqualTo(200);
    var sent = wiremock.findAll(postRequestedFor(urlEqualTo("/openai/v1/responses"))).get(0);
    assertThat(sent.getBodyAsString()).isEqualTo("{\"model\":\"my-gpt41\",\"input\":\"hi\",\"store\":true}");
    assertThat(sent.getHeader("api-key")).isEqualTo("azure-provider-key");
    assertThat(usage().totalTokens()).isEqualTo(6);
  }

  @Test
  void aDatedAzureVersionAndAModelWithOneDeploymentWithoutTheResponsesApiAreTranslated() throws Exception {
    String completion = "{\"id\":\"c\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"x\",\"choices\":[{\"index\":0,"
        + "\"message\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"finish_reason\":\"stop\"}],"
        + "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4}}";
    wiremock.stubFor(post(urlPathEqualTo("/openai/deployments/my-gpt4o/chat/completions")).willReturn(okJson(completion)));
    wiremock.stubFor(post("/v1/chat/completions").willReturn(okJson(completion)));

    for (String model : List.of("azure-dated", "mixed")) {
      GatewayResponse response = send("POST", "/v1/responses", "{\"model\":\"" + model + "\",\"input\":\"hi\"}");
      assertThat(response.status()).as(response.bodyText()).isEqualTo(200);
      assertThat(Json.MAPPER.readTree(response.body()).at("/output/0/content/0/text").asText()).isEqualTo("Hi");
    }
    wiremock.verify(0, postRequestedFor(urlPathMatching(".*/responses")));
    assertThat(usage().requests()).isEqualTo(2);
  }

  @Test
  void anErrorEventInAPassedThroughStreamEndsTheClientsStreamWithAnErrorEventTheSdksRaise() throws Exception {
    String created = "{\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_abc\",\"status\":\"in_progress\"}}";
    String error = "{\"type\":\"error\",\"sequence_number\":1,\"code\":\"server_error\",\"message\":\"The model failed.\",\"param\":null}";
    wiremock.stubFor(post("/v1/responses").willReturn(aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream")
        .withBody("event: response.created\ndata: " + created + "\n\nevent: error\ndata: " + error + "\n\n")));

    GatewayResponse response = send("POST", "/v1/responses", "{\"model\":\"gpt-4.1\",\"input\":\"hi\",\"stream\":true}");

    List<JsonNode> events = events(response.buffered().bodyText());
    assertThat(events).extracting(e -> e.get("type").asText()).containsExactly("response.created", "error");
    JsonNode last = events.get(1);
    assertThat(last.get("sequence_number").asInt()).isEqualTo(1);
    assertThat(last.get("message").asText()).isEqualTo("The model failed.");
    assertThat(last.at("/error/message").asText()).isEqualTo("The model failed.");
    assertThat(last.at("/error/type").asText()).as("the event's own type is not the error's").isEqualTo("upstream_error");
    assertThat(usage().requests()).as("the call is counted, estimated").isEqualTo(1);
    assertThat(usage().estimatedRequests()).isEqualTo(1);
  }

  @Test
  void aClientLeavingATranslatedStreamEndsTheUpstreamCallAndTheCallIsCounted() throws Exception {
    var out = new OutputStream() {
      private final ByteArrayOutputStream written = new ByteArrayOutputStream();
      private int flushes;

      @Override
      public synchronized void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
      }

      @Override
      public synchronized void write(byte[] b, int off, int len) throws IOException {
        if (flushes >= 2) {
          throw new IOException("Broken pipe"); // the client read the opening and the first delta, then left
        }
        written.write(b, off, len);
      }

      @Override
      public synchronized void flush() {
        flushes++;
      }
    };
    var call = CompletableFuture.supplyAsync(() -> {
      GatewayResponse response = send("POST", "/v1/responses", "{\"model\":\"held-llama\",\"input\":\"hi\",\"stream\":true}");
      try {
        response.stream().writeTo(out);
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
      return response;
    });
    var exchange = upstream.awaitRequest();
    exchange.startStream();
    exchange.sendEvent("{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"}}]}");
    exchange.sendEvent("{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" world\"}}]}");
    assertThatThrownBy(() -> call.get(10, TimeUnit.SECONDS)).hasRootCauseInstanceOf(IOException.class);
    assertThat(exchange.awaitClientClosed(Duration.ofSeconds(5))).as("the gateway closed its connection to the provider").isTrue();
    assertThat(usage().requests()).isEqualTo(1);
    assertThat(usage().estimatedRequests()).isEqualTo(1);
  }

  @Test
  void aStreamEndedAtTheFunctionsTimeLimitEndsWithResponseFailedSayingSoAndIsCounted() throws Exception {
    var written = new ByteArrayOutputStream();
    var response = CompletableFuture.supplyAsync(
        () -> send("POST", "/v1/responses", "{\"model\":\"held-llama\",\"input\":\"hi\",\"stream\":true}"));
    var exchange = upstream.awaitRequest();
    exchange.startStream();
    exchange.sendEvent("{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"}}]}");
    GatewayResponse streaming = response.get(10, TimeUnit.SECONDS);
    var writing = CompletableFuture.runAsync(() -> {
      try {
        streaming.stream().writeTo(written);
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    });
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!written.toString(StandardCharsets.UTF_8).contains("response.output_text.delta") && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }

    streaming.stream().endBeforeTimeLimit(); // what the Lambda runtime's timer does shortly before the deadline

    writing.get(10, TimeUnit.SECONDS);
    List<JsonNode> events = events(written.toString(StandardCharsets.UTF_8));
    JsonNode failed = events.get(events.size() - 2);
    assertThat(failed.get("type").asText()).isEqualTo("response.failed");
    assertThat(failed.at("/response/error/code").asText()).as("OpenAI's ResponseError code for a 504").isEqualTo("server_error");
    assertThat(failed.at("/response/error/message").asText()).contains("time limit of the gateway's function");
    assertThat(failed.at("/response/output/0/content/0/text").asText()).as("what was generated is kept").isEqualTo("Hello");
    assertThat(events.get(events.size() - 1).get("type").asText()).isEqualTo("error");
    assertThat(exchange.awaitClientClosed(Duration.ofSeconds(5))).as("the provider call was ended").isTrue();
    assertThat(usage().requests()).isEqualTo(1);
    assertThat(usage().estimatedRequests()).isEqualTo(1);
  }

  @Test
  void aProvidersRefusalBeforeTheStreamIsAnErrorResponseWithItsStatusAndRetryAfterAndNothingIsCounted() throws Exception {
    wiremock.stubFor(post("/v1/responses").willReturn(aResponse().withStatus(429).withHeader("retry-after", "7")
        .withHeader("Content-Type", "application/json")
        .withBody("{\"error\":{\"message\":\"Rate limit reached for gpt-4.1.\",\"type\":\"tokens\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}")));

    GatewayResponse response = send("POST", "/v1/responses", "{\"model\":\"gpt-4.1\",\"input\":\"hi\",\"stream\":true}");

    assertThat(response.isStreaming()).isFalse();
    assertThat(response.status()).isEqualTo(429);
    assertThat(response.headers()).containsEntry("Retry-After", "7");
    JsonNode error = Json.MAPPER.readTree(response.body()).get("error");
    assertThat(error.get("message").asText()).isEqualTo("Rate limit reached for gpt-4.1.");
    assertThat(error.get("code").asText()).isEqualTo("rate_limit_exceeded");
    assertThat(usage().requests()).isZero();
  }

  /** The data of each Server-Sent Event, checking its event: line names its type. */
  private static List<JsonNode> events(String text) throws Exception {
    var events = new ArrayList<JsonNode>();
    for (String block : text.split("\n\n")) {
      String[] lines = block.split("\n");
      assertThat(lines[0]).startsWith("event: ");
      assertThat(lines[1]).startsWith("data: ");
      JsonNode data = Json.MAPPER.readTree(lines[1].substring("data: ".length()));
      assertThat(lines[0].substring("event: ".length())).isEqualTo(data.get("type").asText());
      events.add(data);
    }
    return events;
  }
}

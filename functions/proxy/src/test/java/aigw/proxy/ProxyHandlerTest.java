package aigw.proxy;

import static com.github.tomakehurst.wiremock.client.WireMock.*;
import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.Gateway;
import aigw.core.json.Json;
import aigw.core.keys.ApiKeys;
import aigw.core.keys.KeyChanges;
import aigw.core.testing.Events;
import aigw.core.testing.LocalDynamo;
import aigw.core.testing.MutableClock;
import aigw.core.testing.TestGateways;
import aigw.core.apigateway.ProxyRequestEvent;
import aigw.core.apigateway.ProxyResponseEvent;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The proxy function driven as Lambda drives it: the events/ files in, API Gateway responses out. */
class ProxyHandlerTest {
  private static final String KEY = Events.EVENTS_VIRTUAL_KEY;
  private static final String COMPLETION =
      """
      {"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini-2024-07-18",
       "choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"finish_reason":"stop"}],
       "usage":{"prompt_tokens":11,"completion_tokens":2,"total_tokens":13}}
      """;
  private static final String EMBEDDING =
      """
      {"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2]}],
       "model":"text-embedding-3-small","usage":{"prompt_tokens":2,"total_tokens":2}}
      """;

  private static WireMockServer upstream;
  private LocalDynamo dynamo;
  private MutableClock clock;
  private Gateway gateway;
  private ProxyHandler handler;

  @BeforeAll
  static void startUpstream() {
    upstream = aigw.core.testing.Upstream.start();
  }

  @AfterAll
  static void stopUpstream() {
    upstream.stop();
  }

  @BeforeEach
  void setUp() {
    upstream.resetAll();
    upstream.stubFor(post("/v1/chat/completions").willReturn(okJson(COMPLETION)));
    upstream.stubFor(post("/v1/embeddings").willReturn(okJson(EMBEDDING)));
    dynamo = new LocalDynamo();
    clock = MutableClock.at("2026-05-01T12:00:00Z");
    gateway = gatewayWith(false);
    handler = new ProxyHandler(new ProxyService(gateway));
  }

  private Gateway gatewayWith(boolean allowMaster) {
    var models =
        List.of(
            TestGateways.openAi("gpt-4o-mini", "gpt-4o-mini", upstream.baseUrl() + "/v1"),
            TestGateways.openAi("text-embedding-3-small", "text-embedding-3-small", upstream.baseUrl() + "/v1"),
            TestGateways.openAi("other-model", "other", upstream.baseUrl() + "/v1"));
    return TestGateways.gateway(TestGateways.settings(dynamo).withAllowMasterKeyForModels(allowMaster), dynamo, models, clock);
  }

  @AfterEach
  void tearDown() {
    dynamo.close();
  }

  private ProxyResponseEvent send(ProxyRequestEvent event) {
    return handler.handleRequest(event, null);
  }

  private static JsonNode body(ProxyResponseEvent response) throws Exception {
    return Json.MAPPER.readTree(response.getBody());
  }

  private static JsonNode error(ProxyResponseEvent response) throws Exception {
    JsonNode error = body(response).get("error");
    assertThat(error).as("OpenAI error envelope in %s", response.getBody()).isNotNull();
    assertThat(error.has("message") && error.has("type") && error.has("param") && error.has("code")).isTrue();
    assertThat(error.get("code").asText()).isEqualTo(Integer.toString(response.getStatusCode()));
    assertThat(response.getBody()).doesNotContain("\tat ").doesNotContain("Exception");
    return error;
  }

  private void storeEventsKey(List<String> models) {
    TestGateways.storeKey(gateway, KEY, models, null, false);
  }

  @Test
  void chatCompletionIsProxiedAndItsUsageWrittenBeforeTheAnswer() throws Exception {
    storeEventsKey(List.of());
    var response = send(Events.load("proxy-chat-completions.json"));
    assertThat(response.getStatusCode()).isEqualTo(200);
    assertThat(response.getHeaders()).containsEntry("Content-Type", "application/json");
    assertThat(body(response).at("/choices/0/message/content").asText()).isEqualTo("Hello!");
    // The response is back: its usage must already be in DynamoDB.
    var usage = gateway.keyStore().usageOf(gateway.keyStore().findByHash(ApiKeys.hash(KEY)).orElseThrow().keyId());
    assertThat(usage.requests()).isEqualTo(1);
    assertThat(usage.promptTokens()).isEqualTo(11);
    assertThat(usage.completionTokens()).isEqualTo(2);
    assertThat(usage.totalTokens()).isEqualTo(13);
    assertThat(usage.lastUsedAt()).isEqualTo(clock.instant());
    upstream.verify(
        postRequestedFor(urlEqualTo("/v1/chat/completions"))
            .withRequestBody(matchingJsonPath("$.temperature", equalTo("0.2")))
            .withHeader("Authorization", equalTo("Bearer sk-upstream-test-credential")));
  }

  @Test
  void theRouteWorksWithoutTheV1Prefix() {
    storeEventsKey(List.of());
    assertThat(send(Events.load("proxy-chat-completions-no-v1.json")).getStatusCode()).isEqualTo(200);
  }

  @Test
  void embeddingsAreProxiedAndCounted() throws Exception {
    storeEventsKey(List.of());
    var response = send(Events.load("proxy-embeddings.json"));
    assertThat(response.getStatusCode()).isEqualTo(200);
    assertThat(body(response).at("/data/0/embedding/1").asDouble()).isEqualTo(0.2);
    String keyId = gateway.keyStore().findByHash(ApiKeys.hash(KEY)).orElseThrow().keyId();
    assertThat(gateway.keyStore().usageOf(keyId).totalTokens()).isEqualTo(2);
  }

  @Test
  void modelsListsOnlyWhatTheKeyMayUse() throws Exception {
    storeEventsKey(List.of("gpt-4o-mini", "text-embedding-3-small"));
    var response = send(Events.load("proxy-models.json"));
    assertThat(response.getStatusCode()).isEqualTo(200);
    var json = body(response);
    assertThat(json.get("object").asText()).isEqualTo("list");
    assertThat(json.get("data").findValuesAsText("id")).containsExactly("gpt-4o-mini", "text-embedding-3-small");
    assertThat(json.at("/data/0/object").asText()).isEqualTo("model");
    assertThat(json.at("/data/0/owned_by").asText()).isEqualTo("openai");
  }

  /** GET {@code path} with the events' key, as API Gateway passes it: the path still %-encoded. */
  private ProxyResponseEvent get(String method, String path) {
    var event = Events.load("proxy-models.json");
    event.setHttpMethod(method);
    event.setPath(path);
    return send(event);
  }

  private void withModels(String... names) {
    var models = java.util.Arrays.stream(names).map(n -> TestGateways.openAi(n, n, upstream.baseUrl() + "/v1")).toList();
    gateway = TestGateways.gateway(dynamo, models, clock);
    handler = new ProxyHandler(new ProxyService(gateway));
  }

  @Test
  void retrieveModelGivesOpenAisModelObjectWithAndWithoutV1() throws Exception {
    storeEventsKey(List.of("gpt-4o-mini"));
    for (String path : List.of("/v1/models/gpt-4o-mini", "/models/gpt-4o-mini", "/v1/models/gpt-4o-mini/")) {
      var response = get("GET", path);
      assertThat(response.getStatusCode()).as(path).isEqualTo(200);
      var json = body(response);
      assertThat(json.properties()).extracting(java.util.Map.Entry::getKey).containsExactly("id", "object", "created", "owned_by");
      assertThat(json.get("id").asText()).isEqualTo("gpt-4o-mini");
      assertThat(json.get("object").asText()).isEqualTo("model");
      assertThat(json.get("created").isIntegralNumber()).isTrue();
      assertThat(json.get("owned_by").asText()).isEqualTo("openai");
      assertThat(json).isEqualTo(body(send(Events.load("proxy-models.json"))).at("/data/0"));
    }
  }

  @Test
  void retrieveModelOfAModelTheKeyMayNotUseOrThatDoesNotExistGetsOpenAis404() throws Exception {
    storeEventsKey(List.of("gpt-4o-mini"));
    for (String model : List.of("text-embedding-3-small", "no-such-model")) {
      var response = get("GET", "/v1/models/" + model);
      assertThat(response.getStatusCode()).as(model).isEqualTo(404);
      assertThat(response.getHeaders()).containsEntry("Content-Type", "application/json");
      var error = body(response).get("error");
      assertThat(error.get("type").asText()).isEqualTo("invalid_request_error");
      assertThat(error.get("code").asText()).isEqualTo("model_not_found");
      assertThat(error.get("param").isNull()).isTrue();
      assertThat(error.get("message").asText()).isEqualTo("The model `" + model + "` does not exist or you do not have access to it.");
    }
  }

  @Test
  void retrieveModelTakesIdsWithSlashesAndEscapesAsSentOrEncoded() throws Exception {
    withModels("openai/gpt-4.1", "café", "a+b", "100%");
    storeEventsKey(List.of());
    var paths =
        Map.of(
            "/v1/models/openai%2Fgpt-4.1", "openai/gpt-4.1",
            "/v1/models/openai/gpt-4.1", "openai/gpt-4.1",
            "/v1/models/openai%2fgpt-4.1", "openai/gpt-4.1",
            "/v1/models/caf%C3%A9", "café",
            "/v1/models/a+b", "a+b",
            "/v1/models/a%2Bb", "a+b",
            "/v1/models/100%25", "100%");
    for (var entry : paths.entrySet()) {
      var response = get("GET", entry.getKey());
      assertThat(response.getStatusCode()).as(entry.getKey()).isEqualTo(200);
      assertThat(body(response).get("id").asText()).as(entry.getKey()).isEqualTo(entry.getValue());
    }
    var malformed = get("GET", "/v1/models/100%");
    assertThat(malformed.getStatusCode()).isEqualTo(400);
    assertThat(error(malformed).get("message").asText()).contains("%-escape");
  }

  @Test
  void retrieveModelAnswersOnlyGetAndNeedsAKey() throws Exception {
    storeEventsKey(List.of());
    var post = get("POST", "/v1/models/gpt-4o-mini");
    assertThat(post.getStatusCode()).isEqualTo(405);
    assertThat(post.getHeaders()).containsEntry("Allow", "GET, HEAD");
    assertThat(get("HEAD", "/v1/models/gpt-4o-mini").getStatusCode()).as("HEAD, listed in Allow, is answered").isEqualTo(200);
    var event = Events.load("proxy-no-key.json");
    event.setHttpMethod("GET");
    event.setPath("/v1/models/gpt-4o-mini");
    assertThat(send(event).getStatusCode()).isEqualTo(401);
  }

  @Test
  void patternEntriesAuthorizeListRetrieveAndCallsAlike() throws Exception {
    withModels("gpt-4o-mini", "gpt-4o", "text-embedding-3-small");
    storeEventsKey(List.of("gpt-4o*"));
    assertThat(body(send(Events.load("proxy-models.json"))).get("data").findValuesAsText("id")).containsExactly("gpt-4o-mini", "gpt-4o");
    assertThat(get("GET", "/v1/models/gpt-4o").getStatusCode()).isEqualTo(200);
    assertThat(get("GET", "/v1/models/text-embedding-3-small").getStatusCode()).isEqualTo(404);
    assertThat(send(Events.load("proxy-chat-completions.json")).getStatusCode()).isEqualTo(200);
    assertThat(send(Events.load("proxy-embeddings.json")).getStatusCode()).isEqualTo(401);
  }

  @Test
  void starAndProviderPatternAllowEveryModelOfTheirKind() throws Exception {
    storeEventsKey(List.of("*"));
    assertThat(body(send(Events.load("proxy-models.json"))).get("data").findValuesAsText("id"))
        .containsExactly("gpt-4o-mini", "text-embedding-3-small", "other-model");
    assertThat(send(Events.load("proxy-chat-completions.json")).getStatusCode()).isEqualTo(200);
    gateway.keyStore().update(ApiKeys.hash(KEY),
        new aigw.core.keys.KeyChanges(java.util.Optional.empty(), java.util.Optional.of(List.of("openai/*")), java.util.Optional.empty(),
            java.util.Optional.empty(), java.util.Optional.empty(), java.util.Optional.empty(), java.util.Optional.empty()),
        clock.instant());
    gateway.keyCache().invalidate(ApiKeys.hash(KEY));
    assertThat(body(send(Events.load("proxy-models.json"))).get("data").findValuesAsText("id")).hasSize(3);
    assertThat(send(Events.load("proxy-embeddings.json")).getStatusCode()).isEqualTo(200);
  }

  @Test
  void aRotationInThisContainerStopsEveryCachedEarlierValueAtTheNextRequest() throws Exception {
    var rotator = new aigw.core.rotation.VirtualKeyRotator(gateway.keyStore(), gateway.keyCache(), null,
        aigw.core.rotation.VirtualKeyRotator.DEFAULT_SECRET_PREFIX, new aigw.core.rotation.LoggedRotationEvents(), clock);
    storeEventsKey(List.of());
    var first = rotator.rotate(gateway.keyStore().findByHash(ApiKeys.hash(KEY)).orElseThrow(), "sk-second-value-of-the-events-key",
        java.time.Duration.ofHours(1), aigw.core.keys.KeyChanges.none(), "manual");
    assertThat(send(Events.load("proxy-chat-completions.json")).getStatusCode()).as("in its grace period; now cached").isEqualTo(200);

    rotator.rotate(first.rotated(), null, java.time.Duration.ZERO, aigw.core.keys.KeyChanges.none(), "manual");

    var response = send(Events.load("proxy-chat-completions.json"));
    assertThat(response.getStatusCode()).isEqualTo(401);
    assertThat(error(response).get("type").asText()).isEqualTo("token_not_found_in_db");
  }

  @Test
  void noKeyGets401() throws Exception {
    var response = send(Events.load("proxy-no-key.json"));
    assertThat(response.getStatusCode()).isEqualTo(401);
    assertThat(error(response).get("message").asText()).contains("No api key passed in");
    upstream.verify(0, postRequestedFor(anyUrl()));
  }

  @Test
  void unknownKeyGets401TokenNotFoundWithTheKeyMasked() throws Exception {
    var response = send(Events.load("proxy-bad-key.json"));
    assertThat(response.getStatusCode()).isEqualTo(401);
    var error = error(response);
    assertThat(error.get("type").asText()).isEqualTo("token_not_found_in_db");
    assertThat(error.get("param").asText()).isEqualTo("key");
    assertThat(error.get("message").asText()).contains("sk-...here").doesNotContain("sk-this-key-does-not-exist-anywhere");
  }

  @Test
  void theKeyIsAlsoReadFromXApiKeyAndApiKeyHeaders() {
    storeEventsKey(List.of());
    for (String header : List.of("x-api-key", "api-key")) {
      var event = Events.withKey(Events.load("proxy-chat-completions.json"), null);
      event.getHeaders().put(header, KEY);
      assertThat(send(event).getStatusCode()).as(header).isEqualTo(200);
    }
  }

  @Test
  void malformedAuthorizationHeaderGets401() throws Exception {
    var event = Events.withKey(Events.load("proxy-chat-completions.json"), null);
    event.getHeaders().put("Authorization", KEY); // no "Bearer "
    var response = send(event);
    assertThat(response.getStatusCode()).isEqualTo(401);
    assertThat(error(response).get("message").asText()).contains("Bearer");
  }

  @Test
  void blockedKeyGets401AndUnblockingRestoresIt() throws Exception {
    storeEventsKey(List.of());
    gateway.keyStore().update(ApiKeys.hash(KEY), KeyChanges.blocked(true), clock.instant());
    var response = send(Events.load("proxy-chat-completions.json"));
    assertThat(response.getStatusCode()).isEqualTo(401);
    assertThat(error(response).get("message").asText()).contains("Key is blocked");
    gateway.keyStore().update(ApiKeys.hash(KEY), KeyChanges.blocked(false), clock.instant());
    clock.advance(gateway.keyCache().ttl());
    assertThat(send(Events.load("proxy-chat-completions.json")).getStatusCode()).isEqualTo(200);
  }

  @Test
  void expiredKeyGets401ExpiredKeyAtItsExactExpiry() throws Exception {
    TestGateways.storeKey(gateway, KEY, List.of(), clock.instant().plusSeconds(60), false);
    assertThat(send(Events.load("proxy-chat-completions.json")).getStatusCode()).isEqualTo(200);
    clock.advance(Duration.ofSeconds(60));
    var response = send(Events.load("proxy-chat-completions.json"));
    assertThat(response.getStatusCode()).isEqualTo(401);
    assertThat(error(response).get("type").asText()).isEqualTo("expired_key");
  }

  @Test
  void modelOutsideTheKeysListGets401KeyModelAccessDenied() throws Exception {
    storeEventsKey(List.of("text-embedding-3-small"));
    var response = send(Events.load("proxy-chat-completions.json"));
    assertThat(response.getStatusCode()).isEqualTo(401);
    var error = error(response);
    assertThat(error.get("type").asText()).isEqualTo("key_model_access_denied");
    assertThat(error.get("param").asText()).isEqualTo("model");
    assertThat(error.get("message").asText()).contains("gpt-4o-mini").contains("text-embedding-3-small");
    upstream.verify(0, postRequestedFor(anyUrl()));
  }

  @Test
  void unknownModelGets404() throws Exception {
    storeEventsKey(List.of());
    var event = Events.withBody(Events.load("proxy-chat-completions.json"), "{\"model\":\"no-such-model\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    var response = send(event);
    assertThat(response.getStatusCode()).isEqualTo(404);
    assertThat(error(response).get("param").asText()).isEqualTo("model");
  }

  @Test
  void malformedJsonGets400() throws Exception {
    storeEventsKey(List.of());
    var response = send(Events.load("proxy-malformed-json.json"));
    assertThat(response.getStatusCode()).isEqualTo(400);
    assertThat(error(response).get("type").asText()).isEqualTo("invalid_request_error");
  }

  @Test
  void wrongTypesGet400NamingTheField() throws Exception {
    storeEventsKey(List.of());
    String[][] cases = {
      {"{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "model"},
      {"{\"model\":42,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "model"},
      {"{\"model\":\"gpt-4o-mini\"}", "messages"},
      {"{\"model\":\"gpt-4o-mini\",\"messages\":\"hello\"}", "messages"},
      {"{\"model\":\"gpt-4o-mini\",\"messages\":[]}", "messages"},
      {"{\"model\":\"gpt-4o-mini\",\"messages\":[\"hi\"]}", "messages"},
      {"{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":\"yes\"}", "stream"},
      {"[1,2,3]", null},
      {"{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]} trailing", null},
      {"", null},
    };
    for (String[] c : cases) {
      var response = send(Events.withBody(Events.load("proxy-chat-completions.json"), c[0]));
      assertThat(response.getStatusCode()).as(c[0]).isEqualTo(400);
      var param = error(response).get("param");
      assertThat(param.isNull() ? null : param.asText()).as(c[0]).isEqualTo(c[1]);
    }
    var embeddings = send(Events.withBody(Events.load("proxy-embeddings.json"), "{\"model\":\"text-embedding-3-small\",\"input\":5}"));
    assertThat(embeddings.getStatusCode()).isEqualTo(400);
    assertThat(error(embeddings).get("param").asText()).isEqualTo("input");
    upstream.verify(0, postRequestedFor(anyUrl()));
  }

  @Test
  void aStreamThroughTheBufferedAdapterAnswersTheWholeEventStream() throws Exception {
    storeEventsKey(List.of());
    String chunk = "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}]}";
    String usage = "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1,\"total_tokens\":6}}";
    upstream.stubFor(post("/v1/chat/completions").withRequestBody(matchingJsonPath("$.stream", equalTo("true")))
        .willReturn(aResponse().withHeader("Content-Type", "text/event-stream").withBody("data: " + chunk + "\n\ndata: " + usage + "\n\ndata: [DONE]\n\n")));
    var response = send(Events.load("proxy-stream.json"));
    assertThat(response.getStatusCode()).isEqualTo(200);
    assertThat(response.getHeaders()).containsEntry("Content-Type", "text/event-stream; charset=utf-8");
    assertThat(response.getBody()).isEqualTo("data: " + chunk + "\n\ndata: [DONE]\n\n");
    var keyId = gateway.keyStore().findByHash(ApiKeys.hash(KEY)).orElseThrow().keyId();
    assertThat(gateway.keyStore().usageOf(keyId).totalTokens()).isEqualTo(6);
  }

  @Test
  void bodyOverTheLimitGets413() throws Exception {
    storeEventsKey(List.of());
    String big = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"" + "x".repeat(6 * 1024 * 1024) + "\"}]}";
    var response = send(Events.withBody(Events.load("proxy-chat-completions.json"), big));
    assertThat(response.getStatusCode()).isEqualTo(413);
    assertThat(error(response).get("message").asText()).contains("5242880");
  }

  @Test
  void theMasterKeyIsRefusedForModelCallsUnlessTheOperatorAllowsIt() throws Exception {
    var event = Events.withKey(Events.load("proxy-chat-completions.json"), TestGateways.MASTER_KEY);
    var refused = send(event);
    assertThat(refused.getStatusCode()).isEqualTo(403);
    assertThat(error(refused).get("message").asText()).contains("/key/generate");
    upstream.verify(0, postRequestedFor(anyUrl()));

    handler = new ProxyHandler(new ProxyService(gatewayWith(true)));
    assertThat(send(Events.withKey(Events.load("proxy-chat-completions.json"), TestGateways.MASTER_KEY)).getStatusCode()).isEqualTo(200);
  }

  @Test
  void providerErrorsComeBackInTheSameEnvelope() throws Exception {
    storeEventsKey(List.of());
    upstream.stubFor(
        post("/v1/chat/completions")
            .willReturn(aResponse().withStatus(400).withBody("{\"error\":{\"message\":\"bad temperature\",\"type\":\"invalid_request_error\",\"param\":\"temperature\",\"code\":null}}")));
    var response = send(Events.load("proxy-chat-completions.json"));
    assertThat(response.getStatusCode()).isEqualTo(400);
    var error = error(response);
    assertThat(error.get("message").asText()).isEqualTo("bad temperature");
    assertThat(error.get("param").asText()).isEqualTo("temperature");
    // A failed call is not counted as usage.
    assertThat(gateway.keyStore().usageOf(gateway.keyStore().findByHash(ApiKeys.hash(KEY)).orElseThrow().keyId()).requests()).isZero();
  }

  @Test
  void anUnreachableDeploymentFailsOverToTheNextOneOfTheSameName() throws Exception {
    var models =
        List.of(
            TestGateways.openAi("gpt-4o-mini", "gpt-4o-mini", "http://127.0.0.1:1/v1"),
            TestGateways.openAi("gpt-4o-mini", "gpt-4o-mini", upstream.baseUrl() + "/v1"));
    gateway = TestGateways.gateway(dynamo, models, clock);
    handler = new ProxyHandler(new ProxyService(gateway));
    storeEventsKey(List.of());
    for (int i = 0; i < 4; i++) {
      assertThat(send(Events.load("proxy-chat-completions.json")).getStatusCode()).isEqualTo(200);
    }
    upstream.verify(4, postRequestedFor(urlEqualTo("/v1/chat/completions")));
  }

  @Test
  void aDeploymentThatFailedAfterTheRequestWasSentIsNotRetriedElsewhere() throws Exception {
    upstream.stubFor(post("/broken/v1/chat/completions").willReturn(aResponse().withFault(com.github.tomakehurst.wiremock.http.Fault.CONNECTION_RESET_BY_PEER)));
    var models =
        List.of(
            TestGateways.openAi("gpt-4o-mini", "gpt-4o-mini", upstream.baseUrl() + "/broken/v1"),
            TestGateways.openAi("gpt-4o-mini", "gpt-4o-mini", upstream.baseUrl() + "/v1"));
    gateway = TestGateways.gateway(dynamo, models, clock);
    handler = new ProxyHandler(new ProxyService(gateway));
    storeEventsKey(List.of());
    var response = send(Events.load("proxy-chat-completions.json")); // first turn: the broken one
    assertThat(response.getStatusCode()).isEqualTo(502);
    assertThat(error(response).get("type").asText()).isEqualTo("api_connection_error");
    upstream.verify(0, postRequestedFor(urlEqualTo("/v1/chat/completions"))); // not run twice
    assertThat(gateway.keyStore().usageOf(gateway.keyStore().findByHash(ApiKeys.hash(KEY)).orElseThrow().keyId()).requests()).isZero();
  }

  @Test
  void snapStartPrimingRunsTheRequestPathWithoutCallingAProviderOrCachingAKey() {
    var priming = aigw.core.snapstart.Priming.register(gateway, new ProxyService(gateway)::handle);
    assertThat(aigw.core.testing.Logs.messages(aigw.core.snapstart.Priming.class, priming::prime)).anyMatch(m -> m.startsWith("Primed the request path in"));
    upstream.verify(0, anyRequestedFor(anyUrl()));
    // A key created after the snapshot works at once: priming cached nothing.
    storeEventsKey(List.of());
    assertThat(send(Events.load("proxy-chat-completions.json")).getStatusCode()).isEqualTo(200);
  }

  @Test
  void primingThatFailsStillLetsTheSnapshotBeTaken() {
    var broken = TestGateways.gateway(aigw.core.GatewaySettings.fromEnvironment(java.util.Map.of("AIGW_KEYS_TABLE", "no-such-table")), dynamo, List.of(), clock);
    var priming = aigw.core.snapstart.Priming.register(broken, new ProxyService(broken)::handle);
    assertThat(aigw.core.testing.Logs.messages(aigw.core.snapstart.Priming.class, priming::prime)).anyMatch(m -> m.startsWith("Priming did not complete"));
  }

  @Test
  void wrongMethodGets405AndUnknownRouteGets404() throws Exception {
    storeEventsKey(List.of());
    var get = Events.load("proxy-chat-completions.json");
    get.setHttpMethod("GET");
    var response = send(get);
    assertThat(response.getStatusCode()).isEqualTo(405);
    assertThat(response.getHeaders()).containsEntry("Allow", "POST");
    error(response);
    var unknown = Events.load("proxy-chat-completions.json");
    unknown.setPath("/v1/completions-that-do-not-exist");
    var notFound = send(unknown);
    assertThat(notFound.getStatusCode()).isEqualTo(404);
    error(notFound);
  }

  @Test
  void theClientsBodyReachesTheProviderByteForByteWithOnlyTheModelReplaced() throws Exception {
    storeEventsKey(List.of());
    // Values a double cannot hold, escapes, odd key order and whitespace: none may change.
    String sent = "{ \"messages\" : [ {\"role\":\"user\",\"content\":\"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" \\/\"} ],\n"
        + "  \"temperature\": 0.7E+0, \"top_p\": 0.1000000000000000055511151231257827,\t\"seed\": 9223372036854775807,\n"
        + "  \"n\": 1.0, \"logit_bias\": {\"50256\": -100, \"50257\": -99}, \"model\"  :  \"other-model\" ,\r\n"
        + "  \"zz\": null, \"aa\": [1.50, 2E+3], \"metadata\": {\"model\": \"not-the-top-level-one\"} }";
    var response = send(Events.withBody(Events.load("proxy-chat-completions.json"), sent));
    assertThat(response.getStatusCode()).as(response.getBody()).isEqualTo(200);
    var received = upstream.findAll(postRequestedFor(urlEqualTo("/v1/chat/completions")));
    assertThat(received).hasSize(1);
    assertThat(received.get(0).getBodyAsString()).isEqualTo(sent.replace("\"other-model\"", "\"other\""));
  }

  @Test
  void aBodyWithAMemberNameTwiceIsRefusedSoNoProviderActsOnAValueTheGatewayDidNotCheck() throws Exception {
    // Parsers disagree on which duplicate wins: the gateway would route and authorize one model (or
    // check one routing field) while the provider acts on the other.
    storeEventsKey(List.of("other-model"));
    for (String sent : List.of(
        "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"model\":\"other-model\"}",
        "{\"model\":\"other-model\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"service_tier\":\"priority\",\"service_tier\":\"default\"}",
        "{\"model\":\"other-model\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\",\"role\":\"system\"}]}")) {
      var response = send(Events.withBody(Events.load("proxy-chat-completions.json"), sent));
      assertThat(response.getStatusCode()).as(sent).isEqualTo(400);
      assertThat(error(response).get("message").asText()).as(sent).startsWith("Invalid JSON in the request body: malformed JSON at line 1").contains("Duplicate field");
    }
    assertThat(upstream.findAll(postRequestedFor(urlEqualTo("/v1/chat/completions")))).as("nothing reached the provider").isEmpty();
  }

  @Test
  void embeddingsBodiesAreForwardedByteForByteToo() throws Exception {
    storeEventsKey(List.of());
    String sent = "{\"input\":[\"a\",\"\\u00e9\"],\"model\":\"text-embedding-3-small\",\"dimensions\":256.0,\"user\":\"\\ud83d\\ude00\"}";
    var event = Events.withBody(Events.load("proxy-embeddings.json"), sent);
    assertThat(send(event).getStatusCode()).isEqualTo(200);
    assertThat(upstream.findAll(postRequestedFor(urlEqualTo("/v1/embeddings"))).get(0).getBodyAsString()).isEqualTo(sent);
  }

  @Test
  void aLargeEmbeddingsBatchIsForwardedNotRefusedForLambdasBufferedLimit() throws Exception {
    storeEventsKey(List.of());
    var inputs = new StringBuilder();
    for (int i = 0; i < 500; i++) {
      inputs.append(i == 0 ? "" : ",").append("\"text ").append(i).append('"');
    }
    // 500 inputs x 1536 dimensions as JSON floats is about 8 MB of answer: over Lambda's 6 MB buffered
    // limit, which no longer binds the proxy (every answer leaves through the streaming runtime).
    var response = send(Events.withBody(Events.load("proxy-embeddings.json"), "{\"model\":\"text-embedding-3-small\",\"input\":[" + inputs + "]}"));
    assertThat(response.getStatusCode()).as(response.getBody()).isEqualTo(200);
    upstream.verify(1, postRequestedFor(urlEqualTo("/v1/embeddings")));
  }

  @Test
  void anAnswerOverSixMegabytesReachesTheClientWholeAndIsCounted() throws Exception {
    storeEventsKey(List.of());
    // Over 6 MB as sent, and more once escaped into a buffered response event: the old 6 MB check refused it.
    String content = "\\\"".repeat(1_600_000) + "x".repeat(3_500_000);
    String huge = COMPLETION.replace("\"Hello!\"", "\"" + content + "\"");
    assertThat(huge.length()).isGreaterThan(6_291_456);
    upstream.stubFor(post("/v1/chat/completions").willReturn(okJson(huge)));

    // As the streaming runtime runs it on AWS: the handler's application, answered in one piece.
    var request = aigw.core.apigateway.ApiGatewayEvents.toRequest(Events.load("proxy-chat-completions.json"));
    var response = handler.application().handle(request);
    assertThat(response.status()).isEqualTo(200);
    assertThat(response.isStreaming()).isFalse();
    assertThat(new String(response.body(), java.nio.charset.StandardCharsets.UTF_8)).isEqualTo(huge);
    // The provider ran it: it is counted on the key.
    assertThat(gateway.keyStore().usageOf(gateway.keyStore().findByHash(ApiKeys.hash(KEY)).orElseThrow().keyId()).totalTokens()).isEqualTo(13);
  }

  @Test
  void anUnreachableProviderIsNamedByHostPortAndReasonToTheClientAndInTheLog() throws Exception {
    gateway = TestGateways.gateway(dynamo, List.of(TestGateways.openAi("gpt-4o-mini", "gpt-4o-mini", "http://127.0.0.1:1/v1")), clock);
    handler = new ProxyHandler(new ProxyService(gateway));
    storeEventsKey(List.of());
    var response = new ProxyResponseEvent[1];
    var log = aigw.core.testing.Logs.messages(aigw.core.http.GatewayApplication.class,
        () -> response[0] = send(Events.load("proxy-chat-completions.json")));
    assertThat(response[0].getStatusCode()).isEqualTo(502);
    String expected = "Cannot connect to the provider of 'gpt-4o-mini' at 127.0.0.1:1: connection refused (nothing listens on that port).";
    assertThat(error(response[0]).get("message").asText()).isEqualTo(expected);
    assertThat(error(response[0]).get("type").asText()).isEqualTo("api_connection_error");
    assertThat(log).anyMatch(line -> line.contains(expected)).noneMatch(line -> line.contains("sk-upstream-test-credential"));
  }
}

package aigw.admin;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.Gateway;
import aigw.core.config.Deployment;
import aigw.core.config.Provider;
import java.net.URI;
import java.time.Duration;
import aigw.core.keys.ApiKeys;
import aigw.core.errors.AuthenticationFailed;
import aigw.core.errors.ErrorEnvelope;
import aigw.core.http.GatewayRequest;
import aigw.core.secrets.SecretSource;
import aigw.core.secrets.StaticSecretSource;
import aigw.core.testing.Events;
import aigw.core.testing.LocalDynamo;
import aigw.core.testing.MutableClock;
import aigw.core.testing.TestGateways;
import aigw.core.apigateway.ProxyRequestEvent;
import aigw.core.apigateway.ProxyResponseEvent;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The admin function as Lambda runs it, over DynamoDB Local, with the master key the events of
 * events/ present. Calls go through {@link AdminHandler#handleRequest} and come back as what a
 * client sees: the status, the headers and the JSON body.
 */
final class AdminApi implements AutoCloseable {
  static final String MASTER = Events.EVENTS_MASTER_KEY;
  static final String START = "2026-11-23T05:30:00Z";
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * The model list the admin function reads (a key's {@code models} entries are checked against it):
   * the bundled list's two, two more OpenAI ones and an Ollama one, for provider patterns.
   */
  static final List<Deployment> MODELS =
      List.of(
          TestGateways.openAi("gpt-4o-mini", "gpt-4o-mini", "http://127.0.0.1:9/v1"),
          TestGateways.openAi("gpt-4o", "gpt-4o", "http://127.0.0.1:9/v1"),
          TestGateways.openAi("text-embedding-3-small", "text-embedding-3-small", "http://127.0.0.1:9/v1"),
          TestGateways.openAi("m1", "m1", "http://127.0.0.1:9/v1"),
          new Deployment("llama3.2", Provider.OLLAMA, "llama3.2", URI.create("http://127.0.0.1:9/v1"), null, null,
              Duration.ofSeconds(5)));

  final LocalDynamo dynamo;
  final MutableClock clock;
  final Gateway gateway;
  final AdminHandler handler;

  AdminApi() {
    this(MutableClock.at(START));
  }

  AdminApi(MutableClock clock) {
    this(clock, AdminService::new);
  }

  /** The admin function over a service built from the gateway, e.g. with a rotator that has Secrets Manager. */
  AdminApi(MutableClock clock, java.util.function.Function<Gateway, AdminService> service) {
    this.dynamo = new LocalDynamo();
    this.clock = clock;
    this.gateway =
        Gateway.over(
            TestGateways.settings(dynamo), dynamo.client(), StaticSecretSource.of(MASTER), MODELS, clock);
    this.handler = new AdminHandler(service.apply(gateway));
  }

  /** What a client sees of one response. */
  record Reply(int status, Map<String, String> headers, String text, JsonNode body) {
    JsonNode error() {
      return body.path("error");
    }

    @Override
    public String toString() {
      return status + " " + text;
    }
  }

  Reply send(ProxyRequestEvent event) {
    ProxyResponseEvent response = handler.handleRequest(event, null);
    String text = response.getBody();
    JsonNode body;
    try {
      body = text == null || text.isEmpty() ? JSON.missingNode() : JSON.readTree(text);
    } catch (IOException e) {
      throw new UncheckedIOException("response body is not JSON: " + text, e);
    }
    Map<String, String> headers = response.getHeaders() == null ? Map.of() : response.getHeaders();
    return new Reply(response.getStatusCode(), headers, text, body);
  }

  /** Replays an event of events/ as it is. */
  Reply send(String eventFile) {
    return send(Events.load(eventFile));
  }

  /** POST {@code path} with the master key and this JSON body (built on admin-key-generate.json). */
  Reply post(String path, String body) {
    return send(request("admin-key-generate.json", "POST", path, body, null));
  }

  /** POST {@code path} with this body and a JSON built from a map. */
  Reply post(String path, Map<String, ?> body) {
    try {
      return post(path, JSON.writeValueAsString(body));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** GET {@code path} with the master key and these query parameters (built on admin-key-list.json). */
  Reply get(String path, Map<String, String> query) {
    return send(request("admin-key-list.json", "GET", path, null, query));
  }

  /** An event of events/ rewritten to another method, path, body and query (null query: none). */
  static ProxyRequestEvent request(
      String template, String method, String path, String body, Map<String, String> query) {
    ProxyRequestEvent event = Events.load(template);
    event.setHttpMethod(method);
    event.setPath(path);
    event.setBody(body);
    return withQuery(event, query);
  }

  static ProxyRequestEvent withQuery(ProxyRequestEvent event, Map<String, String> query) {
    if (query == null) {
      event.setQueryStringParameters(null);
      event.setMultiValueQueryStringParameters(null);
    } else {
      event.setQueryStringParameters(new HashMap<>(query));
      event.setMultiValueQueryStringParameters(
          query.entrySet().stream().collect(Collectors.toMap(Map.Entry::getKey, e -> List.of(e.getValue()))));
    }
    return event;
  }

  static Map<String, String> query(String... namesAndValues) {
    var map = new LinkedHashMap<String, String>();
    for (int i = 0; i < namesAndValues.length; i += 2) {
      map.put(namesAndValues[i], namesAndValues[i + 1]);
    }
    return map;
  }

  /** POST /key/generate with this body; asserts 200 and returns the response body. */
  JsonNode generate(String body) {
    Reply reply = post("/key/generate", body);
    assertThat(reply.status()).as("generate: %s", reply).isEqualTo(200);
    return reply.body();
  }

  JsonNode generate(Map<String, ?> body) {
    Reply reply = post("/key/generate", body);
    assertThat(reply.status()).as("generate: %s", reply).isEqualTo(200);
    return reply.body();
  }

  JsonNode info(String reference) {
    Reply reply = get("/key/info", query("key", reference));
    assertThat(reply.status()).as("info: %s", reply).isEqualTo(200);
    return reply.body().path("info");
  }

  /** The key on a model route, as the proxy function authenticates it: its status and error type. */
  Outcome onModelRoute(String key) {
    var request =
        new GatewayRequest(
            "POST",
            "/v1/chat/completions",
            Map.of("Authorization", "Bearer " + key),
            Map.of(),
            "{}".getBytes(),
            null);
    try {
      gateway.authenticator().forModelRoute(request, clock.instant());
      return new Outcome(200, null);
    } catch (AuthenticationFailed e) {
      return new Outcome(ErrorEnvelope.status(e), ErrorEnvelope.type(e));
    }
  }

  record Outcome(int status, String type) {}

  /** The models the key's value may use, as the proxy function sees them now (it must work). */
  List<String> modelsOf(String key) {
    var request =
        new GatewayRequest("GET", "/v1/models", Map.of("Authorization", "Bearer " + key), Map.of(), new byte[0], null);
    var caller = gateway.authenticator().forModelRoute(request, clock.instant());
    return ((aigw.core.auth.Caller.Virtual) caller).key().models();
  }

  /** Every attribute value of every item in the keys table, flattened to strings. */
  List<String> storedValues() {
    return dynamo.client().scanPaginator(r -> r.tableName(dynamo.keysTable())).items().stream()
        .flatMap(item -> item.values().stream())
        .flatMap(AdminApi::flatten)
        .toList();
  }

  /** Stored keys: items of the keys table other than the "alias#..." guards that keep aliases unique. */
  int storedItems() {
    return (int)
        dynamo.client().scan(r -> r.tableName(dynamo.keysTable())).items().stream()
            .filter(item -> ApiKeys.isHash(item.get("token_hash").s()) && !item.containsKey("rotated_to")) // keys only
            .count();
  }

  /** The alias guard items, as alias -> hash of the key that holds it. */
  Map<String, String> aliasGuards() {
    var guards = new java.util.TreeMap<String, String>();
    dynamo.client().scan(r -> r.tableName(dynamo.keysTable())).items().stream()
        .filter(item -> item.get("token_hash").s().startsWith("alias#"))
        .forEach(item -> guards.put(item.get("token_hash").s().substring("alias#".length()), item.get("alias_of").s()));
    return guards;
  }

  private static java.util.stream.Stream<String> flatten(
      software.amazon.awssdk.services.dynamodb.model.AttributeValue value) {
    var out = new java.util.ArrayList<String>();
    if (value.s() != null) out.add(value.s());
    if (value.n() != null) out.add(value.n());
    if (value.bool() != null) out.add(value.bool().toString());
    if (value.hasSs()) out.addAll(value.ss());
    if (value.hasNs()) out.addAll(value.ns());
    if (value.hasL()) value.l().forEach(v -> flatten(v).forEach(out::add));
    if (value.hasM()) value.m().values().forEach(v -> flatten(v).forEach(out::add));
    return out.stream();
  }

  /** A gateway whose master key cannot be read. */
  static SecretSource unreadableSecret() {
    return new SecretSource() {
      @Override
      public String read() {
        throw new SecretUnavailable("test: no secret", null);
      }

      @Override
      public String describe() {
        return "an unreadable test secret";
      }
    };
  }

  @Override
  public void close() {
    dynamo.close();
  }
}

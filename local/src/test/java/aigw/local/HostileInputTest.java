package aigw.local;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.any;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.matchingJsonPath;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;
import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.http.GatewayApplication;
import aigw.core.http.GatewayRequest;
import aigw.core.http.GatewayResponse;
import aigw.core.json.Json;
import aigw.core.testing.Upstream;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.ShrinkingMode;
import net.jqwik.api.Tuple;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import net.jqwik.api.statistics.Statistics;

/**
 * Issue 15, "prove it with figures": generated hostile input against the whole local gateway (proxy
 * and admin routes, every inbound protocol), most of it through the in-process {@link
 * GatewayApplication} the server serves, some of it as raw bytes over the real socket.
 *
 * <p>What must hold for every request, whatever it is: no status of 500 or more (the provider
 * stand-in behind the proxy always answers 200, so a 5xx can only be the gateway's own), no stack
 * trace or Java class name in a body, and every error in the envelope of its route: OpenAI's
 * {@code {"error":{"message","type","param","code"}}} on OpenAI and admin routes, Anthropic's
 * {@code {"type":"error","error":{"type","message"}}} on {@code /v1/messages}.
 *
 * <p>A new route is one line of {@link #ROUTES}: its method, path, envelope, credential and a valid
 * body; the generators mutate that body field by field. A route the gateway does not serve yet
 * answers 404 to its valid request at start-up and is then held to the unknown-route answer (OpenAI's
 * envelope) until it exists.
 *
 * <p>Seeds: jqwik picks a new seed each run and prints it with every property's figures (and, on a
 * failure, with the shrunk sample). To replay a failure, put that seed in the property's annotation,
 * e.g. {@code @Property(tries = 6000, seed = "-1234")}; then add the shrunk sample as a plain
 * regression test: an {@code @Example} in the regressions section below.
 */
class HostileInputTest {
  private static final String MASTER = "sk-hostile-input-master-key-for-tests";
  /** Small, so that bodies at and over the proxy's limit cost little; the admin limit is fixed. */
  static final int PROXY_LIMIT = 65_536;
  static final int ADMIN_LIMIT = 64 * 1024;

  enum Envelope { OPENAI, ANTHROPIC }

  enum Credential { VIRTUAL, MASTER, NONE }

  /**
   * One inbound route: what a valid request looks like. {@code {key}} in a path or body stands for a
   * virtual key, {@code {victim}} for a key the admin calls may change or break.
   */
  record Route(String method, String path, Envelope envelope, Credential credential, String validBody, String query) {
    boolean hasBody() {
      return method.equals("POST");
    }

    int limit() {
      return path.startsWith("/key/") ? ADMIN_LIMIT : PROXY_LIMIT;
    }
  }

  static final String CHAT = "{\"model\":\"fake\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
      + "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}],\"max_tokens\":5,\"temperature\":0.5,"
      + "\"top_p\":1,\"n\":1,\"stream\":false,\"stop\":[\"x\"],\"user\":\"u\",\"seed\":1,"
      + "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"object\",\"properties\":{}}}}],"
      + "\"tool_choice\":\"auto\",\"response_format\":{\"type\":\"text\"},\"metadata\":{\"a\":\"b\"}}";

  static final List<Route> ROUTES = List.of(
      new Route("POST", "/v1/chat/completions", Envelope.OPENAI, Credential.VIRTUAL, CHAT, null),
      new Route("POST", "/chat/completions", Envelope.OPENAI, Credential.VIRTUAL, CHAT, null),
      new Route("POST", "/v1/completions", Envelope.OPENAI, Credential.VIRTUAL,
          "{\"model\":\"fake\",\"prompt\":[\"hi\",\"there\"],\"max_tokens\":5,\"stream\":false,\"echo\":false,\"logprobs\":null}", null),
      new Route("POST", "/v1/embeddings", Envelope.OPENAI, Credential.VIRTUAL,
          "{\"model\":\"fake-embed\",\"input\":[\"hi\",\"there\"],\"encoding_format\":\"float\",\"dimensions\":8}", null),
      new Route("POST", "/v1/responses", Envelope.OPENAI, Credential.VIRTUAL,
          "{\"model\":\"fake\",\"input\":[{\"role\":\"user\",\"content\":\"hi\"}],\"instructions\":\"be brief\",\"max_output_tokens\":5,\"stream\":false}", null),
      new Route("POST", "/v1/messages", Envelope.ANTHROPIC, Credential.VIRTUAL,
          "{\"model\":\"fake\",\"max_tokens\":5,\"system\":\"be brief\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}],\"stream\":false}", null),
      new Route("POST", "/v1/messages/count_tokens", Envelope.ANTHROPIC, Credential.VIRTUAL,
          "{\"model\":\"fake\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", null),
      new Route("GET", "/v1/models", Envelope.OPENAI, Credential.VIRTUAL, null, null),
      new Route("GET", "/v1/models/fake", Envelope.OPENAI, Credential.VIRTUAL, null, null),
      new Route("POST", "/key/generate", Envelope.OPENAI, Credential.MASTER,
          "{\"models\":[\"fake\"],\"duration\":\"1h\",\"metadata\":{\"team\":\"a\",\"n\":1.50},\"auto_rotate\":false,\"blocked\":false}", null),
      new Route("POST", "/key/update", Envelope.OPENAI, Credential.MASTER,
          "{\"key\":\"{victim}\",\"models\":[\"fake\"],\"metadata\":{\"team\":\"b\"},\"duration\":\"2h\"}", null),
      new Route("POST", "/key/regenerate", Envelope.OPENAI, Credential.MASTER, "{\"key\":\"{victim}\",\"grace_period\":\"1h\"}", null),
      new Route("POST", "/key/{victim}/regenerate", Envelope.OPENAI, Credential.MASTER, "{\"duration\":\"1h\"}", null),
      new Route("POST", "/key/delete", Envelope.OPENAI, Credential.MASTER,
          "{\"keys\":[\"sk-no-such-key-000000000000000000\"],\"key_aliases\":[\"no-such-alias\"]}", null),
      new Route("POST", "/key/block", Envelope.OPENAI, Credential.MASTER, "{\"key\":\"{victim}\"}", null),
      new Route("POST", "/key/unblock", Envelope.OPENAI, Credential.MASTER, "{\"key\":\"{victim}\"}", null),
      new Route("POST", "/key/retrieve", Envelope.OPENAI, Credential.MASTER, "{\"key\":\"{victim}\"}", null),
      new Route("GET", "/key/info", Envelope.OPENAI, Credential.MASTER, null, "key={victim}"),
      new Route("GET", "/key/list", Envelope.OPENAI, Credential.MASTER, null, "page=1&size=10&return_full_object=true&sort_by=created_at"),
      new Route("GET", "/health/liveliness", Envelope.OPENAI, Credential.NONE, null, null),
      new Route("GET", "/health/readiness", Envelope.OPENAI, Credential.NONE, null, null));

  /** Names a body may carry: the fields of every route, so that an added field is often a known one of the wrong type. */
  static final List<String> FIELD_NAMES = List.of(
      "model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens", "n", "tools", "tool_choice",
      "temperature", "prompt", "input", "user", "metadata", "key", "keys", "key_alias", "key_aliases", "models", "duration",
      "blocked", "grace_period", "auto_rotate", "rotation_interval", "new_key", "system", "content", "role", "api_base",
      "api_key", "service_tier", "route", "provider", "max_budget", "", "\u0000", "__proto__", "constructor");

  private static WireMockServer upstream;
  private static LocalGateway gateway;
  private static GatewayApplication application;
  private static String virtualKey;
  private static String victimKey;
  /** Routes of {@link #ROUTES} the gateway serves: their errors are in their own envelope. */
  private static final Map<Route, Boolean> served = new LinkedHashMap<>();

  @BeforeContainer
  static void start() throws IOException {
    upstream = Upstream.start();
    // The provider stand-in answers 200 to everything, each path with its own kind of answer.
    upstream.stubFor(any(anyUrl()).atPriority(9).willReturn(okJson("{\"ok\":true}")));
    String usage = "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}";
    upstream.stubFor(post(urlPathMatching(".*/chat/completions")).atPriority(2).willReturn(okJson(
        "{\"id\":\"c\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
            + "\"message\":{\"role\":\"assistant\",\"content\":\"ok\"},\"finish_reason\":\"stop\"}]," + usage + "}")));
    upstream.stubFor(post(urlPathMatching(".*/chat/completions")).atPriority(1)
        .withRequestBody(matchingJsonPath("$.stream", equalTo("true")))
        .willReturn(sse("{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
            + "\"delta\":{\"role\":\"assistant\",\"content\":\"ok\"},\"finish_reason\":\"stop\"}]," + usage + "}")));
    upstream.stubFor(post(urlPathMatching("/v1/completions")).atPriority(2).willReturn(okJson(
        "{\"id\":\"t\",\"object\":\"text_completion\",\"created\":1,\"model\":\"m\",\"choices\":[{\"text\":\"ok\",\"index\":0,"
            + "\"logprobs\":null,\"finish_reason\":\"stop\"}]," + usage + "}")));
    upstream.stubFor(post(urlPathMatching("/v1/completions")).atPriority(1)
        .withRequestBody(matchingJsonPath("$.stream", equalTo("true")))
        .willReturn(sse("{\"id\":\"t\",\"object\":\"text_completion\",\"created\":1,\"model\":\"m\",\"choices\":[{\"text\":\"ok\","
            + "\"index\":0,\"logprobs\":null,\"finish_reason\":\"stop\"}]," + usage + "}")));
    upstream.stubFor(post(urlPathMatching(".*/embeddings")).atPriority(2).willReturn(okJson(
        "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,\"embedding\":[0.1,0.2]}],\"model\":\"m\","
            + "\"usage\":{\"prompt_tokens\":1,\"total_tokens\":1}}")));
    upstream.stubFor(post(urlPathMatching(".*/responses")).atPriority(2).willReturn(okJson(
        "{\"id\":\"resp_1\",\"object\":\"response\",\"created_at\":1,\"status\":\"completed\",\"model\":\"m\",\"output\":[{\"type\":\"message\","
            + "\"id\":\"msg_1\",\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"ok\",\"annotations\":[]}]}],"
            + "\"usage\":{\"input_tokens\":1,\"output_tokens\":1,\"total_tokens\":2}}")));

    // A stream request gets a stream, as from OpenAI: the Responses events, each named by its type.
    String response = "{\"id\":\"resp_1\",\"object\":\"response\",\"created_at\":1,\"status\":\"%s\",\"model\":\"m\",\"output\":%s%s}";
    String output = "[{\"type\":\"message\",\"id\":\"msg_1\",\"status\":\"completed\",\"role\":\"assistant\","
        + "\"content\":[{\"type\":\"output_text\",\"text\":\"ok\",\"annotations\":[]}]}]";
    upstream.stubFor(post(urlPathMatching(".*/responses")).atPriority(1)
        .withRequestBody(matchingJsonPath("$.stream", equalTo("true")))
        .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream").withBody(
            "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":"
                + response.formatted("in_progress", "[]", "") + "}\n\n"
                + "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":1,\"response\":"
                + response.formatted("completed", output, ",\"usage\":{\"input_tokens\":1,\"output_tokens\":1,\"total_tokens\":2}") + "}\n\n")));

    Path dir = Files.createTempDirectory("aigw-hostile");
    Path config = dir.resolve("config.yaml");
    Files.writeString(config, """
        model_list:
          - model_name: fake
            litellm_params: {model: openai/gpt-4o-mini, api_base: "%1$s/v1", api_key: os.environ/FAKE_KEY}
          - model_name: fake-embed
            litellm_params: {model: openai/text-embedding-3-small, api_base: "%1$s/v1", api_key: os.environ/FAKE_KEY}
        """.formatted(upstream.baseUrl()));
    gateway = LocalGateway.start(LocalOptions.inMemory(config, Map.of(
        "AIGW_MASTER_KEY", MASTER, "FAKE_KEY", "sk-provider-stand-in-key", "AIGW_MAX_REQUEST_BYTES", Integer.toString(PROXY_LIMIT))));
    application = gateway.application();
    virtualKey = generateKey();
    victimKey = generateKey();
    for (Route route : ROUTES) {
      var answer = handle(valid(route));
      served.put(route, answer.status() != 404 || route.path().contains("/models/"));
    }
  }

  @AfterContainer
  static void stop() {
    if (gateway != null) {
      gateway.close();
    }
    if (upstream != null) {
      upstream.stop();
    }
  }

  private static String generateKey() {
    var answer = application.handle(new GatewayRequest("POST", "/key/generate",
        Map.of("Authorization", "Bearer " + MASTER, "Content-Type", "application/json"), Map.of(),
        "{\"models\":[\"fake\",\"fake-embed\"]}".getBytes(StandardCharsets.UTF_8), "setup"));
    assertThat(answer.status()).as(new String(answer.body(), StandardCharsets.UTF_8)).isEqualTo(200);
    return Json.readObject(answer.body()).get("key").asText();
  }

  private static com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder sse(String event) {
    return aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream").withBody("data: " + event + "\n\ndata: [DONE]\n\n");
  }

  // ---------------------------------------------------------------- one generated request

  /** A request as generated: what is sent, and the route whose envelope its answer must have. */
  record Probe(Route route, String method, String path, Map<String, String> headers, String query, byte[] body, String what) {
    @Override
    public String toString() {
      String shown = new String(body, StandardCharsets.UTF_8);
      var shownHeaders = new LinkedHashMap<String, String>();
      headers.forEach((name, value) -> shownHeaders.put(name, abbreviate(value)));
      return what + ": " + method + " " + abbreviate(path) + (query == null ? "" : "?" + abbreviate(query)) + " " + shownHeaders
          + " body(" + body.length + ")=" + abbreviate(shown);
    }
  }

  static String abbreviate(String text) {
    return text.length() <= 300 ? text : text.substring(0, 200) + "…(" + text.length() + " chars)…" + text.substring(text.length() - 60);
  }

  static Probe valid(Route route) {
    var headers = new LinkedHashMap<String, String>();
    credential(route, Auth.VALID).ifPresent(value -> headers.put("Authorization", value));
    if (route.hasBody()) {
      headers.put("Content-Type", "application/json");
    }
    byte[] body = route.hasBody() ? fill(route.validBody()).getBytes(StandardCharsets.UTF_8) : new byte[0];
    return new Probe(route, route.method(), fill(route.path()), headers, route.query() == null ? null : fill(route.query()), body, "valid");
  }

  static String fill(String text) {
    return text.replace("{victim}", victimKey).replace("{key}", virtualKey);
  }

  // ---------------------------------------------------------------- generators

  enum Auth { VALID, NONE, EMPTY, BEARER_ONLY, OTHER_SCHEME, UNKNOWN_KEY, WRONG_KIND, LONG, LOWERCASE_BEARER, X_API_KEY }

  static java.util.Optional<String> credential(Route route, Auth auth) {
    String right = route.credential() == Credential.MASTER ? MASTER : virtualKey;
    String wrong = route.credential() == Credential.MASTER ? virtualKey : MASTER;
    return java.util.Optional.ofNullable(switch (auth) {
      case VALID, X_API_KEY -> "Bearer " + right;
      case NONE -> null;
      case EMPTY -> "";
      case BEARER_ONLY -> "Bearer ";
      case OTHER_SCHEME -> "Basic " + right;
      case UNKNOWN_KEY -> "Bearer sk-unknown-" + right.hashCode();
      case WRONG_KIND -> "Bearer " + wrong;
      case LONG -> "Bearer sk-" + "a".repeat(9000);
      case LOWERCASE_BEARER -> "bearer " + right;
    });
  }

  @Provide
  Arbitrary<Route> routes() {
    return Arbitraries.of(ROUTES);
  }

  /** A JSON value (as text, possibly not valid JSON) put where a field's value was. */
  @Provide
  static Arbitrary<String> hostileValues() {
    var fixed = Arbitraries.of(
        "null", "true", "false", "0", "-0", "-0.0", "1", "-1", "1.5", "0.1", "1e309", "-1e309", "1E-400", "1e999999999",
        "-1e-999999999", "18446744073709551616", "-9223372036854775809", "9223372036854775807", "2147483648",
        "\"\"", "\" \"", "\"x\"", "\"\\u0000\"", "\"\\ud800\"", "\"\\udc00\\ud800\"", "\"\u202e\u0000\ufeff\"", "\"\\\"\"",
        "\"sk-\"", "\"*\"", "\"../../etc/passwd\"", "\"%00\"", "\"1\"", "\"true\"", "\"null\"", "\"1h\"", "\"-1h\"", "\"99999999999y\"",
        "[]", "[null]", "[[]]", "[1,\"a\",{},[]]", "[\"\"]", "{}", "{\"\":null}", "{\"a\":{\"b\":[]}}", "{\"type\":1}",
        // not JSON at all, in a JSON document
        "NaN", "Infinity", "-Infinity", "'single'", "0x10", "01", "+1", ".5", "1.", "\"\\x\"", "\"unterminated", "tru", "nul", "[1,]", "{,}");
    var longDigits = Arbitraries.integers().between(19, 3000).map(n -> "9".repeat(n));
    var longFraction = Arbitraries.integers().between(19, 3000).map(n -> "0." + "1".repeat(n));
    var longStrings = Arbitraries.integers().between(1_000, 200_000).map(n -> "\"" + "a".repeat(n) + "\"");
    var deepArrays = Arbitraries.integers().between(2, 3000).map(depth -> "[".repeat(depth) + "]".repeat(depth));
    var deepObjects = Arbitraries.integers().between(2, 3000).map(depth -> "{\"a\":".repeat(depth) + "1" + "}".repeat(depth));
    var unclosed = Arbitraries.integers().between(1, 5000).map(depth -> "[".repeat(depth));
    var numbers = Arbitraries.oneOf(
        Arbitraries.longs().map(Object::toString),
        Arbitraries.doubles().map(Object::toString).filter(text -> !text.contains("Infinity") && !text.contains("NaN")),
        Arbitraries.bigIntegers().between(java.math.BigInteger.TWO.pow(63).negate().shiftLeft(70), java.math.BigInteger.TWO.pow(140)).map(Object::toString));
    var strings = Arbitraries.strings().all().ofMaxLength(40).map(Json::string);
    return Arbitraries.frequencyOf(
        Tuple.of(10, fixed), Tuple.of(2, longDigits), Tuple.of(1, longFraction), Tuple.of(2, longStrings), Tuple.of(2, deepArrays),
        Tuple.of(2, deepObjects), Tuple.of(1, unclosed), Tuple.of(3, numbers), Tuple.of(3, strings));
  }

  enum Mutation { VALID, REPLACE, REMOVE, ADD, DUPLICATE, TRUNCATE, INVALID_UTF8, WHOLE, NOISE }

  /** Whole bodies that are not the route's at all. */
  static final List<byte[]> WHOLE_BODIES = List.of(
      new byte[0], b(" "), b("null"), b("[]"), b("\"text\""), b("1"), b("{"), b("}"), b("{}"), b("{\"model\":"), b("{\"model\":\"fake\"}"),
      b("\uFEFF{}"), b("{}{}"), b("{} x"), b("{\"a\":1}\u0000"), b("model=fake&messages=hi"), b("<xml/>"),
      new byte[] {(byte) 0xff, (byte) 0xfe, '{', 0, '}', 0}, // UTF-16 with a BOM
      new byte[] {0, '{', 0, '}'});

  static byte[] b(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  /** Byte sequences that are not UTF-8 (RFC 3629): stray, overlong, surrogate, too large, cut short. */
  static final List<byte[]> INVALID_UTF8 = List.of(
      new byte[] {(byte) 0xff}, new byte[] {(byte) 0x80}, new byte[] {(byte) 0xc0, (byte) 0x80}, new byte[] {(byte) 0xed, (byte) 0xa0, (byte) 0x80},
      new byte[] {(byte) 0xf4, (byte) 0x90, (byte) 0x80, (byte) 0x80}, new byte[] {(byte) 0xe2, (byte) 0x82}, new byte[] {(byte) 0xf8, (byte) 0x88, (byte) 0x80, (byte) 0x80, (byte) 0x80});

  record BodyPlan(Mutation mutation, int slot, String value, String name, byte[] noise) {}

  @Provide
  static Arbitrary<BodyPlan> bodyPlans() {
    return Combinators.combine(
            Arbitraries.frequencyOf(
                Tuple.of(2, Arbitraries.just(Mutation.VALID)), Tuple.of(12, Arbitraries.just(Mutation.REPLACE)),
                Tuple.of(2, Arbitraries.just(Mutation.REMOVE)), Tuple.of(3, Arbitraries.just(Mutation.ADD)),
                Tuple.of(1, Arbitraries.just(Mutation.DUPLICATE)), Tuple.of(3, Arbitraries.just(Mutation.TRUNCATE)),
                Tuple.of(2, Arbitraries.just(Mutation.INVALID_UTF8)), Tuple.of(2, Arbitraries.just(Mutation.WHOLE)),
                Tuple.of(1, Arbitraries.just(Mutation.NOISE))),
            Arbitraries.integers().between(0, 10_000),
            hostileValues(),
            Arbitraries.oneOf(Arbitraries.of(FIELD_NAMES), Arbitraries.strings().ofMaxLength(20)),
            Arbitraries.bytes().array(byte[].class).ofMaxSize(64))
        .as(BodyPlan::new);
  }

  /** Where a value sits in a body: its container and its name or index. */
  record Slot(JsonNode container, String name, int index) {}

  static List<Slot> slots(JsonNode node) {
    var all = new ArrayList<Slot>();
    if (node instanceof ObjectNode object) {
      object.fieldNames().forEachRemaining(name -> {
        all.add(new Slot(object, name, -1));
        all.addAll(slots(object.get(name)));
      });
    } else if (node instanceof ArrayNode array) {
      for (int i = 0; i < array.size(); i++) {
        all.add(new Slot(array, null, i));
        all.addAll(slots(array.get(i)));
      }
    }
    return all;
  }

  static final String HOLE = "@@hostile-hole@@";

  static byte[] body(Route route, BodyPlan plan) {
    String valid = route.validBody() == null ? "{}" : fill(route.validBody());
    byte[] validBytes = b(valid);
    return switch (plan.mutation()) {
      case VALID -> route.hasBody() ? validBytes : new byte[0];
      case REPLACE, REMOVE, ADD -> {
        ObjectNode tree = Json.readObject(validBytes);
        List<Slot> slots = slots(tree);
        if (plan.mutation() == Mutation.ADD || slots.isEmpty()) {
          // An added member, in the body or in one of its objects: often a known name of another field.
          var objects = new ArrayList<ObjectNode>(List.of(tree));
          slots.stream().map(s -> s.container()).filter(ObjectNode.class::isInstance).map(ObjectNode.class::cast).distinct().forEach(objects::add);
          ObjectNode target = objects.get(plan.slot() % objects.size());
          target.remove(plan.name());
          target.put(plan.name(), HOLE);
        } else {
          Slot slot = slots.get(plan.slot() % slots.size());
          if (plan.mutation() == Mutation.REMOVE) {
            if (slot.container() instanceof ObjectNode object) {
              object.remove(slot.name());
            } else {
              ((ArrayNode) slot.container()).remove(slot.index());
            }
            yield b(Json.string(tree));
          }
          if (slot.container() instanceof ObjectNode object) {
            object.put(slot.name(), HOLE);
          } else {
            ((ArrayNode) slot.container()).set(slot.index(), HOLE);
          }
        }
        yield b(Json.string(tree).replace("\"" + HOLE + "\"", plan.value()));
      }
      case DUPLICATE -> {
        ObjectNode tree = Json.readObject(validBytes);
        var names = new ArrayList<String>();
        tree.fieldNames().forEachRemaining(names::add);
        String name = names.isEmpty() ? "model" : names.get(plan.slot() % names.size());
        yield b("{" + Json.string(name) + ":" + plan.value() + "," + valid.substring(1));
      }
      case TRUNCATE -> Arrays.copyOf(validBytes, plan.slot() % validBytes.length);
      case INVALID_UTF8 -> {
        byte[] bad = INVALID_UTF8.get(plan.slot() % INVALID_UTF8.size());
        // Inside a string value, where a lenient decoder would turn it into U+FFFD and carry on.
        int quote = valid.indexOf('"', valid.indexOf(':') + 1);
        int at = quote < 0 ? 1 : quote + 1;
        var out = new ByteArrayOutputStream();
        out.write(validBytes, 0, at);
        out.writeBytes(bad);
        out.write(validBytes, at, validBytes.length - at);
        yield out.toByteArray();
      }
      case WHOLE -> WHOLE_BODIES.get(plan.slot() % WHOLE_BODIES.size());
      case NOISE -> plan.noise();
    };
  }

  static final List<String> CONTENT_TYPES = List.of(
      "application/json", "application/json", "application/json; charset=utf-8", "APPLICATION/JSON", "application/json; charset=latin1",
      "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml", "", "*/*",
      "application/json, text/plain", "json", "\u0000");

  record HeaderPlan(Auth auth, int contentType, boolean withContentType, Map<String, String> extra) {}

  @Provide
  static Arbitrary<HeaderPlan> headerPlans() {
    var extraNames = Arbitraries.of(
        "x-api-key", "api-key", "x-goog-api-key", "anthropic-version", "anthropic-beta", "origin", "content-encoding",
        "x-forwarded-for", "host", "accept", "x-litellm-api-key", "litellm-key", "openai-organization", "x-amzn-trace-id");
    var extraValues = Arbitraries.oneOf(
        Arbitraries.of("", " ", "gzip", "2023-06-01", "sk-fake", MASTER, "null", "http://evil.example", "*"),
        Arbitraries.strings().withCharRange(' ', '~').ofMaxLength(50),
        Arbitraries.integers().between(1, 20_000).map("x"::repeat));
    return Combinators.combine(
            Arbitraries.frequencyOf(Tuple.of(12, Arbitraries.just(Auth.VALID)), Tuple.of(8, Arbitraries.of(Auth.values()))),
            Arbitraries.integers().between(0, CONTENT_TYPES.size() - 1),
            Arbitraries.frequencyOf(Tuple.of(9, Arbitraries.just(true)), Tuple.of(1, Arbitraries.just(false))),
            Arbitraries.maps(extraNames, extraValues).ofMaxSize(2))
        .as(HeaderPlan::new);
  }

  enum PathPlan { AS_IS, TRAILING_SLASH, DOUBLE_SLASH, DOT_DOT, NUL, UPPER, LONG_SEGMENT, RANDOM_KEY_SEGMENT, UNKNOWN_TAIL, ENCODED }

  static final List<String> ODD_METHODS = List.of("GET", "POST", "PUT", "DELETE", "PATCH", "TRACE", "CONNECT", "OPTIONS", "HEAD", "PROPFIND", "FOO");

  static String path(Route route, PathPlan plan, int n) {
    String path = fill(route.path());
    return switch (plan) {
      case AS_IS -> path;
      case TRAILING_SLASH -> path + "/";
      case DOUBLE_SLASH -> "/" + path.replace("/", "//");
      case DOT_DOT -> path.replaceFirst("^/(\\w+)/", "/$1/../$1/");
      case NUL -> path + "%00";
      case UPPER -> path.toUpperCase(Locale.ROOT);
      case LONG_SEGMENT -> path + "/" + "a".repeat(1 + n % 20_000);
      case RANDOM_KEY_SEGMENT -> "/key/" + "sk-x".repeat(1 + n % 50) + "/regenerate";
      case UNKNOWN_TAIL -> path + "/x" + n;
      case ENCODED -> path.replace("/", "%2F").replaceFirst("^%2F", "/");
    };
  }

  @Provide
  static Arbitrary<Probe> probes() {
    var methods = Arbitraries.frequencyOf(Tuple.of(9, Arbitraries.just("")), Tuple.of(1, Arbitraries.of(ODD_METHODS)));
    var paths = Arbitraries.frequencyOf(Tuple.of(12, Arbitraries.just(PathPlan.AS_IS)), Tuple.of(2, Arbitraries.of(PathPlan.values())));
    var queries = Arbitraries.frequencyOf(
        Tuple.of(8, Arbitraries.just("")),
        Tuple.of(2, Arbitraries.oneOf(
            Arbitraries.of("key=", "key", "key=%00", "key=sk-", "page=0", "page=-1", "page=1e309", "size=99999999999999999999", "size=abc",
                "sort_by=password", "sort_order=sideways", "return_full_object=maybe", "key_alias=%ff%fe", "key=a&key=b", "=&&=", "%", "key=%zz"),
            Arbitraries.strings().withCharRange('!', '~').ofMaxLength(40).map(text -> "key=" + URLEncoder.encode(text, StandardCharsets.UTF_8)))));
    return Combinators.combine(Arbitraries.of(ROUTES), bodyPlans(), headerPlans(), methods, paths, Arbitraries.integers().between(0, 100_000), queries)
        .as((route, bodyPlan, headerPlan, method, pathPlan, n, query) -> {
          var headers = new LinkedHashMap<String, String>();
          credential(route, headerPlan.auth()).ifPresent(value -> headers.put(headerPlan.auth() == Auth.X_API_KEY ? "x-api-key" : "Authorization",
              headerPlan.auth() == Auth.X_API_KEY ? value.substring("Bearer ".length()) : value));
          if (headerPlan.withContentType() && route.hasBody()) {
            headers.put("Content-Type", CONTENT_TYPES.get(headerPlan.contentType()));
          }
          headerPlan.extra().forEach(headers::putIfAbsent);
          String fullQuery = route.query() == null ? query : fill(route.query()) + (query.isEmpty() ? "" : "&" + query);
          return new Probe(route, method.isEmpty() ? route.method() : method, path(route, pathPlan, n), headers,
              fullQuery.isEmpty() ? null : fullQuery, body(route, bodyPlan), bodyPlan.mutation() + "/" + headerPlan.auth() + "/" + pathPlan);
        });
  }

  // ---------------------------------------------------------------- properties

  /** The bulk: through the application the server serves, without the socket. */
  @Property(tries = 7500, shrinking = ShrinkingMode.BOUNDED)
  void noHostileRequestGetsA5xxAStackTraceOrAnotherRoutesEnvelope(@ForAll("probes") Probe probe) {
    Statistics.label("route").collect(probe.route().path());
    var answer = handle(probe);
    Statistics.label("status").collect(answer.status());
    check(probe, answer);
  }

  /** Bodies right at, under and over the route's limit: at most the limit is read, one byte more is 413. */
  @Property(tries = 300, shrinking = ShrinkingMode.BOUNDED)
  void bodiesAtTheLimitAreReadAndOneByteMoreIs413(@ForAll("routes") Route route, @ForAll("offsets") int offset, @ForAll("bodyPlans") BodyPlan plan) {
    if (!route.hasBody()) {
      return;
    }
    byte[] base = body(route, plan);
    int size = route.limit() + offset;
    byte[] body = Arrays.copyOf(base, Math.max(size, 0));
    // Padding after the document: spaces keep a valid body valid; the point is the size.
    Arrays.fill(body, Math.min(base.length, body.length), body.length, (byte) ' ');
    var probe = new Probe(route, route.method(), fill(route.path()), valid(route).headers(), null, body, "size " + body.length);
    var answer = handle(probe);
    check(probe, answer);
    if (body.length > route.limit()) {
      assertThat(answer.status()).as("%s", probe).isIn(413, 404);
    } else {
      assertThat(answer.status()).as("%s", probe).isNotEqualTo(413);
    }
  }

  @Provide
  Arbitrary<Integer> offsets() {
    return Arbitraries.oneOf(Arbitraries.of(-1, 0, 1), Arbitraries.integers().between(-64, 64));
  }

  /** Over the real socket: raw HTTP/1.1, with what a map of headers cannot carry (a header twice, odd request lines). */
  @Property(tries = 2500, shrinking = ShrinkingMode.BOUNDED)
  void overTheSocketNoHostileRequestGetsA5xxAStackTraceOrAnotherRoutesEnvelope(@ForAll("probes") Probe probe, @ForAll("wireQuirks") WireQuirk quirk)
      throws IOException {
    Statistics.collect(quirk);
    if (!isUri(requestTarget(probe))) {
      // A request-target that is not a URI (RFC 3986; "?%", "%zz"): the HTTP server may refuse it before
      // any route runs (LocalServer.OwnErrors), in the OpenAI envelope whatever the route, or pass it on
      // to the route. Either way a 4xx in an envelope, without Java's words (the JDK server's page named
      // URISyntaxException).
      Statistics.label("not a URI").collect(true);
      byte[] raw = sendRaw(probe, quirk);
      if (raw.length > 0) {
        GatewayResponse answer = parse(raw, probe.toString());
        if (answer.status() < 400) {
          check(probe, answer); // passed on to its route
          return;
        }
        String body = new String(answer.body(), StandardCharsets.UTF_8);
        assertThat(answer.status()).as("%s -> %s", probe, body).isBetween(400, 499);
        assertThat(JAVA_INTERNALS.matcher(body).find()).as("no Java internals in the body: %s -> %s", probe, body).isFalse();
        if (!probe.method().equals("HEAD")) {
          assertThat(Json.readObject(answer.body()).path("error").path("message").asText()).as("an envelope: %s -> %s", probe, body).isNotBlank();
        }
      }
      return;
    }
    if (probe.method().equals("CONNECT")) {
      // CONNECT's target is an authority (host:port, RFC 9110 section 9.3.6), so a path there is not
      // valid HTTP: the server refuses it before any route runs, in the OpenAI envelope whatever the route.
      Statistics.label("CONNECT").collect(true);
      byte[] raw = sendRaw(probe, quirk);
      if (raw.length > 0) {
        GatewayResponse answer = parse(raw, probe.toString());
        String body = new String(answer.body(), StandardCharsets.UTF_8);
        // 414 when the target is also longer than the server reads: refused for its length first.
        assertThat(answer.status()).as("%s -> %s", probe, body).isIn(400, 414);
        assertThat(JAVA_INTERNALS.matcher(body).find()).as("no Java internals in the body: %s -> %s", probe, body).isFalse();
        assertThat(Json.readObject(answer.body()).path("error").path("code").asText()).as("OpenAI's envelope: %s", body)
            .isEqualTo(Integer.toString(answer.status()));
      }
      return;
    }
    byte[] raw = sendRaw(probe, quirk);
    if (raw.length > 0 && refusedAsNotHttp(parse(raw, probe.toString()))) {
      // Refused by the HTTP server before any route (a %00 in the path, say): no route, so OpenAI's
      // envelope whatever the path, and still no Java words.
      Statistics.label("not HTTP").collect(true);
      String body = new String(parse(raw, probe.toString()).body(), StandardCharsets.UTF_8);
      assertThat(JAVA_INTERNALS.matcher(body).find()).as("no Java internals in the body: %s -> %s", probe, body).isFalse();
      return;
    }
    if (raw.length > 0 && probe.method().length() + requestTarget(probe).length() + " HTTP/1.1\r\n".length() + 1 > LocalServer.MAX_HEADER_BYTES) {
      // A request line longer than the server reads (431 or 414) is refused before its target is
      // parsed: no path, so no route, and OpenAI's envelope whatever the path would have named.
      GatewayResponse answer = parse(raw, probe.toString());
      Statistics.label("request line too long").collect(true);
      assertThat(answer.status()).as("%s -> %s", probe, answer.status()).isIn(414, 431);
      String body = new String(answer.body(), StandardCharsets.UTF_8);
      assertThat(JAVA_INTERNALS.matcher(body).find()).as("no Java internals in the body: %s -> %s", probe, body).isFalse();
      assertThat(Json.readObject(answer.body()).path("error").path("message").asText()).as(body).isNotBlank();
      return;
    }
    if (raw.length == 0 && quirk == WireQuirk.LONG_HEADER) {
      // Headers over the server's 16 KiB are refused (431) as soon as they are read, and the
      // connection closed while this client still writes: the reset may discard the answer here.
      Statistics.label("reset after a refused long header").collect(true);
      return;
    }
    if (raw.length == 0 && quirk == WireQuirk.EXTRA_BODY) {
      // Bytes past Content-Length on a "Connection: close" request are never read: closing a socket
      // with unread input makes TCP send a reset, which may discard the answer before it is read
      // here (RFC 9112 9.6 asks a server to close in stages to avoid this). Nothing else to check.
      Statistics.label("reset after extra bytes").collect(true);
      return;
    }
    check(probe, parse(raw, probe + " " + quirk));
  }

  /** A 400 in OpenAI's envelope whose message is the HTTP server's for a request that is not valid HTTP. */
  static boolean refusedAsNotHttp(GatewayResponse answer) {
    if (answer.status() != 400 || answer.body().length == 0) {
      return false;
    }
    try {
      return Json.readObject(answer.body()).path("error").path("message").asText().startsWith(LocalServer.NOT_HTTP);
    } catch (RuntimeException notJson) {
      return false;
    }
  }

  static String requestTarget(Probe probe) {
    return probe.path().replace(" ", "%20") + (probe.query() == null ? "" : "?" + probe.query());
  }

  static boolean isUri(String target) {
    try {
      new java.net.URI(target);
      return true;
    } catch (java.net.URISyntaxException e) {
      return false;
    }
  }

  enum WireQuirk { NONE, AUTHORIZATION_TWICE, CONTENT_TYPE_TWICE, EMPTY_HEADER_VALUES, HEADER_NO_SPACE, HTTP_1_0, LONG_HEADER, FOLDED_HEADER, CHUNKED, EXTRA_BODY }

  @Provide
  Arbitrary<WireQuirk> wireQuirks() {
    return Arbitraries.frequencyOf(Tuple.of(4, Arbitraries.just(WireQuirk.NONE)), Tuple.of(6, Arbitraries.of(WireQuirk.values())));
  }

  // ---------------------------------------------------------------- regressions: what the properties found, shrunk

  /** Found by the properties: a read constraint's message named Jackson's Java method to the client. */
  @Example
  void aNumberTooLongIsRefusedWithTheLimitAndNoJavaName() {
    var probe = withBody(ROUTES.get(0), "{\"model\":" + "9".repeat(1001) + ",\"messages\":[]}");
    var answer = handle(probe);
    check(probe, answer);
    assertThat(answer.status()).isEqualTo(400);
    assertThat(Json.readObject(answer.body()).path("error").path("message").asText())
        .contains("Number value length (1001) exceeds the maximum allowed (1000)");
  }

  /** The nesting bound is the gateway's own (Json.MAX_NESTING_DEPTH), not Jackson's default of 1,000. */
  @Example
  void nestingDeeperThanTheGatewaysBoundIsRefusedOnEveryRoute() {
    int depth = Json.MAX_NESTING_DEPTH; // the body object is one level, so this array makes depth + 1
    for (Route route : ROUTES) {
      if (!route.hasBody() || !served.get(route)) {
        continue;
      }
      var probe = withBody(route, "{\"model\":" + "[".repeat(depth) + "]".repeat(depth) + "}");
      var answer = handle(probe);
      check(probe, answer);
      assertThat(answer.status()).as(route.path()).isEqualTo(400);
      assertThat(new String(answer.body(), StandardCharsets.UTF_8)).as(route.path())
          .contains("exceeds the maximum allowed (" + Json.MAX_NESTING_DEPTH + ")");
    }
  }

  /** Found by the properties: an alias over DynamoDB's key size made DynamoDB refuse the call, answered 503. */
  @Example
  void anAliasTooLongForADynamoDbKeyIsAClientMistake() {
    String alias = "a".repeat(3000);
    for (var entry : Map.of("/key/generate", "{\"key_alias\":\"" + alias + "\"}", "/key/delete", "{\"key_aliases\":[\"" + alias + "\"]}",
        "/key/update", "{\"key\":\"{victim}\",\"key_alias\":\"" + alias + "\"}").entrySet()) {
      Route route = ROUTES.stream().filter(r -> r.path().equals(entry.getKey())).findFirst().orElseThrow();
      var probe = withBody(route, fill(entry.getValue()));
      var answer = handle(probe);
      check(probe, answer);
      assertThat(answer.status()).as(route.path()).isEqualTo(400);
      JsonNode error = Json.readObject(answer.body()).path("error");
      assertThat(error.path("param").asText()).as(route.path()).startsWith("key_alias");
      assertThat(error.path("message").asText()).as(route.path()).contains("at most 256 characters");
    }
  }

  /** Found by the properties: Jackson's message for "{}{}" named the Java type the body was bound to. */
  @Example
  void trailingContentIsRefusedWithoutJavaNames() {
    for (String body : List.of("{}{}", "{\"model\":\"fake\"} []")) {
      var probe = withBody(ROUTES.get(0), body);
      var answer = handle(probe);
      check(probe, answer);
      assertThat(answer.status()).isEqualTo(400);
      assertThat(Json.readObject(answer.body()).path("error").path("message").asText()).contains("Trailing token");
    }
  }

  static Probe withBody(Route route, String body) {
    var valid = valid(route);
    return new Probe(route, valid.method(), valid.path(), valid.headers(), valid.query(), b(body), "regression");
  }

  // ---------------------------------------------------------------- sending and checking

  static GatewayResponse handle(Probe probe) {
    var query = new LinkedHashMap<String, String>();
    if (probe.query() != null) {
      for (String pair : probe.query().split("&")) {
        int eq = pair.indexOf('=');
        String name = eq < 0 ? pair : pair.substring(0, eq);
        String value = eq < 0 ? "" : pair.substring(eq + 1);
        try {
          query.putIfAbsent(java.net.URLDecoder.decode(name, StandardCharsets.UTF_8), java.net.URLDecoder.decode(value, StandardCharsets.UTF_8));
        } catch (IllegalArgumentException e) {
          query.putIfAbsent(name, value); // as API Gateway passes a malformed escape: undecoded
        }
      }
    }
    var request = new GatewayRequest(probe.method(), probe.path(), probe.headers(), query, probe.body(), "hostile");
    return application.handle(request).buffered();
  }

  /** The request as raw HTTP/1.1 on its own connection; the answer's bytes, none if the server reset it. */
  static byte[] sendRaw(Probe probe, WireQuirk quirk) throws IOException {
    var head = new StringBuilder();
    String target = requestTarget(probe);
    head.append(probe.method()).append(' ').append(target).append(quirk == WireQuirk.HTTP_1_0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
    head.append("Host: 127.0.0.1\r\nConnection: close\r\n");
    probe.headers().forEach((name, value) -> {
      if (!name.equalsIgnoreCase("host") && value.chars().allMatch(c -> c >= 0x20 && c < 0x7f)) {
        String separator = quirk == WireQuirk.HEADER_NO_SPACE ? ":" : ": ";
        head.append(name).append(separator).append(quirk == WireQuirk.EMPTY_HEADER_VALUES ? "" : value).append("\r\n");
      }
    });
    switch (quirk) {
      case AUTHORIZATION_TWICE -> head.append("Authorization: Bearer sk-second-value-of-the-header\r\n");
      case CONTENT_TYPE_TWICE -> head.append("Content-Type: text/plain\r\n");
      case LONG_HEADER -> head.append("X-Long: ").append("b".repeat(30_000)).append("\r\n");
      case FOLDED_HEADER -> head.append("X-Folded: a\r\n  b\r\n");
      default -> {}
    }
    byte[] body = probe.body();
    if (quirk == WireQuirk.CHUNKED) {
      head.append("Transfer-Encoding: chunked\r\n\r\n");
      var chunked = new ByteArrayOutputStream();
      if (body.length > 0) {
        chunked.writeBytes(b(Integer.toHexString(body.length) + "\r\n"));
        chunked.writeBytes(body);
        chunked.writeBytes(b("\r\n"));
      }
      chunked.writeBytes(b("0\r\n\r\n"));
      body = chunked.toByteArray();
    } else {
      if (body.length > 0 || probe.method().equals("POST")) {
        head.append("Content-Length: ").append(body.length).append("\r\n");
      }
      head.append("\r\n");
      if (quirk == WireQuirk.EXTRA_BODY) {
        body = Arrays.copyOf(body, body.length + 7); // bytes past Content-Length: the next "request"
      }
    }
    var out = new ByteArrayOutputStream();
    out.writeBytes(head.toString().getBytes(StandardCharsets.ISO_8859_1));
    out.writeBytes(body);
    try (var socket = new Socket("127.0.0.1", gateway.port())) {
      socket.setSoTimeout(20_000);
      try {
        socket.getOutputStream().write(out.toByteArray());
        socket.getOutputStream().flush();
      } catch (java.net.SocketException refusedEarly) {
        // The server answered (headers over its size: 431) and closed before the whole request was
        // written; its answer may still be there to read.
      }
      byte[] all;
      try {
        all = socket.getInputStream().readAllBytes();
      } catch (SocketTimeoutException e) {
        throw new AssertionError("no answer within 20 s to " + probe + " " + quirk, e);
      } catch (java.net.SocketException e) {
        // The server may close a connection whose request it refused before reading all of it.
        all = new byte[0];
      }
      return all;
    }
  }

  private static GatewayResponse parse(byte[] all, String what) {
    String text = new String(all, StandardCharsets.ISO_8859_1);
    int end = text.indexOf("\r\n\r\n");
    assertThat(end).as("an HTTP answer to %s; got %s", what, abbreviate(text)).isPositive();
    String[] lines = text.substring(0, end).split("\r\n");
    var headers = new LinkedHashMap<String, String>();
    for (int i = 1; i < lines.length; i++) {
      int colon = lines[i].indexOf(':');
      headers.putIfAbsent(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).trim());
    }
    byte[] body = Arrays.copyOfRange(all, end + 4, all.length);
    if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
      body = unchunk(body);
    }
    return new GatewayResponse(Integer.parseInt(lines[0].split(" ")[1]), headers, body);
  }

  private static byte[] unchunk(byte[] chunked) {
    var out = new ByteArrayOutputStream();
    int at = 0;
    while (at < chunked.length) {
      int lineEnd = indexOf(chunked, at);
      if (lineEnd < 0) {
        break;
      }
      int size = Integer.parseInt(new String(chunked, at, lineEnd - at, StandardCharsets.ISO_8859_1).split(";")[0].trim(), 16);
      if (size == 0) {
        break;
      }
      out.write(chunked, lineEnd + 2, Math.min(size, chunked.length - lineEnd - 2));
      at = lineEnd + 2 + size + 2;
    }
    return out.toByteArray();
  }

  private static int indexOf(byte[] bytes, int from) {
    for (int i = from; i + 1 < bytes.length; i++) {
      if (bytes[i] == '\r' && bytes[i + 1] == '\n') {
        return i;
      }
    }
    return -1;
  }

  /** Java's own words in a body: a class or package name, an exception's name, a stack frame. */
  static final Pattern JAVA_INTERNALS = Pattern.compile(
      "java\\.|javax\\.|aigw\\.|com\\.fasterxml|software\\.amazon|Exception|\\bat [\\w$]+(\\.[\\w$]+)+\\(|StreamReadConstraints|\\.java:\\d");

  /** {@code /v1/messages}, {@code /messages} and any path below them (query and trailing slashes aside). */
  static boolean underAnthropicsRoutes(String path) {
    String route = path.contains("?") ? path.substring(0, path.indexOf('?')) : path;
    while (route.length() > 1 && route.endsWith("/")) {
      route = route.substring(0, route.length() - 1);
    }
    if (route.startsWith("/v1/")) {
      route = route.substring(3);
    }
    return route.equals("/messages") || route.startsWith("/messages/");
  }

  static void check(Probe probe, GatewayResponse answer) {
    String body = new String(answer.body(), StandardCharsets.UTF_8);
    String what = probe + " -> " + answer.status() + " " + abbreviate(body);
    assertThat(answer.status()).as("no 5xx for a client's request: %s", what).isBetween(100, 499);
    assertThat(JAVA_INTERNALS.matcher(body).find()).as("no Java internals in the body: %s", what).isFalse();
    if (answer.status() < 400 || probe.method().equals("HEAD")) {
      return;
    }
    String contentType = answer.headers().entrySet().stream().filter(e -> e.getKey().equalsIgnoreCase("content-type"))
        .map(Map.Entry::getValue).findFirst().orElse(null);
    assertThat(contentType).as("JSON error: %s", what).startsWith("application/json");
    ObjectNode envelope = Json.readObject(answer.body());
    // Anthropic's routes answer every error in Anthropic's shape, whatever the method or the path below them
    boolean anthropic = probe.route().envelope() == Envelope.ANTHROPIC && Boolean.TRUE.equals(served.get(probe.route()))
        && underAnthropicsRoutes(probe.path());
    if (anthropic) {
      assertThat(envelope.path("type").asText()).as("Anthropic's envelope: %s", what).isEqualTo("error");
      assertThat(envelope.path("error").path("type").isTextual()).as("error.type: %s", what).isTrue();
      assertThat(envelope.path("error").path("message").asText()).as("error.message: %s", what).isNotBlank();
    } else {
      JsonNode error = envelope.path("error");
      assertThat(error.isObject()).as("OpenAI's envelope: %s", what).isTrue();
      assertThat(error.path("message").asText()).as("error.message: %s", what).isNotBlank();
      assertThat(error.path("type").isTextual()).as("error.type: %s", what).isTrue();
      assertThat(error.has("param") && (error.get("param").isNull() || error.get("param").isTextual())).as("error.param: %s", what).isTrue();
      assertThat(error.path("code").isTextual()).as("error.code: %s", what).isTrue();
    }
  }
}

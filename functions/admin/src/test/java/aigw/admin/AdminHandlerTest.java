package aigw.admin;

import static aigw.admin.AdminApi.query;
import static org.assertj.core.api.Assertions.assertThat;

import aigw.admin.AdminApi.Outcome;
import aigw.admin.AdminApi.Reply;
import aigw.core.Gateway;
import aigw.core.GatewaySettings;
import aigw.core.keys.ApiKeys;
import aigw.core.secrets.StaticSecretSource;
import aigw.core.testing.Events;
import aigw.core.testing.LocalDynamo;
import aigw.core.testing.MutableClock;
import aigw.core.testing.TestGateways;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.cfg.JsonNodeFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The admin function driven the way Lambda drives it: API Gateway events in, HTTP answers out. */
class AdminHandlerTest {
  private static final String VIRTUAL = Events.EVENTS_VIRTUAL_KEY;
  /** Reads answers without rounding numbers to doubles, to see what a client that keeps digits sees. */
  private static final ObjectMapper EXACT =
      JsonMapper.builder()
          .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
          .disable(JsonNodeFeature.STRIP_TRAILING_BIGDECIMAL_ZEROES)
          .build();

  private AdminApi api;

  @BeforeEach
  void start() {
    api = new AdminApi();
  }

  @AfterEach
  void stop() {
    api.close();
  }

  /** Asserts the OpenAI error envelope: status, type, param, code = status, a message. */
  private static JsonNode assertError(Reply reply, int status, String type, String param) {
    assertThat(reply.status()).as("%s", reply).isEqualTo(status);
    JsonNode error = reply.error();
    assertThat(error.isObject()).as("error envelope in %s", reply).isTrue();
    assertThat(error.path("type").asText()).as("type in %s", reply).isEqualTo(type);
    if (param == null) {
      assertThat(error.get("param")).as("param in %s", reply).isNotNull();
      assertThat(error.get("param").isNull()).as("param is null in %s", reply).isTrue();
    } else {
      assertThat(error.path("param").asText()).as("param in %s", reply).isEqualTo(param);
    }
    assertThat(error.path("code").asText()).as("code in %s", reply).isEqualTo(Integer.toString(status));
    assertThat(error.path("message").asText()).as("message in %s", reply).isNotBlank();
    assertThat(reply.headers()).containsEntry("Content-Type", "application/json");
    return error;
  }

  private void storeEventsVirtualKey() {
    TestGateways.storeKey(api.gateway, VIRTUAL, List.of(), null, false);
  }

  private static List<String> texts(JsonNode array) {
    return StreamSupport.stream(array.spliterator(), false).map(JsonNode::asText).toList();
  }

  // ---------------------------------------------------------------------------------------------
  @Nested
  class Generate {
    @Test
    void eventCreatesAKeyThatStartsWithSkAndWorksForKeyInfo() {
      Reply reply = api.send("admin-key-generate.json");

      assertThat(reply.status()).as("%s", reply).isEqualTo(200);
      String key = reply.body().path("key").asText();
      assertThat(key).startsWith("sk-").hasSizeGreaterThan(40);
      assertThat(reply.body().path("key_alias").asText()).isEqualTo("example-app");
      assertThat(texts(reply.body().path("models"))).containsExactly("gpt-4o-mini");
      assertThat(reply.body().path("team_id").isNull()).as("no team: a team_id must name an existing team").isTrue();
      assertThat(reply.body().path("metadata").path("owner").asText()).isEqualTo("platform");
      assertThat(reply.body().path("token").asText()).isEqualTo(ApiKeys.hash(key));
      assertThat(reply.body().path("token_id").asText()).isEqualTo(ApiKeys.hash(key));
      assertThat(reply.body().path("blocked").asBoolean(true)).isFalse();

      JsonNode info = api.info(key);
      assertThat(info.path("key_alias").asText()).isEqualTo("example-app");
      assertThat(texts(info.path("models"))).containsExactly("gpt-4o-mini");
      assertThat(info.path("team_id").isNull()).isTrue();
      assertThat(info.path("metadata").path("owner").asText()).isEqualTo("platform");
      assertThat(info.path("key_id").asText()).isEqualTo(reply.body().path("key_id").asText()).isNotBlank();
      assertThat(api.onModelRoute(key)).isEqualTo(new Outcome(200, null));
    }

    @Test
    void everyGeneratedKeyIsDifferent() {
      Set<String> keys = new HashSet<>();
      for (int i = 0; i < 5; i++) {
        keys.add(api.generate("{}").path("key").asText());
      }
      assertThat(keys).hasSize(5).allSatisfy(k -> assertThat(k).startsWith("sk-"));
    }

    @Test
    void storedRowNeverContainsThePlaintextKey() {
      String key = api.send("admin-key-generate.json").body().path("key").asText();
      String custom = "sk-my-own-custom-key-0123456789";
      api.generate(Map.of("key", custom, "metadata", Map.of("note", "x")));

      List<String> stored = api.storedValues();
      assertThat(api.storedItems()).isEqualTo(2);
      assertThat(stored).isNotEmpty().contains(ApiKeys.hash(key), ApiKeys.hash(custom));
      assertThat(stored).noneMatch(value -> value.contains(key));
      assertThat(stored).noneMatch(value -> value.contains(custom));
    }

    @Test
    void keyNameShowsOnlyTheLastFourCharacters() {
      String key = api.generate("{}").path("key").asText();
      String expected = "sk-..." + key.substring(key.length() - 4);

      assertThat(api.info(key).path("key_name").asText()).isEqualTo(expected);
      assertThat(api.get("/key/list", query("return_full_object", "true")).body().path("keys").get(0).path("key_name").asText())
          .isEqualTo(expected);
    }

    @Test
    void withoutDurationTheKeyNeverExpires() {
      JsonNode body = api.generate("{}");
      assertThat(body.get("expires").isNull()).isTrue();

      api.clock.advance(Duration.ofDays(3650));
      assertThat(api.onModelRoute(body.path("key").asText()).status()).isEqualTo(200);
    }

    @Test
    void durationSetsExpiresFromNow() {
      JsonNode body = api.generate(Map.of("duration", "30d"));
      Instant expected = Instant.parse(AdminApi.START).plus(Duration.ofDays(30));

      assertThat(Instant.parse(body.path("expires").asText())).isEqualTo(expected);
      assertThat(Instant.parse(api.info(body.path("key").asText()).path("expires").asText())).isEqualTo(expected);
    }

    @Test
    void keyWorksUntilItsDurationRunsOutThenGets401ExpiredKey() {
      String key = api.generate(Map.of("duration", "1h")).path("key").asText();

      api.clock.advance(Duration.ofMinutes(59));
      assertThat(api.onModelRoute(key)).isEqualTo(new Outcome(200, null));

      api.clock.advance(Duration.ofMinutes(1));
      assertThat(api.onModelRoute(key)).isEqualTo(new Outcome(401, "expired_key"));
    }

    @Test
    void expiresInTheResponseIsTheExpiryThatIsStored() {
      // Lambda's clock has sub-second precision; the row keeps epoch seconds.
      try (var subSecond = new AdminApi(MutableClock.at("2026-11-23T05:30:00.750Z"))) {
        JsonNode body = subSecond.generate(Map.of("duration", "1h"));
        String key = body.path("key").asText();
        Instant shown = Instant.parse(body.path("expires").asText());

        assertThat(shown).isEqualTo(Instant.parse(subSecond.info(key).path("expires").asText()));
        subSecond.clock.advance(Duration.between(subSecond.clock.instant(), shown).minusNanos(1));
        assertThat(subSecond.onModelRoute(key).status()).as("still valid just before 'expires'").isEqualTo(200);
      }
    }

    @Test
    void customKeyIsAcceptedAndWorks() {
      String custom = "sk-team-a-0123456789abcdef";
      JsonNode body = api.generate(Map.of("key", custom, "key_alias", "custom"));

      assertThat(body.path("key").asText()).isEqualTo(custom);
      assertThat(body.path("key_name").asText()).isEqualTo("sk-...cdef");
      assertThat(api.info(custom).path("key_alias").asText()).isEqualTo("custom");
      assertThat(api.onModelRoute(custom).status()).isEqualTo(200);
    }

    @Test
    void customKeyOfExactlySixteenCharactersAfterSkIsAccepted() {
      String custom = "sk-" + "a".repeat(aigw.core.keys.KeyRules.MIN_CUSTOM_KEY_CHARS);
      assertThat(api.generate(Map.of("key", custom)).path("key").asText()).isEqualTo(custom);
    }

    @ParameterizedTest
    @ValueSource(strings = {"my-own-key-0123456789abcdef", "SK-0123456789abcdef0", "sk-short", "sk-0123456789abcde", "sk-"})
    void customKeyWithoutSkPrefixOrTooShortGets400(String custom) {
      Reply reply = api.post("/key/generate", Map.of("key", custom));

      JsonNode error = assertError(reply, 400, "invalid_request_error", "key");
      assertThat(error.path("message").asText()).contains("sk-").contains("16");
      assertThat(api.storedItems()).isZero();
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "sk-ключ-0000000000000000000000", // non-ASCII: re-encoded on the way, never matches
        "sk-with inner-space-0000000000", // a space ends a token68
        "sk-tab\there-000000000000000000",
        "sk-quote\"d-000000000000000000",
        "sk-comma,d-0000000000000000000",
        "sk-padding=inside-000000000000", // '=' only at the end
        "sk-del\u007f-00000000000000000000",
    })
    void customKeyThatCannotTravelInAnAuthorizationHeaderGets400NamingTheRule(String custom) {
      Reply reply = api.post("/key/generate", Map.of("key", custom));

      JsonNode error = assertError(reply, 400, "invalid_request_error", "key");
      assertThat(error.path("message").asText()).contains("token68").contains("A-Z a-z 0-9 - . _ ~ + /");
      assertThat(error.path("message").asText().substring(10)).as("the value is not echoed").doesNotContain(custom.substring(3));
      assertThat(api.storedItems()).isZero();
    }

    @Test
    void customKeyOfEveryToken68CharacterAndTrailingPaddingIsAcceptedAndAuthenticates() {
      String custom = "sk-AZaz09-._~+/abcdefgh==";
      assertThat(api.generate(Map.of("key", custom)).path("key").asText()).isEqualTo(custom);
      assertThat(api.onModelRoute(custom).status()).isEqualTo(200);
    }

    @Test
    void customKeyLongerThanTheMaximumGets400AndTheMaximumIsAccepted() {
      String longest = "sk-" + "a".repeat(ApiKeys.MAX_KEY_CHARS - 3);
      assertThat(api.generate(Map.of("key", longest)).path("key").asText()).isEqualTo(longest);

      JsonNode error = assertError(api.post("/key/generate", Map.of("key", longest + "b")), 400, "invalid_request_error", "key");
      assertThat(error.path("message").asText()).contains(Integer.toString(ApiKeys.MAX_KEY_CHARS));
      assertThat(api.storedItems()).isEqualTo(1);
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt-9", "GPT-4o", "gpt-4o-mini ", "anthropic/*", "claude-*", "all-team-models"})
    void modelsEntryThatAllowsNoModelGets400NamingTheEntry(String entry) {
      Reply reply = api.post("/key/generate", Map.of("models", List.of("gpt-4o-mini", entry)));

      JsonNode error = assertError(reply, 400, "invalid_request_error", "models");
      assertThat(error.path("message").asText()).contains("'" + entry + "'");
      assertThat(api.storedItems()).isZero();

      String key = api.generate(Map.of("models", List.of("gpt-4o-mini"))).path("key").asText();
      assertError(api.post("/key/update", Map.of("key", key, "models", List.of(entry))), 400, "invalid_request_error", "models");
      assertThat(texts(api.info(key).path("models"))).containsExactly("gpt-4o-mini");
    }

    @ParameterizedTest
    @ValueSource(strings = {"*", "all-proxy-models", "openai/*", "ollama/*", "gpt-4o*", "*-mini", "llama3.2"})
    void modelsEntriesThatLiteLlmSupportsAreAcceptedAndAuthorizeAlike(String entry) {
      JsonNode created = api.generate(Map.of("models", List.of(entry)));
      assertThat(texts(created.path("models"))).containsExactly(entry);
      assertThat(api.onModelRoute(created.path("key").asText()).status()).isEqualTo(200);
    }

    @Test
    void customKeyEqualToTheMasterKeyGets400SoTheMasterKeyCannotBecomeAVirtualKey() {
      Reply reply = api.post("/key/generate", Map.of("key", AdminApi.MASTER));

      assertError(reply, 400, "invalid_request_error", "key");
      assertThat(api.storedItems()).isZero();
      assertThat(api.storedValues()).doesNotContain(ApiKeys.hash(AdminApi.MASTER));
    }

    @ParameterizedTest
    @ValueSource(strings = {" sk-0123456789abcdef0123", "sk-0123456789abcdef0123 ", "sk-0123456789abcdef0123\n"})
    void customKeyWithSurroundingWhitespaceGets400BecauseItCouldNeverBePresented(String custom) {
      Reply reply = api.post("/key/generate", Map.of("key", custom));

      assertError(reply, 400, "invalid_request_error", "key");
      assertThat(api.storedItems()).isZero();
    }

    @Test
    void sameCustomKeyTwiceGets400AndKeepsTheFirst() {
      String custom = "sk-0123456789abcdef0123";
      api.post("/team/new", Map.of("team_id", "first"));
      api.post("/team/new", Map.of("team_id", "second"));
      api.generate(Map.of("key", custom, "team_id", "first"));

      Reply reply = api.post("/key/generate", Map.of("key", custom, "team_id", "second"));

      assertError(reply, 400, "invalid_request_error", "key");
      assertThat(api.info(custom).path("team_id").asText()).isEqualTo("first");
      assertThat(api.storedItems()).isEqualTo(1);
    }

    @Test
    void duplicateKeyAliasGets400NamingKeyAlias() {
      api.send("admin-key-generate.json");

      Reply reply = api.send("admin-key-generate.json");

      JsonNode error = assertError(reply, 400, "invalid_request_error", "key_alias");
      assertThat(error.path("message").asText()).contains("example-app");
      assertThat(api.storedItems()).isEqualTo(1);
    }

    /** NUL, ESC, a zero-width space, a bidirectional override and a lone surrogate: each 400 naming key_alias, nothing stored. */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"d\\u0000up", "d\\u001bup", "d\\u200bup", "d\\u202eup", "d\\ud800up", "dup\\n"})
    void keyAliasWithControlFormatOrUnpairedSurrogateGets400(String escaped) {
      Reply reply = api.post("/key/generate", "{\"key_alias\":\"" + escaped + "\"}");

      JsonNode error = assertError(reply, 400, "invalid_request_error", "key_alias");
      assertThat(error.path("message").asText()).contains("'key_alias' must not contain").contains("U+");
      assertThat(api.storedItems()).isZero();
      assertError(api.post("/key/delete", "{\"key_aliases\":[\"" + escaped + "\"]}"), 400, "invalid_request_error", "key_aliases");
    }

    /** café precomposed (NFC) and with a combining accent (NFD) are one alias: stored in NFC, the second is a duplicate. */
    @Test
    void keyAliasIsStoredInNfcSoCanonicallyEqualAliasesAreDuplicates() {
      JsonNode first = api.generate("{\"key_alias\":\"cafe\\u0301\"}"); // NFD
      assertThat(first.path("key_alias").asText()).isEqualTo("caf\u00e9");

      Reply second = api.post("/key/generate", "{\"key_alias\":\"caf\\u00e9\"}"); // NFC
      assertError(second, 400, "invalid_request_error", "key_alias");
      assertThat(api.storedItems()).isEqualTo(1);
      // Case and spaces are kept, as LiteLLM compares aliases exactly.
      assertThat(api.generate(Map.of("key_alias", "CAF\u00c9")).path("key_alias").asText()).isEqualTo("CAF\u00c9");
      assertThat(texts(api.get("/key/list", query("key_alias", "cafe\u0301")).body().path("keys"))).hasSize(1);
    }

    @Test
    void blankKeyAliasGets400NotA5xx() {
      Reply reply = api.post("/key/generate", Map.of("key_alias", ""));

      assertError(reply, 400, "invalid_request_error", "key_alias");
      assertThat(api.storedItems()).isZero();
    }

    @Test
    void generatedBlockedKeyIsRefusedOnModelRoutes() {
      JsonNode body = api.generate(Map.of("blocked", true));

      assertThat(body.path("blocked").asBoolean()).isTrue();
      assertThat(api.onModelRoute(body.path("key").asText())).isEqualTo(new Outcome(401, "auth_error"));
    }

    @Test
    void createdAtAndUpdatedAtAreTheClocksTime() {
      JsonNode body = api.generate("{}");
      assertThat(body.path("created_at").asText()).isEqualTo(AdminApi.START);
      assertThat(body.path("updated_at").asText()).isEqualTo(AdminApi.START);
    }

    @Test
    void usageCountersStartAtZero() {
      JsonNode info = api.info(api.generate("{}").path("key").asText());
      assertThat(info.path("request_count").asLong(-1)).isZero();
      assertThat(info.path("total_tokens").asLong(-1)).isZero();
      assertThat(info.get("last_used_at").isNull()).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"30", "30x", "1.5h", "-1d", "thirty days", "30 d", "1D"})
    void malformedDurationGets400NamingDuration(String duration) {
      Reply reply = api.post("/key/generate", Map.of("duration", duration));

      assertError(reply, 400, "invalid_request_error", "duration");
      assertThat(api.storedItems()).isZero();
    }

    @ParameterizedTest
    @ValueSource(strings = {"99999999999999999999d", "2000000000y", "9223372036854775807s", "9223372036854775807w"})
    void absurdlyLongDurationGets400NotA500(String duration) {
      Reply reply = api.post("/key/generate", Map.of("duration", duration));

      assertError(reply, 400, "invalid_request_error", "duration");
      assertThat(api.storedItems()).isZero();
    }

    @Test
    void wronglyTypedFieldsGet400NamingTheField() {
      assertError(api.post("/key/generate", "{\"models\": \"gpt-4o\"}"), 400, "invalid_request_error", "models");
      assertError(api.post("/key/generate", "{\"models\": [\"\"]}"), 400, "invalid_request_error", "models");
      assertError(api.post("/key/generate", "{\"models\": [1]}"), 400, "invalid_request_error", "models");
      assertError(api.post("/key/generate", "{\"blocked\": \"yes\"}"), 400, "invalid_request_error", "blocked");
      assertError(api.post("/key/generate", "{\"metadata\": [1]}"), 400, "invalid_request_error", "metadata");
      assertError(api.post("/key/generate", "{\"key_alias\": 7}"), 400, "invalid_request_error", "key_alias");
      assertError(api.post("/key/generate", "{\"duration\": 30}"), 400, "invalid_request_error", "duration");
      assertThat(api.storedItems()).isZero();
    }

    @Test
    void nullFieldsAreTakenAsAbsent() {
      JsonNode body = api.generate("{\"key_alias\": null, \"models\": null, \"duration\": null, \"metadata\": null}");
      assertThat(body.get("key_alias").isNull()).isTrue();
      assertThat(body.path("models").isArray()).isTrue();
      assertThat(body.path("models").size()).isZero();
      assertThat(body.get("expires").isNull()).isTrue();
    }

    /**
     * Issue 12: metadata came back as {"b":0.1,"c":"Infinity","e":100.0}, read through doubles. Every number
     * must survive generate, DynamoDB and /key/info as given: more digits than a double holds, a value
     * beyond a double's range, exponent forms, trailing zeros, integers past a long, nested.
     */
    @Test
    void metadataNumbersComeBackAsGivenThroughStorage() throws Exception {
      String metadata =
          "{\"b\":0.1000000000000000055511151231257827,\"c\":1e400,\"e\":1E+2,\"z\":1.50,"
              + "\"big\":123456789012345678901234567890,\"nested\":{\"list\":[-2.5e-400,7]}}";
      Reply generated = api.post("/key/generate", "{\"metadata\": " + metadata + "}");
      assertThat(generated.status()).as("%s", generated).isEqualTo(200);
      Reply info = api.get("/key/info", query("key", generated.body().path("key").asText()));
      assertThat(info.status()).as("%s", info).isEqualTo(200);

      for (String text : List.of(generated.text(), info.text())) {
        JsonNode root = EXACT.readTree(text);
        JsonNode returned = root.has("info") ? root.path("info").path("metadata") : root.path("metadata");
        JsonNode given = EXACT.readTree(metadata);
        assertThat(returned.path("c").isNumber()).as("1e400 is still a number in %s", text).isTrue();
        for (String name : List.of("b", "c", "e", "z", "big")) {
          assertThat(returned.path(name).decimalValue()).as("%s in %s", name, text).isEqualByComparingTo(given.path(name).decimalValue());
        }
        assertThat(returned.path("z").decimalValue().scale()).as("1.50 keeps its trailing zero in %s", text).isEqualTo(2);
        assertThat(returned.path("nested").path("list").get(0).decimalValue()).isEqualByComparingTo("-2.5e-400");
        assertThat(returned.path("nested").path("list").get(1).asInt()).isEqualTo(7);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  @Nested
  class Info {
    @Test
    void eventGetsTheStoredKeyByItsValue() {
      storeEventsVirtualKey();

      Reply reply = api.send("admin-key-info.json");

      assertThat(reply.status()).as("%s", reply).isEqualTo(200);
      assertThat(reply.body().path("key").asText()).isEqualTo(VIRTUAL);
      assertThat(reply.body().path("info").path("key_name").asText()).isEqualTo(ApiKeys.mask(VIRTUAL));
      assertThat(reply.body().path("info").has("token")).isFalse();
    }

    @Test
    void infoShowsHowManyRequestsWereCountedWithEstimatedTokens() {
      String key = api.generate(Map.of()).path("key").asText();
      String keyId = api.gateway.keyStore().findByHash(ApiKeys.hash(key)).orElseThrow().keyId();
      var now = api.clock.instant();
      api.gateway.usage().record(keyId, aigw.core.usage.UsageDelta.oneRequest(new aigw.core.usage.TokenUsage(7, 3, 10), now));
      api.gateway.usage().record(keyId, aigw.core.usage.UsageDelta.oneEstimatedRequest(new aigw.core.usage.TokenUsage(5, 2, 7), now));

      JsonNode info = api.get("/key/info", query("key", key)).body().path("info");

      assertThat(info.path("request_count").asLong()).isEqualTo(2);
      assertThat(info.path("total_tokens").asLong()).isEqualTo(17);
      assertThat(info.path("estimated_request_count").asLong()).isEqualTo(1);
    }

    @Test
    void keyCanBeNamedByItsHash() {
      String key = api.generate(Map.of("key_alias", "by-hash")).path("key").asText();
      String hash = ApiKeys.hash(key);

      Reply reply = api.get("/key/info", query("key", hash));

      assertThat(reply.status()).as("%s", reply).isEqualTo(200);
      assertThat(reply.body().path("key").asText()).isEqualTo(hash);
      assertThat(reply.body().path("info").path("key_alias").asText()).isEqualTo("by-hash");
    }

    @Test
    void unknownKeyGets404WithoutEchoingTheKey() {
      String unknown = "sk-this-key-was-never-created-1234";

      Reply reply = api.get("/key/info", query("key", unknown));

      JsonNode error = assertError(reply, 404, "not_found_error", "key");
      assertThat(error.path("message").asText()).contains("sk-...1234").doesNotContain(unknown);
    }

    @Test
    void unknownHashGets404() {
      assertError(api.get("/key/info", query("key", "0".repeat(64))), 404, "not_found_error", "key");
    }

    @Test
    void missingKeyParameterGets400() {
      assertError(api.get("/key/info", null), 400, "invalid_request_error", "key");
      assertError(api.get("/key/info", query("key", " ")), 400, "invalid_request_error", "key");
    }

    @Test
    void unknownQueryParameterGets400NamingIt() {
      storeEventsVirtualKey();
      JsonNode error = assertError(api.get("/key/info", query("key", VIRTUAL, "verbose", "1")), 400, "invalid_request_error", "verbose");
      assertThat(error.path("message").asText()).contains("verbose");
    }
  }

  // ---------------------------------------------------------------------------------------------
  @Nested
  class ListKeys {
    /** Creates keys one second apart, so created_at orders them. */
    private List<String> createKeys(int count, Map<String, String> fields) {
      var keys = new ArrayList<String>();
      for (int i = 0; i < count; i++) {
        keys.add(api.generate(fields).path("key").asText());
        api.clock.advance(Duration.ofSeconds(1));
      }
      return keys;
    }

    private List<String> hashes(List<String> keys) {
      return keys.stream().map(ApiKeys::hash).toList();
    }

    @Test
    void eventListsHashesNeverKeys() {
      List<String> keys = createKeys(3, Map.of());

      Reply reply = api.send("admin-key-list.json");

      assertThat(reply.status()).as("%s", reply).isEqualTo(200);
      assertThat(texts(reply.body().path("keys"))).containsExactlyInAnyOrderElementsOf(hashes(keys));
      assertThat(reply.body().path("total_count").asInt()).isEqualTo(3);
      assertThat(reply.body().path("current_page").asInt()).isEqualTo(1);
      assertThat(reply.body().path("total_pages").asInt()).isEqualTo(1);
      keys.forEach(k -> assertThat(reply.text()).doesNotContain(k));
    }

    @Test
    void emptyTableListsNothing() {
      Reply reply = api.get("/key/list", null);

      assertThat(reply.status()).isEqualTo(200);
      assertThat(reply.body().path("keys").size()).isZero();
      assertThat(reply.body().path("total_count").asInt(-1)).isZero();
      assertThat(reply.body().path("total_pages").asInt(-1)).isZero();
    }

    @Test
    void pagesWalkEveryKeyOnceNewestFirst() {
      List<String> newestFirst = hashes(createKeys(7, Map.of())).reversed();

      Reply first = api.get("/key/list", query("page", "1", "size", "3"));
      Reply second = api.get("/key/list", query("page", "2", "size", "3"));
      Reply third = api.get("/key/list", query("page", "3", "size", "3"));
      Reply beyond = api.get("/key/list", query("page", "4", "size", "3"));

      assertThat(texts(first.body().path("keys"))).containsExactlyElementsOf(newestFirst.subList(0, 3));
      assertThat(texts(second.body().path("keys"))).containsExactlyElementsOf(newestFirst.subList(3, 6));
      assertThat(texts(third.body().path("keys"))).containsExactlyElementsOf(newestFirst.subList(6, 7));
      assertThat(beyond.status()).isEqualTo(200);
      assertThat(beyond.body().path("keys").size()).isZero();
      for (Reply page : List.of(first, second, third, beyond)) {
        assertThat(page.body().path("total_count").asInt()).isEqualTo(7);
        assertThat(page.body().path("total_pages").asInt()).isEqualTo(3);
      }
      assertThat(second.body().path("current_page").asInt()).isEqualTo(2);
    }

    @Test
    void defaultPageSizeIsTen() {
      createKeys(12, Map.of());
      Reply reply = api.get("/key/list", null);
      assertThat(reply.body().path("keys").size()).isEqualTo(10);
      assertThat(reply.body().path("total_pages").asInt()).isEqualTo(2);
    }

    @Test
    void sortOrderAscListsOldestFirst() {
      List<String> oldestFirst = hashes(createKeys(3, Map.of()));
      Reply reply = api.get("/key/list", query("sort_by", "created_at", "sort_order", "asc"));
      assertThat(texts(reply.body().path("keys"))).containsExactlyElementsOf(oldestFirst);
    }

    @Test
    void sortByKeyAlias() {
      String b = api.generate(Map.of("key_alias", "bravo")).path("key").asText();
      String a = api.generate(Map.of("key_alias", "alpha")).path("key").asText();
      String c = api.generate(Map.of("key_alias", "charlie")).path("key").asText();

      Reply reply = api.get("/key/list", query("sort_by", "key_alias", "sort_order", "asc"));

      assertThat(texts(reply.body().path("keys"))).containsExactlyElementsOf(hashes(List.of(a, b, c)));
    }

    @Test
    void filtersByTeamIdUserIdAndKeyAlias() {
      api.post("/team/new", Map.of("team_id", "team-a"));
      api.post("/team/new", Map.of("team_id", "team-b"));
      String teamA = api.generate(Map.of("team_id", "team-a", "user_id", "ann", "key_alias", "a1")).path("key").asText();
      String teamA2 = api.generate(Map.of("team_id", "team-a", "user_id", "bob", "key_alias", "a2")).path("key").asText();
      String teamB = api.generate(Map.of("team_id", "team-b", "user_id", "ann", "key_alias", "b1")).path("key").asText();

      assertThat(texts(api.get("/key/list", query("team_id", "team-a")).body().path("keys")))
          .containsExactlyInAnyOrderElementsOf(hashes(List.of(teamA, teamA2)));
      assertThat(texts(api.get("/key/list", query("user_id", "ann")).body().path("keys")))
          .containsExactlyInAnyOrderElementsOf(hashes(List.of(teamA, teamB)));
      assertThat(texts(api.get("/key/list", query("key_alias", "b1")).body().path("keys")))
          .containsExactly(ApiKeys.hash(teamB));
      assertThat(texts(api.get("/key/list", query("team_id", "team-a", "user_id", "bob")).body().path("keys")))
          .containsExactly(ApiKeys.hash(teamA2));
      assertThat(texts(api.get("/key/list", query("key_hash", ApiKeys.hash(teamA))).body().path("keys")))
          .containsExactly(ApiKeys.hash(teamA));
      Reply none = api.get("/key/list", query("team_id", "team-z"));
      assertThat(none.body().path("keys").size()).isZero();
      assertThat(none.body().path("total_count").asInt(-1)).isZero();
    }

    @Test
    void returnFullObjectGivesRowsWithTokenButNoKey() {
      api.post("/team/new", Map.of("team_id", "t"));
      String key = api.generate(Map.of("key_alias", "full", "team_id", "t")).path("key").asText();

      Reply reply = api.get("/key/list", query("return_full_object", "true"));

      JsonNode row = reply.body().path("keys").get(0);
      assertThat(row.isObject()).isTrue();
      assertThat(row.path("token").asText()).isEqualTo(ApiKeys.hash(key));
      assertThat(row.path("key_alias").asText()).isEqualTo("full");
      assertThat(row.path("team_id").asText()).isEqualTo("t");
      assertThat(row.has("key")).isFalse();
      assertThat(reply.text()).doesNotContain(key);
    }

    @ParameterizedTest
    @ValueSource(strings = {"101", "0", "-1", "ten", "1.5"})
    void sizeOutsideOneToHundredGets400(String size) {
      assertError(api.get("/key/list", query("size", size)), 400, "invalid_request_error", "size");
    }

    @Test
    void sizeOfExactlyHundredIsAccepted() {
      assertThat(api.get("/key/list", query("size", "100")).status()).isEqualTo(200);
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "-3", "first"})
    void badPageGets400(String page) {
      assertError(api.get("/key/list", query("page", page)), 400, "invalid_request_error", "page");
    }

    @Test
    void unknownQueryParameterGets400NamingIt() {
      JsonNode error = assertError(api.get("/key/list", query("colour", "blue")), 400, "invalid_request_error", "colour");
      assertThat(error.path("message").asText()).contains("colour");
    }

    @Test
    void liteLlmQueryParameterNotImplementedGets400SayingSo() {
      JsonNode error =
          assertError(api.get("/key/list", query("organization_id", "org")), 400, "invalid_request_error", "organization_id");
      assertThat(error.path("message").asText()).contains("not supported");
    }

    @Test
    void badSortGets400() {
      assertError(api.get("/key/list", query("sort_by", "spend")), 400, "invalid_request_error", "sort_by");
      assertError(api.get("/key/list", query("sort_order", "up")), 400, "invalid_request_error", "sort_order");
    }
  }

  // ---------------------------------------------------------------------------------------------
  @Nested
  class Update {
    @Test
    void eventChangesModelsAndMetadataAndMovesUpdatedAt() {
      storeEventsVirtualKey();
      api.clock.advance(Duration.ofMinutes(5));

      Reply reply = api.send("admin-key-update.json");

      assertThat(reply.status()).as("%s", reply).isEqualTo(200);
      assertThat(texts(reply.body().path("models"))).containsExactly("gpt-4o-mini", "text-embedding-3-small");
      JsonNode info = api.info(VIRTUAL);
      assertThat(texts(info.path("models"))).containsExactly("gpt-4o-mini", "text-embedding-3-small");
      assertThat(info.path("metadata").path("app").asText()).isEqualTo("example");
      assertThat(info.path("metadata").path("owner").asText()).isEqualTo("platform");
      assertThat(info.path("created_at").asText()).isEqualTo(AdminApi.START);
      assertThat(info.path("updated_at").asText()).isEqualTo("2026-11-23T05:35:00Z");
    }

    @Test
    void changesOnlyTheFieldsSent() {
      api.post("/team/new", Map.of("team_id", "team-a"));
      api.post("/team/new", Map.of("team_id", "team-b"));
      String key =
          api.generate(Map.of("key_alias", "old", "team_id", "team-a", "user_id", "ann", "models", List.of("m1")))
              .path("key").asText();

      Reply reply = api.post("/key/update", Map.of("key", key, "team_id", "team-b", "key_alias", "new"));

      assertThat(reply.status()).as("%s", reply).isEqualTo(200);
      JsonNode info = api.info(key);
      assertThat(info.path("team_id").asText()).isEqualTo("team-b");
      assertThat(info.path("key_alias").asText()).isEqualTo("new");
      assertThat(info.path("user_id").asText()).isEqualTo("ann");
      assertThat(texts(info.path("models"))).containsExactly("m1");
      assertThat(texts(api.get("/key/list", query("key_alias", "old")).body().path("keys"))).isEmpty();
    }

    @Test
    void infoShowsHowManyRequestsWereCountedWithEstimatedTokens() {
      String key = api.generate(Map.of()).path("key").asText();
      String keyId = api.gateway.keyStore().findByHash(ApiKeys.hash(key)).orElseThrow().keyId();
      var now = api.clock.instant();
      api.gateway.usage().record(keyId, aigw.core.usage.UsageDelta.oneRequest(new aigw.core.usage.TokenUsage(7, 3, 10), now));
      api.gateway.usage().record(keyId, aigw.core.usage.UsageDelta.oneEstimatedRequest(new aigw.core.usage.TokenUsage(5, 2, 7), now));

      JsonNode info = api.get("/key/info", query("key", key)).body().path("info");

      assertThat(info.path("request_count").asLong()).isEqualTo(2);
      assertThat(info.path("total_tokens").asLong()).isEqualTo(17);
      assertThat(info.path("estimated_request_count").asLong()).isEqualTo(1);
    }

    @Test
    void keyCanBeNamedByItsHash() {
      String key = api.generate("{}").path("key").asText();

      Reply reply = api.post("/key/update", Map.of("key", ApiKeys.hash(key), "user_id", "by-hash"));

      assertThat(reply.status()).as("%s", reply).isEqualTo(200);
      assertThat(api.info(key).path("user_id").asText()).isEqualTo("by-hash");
    }

    @Test
    void durationRenewsTheExpiryFromNow() {
      String key = api.generate(Map.of("duration", "1h")).path("key").asText();
      api.clock.advance(Duration.ofMinutes(50));

      Reply reply = api.post("/key/update", Map.of("key", key, "duration", "1d"));

      Instant expected = Instant.parse(AdminApi.START).plus(Duration.ofMinutes(50)).plus(Duration.ofDays(1));
      assertThat(Instant.parse(reply.body().path("expires").asText())).isEqualTo(expected);
      api.clock.advance(Duration.ofHours(2));
      assertThat(api.onModelRoute(key).status()).isEqualTo(200);
    }

    @Test
    void blockedThroughUpdateAppliesAtOnceEvenAfterTheKeyWasCached() {
      String key = api.generate(Map.of("models", List.of("m1"))).path("key").asText();
      assertThat(api.onModelRoute(key).status()).isEqualTo(200); // now cached in this container

      api.post("/key/update", Map.of("key", key, "blocked", true));

      assertThat(api.onModelRoute(key)).isEqualTo(new Outcome(401, "auth_error"));
    }

    @Test
    void unknownKeyGets404AndCreatesNothing() {
      Reply reply = api.post("/key/update", Map.of("key", "sk-never-created-key-abcdef0123", "team_id", "x"));

      assertError(reply, 404, "not_found_error", "key");
      assertThat(api.storedItems()).isZero();
    }

    @Test
    void missingKeyGets400() {
      assertError(api.post("/key/update", Map.of("team_id", "x")), 400, "invalid_request_error", "key");
    }

    @Test
    void aliasOfAnotherKeyGets400AndChangesNothing() {
      api.post("/team/new", Map.of("team_id", "x"));
      api.generate(Map.of("key_alias", "taken"));
      String key = api.generate(Map.of("key_alias", "mine")).path("key").asText();

      Reply reply = api.post("/key/update", Map.of("key", key, "key_alias", "taken", "team_id", "x"));

      assertError(reply, 400, "invalid_request_error", "key_alias");
      assertThat(api.info(key).path("key_alias").asText()).isEqualTo("mine");
      assertThat(api.info(key).get("team_id").isNull()).isTrue();
    }

    @Test
    void keepingItsOwnAliasIsAllowed() {
      api.post("/team/new", Map.of("team_id", "t"));
      String key = api.generate(Map.of("key_alias", "mine")).path("key").asText();
      Reply reply = api.post("/key/update", Map.of("key", key, "key_alias", "mine", "team_id", "t"));
      assertThat(reply.status()).as("%s", reply).isEqualTo(200);
      assertThat(api.info(key).path("team_id").asText()).isEqualTo("t");
    }

    @Test
    void blankAliasGets400NotA5xxAndChangesNothing() {
      String key = api.generate(Map.of("key_alias", "mine")).path("key").asText();

      assertError(api.post("/key/update", Map.of("key", key, "key_alias", " ")), 400, "invalid_request_error", "key_alias");
      assertThat(api.info(key).path("key_alias").asText()).isEqualTo("mine");
    }

    @Test
    void absurdlyLongDurationGets400NotA500() {
      String key = api.generate(Map.of("duration", "1d")).path("key").asText();
      String before = api.info(key).path("expires").asText();

      assertError(api.post("/key/update", Map.of("key", key, "duration", "9223372036854775807y")), 400, "invalid_request_error", "duration");
      assertThat(api.info(key).path("expires").asText()).isEqualTo(before);
    }

    @Test
    void unknownFieldGets400NamingIt() {
      String key = api.generate("{}").path("key").asText();
      JsonNode error = assertError(api.post("/key/update", Map.of("key", key, "colour", "red")), 400, "invalid_request_error", "colour");
      assertThat(error.path("message").asText()).contains("colour");
    }
  }

  // ---------------------------------------------------------------------------------------------
  @Nested
  class BlockAndUnblock {
    @Test
    void blockedKeyGets401AuthErrorOnModelRoutesAndUnblockRestoresIt() {
      storeEventsVirtualKey();
      assertThat(api.onModelRoute(VIRTUAL).status()).isEqualTo(200); // cached in this container

      Reply blocked = api.send("admin-key-block.json");

      assertThat(blocked.status()).as("%s", blocked).isEqualTo(200);
      assertThat(blocked.body().path("blocked").asBoolean()).isTrue();
      assertThat(api.info(VIRTUAL).path("blocked").asBoolean()).isTrue();
      assertThat(api.onModelRoute(VIRTUAL)).isEqualTo(new Outcome(401, "auth_error"));

      Reply unblocked = api.send("admin-key-unblock.json");

      assertThat(unblocked.status()).as("%s", unblocked).isEqualTo(200);
      assertThat(unblocked.body().path("blocked").asBoolean(true)).isFalse();
      assertThat(api.info(VIRTUAL).path("blocked").asBoolean(true)).isFalse();
      assertThat(api.onModelRoute(VIRTUAL)).isEqualTo(new Outcome(200, null));
    }

    @Test
    void blockByHashWorks() {
      String key = api.generate("{}").path("key").asText();

      assertThat(api.post("/key/block", Map.of("key", ApiKeys.hash(key))).status()).isEqualTo(200);

      assertThat(api.onModelRoute(key)).isEqualTo(new Outcome(401, "auth_error"));
    }

    @Test
    void blockingAnUnknownKeyGets404() {
      assertError(api.send("admin-key-block.json"), 404, "not_found_error", "key");
      assertError(api.send("admin-key-unblock.json"), 404, "not_found_error", "key");
      assertThat(api.storedItems()).isZero();
    }

    @Test
    void blockTakesOnlyTheKey() {
      storeEventsVirtualKey();
      Reply reply = api.post("/key/block", Map.of("key", VIRTUAL, "team_id", "x"));
      assertError(reply, 400, "invalid_request_error", "team_id");
      assertThat(api.info(VIRTUAL).path("blocked").asBoolean(true)).isFalse();
    }

    @Test
    void blockedVirtualKeyOnAdminRouteGets401() {
      TestGateways.storeKey(api.gateway, VIRTUAL, List.of(), null, true);
      assertError(api.send("admin-key-generate-refused-for-virtual-key.json"), 401, "auth_error", null);
    }
  }

  // ---------------------------------------------------------------------------------------------
  @Nested
  class Delete {
    @Test
    void eventDeletesTheKeyWhichThenGets401OnModelRoutes() {
      storeEventsVirtualKey();
      assertThat(api.onModelRoute(VIRTUAL).status()).isEqualTo(200); // cached in this container

      Reply reply = api.send("admin-key-delete.json");

      assertThat(reply.status()).as("%s", reply).isEqualTo(200);
      assertThat(texts(reply.body().path("deleted_keys"))).containsExactly(VIRTUAL);
      assertThat(api.storedItems()).isZero();
      assertError(api.send("admin-key-info.json"), 404, "not_found_error", "key");
      assertThat(api.onModelRoute(VIRTUAL)).isEqualTo(new Outcome(401, "token_not_found_in_db"));
    }

    @Test
    void deletesByKeyAliasesAndKeepsTheOthers() {
      String a = api.generate(Map.of("key_alias", "a")).path("key").asText();
      String b = api.generate(Map.of("key_alias", "b")).path("key").asText();
      String c = api.generate(Map.of("key_alias", "c")).path("key").asText();

      Reply reply = api.post("/key/delete", Map.of("key_aliases", List.of("a", "b")));

      assertThat(reply.status()).as("%s", reply).isEqualTo(200);
      assertThat(texts(reply.body().path("deleted_keys"))).containsExactly("a", "b");
      assertError(api.get("/key/info", query("key", a)), 404, "not_found_error", "key");
      assertError(api.get("/key/info", query("key", b)), 404, "not_found_error", "key");
      assertThat(api.info(c).path("key_alias").asText()).isEqualTo("c");
    }

    @Test
    void deletesByKeysHashesAndAliasesTogether() {
      String a = api.generate("{}").path("key").asText();
      String b = api.generate("{}").path("key").asText();
      api.generate(Map.of("key_alias", "c"));

      Reply reply = api.post("/key/delete", Map.of("keys", List.of(a, ApiKeys.hash(b)), "key_aliases", List.of("c")));

      assertThat(reply.status()).as("%s", reply).isEqualTo(200);
      assertThat(api.storedItems()).isZero();
    }

    @Test
    void aKeyNamedTwiceIsDeletedOnce() {
      String a = api.generate(Map.of("key_alias", "a")).path("key").asText();

      Reply reply = api.post("/key/delete", Map.of("keys", List.of(a, ApiKeys.hash(a)), "key_aliases", List.of("a")));

      assertThat(reply.status()).as("%s", reply).isEqualTo(200);
      assertThat(api.storedItems()).isZero();
    }

    @Test
    void oneMissingKeyGets404AndNothingIsDeleted() {
      String a = api.generate("{}").path("key").asText();
      String b = api.generate("{}").path("key").asText();
      String missing = "sk-this-key-does-not-exist-wxyz";

      Reply reply = api.post("/key/delete", Map.of("keys", List.of(a, missing, b)));

      JsonNode error = assertError(reply, 404, "not_found_error", "keys");
      assertThat(error.path("message").asText()).contains("sk-...wxyz").doesNotContain(missing);
      assertThat(api.storedItems()).isEqualTo(2);
      assertThat(api.onModelRoute(a).status()).isEqualTo(200);
      assertThat(api.onModelRoute(b).status()).isEqualTo(200);
    }

    @Test
    void oneMissingAliasGets404AndNothingIsDeleted() {
      String a = api.generate(Map.of("key_alias", "a")).path("key").asText();

      Reply reply = api.post("/key/delete", Map.of("keys", List.of(a), "key_aliases", List.of("no-such-alias")));

      JsonNode error = assertError(reply, 404, "not_found_error", "key_aliases");
      assertThat(error.path("message").asText()).contains("no-such-alias");
      assertThat(api.storedItems()).isEqualTo(1);
    }

    @Test
    void deletingTheSameKeyTwiceGets404TheSecondTime() {
      storeEventsVirtualKey();
      assertThat(api.send("admin-key-delete.json").status()).isEqualTo(200);
      assertError(api.send("admin-key-delete.json"), 404, "not_found_error", "keys");
    }

    @Test
    void nothingToDeleteGets400() {
      assertError(api.post("/key/delete", "{}"), 400, "invalid_request_error", "keys");
      assertError(api.post("/key/delete", Map.of("keys", List.of())), 400, "invalid_request_error", "keys");
    }

    @Test
    void moreKeysThanOneTransactionHoldsGets400AndNothingIsDeleted() {
      String kept = api.generate("{}").path("key").asText();
      var keys = new ArrayList<String>(List.of(kept));
      IntStream.range(0, 50).forEach(i -> keys.add("sk-unknown-key-number-" + i + "-padding"));

      Reply reply = api.post("/key/delete", Map.of("keys", keys));

      assertError(reply, 400, "invalid_request_error", "keys");
      assertThat(api.storedItems()).isEqualTo(1);
    }

    @Test
    void unknownFieldGets400() {
      assertError(api.post("/key/delete", Map.of("key", "sk-0123456789abcdef0123")), 400, "invalid_request_error", "key");
    }
  }

  // ---------------------------------------------------------------------------------------------
  @Nested
  class Authentication {
    @Test
    void virtualKeyOnAdminRouteGets403AndCreatesNothing() {
      storeEventsVirtualKey();

      Reply reply = api.send("admin-key-generate-refused-for-virtual-key.json");

      assertError(reply, 403, "auth_error", null);
      assertThat(api.storedItems()).isEqualTo(1);
      assertThat(api.get("/key/list", query("key_alias", "not-allowed")).body().path("total_count").asInt(-1)).isZero();
    }

    @Test
    void virtualKeyGets403OnEveryKeyRoute() {
      storeEventsVirtualKey();
      for (String event : List.of("admin-key-info.json", "admin-key-list.json", "admin-key-update.json", "admin-key-block.json", "admin-key-delete.json")) {
        assertError(api.send(Events.withKey(Events.load(event), VIRTUAL)), 403, "auth_error", null);
      }
      assertThat(api.info(VIRTUAL).path("blocked").asBoolean(true)).isFalse();
      assertThat(api.storedItems()).isEqualTo(1);
    }

    @Test
    void expiredVirtualKeyOnAdminRouteGets401ExpiredKey() {
      TestGateways.storeKey(api.gateway, VIRTUAL, List.of(), Instant.parse(AdminApi.START).minusSeconds(1), false);
      assertError(api.send("admin-key-generate-refused-for-virtual-key.json"), 401, "expired_key", "key");
    }

    @Test
    void noKeyGets401() {
      Reply reply = api.send(Events.withKey(Events.load("admin-key-generate.json"), null));

      assertError(reply, 401, "auth_error", null);
      assertThat(api.storedItems()).isZero();
    }

    @Test
    void wrongKeyGets401TokenNotFoundInDbWithoutEchoingIt() {
      String wrong = "sk-wrong-master-key-guess-9876";

      Reply reply = api.send(Events.withKey(Events.load("admin-key-list.json"), wrong));

      JsonNode error = assertError(reply, 401, "token_not_found_in_db", "key");
      assertThat(error.path("message").asText()).contains("sk-...9876").doesNotContain(wrong);
    }

    @Test
    void malformedAuthorizationHeaderGets401() {
      var event = Events.withKey(Events.load("admin-key-list.json"), null);
      event.getHeaders().put("Authorization", "Basic " + MASTER_B64);
      event.getMultiValueHeaders().put("Authorization", List.of("Basic " + MASTER_B64));

      assertError(api.send(event), 401, "auth_error", null);
    }

    private static final String MASTER_B64 =
        Base64.getEncoder().encodeToString(("admin:" + AdminApi.MASTER).getBytes(StandardCharsets.UTF_8));

    @Test
    void masterKeyInXApiKeyHeaderIsAccepted() {
      var event = Events.withKey(Events.load("admin-key-list.json"), null);
      event.getHeaders().put("x-api-key", AdminApi.MASTER);
      event.getMultiValueHeaders().put("x-api-key", List.of(AdminApi.MASTER));

      assertThat(api.send(event).status()).isEqualTo(200);
    }

    @Test
    void testMasterKeyOfOtherFixturesIsNotTheMasterHere() {
      assertError(api.send(Events.withKey(Events.load("admin-key-list.json"), TestGateways.MASTER_KEY)), 401, "token_not_found_in_db", "key");
    }

    @Test
    void unreadableMasterKeyGets503NotALockout() {
      var gateway = Gateway.over(TestGateways.settings(api.dynamo), api.dynamo.client(), AdminApi.unreadableSecret(), List.of(), api.clock);
      var handler = new AdminHandler(new AdminService(gateway));

      var response = handler.handleRequest(Events.load("admin-key-list.json"), null);

      assertThat(response.getStatusCode()).isEqualTo(503);
      assertThat(response.getBody()).contains("\"type\":\"service_unavailable\"");
    }
  }

  // ---------------------------------------------------------------------------------------------
  @Nested
  class RequestShape {
    @Test
    void unknownFieldGets400NamingIt() {
      JsonNode error = assertError(api.post("/key/generate", "{\"key_alias\": \"x\", \"favourite_colour\": \"red\"}"), 400, "invalid_request_error", "favourite_colour");
      assertThat(error.path("message").asText()).contains("favourite_colour");
      assertThat(api.storedItems()).isZero();
    }

    @ParameterizedTest
    @ValueSource(strings = {"budget_limits", "model_max_budget", "model_rpm_limit", "tags", "spend"})
    void liteLlmFieldNotImplementedYetGets400NamingIt(String field) {
      JsonNode error = assertError(api.post("/key/generate", "{\"" + field + "\": 10}"), 400, "invalid_request_error", field);
      assertThat(error.path("message").asText()).contains(field).contains("not supported");
      assertThat(api.storedItems()).isZero();
    }

    @Test
    void liteLlmFieldNotImplementedYetGets400OnUpdateToo() {
      storeEventsVirtualKey();
      assertError(api.post("/key/update", Map.of("key", VIRTUAL, "spend", 10)), 400, "invalid_request_error", "spend");
    }

    @ParameterizedTest
    @ValueSource(strings = {"{\"key_alias\": ", "not json", "{\"a\": 1,}", "[]", "[{\"key_alias\": \"x\"}]", "\"text\"", "42"})
    void bodyThatIsNotAJsonObjectGets400(String body) {
      assertError(api.post("/key/generate", body), 400, "invalid_request_error", null);
      assertThat(api.storedItems()).isZero();
    }

    @Test
    void emptyBodyGets400() {
      assertError(api.post("/key/generate", (String) null), 400, "invalid_request_error", null);
      assertError(api.post("/key/generate", ""), 400, "invalid_request_error", null);
    }

    @Test
    void malformedJsonErrorDoesNotEchoTheBody() {
      String secretish = "sk-do-not-echo-this-0123456789";
      Reply reply = api.post("/key/generate", "{\"key\": \"" + secretish + "\" oops}");
      assertError(reply, 400, "invalid_request_error", null);
      assertThat(reply.text()).doesNotContain(secretish);
    }

    @Test
    void bodyOverSixtyFourKilobytesGets413() {
      String body = "{\"metadata\": {\"pad\": \"" + "x".repeat(65 * 1024) + "\"}}";
      assertError(api.post("/key/generate", body), 413, "invalid_request_error", null);
      assertThat(api.storedItems()).isZero();
    }

    @Test
    void base64EncodedBodyIsRead() {
      var event = Events.load("admin-key-generate.json");
      event.setBody(Base64.getEncoder().encodeToString(event.getBody().getBytes(StandardCharsets.UTF_8)));
      event.setIsBase64Encoded(true);

      Reply reply = api.send(event);

      assertThat(reply.status()).as("%s", reply).isEqualTo(200);
      assertThat(reply.body().path("key_alias").asText()).isEqualTo("example-app");
    }

    @Test
    void wrongMethodGets405WithAllowHeader() {
      Reply getOnPost = api.send(AdminApi.request("admin-key-list.json", "GET", "/key/generate", null, null));
      assertError(getOnPost, 405, "invalid_request_error", null);
      assertThat(getOnPost.headers()).containsEntry("Allow", "POST");

      Reply postOnGet = api.post("/key/list", "{}");
      assertError(postOnGet, 405, "invalid_request_error", null);
      assertThat(postOnGet.headers()).containsEntry("Allow", "GET, HEAD");

      Reply deleteOnDelete = api.send(AdminApi.request("admin-key-delete.json", "DELETE", "/key/delete", null, null));
      assertError(deleteOnDelete, 405, "invalid_request_error", null);
      assertThat(api.storedItems()).isZero();
    }

    @Test
    void unknownRouteGets404() {
      JsonNode error = assertError(api.post("/key/rotate-everything", "{}"), 404, "not_found_error", null);
      assertThat(error.path("message").asText()).contains("/key/rotate-everything");
      assertError(api.get("/team/nope", null), 404, "not_found_error", null);
      assertError(api.get("/", null), 404, "not_found_error", null);
    }

    @Test
    void trailingSlashIsTheSameRoute() {
      Reply reply = api.post("/key/generate/", "{\"key_alias\": \"slash\"}");
      assertThat(reply.status()).as("%s", reply).isEqualTo(200);
      assertThat(reply.body().path("key_alias").asText()).isEqualTo("slash");
    }

    @Test
    void keyStoreOutageGets503ServiceUnavailable() {
      try (var dynamo = new LocalDynamo()) {
        var missingTable = GatewaySettings.fromEnvironment(Map.of("AIGW_KEYS_TABLE", "no-such-table"));
        var gateway = Gateway.over(missingTable, dynamo.client(), StaticSecretSource.of(AdminApi.MASTER), AdminApi.MODELS, api.clock);
        var handler = new AdminHandler(new AdminService(gateway));

        var list = handler.handleRequest(Events.load("admin-key-list.json"), null);
        var generate = handler.handleRequest(Events.load("admin-key-generate.json"), null);

        assertThat(list.getStatusCode()).isEqualTo(503);
        assertThat(list.getBody()).contains("\"type\":\"service_unavailable\"");
        assertThat(generate.getStatusCode()).isEqualTo(503);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  @Nested
  class Health {
    @Test
    void livelinessGets200WithoutAKey() {
      Reply reply = api.send("admin-health-liveliness.json");

      assertThat(reply.status()).isEqualTo(200);
      assertThat(reply.body().asText()).isEqualTo("I'm alive!");
    }

    @Test
    void healthRoutesAnswerOnlyGetAndHeadAndSaySoInAllow() {
      for (String path : new String[] {"/health/liveliness", "/health/readiness"}) {
        Reply reply = api.post(path, "{}");
        assertThat(reply.status()).as(path).isEqualTo(405);
        // RFC 9110 §10.2.1: Allow lists the methods the route answers, and HEAD is answered wherever GET is.
        assertThat(reply.headers()).containsEntry("Allow", "GET, HEAD");
        for (String allowed : reply.headers().get("Allow").split(", ")) {
          Reply answered = api.send(AdminApi.request("admin-health-liveliness.json", allowed, path, null, null));
          assertThat(answered.status()).as("%s %s: %s", allowed, path, answered).isNotEqualTo(405);
        }
      }
    }

    @Test
    void livenessSpellingIsAcceptedToo() {
      Reply reply = api.get("/health/liveness", null);
      assertThat(reply.status()).isEqualTo(200);
      assertThat(reply.body().asText()).isEqualTo("I'm alive!");
    }

    @Test
    void readinessGets200WithDbConnected() {
      Reply reply = api.send("admin-health-readiness.json");

      assertThat(reply.status()).as("%s", reply).isEqualTo(200);
      assertThat(reply.body().path("status").asText()).isEqualTo("healthy");
      assertThat(reply.body().path("db").asText()).isEqualTo("connected");
      assertThat(reply.body().path("master_key").asText()).isEqualTo("readable");
      assertThat(reply.body().path("models").asInt(-1)).isEqualTo(AdminApi.MODELS.size());
    }

    @Test
    void readinessGets503WhenTheKeysTableDoesNotExist() {
      try (var dynamo = new LocalDynamo()) {
        var missingTable = GatewaySettings.fromEnvironment(Map.of("AIGW_KEYS_TABLE", "no-such-table-" + dynamo.keysTable()));
        var gateway = Gateway.over(missingTable, dynamo.client(), StaticSecretSource.of(AdminApi.MASTER), List.of(), api.clock);
        var handler = new AdminHandler(new AdminService(gateway));

        var response = handler.handleRequest(Events.load("admin-health-readiness.json"), null);

        assertThat(response.getStatusCode()).isEqualTo(503);
        assertThat(response.getBody()).contains("\"status\":\"unhealthy\"").contains("\"db\":\"unreachable\"");
        assertThat(response.getBody()).contains("\"master_key\":\"readable\"");
      }
    }

    @Test
    void readinessGets503WhenTheMasterKeyCannotBeRead() {
      var gateway = Gateway.over(TestGateways.settings(api.dynamo), api.dynamo.client(), AdminApi.unreadableSecret(), List.of(), api.clock);
      var handler = new AdminHandler(new AdminService(gateway));

      var response = handler.handleRequest(Events.load("admin-health-readiness.json"), null);

      assertThat(response.getStatusCode()).isEqualTo(503);
      assertThat(response.getBody()).contains("\"db\":\"connected\"").contains("\"master_key\":\"unreadable\"");
    }

    @Test
    void readinessNeverShowsTheMasterKey() {
      assertThat(api.send("admin-health-readiness.json").text()).doesNotContain(AdminApi.MASTER);
    }
  }
}

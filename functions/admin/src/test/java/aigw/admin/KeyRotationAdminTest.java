package aigw.admin;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.admin.AdminApi.Outcome;
import aigw.admin.AdminApi.Reply;
import aigw.core.keys.ApiKeys;
import aigw.core.rotation.LoggedRotationEvents;
import aigw.core.rotation.VirtualKeyRotator;
import aigw.core.testing.MutableClock;
import aigw.core.usage.TokenUsage;
import aigw.core.usage.UsageDelta;
import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Key rotation through the admin API, as a client sees it: generate/update settings, /key/regenerate, secret targets. */
class KeyRotationAdminTest {
  private static final Instant START = Instant.parse(AdminApi.START);
  private static final Outcome WORKS = new Outcome(200, null);
  private static final Outcome ROTATED_OUT = new Outcome(401, "token_not_found_in_db");

  private AdminApi api;
  private RecordingSecretsManager secrets;
  private VirtualKeyRotator rotator;
  private final java.util.concurrent.ConcurrentLinkedQueue<aigw.core.rotation.RotationEvent> events = new java.util.concurrent.ConcurrentLinkedQueue<>();

  @BeforeEach
  void start() {
    api = new AdminApi();
  }

  @AfterEach
  void stop() {
    api.close();
  }

  /** Replaces {@link #api} with one whose rotator writes to an in-memory Secrets Manager. */
  private void withSecretsManager() {
    api.close();
    secrets = new RecordingSecretsManager();
    MutableClock clock = MutableClock.at(AdminApi.START);
    api =
        new AdminApi(
            clock,
            gateway -> {
              rotator = new VirtualKeyRotator(gateway.keyStore(), gateway.keyCache(), secrets, VirtualKeyRotator.DEFAULT_SECRET_PREFIX,
                  event -> {
                    events.add(event);
                    new LoggedRotationEvents().publish(event);
                  },
                  clock);
              return new AdminService(gateway, rotator);
            });
  }

  private static JsonNode assertError(Reply reply, int status, String type, String param) {
    assertThat(reply.status()).as("%s", reply).isEqualTo(status);
    JsonNode error = reply.error();
    assertThat(error.isObject()).as("error envelope in %s", reply).isTrue();
    assertThat(error.path("type").asText()).as("type in %s", reply).isEqualTo(type);
    assertThat(error.path("param").asText()).as("param in %s", reply).isEqualTo(param);
    assertThat(error.path("code").asText()).as("code in %s", reply).isEqualTo(Integer.toString(status));
    assertThat(error.path("message").asText()).as("message in %s", reply).isNotBlank();
    return error;
  }

  private static Map<String, Object> body(Object... namesAndValues) {
    var map = new HashMap<String, Object>();
    for (int i = 0; i < namesAndValues.length; i += 2) {
      map.put((String) namesAndValues[i], namesAndValues[i + 1]);
    }
    return map;
  }

  private static List<String> texts(JsonNode array) {
    return StreamSupport.stream(array.spliterator(), false).map(JsonNode::asText).toList();
  }

  /** Counts one proxied request against the key, as the proxy function does. */
  private void useKey(String keyId) {
    api.gateway.usage().record(keyId, UsageDelta.oneRequest(new TokenUsage(7, 3, 10), api.clock.instant()));
  }

  private Reply regenerate(Map<String, ?> body) {
    return api.post("/key/regenerate", body);
  }

  private JsonNode regenerated(Map<String, ?> body) {
    Reply reply = regenerate(body);
    assertThat(reply.status()).as("regenerate: %s", reply).isEqualTo(200);
    return reply.body();
  }

  // ---------------------------------------------------------------------------------------------
  // settings

  @Test
  void generateWithRotationSettingsShowsThemInInfo() {
    JsonNode created = api.generate(body("key_alias", "rotating", "auto_rotate", true, "rotation_interval", "30d", "grace_period", "2h"));
    String due = START.plus(Duration.ofDays(30)).toString();
    for (JsonNode view : List.of(created, api.info(created.path("key").asText()))) {
      assertThat(view.path("auto_rotate").asBoolean()).isTrue();
      assertThat(view.path("rotation_interval").asText()).isEqualTo("30d");
      assertThat(view.path("grace_period").asText()).isEqualTo("2h");
      assertThat(view.path("key_rotation_at").asText()).isEqualTo(due);
      assertThat(view.path("rotation_count").asLong()).isZero();
      assertThat(view.path("last_rotation_at").isNull()).isTrue();
      assertThat(view.path("previous_key_valid_until").isNull()).isTrue();
      assertThat(view.path("rotation_secret").isNull()).isTrue();
    }
    JsonNode plain = api.generate(body());
    JsonNode info = api.info(plain.path("key").asText());
    assertThat(info.path("auto_rotate").asBoolean()).isFalse();
    assertThat(info.path("key_rotation_at").isNull()).isTrue();
    assertThat(api.gateway.keyStore().dueForRotation(START.plus(Duration.ofDays(30)), 25))
        .extracting(k -> k.keyAlias())
        .containsExactly("rotating");
  }

  @Test
  void updateTurnsTheScheduleOnAndOff() {
    String key = api.generate(body()).path("key").asText();
    api.clock.advance(Duration.ofHours(1));
    Reply on = api.post("/key/update", body("key", key, "auto_rotate", true, "rotation_interval", "7d"));
    assertThat(on.status()).as("%s", on).isEqualTo(200);
    assertThat(api.info(key).path("key_rotation_at").asText()).isEqualTo(START.plus(Duration.ofHours(1)).plus(Duration.ofDays(7)).toString());
    Reply off = api.post("/key/update", body("key", key, "auto_rotate", false));
    assertThat(off.status()).as("%s", off).isEqualTo(200);
    assertThat(api.info(key).path("key_rotation_at").isNull()).isTrue();
    assertThat(api.gateway.keyStore().dueForRotation(START.plus(Duration.ofDays(30)), 25)).isEmpty();
  }

  static Stream<Arguments> invalidSettings() {
    return Stream.of(
        Arguments.of(body("auto_rotate", true), "rotation_interval"),
        Arguments.of(body("auto_rotate", true, "rotation_interval", "12h"), "grace_period"),
        Arguments.of(body("auto_rotate", true, "rotation_interval", "1d", "grace_period", "2d"), "grace_period"),
        Arguments.of(body("auto_rotate", true, "rotation_interval", "0d"), "rotation_interval"),
        Arguments.of(body("auto_rotate", true, "rotation_interval", "monthly"), "rotation_interval"),
        Arguments.of(body("grace_period", "-1h"), "grace_period"),
        Arguments.of(body("rotation_secret", "aigw/keys/billing"), "rotation_secret"));
  }

  @ParameterizedTest
  @MethodSource("invalidSettings")
  void invalidRotationSettingsOnGenerateAre400sNamingTheParam(Map<String, Object> settings, String param) {
    assertError(api.post("/key/generate", settings), 400, "invalid_request_error", param);
    assertThat(api.storedItems()).as("nothing stored").isZero();
  }

  @ParameterizedTest
  @MethodSource("invalidSettings")
  void invalidRotationSettingsOnUpdateAre400sNamingTheParamAndChangeNothing(Map<String, Object> settings, String param) {
    String key = api.generate(body()).path("key").asText();
    var update = new HashMap<String, Object>(settings);
    update.put("key", key);
    assertError(api.post("/key/update", update), 400, "invalid_request_error", param);
    JsonNode info = api.info(key);
    assertThat(info.path("auto_rotate").asBoolean()).isFalse();
    assertThat(info.path("rotation_interval").isNull()).isTrue();
    assertThat(info.path("grace_period").isNull()).isTrue();
  }

  @Test
  void aShortIntervalWithAnExplicitGracePeriodIsAccepted() {
    JsonNode created = api.generate(body("auto_rotate", true, "rotation_interval", "12h", "grace_period", "1h"));
    assertThat(created.path("key_rotation_at").asText()).isEqualTo(START.plus(Duration.ofHours(12)).toString());
    assertThat(created.path("grace_period").asText()).isEqualTo("1h");
  }

  // ---------------------------------------------------------------------------------------------
  // /key/regenerate

  @Test
  void regenerateGivesANewKeyThatWorksAtOnceAndKeepsIdAliasModelsAndUsage() {
    JsonNode created = api.generate(body("key_alias", "svc", "models", List.of("gpt-4o-mini"), "metadata", Map.of("team", "a")));
    String oldKey = created.path("key").asText();
    String keyId = created.path("key_id").asText();
    useKey(keyId);
    useKey(keyId);
    api.clock.advance(Duration.ofMinutes(5));

    JsonNode reply = regenerated(body("key", oldKey, "grace_period", "1h"));

    String newKey = reply.path("key").asText();
    assertThat(newKey).startsWith("sk-").isNotEqualTo(oldKey);
    assertThat(reply.path("token").asText()).isEqualTo(ApiKeys.hash(newKey));
    assertThat(reply.path("key_name").asText()).isEqualTo(ApiKeys.mask(newKey));
    assertThat(reply.path("key_id").asText()).isEqualTo(keyId);
    assertThat(reply.path("key_alias").asText()).isEqualTo("svc");
    assertThat(texts(reply.path("models"))).containsExactly("gpt-4o-mini");
    assertThat(reply.path("metadata").path("team").asText()).isEqualTo("a");
    assertThat(reply.path("request_count").asLong()).isEqualTo(2);
    assertThat(reply.path("rotation_count").asLong()).isEqualTo(1);
    Instant graceEnd = START.plus(Duration.ofMinutes(5)).plus(Duration.ofHours(1));
    assertThat(reply.path("previous_key_valid_until").asText()).isEqualTo(graceEnd.toString());
    assertThat(reply.path("last_rotation_at").asText()).isEqualTo(START.plus(Duration.ofMinutes(5)).toString());

    assertThat(api.onModelRoute(newKey)).isEqualTo(WORKS);
    assertThat(api.onModelRoute(oldKey)).isEqualTo(WORKS);
    useKey(keyId);
    JsonNode info = api.info(newKey);
    assertThat(info.path("key_id").asText()).isEqualTo(keyId);
    assertThat(info.path("request_count").asLong()).as("usage before and after, one counter").isEqualTo(3);
    assertThat(info.path("total_tokens").asLong()).isEqualTo(30);
    assertThat(api.aliasGuards()).containsEntry("svc", ApiKeys.hash(newKey));
    assertThat(api.storedItems()).isEqualTo(1);
    assertThat(String.join(" ", api.storedValues())).doesNotContain(newKey).doesNotContain(oldKey);

    api.clock.advance(Duration.ofHours(1).minusSeconds(1));
    assertThat(api.onModelRoute(oldKey)).as("one second before the grace end").isEqualTo(WORKS);
    api.clock.advance(Duration.ofSeconds(1));
    assertThat(api.onModelRoute(oldKey)).as("at the grace end").isEqualTo(ROTATED_OUT);
    assertThat(api.onModelRoute(newKey)).isEqualTo(WORKS);
  }

  @Test
  void theRotatedOutKeyIsToldWhenItStoppedAndWhichKeyReplacedIt() {
    String oldKey = api.generate(body()).path("key").asText();
    String newKey = regenerated(body("key", oldKey, "grace_period", "30m")).path("key").asText();
    api.clock.advance(Duration.ofMinutes(31));
    var request = new aigw.core.http.GatewayRequest("POST", "/v1/chat/completions", Map.of("Authorization", "Bearer " + oldKey),
        Map.of(), "{}".getBytes(), null);
    try {
      api.gateway.authenticator().forModelRoute(request, api.clock.instant());
      throw new AssertionError("the rotated-out key was accepted");
    } catch (aigw.core.errors.AuthenticationFailed e) {
      assertThat(e.getMessage()).contains(START.plus(Duration.ofMinutes(30)).toString()).contains(ApiKeys.mask(newKey)).doesNotContain(newKey);
    }
  }

  @Test
  void thePathFormRegeneratesTheKeyItNames() {
    JsonNode created = api.generate(body("key_alias", "by-path"));
    String oldKey = created.path("key").asText();
    Reply reply = api.post("/key/" + oldKey + "/regenerate", body("grace_period", "10m"));
    assertThat(reply.status()).as("%s", reply).isEqualTo(200);
    String newKey = reply.body().path("key").asText();
    assertThat(reply.body().path("key_id").asText()).isEqualTo(created.path("key_id").asText());
    assertThat(api.onModelRoute(newKey)).isEqualTo(WORKS);
    assertThat(api.onModelRoute(oldKey)).isEqualTo(WORKS);

    // By hash too, and the hash of the current value.
    Reply byHash = api.post("/key/" + ApiKeys.hash(newKey) + "/regenerate", body());
    assertThat(byHash.status()).as("%s", byHash).isEqualTo(200);
    assertThat(api.onModelRoute(newKey)).as("no grace_period: the previous value stops at once").isEqualTo(ROTATED_OUT);
    assertThat(api.onModelRoute(byHash.body().path("key").asText())).isEqualTo(WORKS);
    // It worked a moment ago, so this container caches it: the revocation must still hold at once.
    assertThat(api.onModelRoute(oldKey)).as("a rotation without grace revokes earlier values too").isEqualTo(ROTATED_OUT);

    assertError(api.post("/key/" + oldKey + "/regenerate", body("key", "sk-some-other-key-value-123456")), 400, "invalid_request_error", "key");
  }

  @Test
  void withoutAGracePeriodTheOldKeyStopsAtOnce() {
    String oldKey = api.generate(body()).path("key").asText();
    assertThat(api.onModelRoute(oldKey)).isEqualTo(WORKS); // cached now: the rotation must still apply at once
    JsonNode reply = regenerated(body("key", oldKey));
    assertThat(reply.path("previous_key_valid_until").asText()).isEqualTo(START.toString());
    assertThat(api.onModelRoute(oldKey)).isEqualTo(ROTATED_OUT);
    assertThat(api.onModelRoute(reply.path("key").asText())).isEqualTo(WORKS);
  }

  @Test
  void withoutAGracePeriodTheKeysOwnGracePeriodSettingApplies() {
    String oldKey = api.generate(body("grace_period", "6h")).path("key").asText();
    String newKey = regenerated(body("key", oldKey)).path("key").asText();
    api.clock.advance(Duration.ofHours(6).minusSeconds(1));
    assertThat(api.onModelRoute(oldKey)).isEqualTo(WORKS);
    api.clock.advance(Duration.ofSeconds(1));
    assertThat(api.onModelRoute(oldKey)).isEqualTo(ROTATED_OUT);
    assertThat(api.onModelRoute(newKey)).isEqualTo(WORKS);

    // An explicit 0s overrides the setting.
    String newest = regenerated(body("key", newKey, "grace_period", "0s")).path("key").asText();
    assertThat(api.onModelRoute(newKey)).isEqualTo(ROTATED_OUT);
    assertThat(api.onModelRoute(newest)).isEqualTo(WORKS);
  }

  @Test
  void afterALeakGracePeriod0sStopsTheLeakedValueOfAKeyWithADayOfGraceAndTheConflictSaysSo() {
    // The audit's case (issue 15): a key with grace_period 1d, regenerated after a leak.
    String leaked = api.generate(body("grace_period", "1d")).path("key").asText();
    String second = regenerated(body("key", leaked)).path("key").asText();
    assertThat(api.onModelRoute(leaked)).as("no grace_period on the call: the key's day applies").isEqualTo(WORKS);

    // The leaked value itself names a replaced value: the 409 says how to stop it.
    JsonNode conflict = assertError(api.post("/key/regenerate", body("key", leaked, "grace_period", "0s")), 409, "conflict_error", "key");
    assertThat(conflict.path("message").asText()).contains(ApiKeys.hash(second)).contains("\"grace_period\": \"0s\"");
    assertThat(api.onModelRoute(leaked)).as("a refused call changes nothing").isEqualTo(WORKS);

    JsonNode reply = regenerated(body("key", ApiKeys.hash(second), "grace_period", "0s"));
    assertThat(reply.path("previous_key_valid_until").asText()).isEqualTo(api.clock.instant().toString());
    assertThat(api.onModelRoute(leaked)).isEqualTo(ROTATED_OUT);
    assertThat(api.onModelRoute(second)).isEqualTo(ROTATED_OUT);
    assertThat(api.onModelRoute(reply.path("key").asText())).isEqualTo(WORKS);
  }

  @Test
  void aScheduledKeyRegeneratedByHandMovesItsNextDueTime() {
    String oldKey = api.generate(body("auto_rotate", true, "rotation_interval", "30d", "grace_period", "1h")).path("key").asText();
    api.clock.advance(Duration.ofDays(3));
    JsonNode reply = regenerated(body("key", oldKey));
    assertThat(reply.path("key_rotation_at").asText()).isEqualTo(START.plus(Duration.ofDays(33)).toString());
    assertThat(api.info(reply.path("key").asText()).path("key_rotation_at").asText()).isEqualTo(START.plus(Duration.ofDays(33)).toString());
    assertThat(reply.path("previous_key_valid_until").asText()).as("the key's grace_period applies")
        .isEqualTo(START.plus(Duration.ofDays(3)).plus(Duration.ofHours(1)).toString());
  }

  @Test
  void theNextDueTimeARegenerateShowsIsTheOneStoredEvenWhenTheClockHasMilliseconds() {
    String oldKey = api.generate(body("auto_rotate", true, "rotation_interval", "30d", "grace_period", "1h")).path("key").asText();
    api.clock.advance(Duration.ofMillis(1500)); // Lambda's clock is never on a whole second
    JsonNode reply = regenerated(body("key", oldKey));
    JsonNode info = api.info(reply.path("key").asText());
    assertThat(reply.path("key_rotation_at").asText()).isEqualTo(info.path("key_rotation_at").asText());
    assertThat(reply.path("previous_key_valid_until").asText()).isEqualTo(info.path("previous_key_valid_until").asText());
    assertThat(reply.path("last_rotation_at").asText()).isEqualTo(info.path("last_rotation_at").asText());
    assertThat(Instant.parse(info.path("key_rotation_at").asText()))
        .isBetween(START.plus(Duration.ofDays(30)), START.plus(Duration.ofDays(30)).plusMillis(1500));
  }

  @Test
  void regenerateTakesDurationAndMetadata() {
    String oldKey = api.generate(body("metadata", Map.of("a", 1), "duration", "1d")).path("key").asText();
    JsonNode reply = regenerated(body("key", oldKey, "duration", "30d", "metadata", Map.of("b", 2)));
    assertThat(reply.path("expires").asText()).isEqualTo(START.plus(Duration.ofDays(30)).toString());
    assertThat(reply.path("metadata").path("b").asInt()).isEqualTo(2);
    api.clock.advance(Duration.ofDays(2));
    assertThat(api.onModelRoute(reply.path("key").asText())).isEqualTo(WORKS);
  }

  @Test
  void aCustomNewKeyIsHonoured() {
    String oldKey = api.generate(body()).path("key").asText();
    String custom = "sk-my-team-rotated-value-0001";
    JsonNode reply = regenerated(body("key", oldKey, "new_key", custom));
    assertThat(reply.path("key").asText()).isEqualTo(custom);
    assertThat(reply.path("token").asText()).isEqualTo(ApiKeys.hash(custom));
    assertThat(api.onModelRoute(custom)).isEqualTo(WORKS);
  }

  static Stream<Arguments> invalidNewKeys() {
    return Stream.of(
        Arguments.of("my-own-key-without-prefix-123"),
        Arguments.of("sk-short"),
        Arguments.of(" sk-with-leading-space-1234567"),
        Arguments.of("sk-ключ-0000000000000000000000"),
        Arguments.of("sk-with inner-space-0000000000"),
        Arguments.of("sk-" + "a".repeat(254)),
        Arguments.of(AdminApi.MASTER));
  }

  @ParameterizedTest
  @MethodSource("invalidNewKeys")
  void anInvalidNewKeyIsA400AndTheKeyIsNotRotated(String newKey) {
    String oldKey = api.generate(body()).path("key").asText();
    assertError(regenerate(body("key", oldKey, "new_key", newKey)), 400, "invalid_request_error", "new_key");
    assertThat(api.onModelRoute(oldKey)).isEqualTo(WORKS);
    assertThat(api.info(oldKey).path("rotation_count").asLong()).isZero();
  }

  @Test
  void regeneratingAnExpiredKeyWithoutADurationIsA400AndChangesNothing() {
    String oldKey = api.generate(body("duration", "1h")).path("key").asText();
    api.clock.advance(Duration.ofHours(2));
    JsonNode error = assertError(regenerate(body("key", oldKey)), 400, "invalid_request_error", "duration");
    assertThat(error.path("message").asText()).contains("expired").contains("duration");
    assertError(api.post("/key/" + oldKey + "/regenerate", body("grace_period", "1h")), 400, "invalid_request_error", "duration");
    assertThat(api.info(oldKey).path("rotation_count").asLong()).isZero();

    JsonNode reply = regenerated(body("key", oldKey, "duration", "30d"));
    assertThat(api.onModelRoute(reply.path("key").asText())).as("a new value with a lifetime works").isEqualTo(WORKS);
  }

  @Test
  void regeneratingABlockedKeyIsA400UnlessItUnblocksItAndBlockedTrueIsRefused() {
    String oldKey = api.generate(body("blocked", true)).path("key").asText();
    JsonNode error = assertError(regenerate(body("key", oldKey)), 400, "invalid_request_error", "blocked");
    assertThat(error.path("message").asText()).contains("blocked").contains("/key/unblock");
    assertError(api.post("/key/" + oldKey + "/regenerate", body()), 400, "invalid_request_error", "blocked");
    assertThat(api.info(oldKey).path("rotation_count").asLong()).isZero();

    JsonNode reply = regenerated(body("key", oldKey, "blocked", false));
    String newKey = reply.path("key").asText();
    assertThat(reply.path("blocked").asBoolean()).isFalse();
    assertThat(api.onModelRoute(newKey)).isEqualTo(WORKS);
    assertThat(api.onModelRoute(oldKey)).as("no grace: the leaked value stops as the key is unblocked").isEqualTo(ROTATED_OUT);

    assertError(regenerate(body("key", newKey, "blocked", true)), 400, "invalid_request_error", "blocked");
    assertThat(api.onModelRoute(newKey)).isEqualTo(WORKS);
  }

  @Test
  void theScheduleLeavesBlockedAndExpiredKeysAlone() {
    withSecretsManager();
    String blocked = api.generate(body("auto_rotate", true, "rotation_interval", "1d", "grace_period", "1h", "blocked", true))
        .path("key").asText();
    String expiring = api.generate(body("auto_rotate", true, "rotation_interval", "1d", "grace_period", "1h", "duration", "12h"))
        .path("key").asText();
    api.clock.advance(Duration.ofDays(1));
    assertThat(rotator.rotateDue()).isEqualTo(new VirtualKeyRotator.RunResult(0, 0, 0, 2));
    assertThat(api.info(blocked).path("rotation_count").asLong()).isZero();
    assertThat(api.info(expiring).path("rotation_count").asLong()).isZero();
    assertThat(secrets.secrets).as("no value held for /key/retrieve").isEmpty();
  }

  @Test
  void everyAdminChangeHoldsAtOnceForEveryCachedValueOfTheKey() {
    // Each value works a moment before the change, so this container has cached it.
    String first = api.generate(body("models", List.of("gpt-4o-mini"))).path("key").asText();
    String second = regenerated(body("key", first, "grace_period", "1h")).path("key").asText();
    assertThat(api.onModelRoute(first)).isEqualTo(WORKS);
    assertThat(api.onModelRoute(second)).isEqualTo(WORKS);

    assertThat(api.post("/key/block", body("key", second)).status()).isEqualTo(200);
    assertThat(api.onModelRoute(first).status()).as("the value in grace is blocked too").isEqualTo(401);
    assertThat(api.onModelRoute(second).status()).isEqualTo(401);
    assertThat(api.post("/key/unblock", body("key", second)).status()).isEqualTo(200);
    assertThat(api.onModelRoute(first)).isEqualTo(WORKS);
    assertThat(api.onModelRoute(second)).isEqualTo(WORKS);

    assertThat(api.post("/key/update", body("key", second, "models", List.of("gpt-4o"))).status()).isEqualTo(200);
    assertThat(api.modelsOf(first)).as("the value in grace sees the new models").containsExactly("gpt-4o");

    assertThat(api.post("/key/delete", body("keys", List.of(second))).status()).isEqualTo(200);
    assertThat(api.onModelRoute(first).status()).isEqualTo(401);
    assertThat(api.onModelRoute(second).status()).isEqualTo(401);
  }

  @Test
  void aNewKeyThatAnotherKeyUsesIsA400() {
    String oldKey = api.generate(body()).path("key").asText();
    String other = api.generate(body()).path("key").asText();
    assertError(regenerate(body("key", oldKey, "new_key", other)), 400, "invalid_request_error", "new_key");
    assertThat(api.onModelRoute(oldKey)).isEqualTo(WORKS);
    assertThat(api.onModelRoute(other)).isEqualTo(WORKS);
    assertThat(api.storedItems()).isEqualTo(2);
  }

  @Test
  void aNewKeyThatIsTheKeysOwnCurrentOrPreviousValueIsA400() {
    String first = api.generate(body()).path("key").asText();
    assertError(regenerate(body("key", first, "new_key", first)), 400, "invalid_request_error", "new_key");
    String second = regenerated(body("key", first, "grace_period", "1h", "new_key", "sk-second-value-of-this-key-01")).path("key").asText();
    assertError(regenerate(body("key", second, "new_key", first)), 400, "invalid_request_error", "new_key");
    assertThat(api.onModelRoute(first)).isEqualTo(WORKS);
    assertThat(api.onModelRoute(second)).isEqualTo(WORKS);
    assertThat(api.info(second).path("rotation_count").asLong()).isEqualTo(1);
  }

  @Test
  void newMasterKeyIsRefusedPointingAtSecretsManager() {
    String oldKey = api.generate(body()).path("key").asText();
    JsonNode error = assertError(regenerate(body("key", oldKey, "new_master_key", "sk-new-master-key-value-1234")), 400,
        "invalid_request_error", "new_master_key");
    assertThat(error.path("message").asText()).contains("Secrets Manager");
    assertThat(api.onModelRoute(oldKey)).isEqualTo(WORKS);
    assertThat(api.onModelRoute("sk-new-master-key-value-1234").status()).isEqualTo(401);
  }

  @Test
  void regeneratingAnUnknownKeyIs404() {
    String unknown = "sk-no-such-key-anywhere-000000";
    assertError(regenerate(body("key", unknown)), 404, "not_found_error", "key");
    assertError(api.post("/key/" + unknown + "/regenerate", body()), 404, "not_found_error", "key");
    assertThat(api.storedItems()).isZero();
  }

  @Test
  void aRotatedOutValueStillNamesItsKeyInAdminCalls() {
    JsonNode created = api.generate(body("key_alias", "named"));
    String oldKey = created.path("key").asText();
    String newKey = regenerated(body("key", oldKey, "grace_period", "1h")).path("key").asText();

    assertThat(api.info(oldKey).path("key_id").asText()).isEqualTo(created.path("key_id").asText());
    assertThat(api.info(oldKey).path("key_name").asText()).isEqualTo(ApiKeys.mask(newKey));

    Reply update = api.post("/key/update", body("key", oldKey, "models", List.of("gpt-4o")));
    assertThat(update.status()).as("%s", update).isEqualTo(200);
    assertThat(texts(api.info(newKey).path("models"))).containsExactly("gpt-4o");
    assertThat(api.storedItems()).as("the update did not bring the old row back").isEqualTo(1);

    assertThat(api.post("/key/block", body("key", oldKey)).status()).isEqualTo(200);
    assertThat(api.onModelRoute(newKey).status()).isEqualTo(401);
    assertThat(api.onModelRoute(oldKey).status()).isEqualTo(401);
    assertThat(api.post("/key/unblock", body("key", oldKey)).status()).isEqualTo(200);
    assertThat(api.onModelRoute(newKey)).isEqualTo(WORKS);

    Reply delete = api.post("/key/delete", body("keys", List.of(oldKey)));
    assertThat(delete.status()).as("%s", delete).isEqualTo(200);
    assertThat(api.storedItems()).isZero();
    assertThat(api.aliasGuards()).isEmpty();
    assertThat(api.onModelRoute(newKey).status()).isEqualTo(401);
    assertThat(api.onModelRoute(oldKey).status()).isEqualTo(401);
  }

  // ---------------------------------------------------------------------------------------------
  // secret targets

  @Test
  void theRotationSecretReceivesTheKeyOnGenerateAndEachRegenerate() {
    withSecretsManager();
    JsonNode created = api.generate(body("rotation_secret", "aigw/keys/billing", "grace_period", "1h"));
    String first = created.path("key").asText();
    assertThat(created.path("rotation_secret_written").asBoolean()).isTrue();
    assertThat(created.path("rotation_secret").asText()).isEqualTo("aigw/keys/billing");
    assertThat(secrets.value("aigw/keys/billing")).isEqualTo(first);

    JsonNode reply = regenerated(body("key", first));
    String second = reply.path("key").asText();
    assertThat(reply.path("rotation_secret_written").asBoolean()).isTrue();
    assertThat(secrets.value("aigw/keys/billing")).isEqualTo(second);
    assertThat(api.onModelRoute(secrets.value("aigw/keys/billing"))).isEqualTo(WORKS);
    assertThat(api.info(second).path("rotation_secret").asText()).isEqualTo("aigw/keys/billing");
    assertThat(secrets.secrets).containsOnlyKeys("aigw/keys/billing");
  }

  @Test
  void anUpdateCanNameARotationSecretAndTheNextRegenerateWritesIt() {
    withSecretsManager();
    String key = api.generate(body()).path("key").asText();
    assertThat(api.post("/key/update", body("key", key, "rotation_secret", "aigw/keys/team-a")).status()).isEqualTo(200);
    String next = regenerated(body("key", key)).path("key").asText();
    assertThat(secrets.value("aigw/keys/team-a")).isEqualTo(next);
  }

  @Test
  void theScheduleRotatesADueKeyAndWritesItsNewValueToTheSecret() {
    withSecretsManager();
    JsonNode created = api.generate(body("key_alias", "nightly", "auto_rotate", true, "rotation_interval", "1d", "grace_period", "1h",
        "rotation_secret", "aigw/keys/nightly"));
    String first = created.path("key").asText();
    api.clock.advance(Duration.ofDays(1).minusSeconds(1));
    assertThat(rotator.rotateDue()).isEqualTo(new VirtualKeyRotator.RunResult(0, 0, 0, 0));
    api.clock.advance(Duration.ofSeconds(1));

    assertThat(rotator.rotateDue()).isEqualTo(new VirtualKeyRotator.RunResult(1, 0, 0, 0));

    String second = secrets.value("aigw/keys/nightly");
    assertThat(second).isNotEqualTo(first).startsWith("sk-");
    assertThat(api.onModelRoute(second)).isEqualTo(WORKS);
    assertThat(api.onModelRoute(first)).isEqualTo(WORKS);
    JsonNode info = api.info(second);
    assertThat(info.path("key_id").asText()).isEqualTo(created.path("key_id").asText());
    assertThat(info.path("rotation_count").asLong()).isEqualTo(1);
    assertThat(info.path("key_rotation_at").asText()).isEqualTo(START.plus(Duration.ofDays(2)).toString());
    assertThat(info.path("previous_key_valid_until").asText()).isEqualTo(START.plus(Duration.ofDays(1)).plus(Duration.ofHours(1)).toString());
    assertThat(events).singleElement().satisfies(e -> {
      assertThat(e.trigger()).isEqualTo("schedule");
      assertThat(e.deliveredTo()).isEqualTo("aigw/keys/nightly");
      assertThat(e.deliveryFailed()).isFalse();
      assertThat(e.detail().toString()).doesNotContain(second).doesNotContain(first);
    });
    assertThat(rotator.rotateDue()).as("not due again until tomorrow").isEqualTo(new VirtualKeyRotator.RunResult(0, 0, 0, 0));
    api.clock.advance(Duration.ofHours(1));
    assertThat(api.onModelRoute(first)).isEqualTo(ROTATED_OUT);
    assertThat(api.onModelRoute(second)).isEqualTo(WORKS);
  }

  @Test
  void aFailedSecretWriteIsReportedAndTheRotationStands() {
    withSecretsManager();
    String first = api.generate(body("rotation_secret", "aigw/keys/flaky")).path("key").asText();
    secrets.unavailable = true;
    JsonNode reply = regenerated(body("key", first, "grace_period", "1h"));
    assertThat(reply.path("rotation_secret_written").asBoolean()).isFalse();
    String second = reply.path("key").asText();
    assertThat(api.onModelRoute(second)).as("the caller still got the new key").isEqualTo(WORKS);
    assertThat(api.onModelRoute(first)).isEqualTo(WORKS);
    assertThat(secrets.value("aigw/keys/flaky")).as("the secret still holds the previous key").isEqualTo(first);
    assertThat(events).singleElement().satisfies(e -> assertThat(e.deliveryFailed()).isTrue());

    JsonNode created = api.generate(body("rotation_secret", "aigw/keys/other"));
    assertThat(created.path("rotation_secret_written").asBoolean()).isFalse();
    assertThat(api.onModelRoute(created.path("key").asText())).isEqualTo(WORKS);
  }

  @Test
  void aRotationSecretOutsideThePrefixIsRefused() {
    withSecretsManager();
    for (String name : List.of("prod/db/password", "aigw/keys/", "aigw/keysX", "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf")) {
      assertError(api.post("/key/generate", body("rotation_secret", name)), 400, "invalid_request_error", "rotation_secret");
    }
    assertThat(api.storedItems()).isZero();
    assertThat(secrets.secrets).isEmpty();
    String key = api.generate(body()).path("key").asText();
    assertError(api.post("/key/update", body("key", key, "rotation_secret", "prod/db/password")), 400, "invalid_request_error", "rotation_secret");
    assertThat(api.info(key).path("rotation_secret").isNull()).isTrue();
    // An ARN of a secret under the prefix is fine.
    JsonNode byArn = api.generate(body("rotation_secret", "arn:aws:secretsmanager:us-east-1:123456789012:secret:aigw/keys/x-AbCdEf"));
    assertThat(byArn.path("rotation_secret_written").asBoolean()).isTrue();
  }
}

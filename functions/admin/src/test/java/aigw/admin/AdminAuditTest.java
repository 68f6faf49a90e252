package aigw.admin;

import static aigw.admin.AdminApi.query;
import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.audit.AuditEvent;
import aigw.core.audit.AuditLog;
import aigw.core.keys.ApiKeys;
import aigw.core.keys.VirtualKey;
import aigw.core.rotation.LoggedRotationEvents;
import aigw.core.rotation.VirtualKeyRotator;
import aigw.core.secrets.InMemorySecretsManager;
import aigw.core.testing.MutableClock;
import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Every admin action that changes something is in the audit log, with the key's stable id, the
 * actor, the client's address (API Gateway's requestContext.identity.sourceIp of events/), the time
 * and the names of the fields set, recorded once the change is stored; reads and refused actions
 * are not; no key value or hash is ever in it.
 */
class AdminAuditTest {
  /** requestContext.identity.sourceIp of the events/admin-*.json events the calls are built on. */
  private static final String EVENTS_SOURCE_IP = "203.0.113.10";

  /** An event, and the key it names as the store held it when the event was recorded. */
  record Recorded(AuditEvent event, Optional<VirtualKey> storedThen) {}

  private final List<Recorded> recorded = new CopyOnWriteArrayList<>();
  private AdminApi api;
  private VirtualKeyRotator rotator;

  @BeforeEach
  void start() {
    MutableClock clock = MutableClock.at(AdminApi.START);
    var secrets = new InMemorySecretsManager(clock);
    api = new AdminApi(clock, gateway -> {
      rotator = new VirtualKeyRotator(gateway.keyStore(), gateway.keyCache(), secrets, VirtualKeyRotator.DEFAULT_SECRET_PREFIX,
          new LoggedRotationEvents(), clock);
      AuditLog auditLog =
          event -> recorded.add(new Recorded(event, gateway.keyStore().listAll().stream().filter(k -> k.keyId().equals(event.objectId())).findFirst()));
      return new AdminService(gateway, rotator, auditLog);
    });
  }

  @AfterEach
  void stop() {
    api.close();
  }

  private List<AuditEvent> events() {
    return recorded.stream().map(Recorded::event).toList();
  }

  private Recorded last() {
    return recorded.get(recorded.size() - 1);
  }

  private static void assertEvent(AuditEvent event, String action, String keyId, String... changedFields) {
    assertThat(event.action()).isEqualTo(action);
    assertThat(event.objectType()).isEqualTo("key");
    assertThat(event.objectId()).isEqualTo(keyId);
    assertThat(event.actor()).isEqualTo("master_key");
    assertThat(event.sourceIp()).isEqualTo(EVENTS_SOURCE_IP);
    assertThat(event.time()).isEqualTo(Instant.parse(AdminApi.START));
    assertThat(event.changedFields()).containsExactlyInAnyOrder(changedFields);
  }

  @Test
  void eachKeyActionIsRecordedOnceStoredWithTheKeyIdAndTheFieldNamesButNeverAKey() {
    var values = new ArrayList<String>();
    String custom = "sk-audit-custom-value-0123456789";
    JsonNode created = api.generate(Map.of("key", custom, "key_alias", "audited", "models", List.of("gpt-4o-mini"),
        "metadata", Map.of("owner", "team-a")));
    values.add(custom);
    String keyId = created.path("key_id").asText();
    assertThat(recorded).hasSize(1);
    assertEvent(last().event(), "key.generate", keyId, "key_alias", "models", "metadata");
    assertThat(last().storedThen()).as("recorded after the key was stored").isPresent();

    assertThat(api.post("/key/update", Map.of("key", custom, "user_id", "u-1", "duration", "30d")).status()).isEqualTo(200);
    assertEvent(last().event(), "key.update", keyId, "user_id", "duration");
    assertThat(last().storedThen().orElseThrow().userId()).as("recorded after the change was stored").isEqualTo("u-1");

    assertThat(api.post("/key/block", Map.of("key", custom)).status()).isEqualTo(200);
    assertEvent(last().event(), "key.block", keyId, "blocked");
    assertThat(last().storedThen().orElseThrow().blocked()).isTrue();

    assertThat(api.post("/key/unblock", Map.of("key", ApiKeys.hash(custom))).status()).isEqualTo(200);
    assertEvent(last().event(), "key.unblock", keyId, "blocked");
    assertThat(last().storedThen().orElseThrow().blocked()).isFalse();

    JsonNode regenerated = api.post("/key/regenerate", Map.of("key", custom, "grace_period", "1h")).body();
    String second = regenerated.path("key").asText();
    values.add(second);
    assertEvent(last().event(), "key.regenerate", keyId, "grace_period");
    assertThat(last().storedThen().orElseThrow().tokenHash()).as("recorded after the new value was stored").isEqualTo(ApiKeys.hash(second));

    String third = "sk-audit-chosen-new-value-987654";
    assertThat(api.post("/key/" + second + "/regenerate", Map.of("new_key", third)).status()).isEqualTo(200);
    values.add(third);
    assertEvent(last().event(), "key.regenerate", keyId, "new_key");

    assertThat(api.post("/key/delete", Map.of("keys", List.of(third))).status()).isEqualTo(200);
    assertEvent(last().event(), "key.delete", keyId);
    assertThat(last().storedThen()).as("recorded after the key was deleted").isEmpty();

    assertThat(events()).extracting(AuditEvent::action)
        .containsExactly("key.generate", "key.update", "key.block", "key.unblock", "key.regenerate", "key.regenerate", "key.delete");
    String everything = events().toString();
    for (String value : values) {
      assertThat(everything).doesNotContain(value).doesNotContain(ApiKeys.hash(value)).doesNotContain(value.substring(3));
    }
    assertThat(everything).doesNotContain("sk-").doesNotContain("team-a");
  }

  @Test
  void keysDeletedByAliasAreEachRecorded() {
    String first = api.generate(Map.of("key_alias", "one")).path("key_id").asText();
    String second = api.generate(Map.of("key_alias", "two")).path("key_id").asText();
    recorded.clear();

    assertThat(api.post("/key/delete", Map.of("key_aliases", List.of("one", "two"))).status()).isEqualTo(200);

    assertThat(events()).extracting(AuditEvent::action).containsExactly("key.delete", "key.delete");
    assertThat(events()).extracting(AuditEvent::objectId).containsExactlyInAnyOrder(first, second);
  }

  @Test
  void readsAndRefusedActionsAreNotRecorded() {
    String key = api.generate(Map.of("key_alias", "read-only")).path("key").asText();
    recorded.clear();

    assertThat(api.get("/key/info", query("key", key)).status()).isEqualTo(200);
    assertThat(api.get("/key/list", null).status()).isEqualTo(200);
    assertThat(api.post("/key/update", Map.of("key", "sk-no-such-key-0123456789abcdef", "user_id", "u")).status()).isEqualTo(404);
    assertThat(api.post("/key/generate", Map.of("key_alias", "read-only")).status()).as("alias taken").isEqualTo(400);
    assertThat(api.post("/key/block", Map.of("key", key, "blocked", true)).status()).as("unknown field").isEqualTo(400);
    assertThat(api.post("/key/delete", Map.of("keys", List.of(key, "sk-no-such-key-0123456789abcdef"))).status()).isEqualTo(404);

    assertThat(recorded).isEmpty();
  }

  @Test
  void takingTheValueAScheduledRotationLeftIsRecorded() {
    JsonNode created = api.generate(Map.of("key_alias", "nightly", "auto_rotate", true, "rotation_interval", "1d", "grace_period", "1h"));
    String first = created.path("key").asText();
    api.clock.advance(Duration.ofDays(1));
    assertThat(rotator.rotateDue().rotated()).isEqualTo(1);
    recorded.clear();

    JsonNode retrieved = api.post("/key/retrieve", Map.of("key", first)).body();

    String second = retrieved.path("key").asText();
    assertThat(second).startsWith("sk-").isNotEqualTo(first);
    AuditEvent event = events().get(0);
    assertThat(events()).hasSize(1);
    assertThat(event.action()).isEqualTo("key.retrieve");
    assertThat(event.objectId()).isEqualTo(created.path("key_id").asText());
    assertThat(event.sourceIp()).isEqualTo(EVENTS_SOURCE_IP);
    assertThat(event.time()).isEqualTo(Instant.parse(AdminApi.START).plus(Duration.ofDays(1)));
    assertThat(event.toString()).doesNotContain(first).doesNotContain(second).doesNotContain(ApiKeys.hash(second));
  }
}

package aigw.admin;

import static aigw.admin.AdminApi.query;
import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.audit.AuditEvent;
import aigw.core.audit.AuditLog;
import aigw.core.keys.ApiKeys;
import aigw.core.rotation.LoggedRotationEvents;
import aigw.core.rotation.VirtualKeyRotator;
import aigw.core.secrets.InMemorySecretsManager;
import aigw.core.teams.Team;
import aigw.core.testing.MutableClock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Every team action that changes something is in the audit log as key actions are: the team's id,
 * the actor, the client's address, the time and the names of the fields set (never their values),
 * recorded once the change is stored; a team's deletion also records each key it removed; reads
 * and refused actions are not recorded; no key is ever in it.
 */
class TeamAuditTest {
  /** requestContext.identity.sourceIp of the events/admin-*.json events the calls are built on. */
  private static final String EVENTS_SOURCE_IP = "203.0.113.10";

  /** An event, and the team and key it names as the stores held them when it was recorded. */
  record Recorded(AuditEvent event, Optional<Team> teamThen, boolean keyStoredThen) {}

  private final List<Recorded> recorded = new CopyOnWriteArrayList<>();
  private AdminApi api;

  @BeforeEach
  void start() {
    MutableClock clock = MutableClock.at(AdminApi.START);
    var secrets = new InMemorySecretsManager(clock);
    api = new AdminApi(clock, gateway -> {
      var rotator = new VirtualKeyRotator(gateway.keyStore(), gateway.keyCache(), secrets, VirtualKeyRotator.DEFAULT_SECRET_PREFIX,
          new LoggedRotationEvents(), clock);
      AuditLog auditLog = event -> recorded.add(new Recorded(event,
          event.objectType().equals("team") ? gateway.teamStore().find(event.objectId()) : Optional.empty(),
          gateway.keyStore().listAll().stream().anyMatch(k -> k.keyId().equals(event.objectId()))));
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

  private static void assertEvent(AuditEvent event, String action, String type, String id, String... changedFields) {
    assertThat(event.action()).isEqualTo(action);
    assertThat(event.objectType()).isEqualTo(type);
    assertThat(event.objectId()).isEqualTo(id);
    assertThat(event.actor()).isEqualTo("master_key");
    assertThat(event.sourceIp()).isEqualTo(EVENTS_SOURCE_IP);
    assertThat(event.time()).isEqualTo(Instant.parse(AdminApi.START));
    assertThat(event.changedFields()).containsExactlyInAnyOrder(changedFields);
  }

  @Test
  void eachTeamActionIsRecordedOnceStoredWithTheTeamIdAndTheFieldNamesOnly() {
    var created = api.post("/team/new", Map.of("team_id", "team-audited", "team_alias", "secret-alias-value", "max_budget", 12.5,
        "metadata", Map.of("owner", "private-owner-value")));
    assertThat(created.status()).as(created.toString()).isEqualTo(200);
    assertEvent(last().event(), "team.new", "team", "team-audited", "team_alias", "max_budget", "metadata");
    assertThat(last().teamThen()).as("recorded after the team was stored").isPresent();

    assertThat(api.post("/team/update", Map.of("team_id", "team-audited", "rpm_limit", 7, "team_alias", "renamed-value")).status()).isEqualTo(200);
    assertEvent(last().event(), "team.update", "team", "team-audited", "rpm_limit", "team_alias");
    assertThat(last().teamThen().orElseThrow().limits().rpmLimit()).as("recorded after the change was stored").isEqualTo(7L);

    assertThat(api.post("/team/block", Map.of("team_id", "team-audited")).status()).isEqualTo(200);
    assertEvent(last().event(), "team.block", "team", "team-audited", "blocked");
    assertThat(last().teamThen().orElseThrow().blocked()).isTrue();

    assertThat(api.post("/team/unblock", Map.of("team_id", "team-audited")).status()).isEqualTo(200);
    assertEvent(last().event(), "team.unblock", "team", "team-audited", "blocked");
    assertThat(last().teamThen().orElseThrow().blocked()).isFalse();

    assertThat(events()).extracting(AuditEvent::action).containsExactly("team.new", "team.update", "team.block", "team.unblock");
    String everything = events().toString();
    assertThat(everything).doesNotContain("secret-alias-value").doesNotContain("renamed-value").doesNotContain("private-owner-value")
        .doesNotContain("12.5");
  }

  @Test
  void aTeamDeletionRecordsEachTeamAndEachKeyItRemovedButNeverAKey() {
    assertThat(api.post("/team/new", Map.of("team_id", "team-one")).status()).isEqualTo(200);
    assertThat(api.post("/team/new", Map.of("team_id", "team-two")).status()).isEqualTo(200);
    var first = api.generate(Map.of("team_id", "team-one", "key_alias", "first"));
    var second = api.generate(Map.of("team_id", "team-two", "key_alias", "second"));
    String outside = api.generate(Map.of("key_alias", "outside")).path("key_id").asText();
    recorded.clear();

    var deleted = api.post("/team/delete", Map.of("team_ids", List.of("team-one", "team-two")));

    assertThat(deleted.status()).as(deleted.toString()).isEqualTo(200);
    assertThat(events()).extracting(AuditEvent::action).containsExactlyInAnyOrder("team.delete", "team.delete", "key.delete", "key.delete");
    var teamEvents = events().stream().filter(e -> e.action().equals("team.delete")).toList();
    assertThat(teamEvents).extracting(AuditEvent::objectId).containsExactlyInAnyOrder("team-one", "team-two");
    teamEvents.forEach(e -> assertEvent(e, "team.delete", "team", e.objectId()));
    var keyEvents = events().stream().filter(e -> e.action().equals("key.delete")).toList();
    assertThat(keyEvents).extracting(AuditEvent::objectId)
        .containsExactlyInAnyOrder(first.path("key_id").asText(), second.path("key_id").asText()).doesNotContain(outside);
    keyEvents.forEach(e -> assertEvent(e, "key.delete", "key", e.objectId()));
    assertThat(recorded).as("recorded after the teams and keys were deleted")
        .allSatisfy(r -> assertThat(r.teamThen()).isEmpty())
        .allSatisfy(r -> assertThat(r.keyStoredThen()).isFalse());
    String everything = events().toString();
    for (String key : List.of(first.path("key").asText(), second.path("key").asText())) {
      assertThat(everything).doesNotContain(key).doesNotContain(ApiKeys.hash(key)).doesNotContain(key.substring(3));
    }
    assertThat(everything).doesNotContain("sk-");
  }

  @Test
  void readsAndRefusedTeamActionsAreNotRecorded() {
    assertThat(api.post("/team/new", Map.of("team_id", "team-read")).status()).isEqualTo(200);
    recorded.clear();

    assertThat(api.get("/team/info", query("team_id", "team-read")).status()).isEqualTo(200);
    assertThat(api.get("/team/list", null).status()).isEqualTo(200);
    assertThat(api.post("/team/new", Map.of("team_id", "team-read")).status()).as("id taken").isEqualTo(400);
    assertThat(api.post("/team/update", Map.of("team_id", "no-such-team", "rpm_limit", 1)).status()).isEqualTo(404);
    assertThat(api.post("/team/block", Map.of("team_id", "no-such-team")).status()).isEqualTo(404);
    assertThat(api.post("/team/delete", Map.of("team_ids", List.of("team-read", "no-such-team"))).status()).isEqualTo(404);

    assertThat(recorded).isEmpty();
  }
}

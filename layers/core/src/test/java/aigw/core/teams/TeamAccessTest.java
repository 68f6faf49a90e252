package aigw.core.teams;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.config.Router;
import aigw.core.errors.ErrorEnvelope;
import aigw.core.errors.ModelNotAllowed;
import aigw.core.keys.ApiKeys;
import aigw.core.keys.VirtualKey;
import aigw.core.testing.TestGateways;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** LiteLLM's rule: a key in a team may use only the models both its list and its team's allow. */
class TeamAccessTest {
  private static final Instant NOW = Instant.parse("2026-12-01T10:00:00Z");
  private static final Router ROUTER =
      new Router(
          List.of(
              TestGateways.openAi("model-a", "a", "http://127.0.0.1:9/v1"),
              TestGateways.openAi("model-b", "b", "http://127.0.0.1:9/v1"),
              TestGateways.openAi("model-c", "c", "http://127.0.0.1:9/v1")));

  private static VirtualKey key(List<String> models, String teamId) {
    return new VirtualKey(ApiKeys.hash("sk-x"), "k", "sk-...x", null, models, teamId, null, Map.of(), NOW, NOW, null, false, null);
  }

  private static Team team(List<String> models) {
    return new Team("t1", null, models, Map.of(), false, null, NOW, NOW);
  }

  private static List<String> allowed(VirtualKey key, Team team) {
    return List.of("model-a", "model-b", "model-c").stream().filter(m -> TeamAccess.allows(ROUTER, key, team, m)).toList();
  }

  @Test
  void aKeyInATeamMayUseOnlyWhatBothAllow() {
    assertThat(allowed(key(List.of("model-a", "model-b"), "t1"), team(List.of("model-b", "model-c")))).containsExactly("model-b");
    assertThat(allowed(key(List.of(), "t1"), team(List.of("model-a")))).as("key allows all").containsExactly("model-a");
    assertThat(allowed(key(List.of("model-c"), "t1"), team(List.of()))).as("team allows all").containsExactly("model-c");
    assertThat(allowed(key(List.of("model-c"), null), null)).as("no team").containsExactly("model-c");
  }

  @Test
  void allTeamModelsStandsForTheTeamsListAndReplacesTheKeysList() {
    var key = key(List.of("all-team-models", "model-c"), "t1");
    assertThat(allowed(key, team(List.of("model-a", "model-b")))).containsExactly("model-a", "model-b");
    assertThat(allowed(key(List.of("all-team-models"), "t1"), team(List.of()))).containsExactly("model-a", "model-b", "model-c");
    assertThat(allowed(key(List.of("all-team-models"), null), null)).as("no team: nothing").isEmpty();
  }

  @Test
  void theTeamsRefusalIsTeamModelAccessDenied401WithLiteLlmsMessage() {
    var key = key(List.of("model-a", "model-b"), "t1");

    assertThatThrownBy(() -> TeamAccess.requireModel(ROUTER, key, team(List.of("model-a")), "model-b"))
        .isInstanceOfSatisfying(ModelNotAllowed.class, e -> {
          assertThat(ErrorEnvelope.status(e)).isEqualTo(401);
          assertThat(ErrorEnvelope.type(e)).isEqualTo("team_model_access_denied");
          assertThat(e.param()).isEqualTo("model");
          assertThat(e.getMessage())
              .isEqualTo("team not allowed to access model. This team can only access models=[model-a]. Tried to access model-b");
        });
  }

  @Test
  void theKeysOwnListIsCheckedFirstAsKeyModelAccessDenied() {
    var key = key(List.of("model-a"), "t1");

    assertThatThrownBy(() -> TeamAccess.requireModel(ROUTER, key, team(List.of("model-b")), "model-b"))
        .isInstanceOfSatisfying(ModelNotAllowed.class, e -> {
          assertThat(ErrorEnvelope.type(e)).isEqualTo("key_model_access_denied");
          assertThat(e.getMessage()).startsWith("key not allowed to access model. This key can only access models=[model-a].");
        });
    TeamAccess.requireModel(ROUTER, key, team(List.of("model-a")), "model-a"); // allowed by both: no exception
  }
}

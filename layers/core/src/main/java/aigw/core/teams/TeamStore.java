package aigw.core.teams;

import java.math.BigDecimal;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Where teams live (the keys table on AWS and locally: {@code aigw.core.teams.dynamodb}). */
public interface TeamStore {
  /** The team with this id (one strongly consistent GetItem), or empty. */
  Optional<Team> find(String teamId);

  /** Creates the team; throws {@link TeamAlreadyExists} if the id is taken. */
  void create(Team team);

  /**
   * Applies the changes to the team as stored now and returns the result; a concurrent change is
   * read again and the changes applied once more. Throws {@link TeamNotFound} if it is gone, {@link
   * aigw.core.errors.Conflict} (409) if it kept changing under every attempt.
   */
  Team update(String teamId, TeamChanges changes, Instant now);

  /** Deletes all the teams or none; throws {@link TeamNotFound} naming the missing ones. */
  void deleteAll(Collection<String> teamIds);

  /** Every team; for the admin listing. */
  List<Team> listAll();

  /**
   * What each key has spent, in USD, by key id: the {@code spend} attribute of the keys' usage items
   * (a key with none is absent). A team's spend is the sum of its keys' (LiteLLM's rule). One scan of
   * the table, as the admin key listing does: admin calls only.
   */
  Map<String, BigDecimal> spendByKey();

  /** No teams: every team id is unknown, and creating one is refused. For gateways without a DynamoDB table. */
  TeamStore NONE =
      new TeamStore() {
        @Override
        public Optional<Team> find(String teamId) {
          return Optional.empty();
        }

        @Override
        public void create(Team team) {
          throw new aigw.core.errors.ServiceUnavailable("This gateway has no team store.", null);
        }

        @Override
        public Team update(String teamId, TeamChanges changes, Instant now) {
          throw new TeamNotFound(List.of(teamId));
        }

        @Override
        public void deleteAll(Collection<String> teamIds) {
          throw new TeamNotFound(List.copyOf(teamIds));
        }

        @Override
        public List<Team> listAll() {
          return List.of();
        }

        @Override
        public Map<String, BigDecimal> spendByKey() {
          return Map.of();
        }
      };

  /** Thrown when a team to create has the id of an existing one. */
  final class TeamAlreadyExists extends RuntimeException {
    public TeamAlreadyExists(String teamId) {
      super("Team id = " + teamId + " already exists. Please use a different team id.", null, false, false);
    }
  }

  /** Thrown when teams to change or delete do not exist. */
  final class TeamNotFound extends RuntimeException {
    private final List<String> missing;

    public TeamNotFound(List<String> missing) {
      super("no such team: " + missing, null, false, false);
      this.missing = List.copyOf(missing);
    }

    public List<String> missing() {
      return missing;
    }
  }
}

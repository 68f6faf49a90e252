package aigw.core.teams.dynamodb;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.keys.ApiKeys;
import aigw.core.keys.VirtualKey;
import aigw.core.keys.dynamodb.DynamoDbKeyStore;
import aigw.core.teams.Team;
import aigw.core.teams.TeamChanges;
import aigw.core.teams.TeamLimits;
import aigw.core.teams.TeamStore;
import aigw.core.testing.LocalDynamo;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/** Teams stored in the keys table of DynamoDB Local, beside keys and their usage. */
class DynamoDbTeamStoreTest {
  private static final Instant NOW = Instant.parse("2026-12-01T10:00:00Z");
  private static LocalDynamo dynamo;
  private static DynamoDbTeamStore teams;
  private static DynamoDbKeyStore keys;

  @BeforeAll
  static void start() {
    dynamo = new LocalDynamo();
    teams = new DynamoDbTeamStore(dynamo.client(), dynamo.keysTable());
    keys = new DynamoDbKeyStore(dynamo.client(), dynamo.keysTable());
  }

  @AfterAll
  static void stop() {
    dynamo.close();
  }

  private static Team team(String id) {
    return new Team(
        id, "Team " + id, List.of("gpt-4o-mini", "openai/*"), Map.of("owner", "ml", "n", 3), false,
        new TeamLimits(new BigDecimal("12.50"), new BigDecimal("10"), "30d", 100_000L, 60L, 4L), NOW, NOW);
  }

  private static VirtualKey key(String teamId) {
    String value = ApiKeys.generate();
    return new VirtualKey(ApiKeys.hash(value), "id-" + value.substring(10), ApiKeys.mask(value), null, List.of(), teamId, null,
        Map.of(), NOW, NOW, null, false, null);
  }

  @Test
  void aTeamRoundTripsWithEveryFieldAndLimit() {
    var team = team("round-trip");
    teams.create(team);

    assertThat(teams.find("round-trip")).contains(team);
    assertThat(teams.find("no-such-team")).isEmpty();
  }

  @Test
  void aTeamWithoutLimitsKeepsThemNull() {
    var bare = new Team("bare", null, List.of(), null, false, null, NOW, NOW);
    teams.create(bare);

    Team found = teams.find("bare").orElseThrow();
    assertThat(found.limits()).isEqualTo(TeamLimits.NONE);
    assertThat(found.teamAlias()).isNull();
    assertThat(found.models()).isEmpty();
  }

  @Test
  void creatingATakenTeamIdIsRefusedAndKeepsTheFirst() {
    teams.create(team("taken"));
    var second = new Team("taken", "other", List.of(), Map.of(), true, null, NOW, NOW);

    assertThatThrownBy(() -> teams.create(second))
        .isInstanceOf(TeamStore.TeamAlreadyExists.class)
        .hasMessage("Team id = taken already exists. Please use a different team id.");
    assertThat(teams.find("taken").orElseThrow().teamAlias()).isEqualTo("Team taken");
  }

  @Test
  void anUpdateChangesTheFieldsSentAndKeepsTheRest() {
    teams.create(team("updated"));
    Instant later = NOW.plusSeconds(60);
    var changes =
        new TeamChanges(Optional.empty(), Optional.of(List.of("gpt-4o")), Optional.empty(), Optional.of(true), Optional.empty(),
            Optional.empty(), Optional.of("1d"), Optional.empty(), Optional.of(5L), Optional.empty());

    Team updated = teams.update("updated", changes, later);

    assertThat(teams.find("updated")).contains(updated);
    assertThat(updated.models()).containsExactly("gpt-4o");
    assertThat(updated.blocked()).isTrue();
    assertThat(updated.teamAlias()).isEqualTo("Team updated");
    assertThat(updated.limits()).isEqualTo(new TeamLimits(new BigDecimal("12.50"), new BigDecimal("10"), "1d", 100_000L, 5L, 4L));
    assertThat(updated.createdAt()).isEqualTo(NOW);
    assertThat(updated.updatedAt()).isEqualTo(later);
  }

  @Test
  void concurrentUpdatesOfOneTeamLoseNoField() throws Exception {
    teams.create(team("raced"));
    try (var pool = Executors.newFixedThreadPool(2)) {
      var block = pool.submit(() -> teams.update("raced", TeamChanges.blocked(true), NOW.plusSeconds(1)));
      var models =
          pool.submit(
              () ->
                  teams.update(
                      "raced",
                      new TeamChanges(Optional.empty(), Optional.of(List.of("gpt-4o")), Optional.empty(), Optional.empty(),
                          Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty()),
                      NOW.plusSeconds(1)));
      block.get(30, TimeUnit.SECONDS);
      models.get(30, TimeUnit.SECONDS);
    }
    Team found = teams.find("raced").orElseThrow();
    assertThat(found.blocked()).isTrue();
    assertThat(found.models()).containsExactly("gpt-4o");
  }

  /** As /key/update's: a team that changes under every attempt of an update is a 409 conflict_error (retry), not a 503. */
  @SuppressWarnings("unchecked")
  @Test
  void anUpdateLosingEveryRaceIsA409Conflict() {
    teams.create(team("always-changing"));
    var delegate = dynamo.client();
    // Another admin writes the team between each read and conditional write of the update.
    var racing = (software.amazon.awssdk.services.dynamodb.DynamoDbClient) java.lang.reflect.Proxy.newProxyInstance(
        getClass().getClassLoader(), new Class<?>[] {software.amazon.awssdk.services.dynamodb.DynamoDbClient.class},
        (proxy, method, args) -> {
          if (method.getName().equals("putItem") && args[0] instanceof java.util.function.Consumer<?> build) {
            var builder = software.amazon.awssdk.services.dynamodb.model.PutItemRequest.builder();
            ((java.util.function.Consumer<software.amazon.awssdk.services.dynamodb.model.PutItemRequest.Builder>) build).accept(builder);
            var request = builder.build();
            if (request.conditionExpression() != null && request.conditionExpression().contains("#version")) {
              delegate.putItem(r -> r.tableName(request.tableName()).item(request.item())); // the other admin's write
            }
            return delegate.putItem(request);
          }
          try {
            return method.invoke(delegate, args);
          } catch (java.lang.reflect.InvocationTargetException e) {
            throw e.getCause();
          }
        });
    var store = new DynamoDbTeamStore(racing, dynamo.keysTable());

    assertThatThrownBy(() -> store.update("always-changing", TeamChanges.blocked(true), NOW.plusSeconds(1)))
        .isInstanceOfSatisfying(aigw.core.errors.GatewayException.class, e -> {
          assertThat(aigw.core.errors.ErrorEnvelope.status(e)).isEqualTo(409);
          assertThat(new String(aigw.core.errors.ErrorEnvelope.response(e).body(), java.nio.charset.StandardCharsets.UTF_8))
              .contains("\"type\":\"conflict_error\"").contains("\"param\":\"team_id\"");
        });
  }

  @Test
  void updatingOrDeletingAMissingTeamNamesIt() {
    teams.create(team("present"));

    assertThatThrownBy(() -> teams.update("absent", TeamChanges.blocked(true), NOW))
        .isInstanceOfSatisfying(TeamStore.TeamNotFound.class, e -> assertThat(e.missing()).containsExactly("absent"));
    assertThatThrownBy(() -> teams.deleteAll(List.of("present", "absent")))
        .isInstanceOfSatisfying(TeamStore.TeamNotFound.class, e -> assertThat(e.missing()).containsExactly("absent"));
    assertThat(teams.find("present")).as("all or none").isPresent();

    teams.deleteAll(List.of("present"));
    assertThat(teams.find("present")).isEmpty();
  }

  @Test
  void teamsAndKeysShareTheTableWithoutShowingInEachOthersListings() {
    teams.create(team("listed"));
    var member = key("listed");
    keys.create(member);

    assertThat(teams.listAll()).extracting(Team::teamId).contains("listed").doesNotContain(member.tokenHash());
    assertThat(keys.listAll()).as("a team item is not a key").extracting(VirtualKey::tokenHash).doesNotContain("team#listed")
        .contains(member.tokenHash());
    assertThat(keys.listAll()).allSatisfy(k -> assertThat(k.keyId()).isNotNull());
  }

  @Test
  void eachKeysSpendIsItsUsageItemsSpendAttribute() {
    var first = key("spender");
    var second = key("spender");
    var unpriced = key("spender");
    keys.create(first);
    keys.create(second);
    keys.create(unpriced);
    addSpend(first.keyId(), "0.25");
    addSpend(second.keyId(), "1.5");
    addSpend(second.keyId(), "0.000001");

    var spend = teams.spendByKey();

    assertThat(spend.get(first.keyId())).isEqualByComparingTo("0.25");
    assertThat(spend.get(second.keyId())).isEqualByComparingTo("1.500001");
    assertThat(spend.getOrDefault(unpriced.keyId(), java.math.BigDecimal.ZERO)).as("a key with no priced call")
        .isEqualByComparingTo("0");
  }

  /** What the usage writer adds to a key's usage item per priced call (attribute {@code spend}, USD). */
  private static void addSpend(String keyId, String usd) {
    dynamo.client().updateItem(r -> r.tableName(dynamo.keysTable())
        .key(Map.of("token_hash", AttributeValue.fromS("usage#" + keyId)))
        .updateExpression("ADD #spend :usd")
        .expressionAttributeNames(Map.of("#spend", "spend"))
        .expressionAttributeValues(Map.of(":usd", AttributeValue.fromN(usd))));
  }
}

package aigw.core.teams.dynamodb;

import static aigw.core.teams.dynamodb.TeamItems.*;

import aigw.core.errors.ServiceUnavailable;
import aigw.core.teams.Team;
import aigw.core.teams.TeamChanges;
import aigw.core.teams.TeamStore;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.CancellationReason;
import software.amazon.awssdk.services.dynamodb.model.ConditionalCheckFailedException;
import software.amazon.awssdk.services.dynamodb.model.TransactWriteItem;
import software.amazon.awssdk.services.dynamodb.model.TransactionCanceledException;

/**
 * Teams in the keys table, one item each ({@link TeamItems}). An update is a read and a put
 * conditional on the item's {@code version} being the one read, retried on a concurrent change,
 * so two admin calls on one team never lose each other's fields.
 */
public final class DynamoDbTeamStore implements TeamStore {
  /** TransactWriteItems takes at most 100 actions, two per team deleted (the team, its limit state). */
  public static final int MAX_DELETE_BATCH = 50;
  private static final String VERSION = "version";
  private static final int UPDATE_ATTEMPTS = 5;

  private final DynamoDbClient dynamo;
  private final String table;

  public DynamoDbTeamStore(DynamoDbClient dynamo, String table) {
    this.dynamo = dynamo;
    this.table = table;
  }

  @Override
  public Optional<Team> find(String teamId) {
    return read(teamId).map(TeamItems::fromItem);
  }

  private Optional<Map<String, AttributeValue>> read(String teamId) {
    // Strongly consistent: a team works the moment /team/new has answered, and a block is seen by
    // the next uncached read.
    var item = call(() -> dynamo.getItem(r -> r.tableName(table).key(key(partitionKey(teamId))).consistentRead(true)).item());
    return item == null || item.isEmpty() ? Optional.empty() : Optional.of(item);
  }

  @Override
  public void create(Team team) {
    var item = new HashMap<>(toItem(team));
    item.put(VERSION, AttributeValue.fromN("1"));
    try {
      call(() -> dynamo.putItem(r -> r.tableName(table).item(item).conditionExpression("attribute_not_exists(token_hash)")));
    } catch (ConditionalCheckFailedException e) {
      throw new TeamAlreadyExists(team.teamId());
    }
  }

  @Override
  public Team update(String teamId, TeamChanges changes, Instant now) {
    for (int attempt = 1; ; attempt++) {
      var current = read(teamId).orElseThrow(() -> new TeamNotFound(List.of(teamId)));
      Team updated = changes.applyTo(fromItem(current), now);
      long version = current.containsKey(VERSION) ? Long.parseLong(current.get(VERSION).n()) : 0;
      var item = new HashMap<>(toItem(updated));
      item.put(VERSION, AttributeValue.fromN(Long.toString(version + 1)));
      try {
        call(
            () ->
                dynamo.putItem(
                    r ->
                        r.tableName(table)
                            .item(item)
                            .conditionExpression("#version = :read")
                            .expressionAttributeNames(Map.of("#version", VERSION))
                            .expressionAttributeValues(Map.of(":read", AttributeValue.fromN(Long.toString(version))))));
        return updated;
      } catch (ConditionalCheckFailedException e) {
        // Changed (or deleted) since it was read: read it again; a deleted team ends as TeamNotFound.
        if (attempt == UPDATE_ATTEMPTS) {
          // Lost the race to other changes every time: a 409 as a key's (KeyAdmin.change), safe to retry.
          throw new aigw.core.errors.Conflict(
              "Team " + teamId + " kept changing under this update; nothing was changed. Read it again and retry.", "team_id");
        }
      }
    }
  }

  @Override
  public void deleteAll(Collection<String> teamIds) {
    List<String> ids = List.copyOf(new LinkedHashSet<>(teamIds));
    if (ids.isEmpty()) {
      return;
    }
    var actions =
        ids.stream()
            .map(
                id ->
                    TransactWriteItem.builder()
                        .delete(d -> d.tableName(table).key(key(partitionKey(id))).conditionExpression("attribute_exists(token_hash)"))
                        .build())
            .collect(java.util.stream.Collectors.toCollection(ArrayList::new));
    // After the teams (a cancellation's reasons are read by the teams' positions): each team's limit
    // state, so nothing of its limits outlives it and a new team of the same id starts afresh.
    ids.forEach(id -> actions.add(
        TransactWriteItem.builder().delete(d -> d.tableName(table).key(key(aigw.core.limits.LimitScope.teamItem(id)))).build()));
    try {
      call(() -> dynamo.transactWriteItems(r -> r.transactItems(actions)));
    } catch (TransactionCanceledException e) {
      List<CancellationReason> reasons = e.cancellationReasons();
      var missing = new ArrayList<String>();
      for (int i = 0; reasons != null && i < reasons.size() && i < ids.size(); i++) {
        if ("ConditionalCheckFailed".equals(reasons.get(i).code())) {
          missing.add(ids.get(i));
        }
      }
      if (missing.isEmpty()) {
        throw new ServiceUnavailable("Deleting teams " + ids + " was cancelled by a concurrent change; nothing was deleted.", e);
      }
      throw new TeamNotFound(missing);
    }
  }

  @Override
  public List<Team> listAll() {
    return call(
        () ->
            dynamo
                .scanPaginator(
                    r ->
                        r.tableName(table)
                            .consistentRead(true)
                            .filterExpression("begins_with(token_hash, :prefix)")
                            .expressionAttributeValues(Map.of(":prefix", AttributeValue.fromS(TEAM_PREFIX))))
                .items()
                .stream()
                .filter(TeamItems::isTeam)
                .map(TeamItems::fromItem)
                .toList());
  }

  @Override
  public Map<String, BigDecimal> spendByKey() {
    // A scan, not BatchGetItem: the admin function's role is granted Scan (for the key listing) and
    // needs nothing more; the team routes scan the table for the team's keys anyway.
    var spend = new HashMap<String, BigDecimal>();
    call(
        () -> {
          dynamo
              .scanPaginator(
                  r ->
                      r.tableName(table)
                          .consistentRead(true)
                          .filterExpression("begins_with(token_hash, :usage) AND attribute_exists(#spend)")
                          .projectionExpression("token_hash, #spend")
                          .expressionAttributeNames(Map.of("#spend", SPEND))
                          .expressionAttributeValues(Map.of(":usage", AttributeValue.fromS(USAGE_PREFIX))))
              .items()
              .forEach(item -> spend.put(item.get(PARTITION_KEY).s().substring(USAGE_PREFIX.length()), spend(item)));
          return null;
        });
    return spend;
  }

  /** Condition failures are answers; any other SDK failure means DynamoDB is unavailable. */
  private static <T> T call(Supplier<T> request) {
    try {
      return request.get();
    } catch (ConditionalCheckFailedException | TransactionCanceledException e) {
      throw e;
    } catch (SdkException e) {
      throw new ServiceUnavailable("The team store (DynamoDB) is unavailable: " + e.getMessage(), e);
    }
  }
}

package aigw.core.teams.dynamodb;

import aigw.core.json.Json;
import aigw.core.teams.Team;
import aigw.core.teams.TeamLimits;
import com.fasterxml.jackson.core.type.TypeReference;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/**
 * A team's item in the keys table: partition key {@code token_hash} = {@code team#<team_id>} (a key's
 * is 64 hex characters, so the two never meet), attributes with LiteLLM's names. Absent limits are
 * left out of the item.
 */
final class TeamItems {
  static final String PARTITION_KEY = "token_hash"; // the keys table's (template.yaml)
  static final String TEAM_PREFIX = "team#";
  static final String TEAM_ID = "team_id";
  static final String TEAM_ALIAS = "team_alias";
  static final String MODELS = "models";
  static final String METADATA = "metadata"; // JSON text: keeps any shape the admin sent
  static final String BLOCKED = "blocked";
  static final String MAX_BUDGET = "max_budget";
  static final String SOFT_BUDGET = "soft_budget";
  static final String BUDGET_DURATION = "budget_duration";
  static final String TPM_LIMIT = "tpm_limit";
  static final String RPM_LIMIT = "rpm_limit";
  static final String MAX_PARALLEL_REQUESTS = "max_parallel_requests";
  static final String CREATED_AT = "created_at";
  static final String UPDATED_AT = "updated_at";

  /** A key's usage item, {@code usage#<key_id>} (aigw.core.keys.dynamodb.KeyItems), and its spend in USD. */
  static final String USAGE_PREFIX = "usage#";
  static final String SPEND = "spend";

  private static final TypeReference<Map<String, Object>> METADATA_TYPE = new TypeReference<>() {};

  private TeamItems() {}

  static String partitionKey(String teamId) {
    return TEAM_PREFIX + teamId;
  }

  static Map<String, AttributeValue> key(String partitionKey) {
    return Map.of(PARTITION_KEY, AttributeValue.fromS(partitionKey));
  }

  static Map<String, AttributeValue> toItem(Team team) {
    var item = new HashMap<String, AttributeValue>();
    item.put(PARTITION_KEY, s(partitionKey(team.teamId())));
    item.put(TEAM_ID, s(team.teamId()));
    if (team.teamAlias() != null) {
      item.put(TEAM_ALIAS, s(team.teamAlias()));
    }
    item.put(MODELS, AttributeValue.fromL(team.models().stream().map(AttributeValue::fromS).toList()));
    item.put(METADATA, s(Json.string(team.metadata())));
    item.put(BLOCKED, AttributeValue.fromBool(team.blocked()));
    TeamLimits limits = team.limits();
    putNumber(item, MAX_BUDGET, limits.maxBudget());
    putNumber(item, SOFT_BUDGET, limits.softBudget());
    if (limits.budgetDuration() != null) {
      item.put(BUDGET_DURATION, s(limits.budgetDuration()));
    }
    putNumber(item, TPM_LIMIT, limits.tpmLimit());
    putNumber(item, RPM_LIMIT, limits.rpmLimit());
    putNumber(item, MAX_PARALLEL_REQUESTS, limits.maxParallelRequests());
    item.put(CREATED_AT, s(team.createdAt().toString()));
    item.put(UPDATED_AT, s(team.updatedAt().toString()));
    return item;
  }

  static boolean isTeam(Map<String, AttributeValue> item) {
    AttributeValue pk = item.get(PARTITION_KEY);
    return pk != null && pk.s() != null && pk.s().startsWith(TEAM_PREFIX);
  }

  static Team fromItem(Map<String, AttributeValue> item) {
    return new Team(
        text(item, TEAM_ID),
        text(item, TEAM_ALIAS),
        item.containsKey(MODELS) ? item.get(MODELS).l().stream().map(AttributeValue::s).toList() : List.of(),
        readMetadata(text(item, METADATA)),
        item.containsKey(BLOCKED) && Boolean.TRUE.equals(item.get(BLOCKED).bool()),
        new TeamLimits(
            decimal(item, MAX_BUDGET),
            decimal(item, SOFT_BUDGET),
            text(item, BUDGET_DURATION),
            whole(item, TPM_LIMIT),
            whole(item, RPM_LIMIT),
            whole(item, MAX_PARALLEL_REQUESTS)),
        Instant.parse(text(item, CREATED_AT)),
        Instant.parse(text(item, UPDATED_AT)));
  }

  /** A usage item's spend; 0 when it has none (no call was priced yet). */
  static BigDecimal spend(Map<String, AttributeValue> usageItem) {
    BigDecimal spend = decimal(usageItem, SPEND);
    return spend == null ? BigDecimal.ZERO : spend;
  }

  private static void putNumber(Map<String, AttributeValue> item, String name, Object value) {
    if (value != null) {
      item.put(name, AttributeValue.fromN(value instanceof BigDecimal d ? d.toPlainString() : value.toString()));
    }
  }

  private static AttributeValue s(String value) {
    return AttributeValue.fromS(value);
  }

  private static String text(Map<String, AttributeValue> item, String name) {
    AttributeValue value = item.get(name);
    return value == null ? null : value.s();
  }

  private static BigDecimal decimal(Map<String, AttributeValue> item, String name) {
    AttributeValue value = item.get(name);
    return value == null || value.n() == null ? null : new BigDecimal(value.n());
  }

  private static Long whole(Map<String, AttributeValue> item, String name) {
    AttributeValue value = item.get(name);
    return value == null || value.n() == null ? null : Long.valueOf(value.n());
  }

  private static Map<String, Object> readMetadata(String json) {
    if (json == null || json.isEmpty()) {
      return Map.of();
    }
    try {
      return Json.MAPPER.readValue(json, METADATA_TYPE);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}

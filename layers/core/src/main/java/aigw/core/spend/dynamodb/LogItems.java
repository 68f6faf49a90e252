package aigw.core.spend.dynamodb;

import aigw.core.audit.AuditEvent;
import aigw.core.audit.AuditLogReader;
import aigw.core.json.Json;
import aigw.core.spend.SpendLogEntry;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/**
 * The layout of the logs table (template.yaml {@code LogsTable}): one item per model call (spend)
 * and one per admin action (audit), each with its own time to live. Attribute names are short
 * because every item repeats them; what an item can be rebuilt from (the key id, the team, the
 * request id, the day) is held once, in the keys that index it.
 *
 * <pre>
 * attribute  spend item                          audit item
 * pk         key#&lt;key id&gt; (key#- : no key)        audit#&lt;object id&gt;
 * sk         &lt;start, epoch ms, 13 digits&gt;#&lt;request id&gt;   &lt;time, epoch ms&gt;#&lt;event id&gt;
 * tp         team#&lt;team id&gt; (only with a team: the ByTeam index is sparse)
 * dp         spend#&lt;yyyy-mm-dd&gt; (ByDay index)    audit#&lt;yyyy-mm-dd&gt; (ByDay index)
 * purge_at   epoch seconds: the time + the retention (DynamoDB's TTL deletes it afterwards)
 * al         the key's alias at the call          -
 * m, d       model group asked for, deployment    -
 * pt ct tt   prompt, completion, total tokens     -
 * c          cost, USD (a decimal number)          -
 * st, ms     HTTP status, latency in ms           -
 * e          true when the tokens are estimated   -
 * a, ot      -                                    action, object type (key, team)
 * by, ip     -                                    actor, source IP
 * f          -                                    changed field names, comma-separated
 * x          -                                    details, JSON
 * </pre>
 *
 * Never the prompt, the key or its hash: a spend item names the key by its stable id only.
 */
public final class LogItems {
  public static final String PK = "pk";
  public static final String SK = "sk";
  public static final String TEAM_PK = "tp";
  public static final String DAY_PK = "dp";
  public static final String PURGE_AT = "purge_at";
  public static final String BY_TEAM = "ByTeam";
  public static final String BY_DAY = "ByDay";

  static final String KEY_PREFIX = "key#";
  static final String AUDIT_PREFIX = "audit#";
  static final String TEAM_PREFIX = "team#";
  static final String SPEND_DAY_PREFIX = "spend#";
  static final String AUDIT_DAY_PREFIX = "audit#";
  /** The partition of calls made without a virtual key (the master key, where allowed). */
  static final String NO_KEY = "-";

  private LogItems() {}

  /** The sort key: the time in epoch milliseconds, 13 digits so that text order is time order, then an id. */
  static String sortKey(Instant time, String id) {
    return String.format("%013d#%s", time.toEpochMilli(), id);
  }

  static Instant timeOf(String sortKey) {
    return Instant.ofEpochMilli(Long.parseLong(sortKey.substring(0, 13)));
  }

  static String idOf(String sortKey) {
    return sortKey.substring(14);
  }

  /** Whether {@code text} has the form of a sort key (a cursor a client sent back). */
  public static boolean isSortKey(String text) {
    return text.length() > 14 && text.charAt(13) == '#' && text.substring(0, 13).chars().allMatch(Character::isDigit);
  }

  static String day(Instant time) {
    return LocalDate.ofInstant(time, ZoneOffset.UTC).toString();
  }

  static String keyPartition(String keyId) {
    return KEY_PREFIX + (keyId == null ? NO_KEY : keyId);
  }

  static String teamPartition(String teamId) {
    return TEAM_PREFIX + teamId;
  }

  static String auditPartition(String objectId) {
    return AUDIT_PREFIX + (objectId == null ? NO_KEY : objectId);
  }

  static Map<String, AttributeValue> spendItem(SpendLogEntry entry, Duration retention) {
    var item = new HashMap<String, AttributeValue>();
    item.put(PK, s(keyPartition(entry.keyId())));
    item.put(SK, s(sortKey(entry.startTime(), entry.requestId())));
    if (entry.teamId() != null) {
      item.put(TEAM_PK, s(teamPartition(entry.teamId())));
    }
    item.put(DAY_PK, s(SPEND_DAY_PREFIX + day(entry.startTime())));
    item.put(PURGE_AT, n(entry.startTime().plus(retention).getEpochSecond()));
    putText(item, "al", entry.keyAlias());
    putText(item, "m", entry.model());
    putText(item, "d", entry.deployment());
    item.put("pt", n(entry.promptTokens()));
    item.put("ct", n(entry.completionTokens()));
    item.put("tt", n(entry.totalTokens()));
    item.put("c", AttributeValue.fromN((entry.cost() == null ? BigDecimal.ZERO : entry.cost()).toPlainString()));
    item.put("st", n(entry.status()));
    item.put("ms", n(entry.latencyMillis()));
    if (entry.estimated()) {
      item.put("e", AttributeValue.fromBool(true));
    }
    return item;
  }

  /** Whether an item of the table is a spend record (its partition is a key's), not an audit event. */
  public static boolean isSpendItem(Map<String, AttributeValue> item) {
    AttributeValue pk = item.get(PK);
    return pk != null && pk.s() != null && pk.s().startsWith(KEY_PREFIX);
  }

  /** The call a spend item records (the local gateway moves an earlier version's items into its own store). */
  public static SpendLogEntry spendEntry(Map<String, AttributeValue> item) {
    String sortKey = item.get(SK).s();
    String keyId = item.get(PK).s().substring(KEY_PREFIX.length());
    String team = item.containsKey(TEAM_PK) ? item.get(TEAM_PK).s().substring(TEAM_PREFIX.length()) : null;
    return new SpendLogEntry(
        idOf(sortKey),
        keyId.equals(NO_KEY) ? null : keyId,
        text(item, "al"),
        team,
        text(item, "m"),
        text(item, "d"),
        number(item, "pt"),
        number(item, "ct"),
        number(item, "tt"),
        item.containsKey("c") ? new BigDecimal(item.get("c").n()) : BigDecimal.ZERO,
        (int) number(item, "st"),
        number(item, "ms"),
        item.containsKey("e") && Boolean.TRUE.equals(item.get("e").bool()),
        timeOf(sortKey));
  }

  static Map<String, AttributeValue> auditItem(AuditEvent event, String eventId, Duration retention) {
    var item = new HashMap<String, AttributeValue>();
    item.put(PK, s(auditPartition(event.objectId())));
    item.put(SK, s(sortKey(event.time(), eventId)));
    item.put(DAY_PK, s(AUDIT_DAY_PREFIX + day(event.time())));
    item.put(PURGE_AT, n(event.time().plus(retention).getEpochSecond()));
    putText(item, "a", event.action());
    putText(item, "ot", event.objectType());
    putText(item, "by", event.actor());
    putText(item, "ip", event.sourceIp());
    if (event.changedFields() != null && !event.changedFields().isEmpty()) {
      item.put("f", s(String.join(",", event.changedFields())));
    }
    if (event.details() != null && !event.details().isEmpty()) {
      try {
        item.put("x", s(Json.MAPPER.writeValueAsString(event.details())));
      } catch (JsonProcessingException e) {
        throw new IllegalArgumentException("audit details that are not JSON: " + e.getMessage(), e);
      }
    }
    return item;
  }

  /** One stored audit event and its id (the second half of its sort key). */
  @SuppressWarnings("unchecked")
  static AuditLogReader.Entry auditEvent(Map<String, AttributeValue> item) {
    String sortKey = item.get(SK).s();
    String objectId = item.get(PK).s().substring(AUDIT_PREFIX.length());
    Map<String, Object> details = Map.of();
    if (item.containsKey("x")) {
      try {
        details = Json.MAPPER.readValue(item.get("x").s(), LinkedHashMap.class);
      } catch (JsonProcessingException e) {
        details = Map.of();
      }
    }
    List<String> fields = item.containsKey("f") ? Arrays.asList(item.get("f").s().split(",")) : List.of();
    return new AuditLogReader.Entry(
        idOf(sortKey),
        new AuditEvent(text(item, "a"), text(item, "ot"), objectId.equals(NO_KEY) ? null : objectId, text(item, "by"),
            text(item, "ip"), timeOf(sortKey), fields, details));
  }

  /**
   * An item in DynamoDB's own JSON form ({@code {"pk":{"S":"…"},"c":{"N":"0.1"},"e":{"BOOL":true}}}),
   * the form {@code aws dynamodb put-item --item} takes: how the journals keep an item.
   */
  public static String toJson(Map<String, AttributeValue> item) {
    ObjectNode json = Json.MAPPER.createObjectNode();
    item.forEach((name, value) -> {
      ObjectNode typed = json.putObject(name);
      if (value.s() != null) {
        typed.put("S", value.s());
      } else if (value.n() != null) {
        typed.put("N", value.n());
      } else if (value.bool() != null) {
        typed.put("BOOL", value.bool());
      } else {
        throw new IllegalArgumentException("attribute " + name + " is of a type the logs table does not use");
      }
    });
    return json.toString();
  }

  /**
   * Reads {@link #toJson}'s form, also from a log line that carries it after a marker.
   *
   * @throws IllegalArgumentException for a line that is not a whole item (e.g. torn by a crash)
   */
  public static Map<String, AttributeValue> fromJson(String line) {
    int start = line.indexOf('{');
    if (start < 0) {
      throw new IllegalArgumentException("no item in the line");
    }
    try {
      JsonNode json = Json.MAPPER.readTree(line.substring(start));
      var item = new HashMap<String, AttributeValue>();
      json.fields().forEachRemaining(field -> {
        JsonNode typed = field.getValue();
        if (typed.has("S")) {
          item.put(field.getKey(), s(typed.get("S").asText()));
        } else if (typed.has("N")) {
          item.put(field.getKey(), AttributeValue.fromN(typed.get("N").asText()));
        } else if (typed.has("BOOL")) {
          item.put(field.getKey(), AttributeValue.fromBool(typed.get("BOOL").asBoolean()));
        } else {
          throw new IllegalArgumentException("attribute " + field.getKey() + " has no type");
        }
      });
      if (!item.containsKey(PK) || !item.containsKey(SK)) {
        throw new IllegalArgumentException("not a whole item");
      }
      return item;
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("not a whole item", e);
    }
  }

  private static AttributeValue s(String value) {
    return AttributeValue.fromS(value);
  }

  private static AttributeValue n(long value) {
    return AttributeValue.fromN(Long.toString(value));
  }

  private static void putText(Map<String, AttributeValue> item, String name, String value) {
    if (value != null && !value.isEmpty()) {
      item.put(name, s(value));
    }
  }

  private static String text(Map<String, AttributeValue> item, String name) {
    AttributeValue value = item.get(name);
    return value == null ? null : value.s();
  }

  private static long number(Map<String, AttributeValue> item, String name) {
    AttributeValue value = item.get(name);
    return value == null ? 0 : Long.parseLong(value.n());
  }
}

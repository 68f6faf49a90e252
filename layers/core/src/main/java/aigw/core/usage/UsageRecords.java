package aigw.core.usage;

import aigw.core.json.Json;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.LinkedHashMap;

/**
 * One kept delta as a line of JSON, the same in the local journal file and in Lambda's log record:
 * {@code {"key_id","requests","prompt_tokens","completion_tokens","total_tokens",
 * "estimated_requests","spend","last_used_at"}}. Only the key's id, never its value or hash.
 *
 * <p>{@code spend} (USD) is written as a JSON string holding the exact decimal ({@code "0.0000375"}):
 * a tool that reads numbers as doubles (jq, in the replay recipe of docs/operations.md) passes it on
 * unchanged instead of rounding it. A record without it (written before spend was kept) adds 0.
 */
public final class UsageRecords {
  private UsageRecords() {}

  public record Kept(String keyId, UsageDelta delta) {}

  public static String toJson(String keyId, UsageDelta delta) {
    var record = new LinkedHashMap<String, Object>();
    record.put("key_id", keyId);
    record.put("requests", delta.requests());
    record.put("prompt_tokens", delta.tokens().promptTokens());
    record.put("completion_tokens", delta.tokens().completionTokens());
    record.put("total_tokens", delta.tokens().totalTokens());
    record.put("estimated_requests", delta.estimatedRequests());
    record.put("spend", delta.spend().toPlainString());
    record.put("last_used_at", delta.lastUsedAt().toString());
    try {
      return Json.MAPPER.writeValueAsString(record);
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Reads a record, also from a log line that carries one after {@link LoggedUsageJournal#MARKER}.
   *
   * @throws IllegalArgumentException for a line that is not a whole record (e.g. torn by a crash)
   */
  public static Kept parse(String line) {
    int start = line.indexOf('{');
    if (start < 0) {
      throw new IllegalArgumentException("no usage record in the line");
    }
    try {
      JsonNode node = Json.MAPPER.readTree(line.substring(start));
      String keyId = node.path("key_id").asText(null);
      if (keyId == null || !node.path("requests").canConvertToLong() || !node.has("last_used_at")) {
        throw new IllegalArgumentException("not a whole usage record");
      }
      var tokens = new TokenUsage(
          node.path("prompt_tokens").asLong(), node.path("completion_tokens").asLong(), node.path("total_tokens").asLong());
      return new Kept(
          keyId,
          new UsageDelta(
              node.path("requests").asLong(),
              tokens,
              Instant.parse(node.path("last_used_at").asText()),
              node.path("estimated_requests").asLong(),
              spend(node.path("spend"))));
    } catch (JsonProcessingException | java.time.format.DateTimeParseException e) {
      throw new IllegalArgumentException("not a whole usage record", e);
    }
  }

  /** The kept spend: a decimal string (or number), 0 when absent; a negative or malformed one makes the record unreadable. */
  private static BigDecimal spend(JsonNode field) {
    if (field.isMissingNode() || field.isNull()) {
      return BigDecimal.ZERO;
    }
    try {
      BigDecimal spend = field.isNumber() ? field.decimalValue() : new BigDecimal(field.asText());
      if (spend.signum() < 0) {
        throw new IllegalArgumentException("not a whole usage record: negative spend");
      }
      return spend;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("not a whole usage record: spend is not a number", e);
    }
  }
}

package aigw.core.keys.dynamodb;

import static aigw.core.keys.dynamodb.KeyItems.*;

import aigw.core.usage.UsageDelta;
import aigw.core.usage.UsageRecorder;
import java.util.Map;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.ConditionalCheckFailedException;

/** Adds a usage delta to the key's counters with one atomic UpdateItem. */
public final class DynamoDbUsageRecorder implements UsageRecorder {
  private static final String UPDATE =
      "ADD #requests :requests, #prompt :prompt, #completion :completion, #total :total"
          + " SET #lastUsed = :lastUsed";
  private static final Map<String, String> NAMES =
      Map.of(
          "#pk", TOKEN_HASH,
          "#requests", REQUEST_COUNT,
          "#prompt", PROMPT_TOKENS,
          "#completion", COMPLETION_TOKENS,
          "#total", TOTAL_TOKENS,
          "#lastUsed", LAST_USED_AT);

  private final DynamoDbClient dynamo;
  private final String table;

  public DynamoDbUsageRecorder(DynamoDbClient dynamo, String table) {
    this.dynamo = dynamo;
    this.table = table;
  }

  @Override
  public void record(String tokenHash, UsageDelta delta) {
    try {
      DynamoDbKeyStore.call(
          () ->
              dynamo.updateItem(
                  r ->
                      r.tableName(table)
                          .key(Map.of(TOKEN_HASH, s(tokenHash)))
                          .updateExpression(UPDATE)
                          // Never recreate a key deleted while its request was in flight.
                          .conditionExpression("attribute_exists(#pk)")
                          .expressionAttributeNames(NAMES)
                          .expressionAttributeValues(
                              Map.of(
                                  ":requests", n(delta.requests()),
                                  ":prompt", n(delta.tokens().promptTokens()),
                                  ":completion", n(delta.tokens().completionTokens()),
                                  ":total", n(delta.tokens().totalTokens()),
                                  ":lastUsed", s(delta.lastUsedAt().toString())))));
    } catch (ConditionalCheckFailedException deletedMeanwhile) {
      // The key was deleted after it was checked: there is no row left to count against.
    }
  }
}

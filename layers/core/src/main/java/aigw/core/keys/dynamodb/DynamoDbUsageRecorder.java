package aigw.core.keys.dynamodb;

import static aigw.core.keys.dynamodb.KeyItems.*;

import aigw.core.usage.UsageDelta;
import aigw.core.usage.UsageRecorder;
import java.util.Map;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeAction;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.AttributeValueUpdate;
import software.amazon.awssdk.services.dynamodb.model.ComparisonOperator;
import software.amazon.awssdk.services.dynamodb.model.ConditionalCheckFailedException;
import software.amazon.awssdk.services.dynamodb.model.ExpectedAttributeValue;

/**
 * Adds a usage delta to the key's counters (its {@code usage#<key_id>} item) with one atomic
 * UpdateItem: requests, tokens and {@code spend} (USD, an exact decimal).
 *
 * <p>It uses UpdateItem's {@code AttributeUpdates} (ADD) and {@code Expected} (NOT_NULL) rather
 * than an UpdateExpression: the same atomic semantics on DynamoDB, and DynamoDB Local, which the
 * local gateway writes through, then skips parsing an expression grammar on every request (its
 * most expensive step in a profile of the local gateway under load).
 */
public final class DynamoDbUsageRecorder implements UsageRecorder {
  private static final Map<String, ExpectedAttributeValue> KEY_EXISTS =
      Map.of(TOKEN_HASH, ExpectedAttributeValue.builder().comparisonOperator(ComparisonOperator.NOT_NULL).build());

  private final DynamoDbClient dynamo;
  private final String table;

  public DynamoDbUsageRecorder(DynamoDbClient dynamo, String table) {
    this.dynamo = dynamo;
    this.table = table;
  }

  @Override
  public void record(String keyId, UsageDelta delta) {
    var updates = new java.util.HashMap<String, AttributeValueUpdate>(
        Map.of(
            REQUEST_COUNT, add(delta.requests()),
            PROMPT_TOKENS, add(delta.tokens().promptTokens()),
            COMPLETION_TOKENS, add(delta.tokens().completionTokens()),
            TOTAL_TOKENS, add(delta.tokens().totalTokens()),
            LAST_USED_AT, AttributeValueUpdate.builder().action(AttributeAction.PUT).value(s(delta.lastUsedAt().toString())).build()));
    if (delta.estimatedRequests() > 0) {
      updates.put(ESTIMATED_REQUEST_COUNT, add(delta.estimatedRequests()));
    }
    if (delta.spend().signum() > 0) {
      // ADD of an exact decimal: DynamoDB sums numbers exactly (38 digits), so no rounding accumulates.
      updates.put(SPEND, AttributeValueUpdate.builder().action(AttributeAction.ADD).value(AttributeValue.fromN(delta.spend().toPlainString())).build());
    }
    try {
      DynamoDbKeyStore.call(
          () ->
              dynamo.updateItem(
                  r ->
                      r.tableName(table)
                          .key(Map.of(TOKEN_HASH, s(usageKey(keyId))))
                          .attributeUpdates(updates)
                          // Never recreate a key deleted while its request was in flight.
                          .expected(KEY_EXISTS)));
    } catch (ConditionalCheckFailedException deletedMeanwhile) {
      // The key was deleted after it was checked: there is no item left to count against.
    }
  }

  /**
   * The same addition as {@link #record}, as an update of a {@code TransactWriteItems} (which takes
   * expressions only): {@code ADD} of the counters and the spend, {@code SET} of the last use, only
   * while the key exists. A key deleted meanwhile cancels the transaction; its writes then go one by
   * one, where this one finds no item and counts nothing.
   */
  public software.amazon.awssdk.services.dynamodb.model.TransactWriteItem transactItem(String keyId, UsageDelta delta) {
    var names = new java.util.HashMap<String, String>();
    var values = new java.util.HashMap<String, AttributeValue>();
    var add = new StringBuilder();
    java.util.function.BiConsumer<String, AttributeValue> adding = (attribute, value) -> {
      String i = Integer.toString(names.size());
      names.put("#a" + i, attribute);
      values.put(":a" + i, value);
      add.append(add.isEmpty() ? "ADD " : ", ").append("#a").append(i).append(" :a").append(i);
    };
    adding.accept(REQUEST_COUNT, n(delta.requests()));
    adding.accept(PROMPT_TOKENS, n(delta.tokens().promptTokens()));
    adding.accept(COMPLETION_TOKENS, n(delta.tokens().completionTokens()));
    adding.accept(TOTAL_TOKENS, n(delta.tokens().totalTokens()));
    if (delta.estimatedRequests() > 0) {
      adding.accept(ESTIMATED_REQUEST_COUNT, n(delta.estimatedRequests()));
    }
    if (delta.spend().signum() > 0) {
      adding.accept(SPEND, AttributeValue.fromN(delta.spend().toPlainString()));
    }
    names.put("#used", LAST_USED_AT);
    names.put("#pk", TOKEN_HASH);
    values.put(":used", s(delta.lastUsedAt().toString()));
    String expression = add + " SET #used = :used";
    return software.amazon.awssdk.services.dynamodb.model.TransactWriteItem.builder()
        .update(u -> u.tableName(table).key(Map.of(TOKEN_HASH, s(usageKey(keyId)))).updateExpression(expression)
            .conditionExpression("attribute_exists(#pk)").expressionAttributeNames(names).expressionAttributeValues(values))
        .build();
  }

  private static AttributeValueUpdate add(long amount) {
    return AttributeValueUpdate.builder().action(AttributeAction.ADD).value(n(amount)).build();
  }
}

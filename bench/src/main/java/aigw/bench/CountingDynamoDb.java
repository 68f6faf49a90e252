package aigw.bench;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;

/** Wraps a DynamoDB client and counts its calls by operation (getItem, updateItem, ...). */
final class CountingDynamoDb {
  private final Map<String, LongAdder> calls = new ConcurrentHashMap<>();

  DynamoDbClient wrap(DynamoDbClient client) {
    return (DynamoDbClient)
        Proxy.newProxyInstance(
            DynamoDbClient.class.getClassLoader(),
            new Class<?>[] {DynamoDbClient.class},
            (proxy, method, args) -> {
              if (method.getDeclaringClass() != Object.class && !method.getName().equals("close")
                  && !method.getName().equals("serviceName") && !method.getName().equals("serviceClientConfiguration")) {
                calls.computeIfAbsent(method.getName(), n -> new LongAdder()).increment();
                if (isWriteAfterTheAnswer(method.getName(), args)) {
                  calls.computeIfAbsent(WRITES_AFTER_THE_ANSWER, n -> new LongAdder()).increment();
                }
              }
              try {
                return method.invoke(client, args);
              } catch (InvocationTargetException e) {
                throw e.getCause();
              }
            });
  }

  /**
   * Not an operation: the write calls of what answers hand over (issue 14's "writes per request"):
   * TransactWriteItems, BatchWriteItem (spend logs), PutItem outside the admin API, and the
   * UpdateItems of usage items ({@code usage#}) and of settlements (an update removing a
   * reservation entry). Not the reservation or window lease before the answer.
   */
  static final String WRITES_AFTER_THE_ANSWER = "(writes after the answer)";

  @SuppressWarnings("unchecked")
  private static boolean isWriteAfterTheAnswer(String operation, Object[] args) {
    if (operation.equals("transactWriteItems") || operation.equals("batchWriteItem")) {
      return true;
    }
    if (!operation.equals("updateItem") || args == null || args.length != 1) {
      return false;
    }
    var update = args[0] instanceof software.amazon.awssdk.services.dynamodb.model.UpdateItemRequest built ? built
        : software.amazon.awssdk.services.dynamodb.model.UpdateItemRequest.builder().applyMutation(
            (java.util.function.Consumer<software.amazon.awssdk.services.dynamodb.model.UpdateItemRequest.Builder>) args[0]).build();
    var key = update.key().get("token_hash");
    return (key != null && key.s() != null && key.s().startsWith("usage#"))
        || (update.updateExpression() != null && update.updateExpression().startsWith("REMOVE res."));
  }

  Map<String, Long> snapshot() {
    var copy = new TreeMap<String, Long>();
    calls.forEach((name, count) -> copy.put(name, count.sum()));
    return copy;
  }

  /**
   * Not a DynamoDB operation: the transactions that wrote the local gateway's spend-log rows into
   * its SQLite file ({@code aigw.local.SqliteSpendLogs}); counted in {@link #WRITES_AFTER_THE_ANSWER}
   * too, so "writes per request" still counts every write an answer causes.
   */
  static final String SQLITE_SPEND_LOG_TRANSACTIONS = "(SQLite spend-log transactions)";

  /** {@link #snapshot()} with the gateway's SQLite spend-log transactions, after writing the rows it holds. */
  Map<String, Long> snapshot(aigw.local.LocalGateway gateway) {
    gateway.gateway().flushLogs(); // the rows accepted so far are written now, and their transaction counted
    var copy = snapshot();
    long sqlite = gateway.spendLogTransactions();
    copy.put(SQLITE_SPEND_LOG_TRANSACTIONS, sqlite);
    copy.merge(WRITES_AFTER_THE_ANSWER, sqlite, Long::sum);
    return copy;
  }
}

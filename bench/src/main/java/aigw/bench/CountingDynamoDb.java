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
              }
              try {
                return method.invoke(client, args);
              } catch (InvocationTargetException e) {
                throw e.getCause();
              }
            });
  }

  Map<String, Long> snapshot() {
    var copy = new TreeMap<String, Long>();
    calls.forEach((name, count) -> copy.put(name, count.sum()));
    return copy;
  }
}

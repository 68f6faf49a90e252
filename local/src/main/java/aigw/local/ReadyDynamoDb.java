package aigw.local;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;

/**
 * A {@link DynamoDbClient} over a client that is still being made: each call waits until it is
 * there, then is that client's call (same answers, same exceptions). The local gateway builds
 * everything over it and opens its server while DynamoDB Local starts on another thread: what uses
 * no DynamoDB (liveliness, for one) is answered before the database is up, and a request that uses
 * it (a model call looks its key up first) waits only for the rest of the database's start.
 *
 * <p>A dynamic proxy rather than a class of its own: {@code DynamoDbClient} has hundreds of
 * methods, every one forwarded the same way. A start that failed makes every call throw its cause
 * (the gateway's start fails with it too, {@code LocalGateway#start}).
 */
final class ReadyDynamoDb {
  private ReadyDynamoDb() {}

  static DynamoDbClient over(CompletableFuture<DynamoDbClient> client) {
    return (DynamoDbClient) Proxy.newProxyInstance(
        DynamoDbClient.class.getClassLoader(),
        new Class<?>[] {DynamoDbClient.class},
        (proxy, method, args) -> {
          if (method.getDeclaringClass() == Object.class) {
            return switch (method.getName()) {
              case "equals" -> proxy == args[0];
              case "hashCode" -> System.identityHashCode(proxy);
              default -> "DynamoDbClient once started (" + (client.isDone() ? "started" : "starting") + ")";
            };
          }
          DynamoDbClient ready;
          try {
            ready = client.join();
          } catch (CompletionException e) {
            throw e.getCause();
          }
          try {
            return method.invoke(ready, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
        });
  }
}

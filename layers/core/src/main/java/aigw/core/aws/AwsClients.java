package aigw.core.aws;

import java.time.Duration;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.DynamoDbClientBuilder;
import software.amazon.awssdk.services.secretsmanager.SecretsManagerClient;

/**
 * AWS SDK clients built the one way the gateway wants them: the JDK url-connection HTTP client
 * (smallest package, fastest start; the SDK's Apache and Netty clients are not even on the
 * classpath), region and credentials from the standard chain, endpoints overridable with the
 * standard AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_SECRETS_MANAGER variables.
 */
public final class AwsClients {
  private AwsClients() {}

  /**
   * Every call is bounded: a key check or usage write that hangs must fail within the API's time,
   * and a rotation must know its commit's outcome before the function's timeout.
   */
  public static DynamoDbClient dynamoDb() {
    return dynamoDbBuilder().build();
  }

  /**
   * The builder behind {@link #dynamoDb()}, for tests that point the same client at a stand-in.
   *
   * <p>Retries are the SDK's own for DynamoDB (legacy mode: up to 9 attempts, exponential backoff
   * from 25 ms, a longer backoff for throttling errors such as {@code
   * ProvisionedThroughputExceededException} and {@code ThrottlingException}), bounded here by the
   * 6 s call timeout: a call that still fails then becomes {@code ServiceUnavailable} (503).
   */
  public static DynamoDbClientBuilder dynamoDbBuilder() {
    return DynamoDbClient.builder()
        .httpClient(UrlConnectionHttpClient.create())
        .overrideConfiguration(o -> o.apiCallAttemptTimeout(Duration.ofSeconds(2)).apiCallTimeout(Duration.ofSeconds(6)));
  }

  /**
   * One client per container: the master key, the provider credentials and the key rotation all
   * read or write Secrets Manager, and each client built costs class loading and a credentials and
   * region lookup at cold start. Clients are thread-safe.
   */
  public static SecretsManagerClient secretsManager() {
    return SharedSecretsManager.CLIENT;
  }

  /** Built on first use (holder idiom), so a function that never calls Secrets Manager never builds it. */
  private static final class SharedSecretsManager {
    static final SecretsManagerClient CLIENT = SecretsManagerClient.builder().httpClient(UrlConnectionHttpClient.create()).build();
  }
}

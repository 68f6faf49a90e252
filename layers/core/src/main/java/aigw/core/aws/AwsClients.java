package aigw.core.aws;

import java.time.Duration;
import java.util.function.Supplier;
import software.amazon.awssdk.http.ExecutableHttpRequest;
import software.amazon.awssdk.http.HttpExecuteRequest;
import software.amazon.awssdk.http.SdkHttpClient;
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
    // Made now, not inside a DynamoDB call's 2 s attempt: a first TLS context takes a good part of a
    // second of a small Lambda's CPU. Lambda's init builds this client after its second thread made
    // the JDK's TLS context, so this costs little there.
    prepareHttpClient();
    return DynamoDbClient.builder()
        .httpClient(httpClient())
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

  /**
   * The HTTP client of every SDK client built here (Secrets Manager, DynamoDB): one SDK
   * url-connection client per container, so one TLS context instead of one per SDK client. Its
   * url-connection client, with that TLS context, is made at its first request, at {@link
   * #prepareHttpClient()} or when a DynamoDB client is built, whichever comes first; not when the
   * Secrets Manager client is built: Lambda's init ({@code Gateway.fromEnvironment}) builds that one
   * while its second thread makes the JDK's TLS context (the trust store read), which the
   * url-connection client's then reuses. (Secrets Manager calls have no SDK call timeout here, so
   * the first one may make it.)
   */
  public static SdkHttpClient httpClient() {
    return SharedHttpClient.CLIENT;
  }

  /**
   * Makes the shared url-connection client now, if nothing has yet: an init that builds only the
   * Secrets Manager client calls it, so that no first invocation makes it.
   */
  public static void prepareHttpClient() {
    SharedHttpClient.CLIENT.delegate();
  }

  /** Built on first use (holder idiom), so a function that never calls Secrets Manager never builds it. */
  private static final class SharedSecretsManager {
    static final SecretsManagerClient CLIENT = SecretsManagerClient.builder().httpClient(httpClient()).build();
  }

  private static final class SharedHttpClient {
    static final OnFirstUseHttpClient CLIENT = new OnFirstUseHttpClient(UrlConnectionHttpClient::create);
  }

  /**
   * An {@link SdkHttpClient} whose client is made by {@code make} once, at the first request or
   * {@link #delegate()}. The SDK never closes a client it was given, and neither does this one: it
   * lives as long as the container.
   */
  static final class OnFirstUseHttpClient implements SdkHttpClient {
    private final Supplier<SdkHttpClient> make;
    private volatile SdkHttpClient delegate;

    OnFirstUseHttpClient(Supplier<SdkHttpClient> make) {
      this.make = make;
    }

    SdkHttpClient delegate() {
      SdkHttpClient made = delegate;
      if (made == null) {
        synchronized (this) {
          made = delegate;
          if (made == null) {
            made = make.get();
            delegate = made;
          }
        }
      }
      return made;
    }

    @Override
    public ExecutableHttpRequest prepareRequest(HttpExecuteRequest request) {
      return delegate().prepareRequest(request);
    }

    /** The url-connection client's name, which the SDK puts in its User-Agent header. */
    @Override
    public String clientName() {
      return "UrlConnection";
    }

    @Override
    public void close() {
      SdkHttpClient made = delegate;
      if (made != null) {
        made.close();
      }
    }
  }
}

package aigw.core.aws;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.http.HttpExecuteRequest;
import software.amazon.awssdk.http.SdkHttpClient;
import software.amazon.awssdk.http.SdkHttpMethod;
import software.amazon.awssdk.http.SdkHttpRequest;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;

/**
 * The SDK clients' shared HTTP client: one url-connection client (one TLS context) per container,
 * made at its first request or when prepared, never twice.
 */
class AwsClientsTest {
  private static final HttpExecuteRequest REQUEST = HttpExecuteRequest.builder()
      .request(SdkHttpRequest.builder().method(SdkHttpMethod.GET).uri(java.net.URI.create("http://127.0.0.1:9/")).build())
      .build();

  @Test
  void everySdkClientBuiltHereGetsTheOneSharedHttpClient() {
    assertThat(AwsClients.httpClient()).isSameAs(AwsClients.httpClient());
    // The name the SDK puts in its User-Agent header is the url-connection client's, made or not.
    try (SdkHttpClient urlConnection = UrlConnectionHttpClient.create()) {
      assertThat(AwsClients.httpClient().clientName()).isEqualTo(urlConnection.clientName());
    }
  }

  @Test
  void theClientIsMadeAtTheFirstRequestAndOnlyOnce() {
    var made = new AtomicInteger();
    var client = new AwsClients.OnFirstUseHttpClient(() -> {
      made.incrementAndGet();
      return UrlConnectionHttpClient.create();
    });
    assertThat(made).as("made when an SDK client is built").hasValue(0);

    client.prepareRequest(REQUEST);
    client.prepareRequest(REQUEST);
    client.delegate();

    assertThat(made).hasValue(1);
  }

  @Test
  void preparedBeforeAnyRequestItIsNotMadeAgain() {
    var made = new AtomicInteger();
    var client = new AwsClients.OnFirstUseHttpClient(() -> {
      made.incrementAndGet();
      return UrlConnectionHttpClient.create();
    });

    SdkHttpClient prepared = client.delegate();
    client.prepareRequest(REQUEST);

    assertThat(made).hasValue(1);
    assertThat(client.delegate()).isSameAs(prepared);
  }

  @Test
  void concurrentFirstRequestsMakeOneClient() throws Exception {
    var made = new AtomicInteger();
    var client = new AwsClients.OnFirstUseHttpClient(() -> {
      made.incrementAndGet();
      return UrlConnectionHttpClient.create();
    });
    var start = new CountDownLatch(1);
    var threads = new ArrayList<Thread>();
    var seen = java.util.concurrent.ConcurrentHashMap.<SdkHttpClient>newKeySet();
    for (int i = 0; i < 8; i++) {
      threads.add(Thread.ofPlatform().start(() -> {
        try {
          start.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        client.prepareRequest(REQUEST);
        seen.add(client.delegate());
      }));
    }
    start.countDown();
    for (Thread thread : threads) {
      thread.join(10_000);
    }

    assertThat(made).hasValue(1);
    assertThat(seen).hasSize(1);
  }
}

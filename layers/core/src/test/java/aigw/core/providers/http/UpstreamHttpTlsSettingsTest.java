package aigw.core.providers.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import aigw.core.errors.UpstreamUnreachable;
import java.io.IOException;
import java.net.Authenticator;
import java.net.CookieHandler;
import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.KeyManagementException;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.Flow;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import org.junit.jupiter.api.Test;

/**
 * A failure whose causes hold a security exception is "the JVM's TLS settings are broken" (nothing
 * sent, another deployment may be tried) only when the request's body was never asked for; once it
 * was, the provider may have the request and run it, so it is a failure after sending, never tried
 * again elsewhere. The JDK's reason for broken settings can name a file (a missing key store): the
 * client's message names only the settings given, never a path or a setting's value.
 */
class UpstreamHttpTlsSettingsTest {
  private static final String KEY_STORE = "/etc/aigw/private/client-key.p12";

  /** A client whose exchange fails with {@code failure}, after it asked for the request's body when {@code sendsBody}. */
  private static HttpClient failing(boolean sendsBody, Throwable failure) {
    return new HttpClient() {
      @Override
      public <T> HttpResponse<T> send(HttpRequest request, HttpResponse.BodyHandler<T> handler) throws IOException {
        if (sendsBody) {
          request.bodyPublisher().orElseThrow().subscribe(new Flow.Subscriber<ByteBuffer>() {
            @Override public void onSubscribe(Flow.Subscription s) { s.request(Long.MAX_VALUE); }
            @Override public void onNext(ByteBuffer item) {}
            @Override public void onError(Throwable throwable) {}
            @Override public void onComplete() {}
          });
        }
        throw new IOException(failure.getMessage(), failure); // as HttpClientImpl.send: the exchange's failure as the cause
      }

      @Override public Optional<CookieHandler> cookieHandler() { return Optional.empty(); }
      @Override public Optional<Duration> connectTimeout() { return Optional.empty(); }
      @Override public Redirect followRedirects() { return Redirect.NEVER; }
      @Override public Optional<ProxySelector> proxy() { return Optional.empty(); }
      @Override public SSLContext sslContext() { return null; }
      @Override public SSLParameters sslParameters() { return new SSLParameters(); }
      @Override public Optional<Authenticator> authenticator() { return Optional.empty(); }
      @Override public Version version() { return Version.HTTP_1_1; }
      @Override public Optional<Executor> executor() { return Optional.empty(); }
      @Override public <T> CompletableFuture<HttpResponse<T>> sendAsync(HttpRequest r, HttpResponse.BodyHandler<T> h) { throw new UnsupportedOperationException(); }
      @Override public <T> CompletableFuture<HttpResponse<T>> sendAsync(HttpRequest r, HttpResponse.BodyHandler<T> h, HttpResponse.PushPromiseHandler<T> p) { throw new UnsupportedOperationException(); }
    };
  }

  private static UpstreamCall call() {
    return new UpstreamCall("m", URI.create("https://127.0.0.1:9/v1/chat/completions"), Map.of("Content-Type", "application/json"),
        "{\"model\":\"m\"}".getBytes(StandardCharsets.UTF_8), Duration.ofSeconds(5), List.of());
  }

  /** What the JDK's default context throws for a key store file that is missing. */
  private static Throwable missingKeyStore() {
    return new NoSuchAlgorithmException("Error constructing implementation (algorithm: Default, provider: SunJSSE, class: x)",
        new KeyManagementException(KEY_STORE + " (No such file or directory)"));
  }

  @Test
  void brokenTlsSettingsBeforeTheRequestWasSentAre502NothingSentWithoutTheJdksPath() {
    Throwable thrown = catchThrowable(() -> new UpstreamHttp(failing(false, missingKeyStore())).exchange(call()));
    assertThat(thrown).isInstanceOf(UpstreamUnreachable.class);
    assertThat(((UpstreamUnreachable) thrown).beforeSending()).isTrue();
    assertThat(thrown.getMessage()).contains("the JVM's TLS settings are broken").doesNotContain(KEY_STORE).doesNotContain("/etc/");
  }

  @Test
  void aSecurityFailureAfterTheRequestWasSentIsNeverNothingSent() {
    // A security exception under an I/O failure once the body was asked for: the provider may have the request.
    var failure = new IOException("the exchange failed", new java.security.SignatureException("bad signature"));
    Throwable thrown = catchThrowable(() -> new UpstreamHttp(failing(true, failure)).exchange(call()));
    assertThat(thrown).isInstanceOf(UpstreamUnreachable.class);
    assertThat(((UpstreamUnreachable) thrown).beforeSending()).as(thrown.getMessage()).isFalse();
    assertThat(thrown.getMessage()).doesNotContain("TLS settings are broken");
  }
}

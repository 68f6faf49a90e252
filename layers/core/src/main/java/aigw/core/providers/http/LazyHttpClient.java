package aigw.core.providers.http;

import java.io.IOException;
import java.net.Authenticator;
import java.net.CookieHandler;
import java.net.ProxySelector;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.Supplier;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;

/**
 * An {@link HttpClient} built at its first use, for a function that may never call a provider
 * (AdminFunction): building the JDK's client loads about 1,200 classes and the default TLS context
 * with the trust store (about 0.3 s of CPU at a cold start on this project's machines), init time
 * spent for nothing where no call follows. Each method is the built client's.
 */
public final class LazyHttpClient extends HttpClient {
  private final Supplier<HttpClient> build;
  private volatile HttpClient built;

  /** @param build makes the client once, at the first call of any method */
  public LazyHttpClient(Supplier<HttpClient> build) {
    this.build = build;
  }

  /** Whether the client was built (a test's view). */
  public boolean isBuilt() {
    return built != null;
  }

  private HttpClient client() {
    HttpClient client = built;
    if (client == null) {
      synchronized (this) {
        client = built;
        if (client == null) {
          built = client = build.get();
        }
      }
    }
    return client;
  }

  @Override
  public Optional<CookieHandler> cookieHandler() {
    return client().cookieHandler();
  }

  @Override
  public Optional<Duration> connectTimeout() {
    return client().connectTimeout();
  }

  @Override
  public Redirect followRedirects() {
    return client().followRedirects();
  }

  @Override
  public Optional<ProxySelector> proxy() {
    return client().proxy();
  }

  @Override
  public SSLContext sslContext() {
    return client().sslContext();
  }

  @Override
  public SSLParameters sslParameters() {
    return client().sslParameters();
  }

  @Override
  public Optional<Authenticator> authenticator() {
    return client().authenticator();
  }

  @Override
  public Version version() {
    return client().version();
  }

  @Override
  public Optional<Executor> executor() {
    return client().executor();
  }

  @Override
  public <T> HttpResponse<T> send(HttpRequest request, HttpResponse.BodyHandler<T> handler) throws IOException, InterruptedException {
    return client().send(request, handler);
  }

  @Override
  public <T> CompletableFuture<HttpResponse<T>> sendAsync(HttpRequest request, HttpResponse.BodyHandler<T> handler) {
    return client().sendAsync(request, handler);
  }

  @Override
  public <T> CompletableFuture<HttpResponse<T>> sendAsync(
      HttpRequest request, HttpResponse.BodyHandler<T> handler, HttpResponse.PushPromiseHandler<T> pushPromiseHandler) {
    return client().sendAsync(request, handler, pushPromiseHandler);
  }
}

package aigw.local;

import java.security.KeyManagementException;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLContextSpi;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocketFactory;
import javax.net.ssl.SSLSessionContext;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManager;

/**
 * The provider HTTP client's TLS context, made when the first {@code https} connection needs it.
 * A JDK {@code HttpClient} built without a context takes {@link SSLContext#getDefault()} at once,
 * and making it (the trust store read and its certificates parsed, key managers, a seeded
 * {@code SecureRandom}) was 165-225 ms of the local gateway's start-up CPU before the server could
 * listen (docs/operations.md, "Where a start's time goes"), for a first answer that a model over
 * {@code http://} (Ollama, vLLM, a test stub) never needs. The context made is the one the client
 * would have taken ({@code SSLContext.getDefault()}: the {@code javax.net.ssl.*} settings and an
 * {@code SSLContext.setDefault} apply); only when it is made changes. The client's default TLS
 * parameters (protocols, cipher suites), which it copies when it is built, come from a context of
 * the same kind initialised without trust managers or keys, which knows them without a trust store.
 */
final class LazyTlsContext {
  private LazyTlsContext() {}

  /**
   * Makes the JDK's default TLS context now, off the start's path (the local gateway calls it on its
   * schedules' thread once the server listens), so the first {@code https} call does not pay for
   * it, and a JVM whose TLS settings are broken (a {@code javax.net.ssl.trustStore} that cannot be
   * read, a wrong password) says so at start, as it did when the context was made before listening,
   * not only at the first {@code https} call (which then fails with the same reason).
   */
  static void makeDefaultInBackground() {
    try {
      SSLContext.getDefault();
    } catch (NoSuchAlgorithmException | RuntimeException e) {
      java.util.logging.Logger.getLogger(LazyTlsContext.class.getName()).severe(
          "The JVM's TLS settings are broken: providers on https:// cannot be called until they are fixed ("
              + (e.getCause() != null ? e.getCause() : e) + "). Check the javax.net.ssl.* options given to java.");
    }
  }

  /**
   * @throws IllegalStateException when the JDK has no TLS (then neither would the default client)
   */
  static SSLContext create() {
    SSLContext withoutTrust;
    try {
      withoutTrust = SSLContext.getInstance("TLS");
      // No trust managers and no keys (an empty array, not null, which would mean the default ones):
      // nothing to read, and never used for a connection, only for the default parameters.
      withoutTrust.init(new KeyManager[0], new TrustManager[0], null);
    } catch (NoSuchAlgorithmException | KeyManagementException e) {
      throw new IllegalStateException("this JDK offers no TLS: " + e.getMessage(), e);
    }
    return new SSLContext(new MadeAtFirstUse(withoutTrust), withoutTrust.getProvider(), "Default") {};
  }

  /** Passes every use on to the JDK's default context, taken at the first. */
  private static final class MadeAtFirstUse extends SSLContextSpi {
    /** Of the same kind as the default context, without trust or keys: for its default parameters only. */
    private final SSLContext withoutTrust;
    private volatile SSLContext made;

    MadeAtFirstUse(SSLContext withoutTrust) {
      this.withoutTrust = withoutTrust;
    }

    private SSLContext context() {
      SSLContext context = made;
      if (context == null) {
        try {
          context = SSLContext.getDefault(); // the JDK makes it once per JVM, thread-safely
        } catch (NoSuchAlgorithmException e) {
          throw new IllegalStateException("the JDK's default TLS context cannot be made: " + e.getMessage(), e);
        }
        made = context;
      }
      return context;
    }

    @Override
    protected void engineInit(KeyManager[] keys, TrustManager[] trust, SecureRandom random) throws KeyManagementException {
      throw new KeyManagementException("the default TLS context is not initialised by its users");
    }

    @Override
    protected SSLSocketFactory engineGetSocketFactory() {
      return context().getSocketFactory();
    }

    @Override
    protected SSLServerSocketFactory engineGetServerSocketFactory() {
      return context().getServerSocketFactory();
    }

    @Override
    protected SSLEngine engineCreateSSLEngine() {
      return context().createSSLEngine();
    }

    @Override
    protected SSLEngine engineCreateSSLEngine(String host, int port) {
      return context().createSSLEngine(host, port);
    }

    @Override
    protected SSLSessionContext engineGetServerSessionContext() {
      return context().getServerSessionContext();
    }

    @Override
    protected SSLSessionContext engineGetClientSessionContext() {
      return context().getClientSessionContext();
    }

    @Override
    protected SSLParameters engineGetDefaultSSLParameters() {
      SSLContext context = made;
      return (context != null ? context : withoutTrust).getDefaultSSLParameters();
    }

    @Override
    protected SSLParameters engineGetSupportedSSLParameters() {
      return context().getSupportedSSLParameters();
    }
  }
}

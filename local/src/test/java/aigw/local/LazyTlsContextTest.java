package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;

import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.Test;

/**
 * The provider client's TLS context made at first use is the JDK's default one, which the client
 * would otherwise have taken when built: the same TLS parameters, and the same context (its
 * sessions, trust and keys) once a connection needs it.
 */
class LazyTlsContextTest {
  @Test
  void theParametersTheClientCopiesWhenBuiltAreTheDefaultContexts() throws Exception {
    var lazy = LazyTlsContext.create().getDefaultSSLParameters();
    var jdk = SSLContext.getDefault().getDefaultSSLParameters();

    assertThat(lazy.getProtocols()).containsExactly(jdk.getProtocols());
    assertThat(lazy.getCipherSuites()).containsExactly(jdk.getCipherSuites());
    assertThat(lazy.getEndpointIdentificationAlgorithm()).isEqualTo(jdk.getEndpointIdentificationAlgorithm());
    assertThat(lazy.getNamedGroups()).containsExactly(jdk.getNamedGroups());
    assertThat(lazy.getSignatureSchemes()).isEqualTo(jdk.getSignatureSchemes());
  }

  @Test
  void connectionsAreMadeWithTheJdksDefaultContext() throws Exception {
    var lazy = LazyTlsContext.create();
    var jdk = SSLContext.getDefault();

    assertThat(lazy.getClientSessionContext()).as("the default context's sessions, so its trust and keys").isSameAs(jdk.getClientSessionContext());
    var engine = lazy.createSSLEngine("api.openai.com", 443);
    assertThat(engine.getPeerHost()).isEqualTo("api.openai.com");
    assertThat(engine.getUseClientMode()).isEqualTo(jdk.createSSLEngine("api.openai.com", 443).getUseClientMode());
    assertThat(lazy.getSupportedSSLParameters().getProtocols()).containsExactly(jdk.getSupportedSSLParameters().getProtocols());
  }
}

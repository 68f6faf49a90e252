package aigw.core.providers.http;

import java.io.EOFException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.UnknownHostException;
import java.net.http.HttpConnectTimeoutException;
import java.nio.channels.UnresolvedAddressException;
import java.security.GeneralSecurityException;
import java.security.cert.CertificateException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;

/**
 * Why a connection to a provider failed, in words an operator can act on: refused, timed out, the
 * name did not resolve, TLS failed, reset. The JDK's HTTP client often throws a bare {@code
 * ConnectException} with no message and the real reason in its causes, so the cause chain is read.
 * Only JDK messages go into the text (never a Java class name), never a header or URL beyond host:port.
 */
final class ConnectionFailures {
  /** A connection that ended where an answer (its status line) was awaited: the JDK's EOFException. */
  private static final String CLOSED_BEFORE_ANSWERING = "the provider closed the connection before answering";

  /** What a failure the JDK gave no message for is called, in place of its class name. */
  private static final String NO_DETAIL = "an input/output error the HTTP client gave no detail for";

  private ConnectionFailures() {}

  /**
   * Why no request could be sent: the connection or its TLS session was never established. {@code host}
   * and {@code port} are where the connection was attempted, for {@link #probe}.
   */
  static String beforeSending(Throwable failure, String host, int port, java.time.Duration connectTimeout) {
    if (failure instanceof HttpConnectTimeoutException) {
      return "no connection within " + UpstreamHttp.seconds(connectTimeout) + " s (connect timeout; a firewall, a wrong port or an overloaded server)";
    }
    for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
      // Before the request left, any TLS failure is one of the handshake, whatever its exception type:
      // the JDK raises a plain SSLException for a plain-HTTP answer to its ClientHello.
      if (t instanceof SSLException || t instanceof CertificateException) {
        return "the TLS handshake failed (" + tlsDetail(t) + ")";
      }
    }
    String reason = reason(failure);
    if (reason == null && host != null) {
      reason = probe(host, port);
    }
    return reason != null ? reason : "the connection could not be opened (" + describe(failure) + ")";
  }

  /**
   * The {@code javax.net.ssl} system properties that decide the JDK's default TLS context
   * (https://docs.oracle.com/en/java/javase/21/security/java-secure-socket-extension-jsse-reference-guide.html,
   * "Customizing the JSSE"). Only their names are ever shown, never a value: two are passwords.
   */
  private static final List<String> TLS_SETTINGS = List.of(
      "javax.net.ssl.trustStore", "javax.net.ssl.trustStoreType", "javax.net.ssl.trustStoreProvider", "javax.net.ssl.trustStorePassword",
      "javax.net.ssl.keyStore", "javax.net.ssl.keyStoreType", "javax.net.ssl.keyStoreProvider", "javax.net.ssl.keyStorePassword");

  /** The JDK's reasons for a default TLS context it cannot make that name no file and no setting's value. */
  static final java.util.Set<String> SAFE_TLS_REASONS = java.util.Set.of(
      "problem accessing trust store", "Keystore was tampered with, or password was incorrect");

  private static final String UNREADABLE_STORES = "the trust store or the key store could not be read";

  private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger(ConnectionFailures.class.getName());
  /** The JDK keeps its default context's failure for the JVM's life: its reason is logged once, not at every call. */
  private static final java.util.concurrent.atomic.AtomicBoolean REASON_LOGGED = new java.util.concurrent.atomic.AtomicBoolean();

  /**
   * Why the HTTP client's TLS context could not be made, or null when {@code failure} is not that.
   * The JDK's default context ({@code SSLContext.getDefault()}, which the local gateway makes at its
   * first {@code https} connection) fails with a {@code NoSuchAlgorithmException} over a {@code
   * KeyManagementException} when a {@code javax.net.ssl.*} setting cannot be used: a trust store
   * that is not one, a wrong password, a key store file that is missing. No connection was opened,
   * and none to any {@code https} provider can be until the JVM is started with working settings
   * (the JDK keeps the failure). A handshake's failures are {@code SSLException}s: not this.
   *
   * <p>The JDK's reason can carry a setting's value (a missing key store's path, {@code
   * /etc/aigw/private/client-key.p12 (No such file or directory)}, an unknown {@code keyStoreType}):
   * it goes only into the gateway's log, and the text returned, which reaches any key holder's
   * client, has it only when it is one of the JDK's fixed phrases ({@link #SAFE_TLS_REASONS}).
   *
   * @return a reason and the names of the {@code javax.net.ssl.*} settings given (never their
   *     values), e.g. {@code problem accessing trust store; set: javax.net.ssl.trustStore}
   */
  static String tlsSettingsBroken(Throwable failure) {
    boolean found = false;
    String reason = null;
    for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof SSLException) {
        return null;
      }
      if (t instanceof GeneralSecurityException && !(t instanceof CertificateException)) {
        found = true;
        String message = t.getMessage();
        // The JCA wraps the default context's failure in words that only name a Java class.
        if (message != null && !message.isBlank() && !message.startsWith("Error constructing implementation")) {
          reason = message; // the innermost says most
        }
      }
    }
    if (!found) {
      return null;
    }
    if (reason == null) {
      reason = UNREADABLE_STORES;
    } else if (!SAFE_TLS_REASONS.contains(reason)) {
      if (REASON_LOGGED.compareAndSet(false, true)) {
        LOG.warning("The JVM's TLS settings are broken: " + reason);
      }
      reason = UNREADABLE_STORES + " (the JDK's reason is in the gateway's log)";
    }
    var set = new ArrayList<String>();
    for (String setting : TLS_SETTINGS) {
      if (System.getProperty(setting) != null) {
        set.add(setting);
      }
    }
    return set.isEmpty() ? reason : reason + "; set: " + String.join(", ", set);
  }

  /** Why an exchange failed once (part of) the request had been sent. */
  static String afterSending(Throwable failure) {
    String reason = reason(failure);
    return reason != null ? reason : describe(failure);
  }

  /**
   * Why an answer's body broke off once its status and headers had come: as {@link #afterSending},
   * except that a connection the provider closed is not one closed "before answering" (the
   * message already says where in the answer it broke: after the headers, or in its middle).
   */
  static String whileAnswering(Throwable failure) {
    String reason = afterSending(failure);
    return reason.equals(CLOSED_BEFORE_ANSWERING) ? "the provider closed the connection" : reason;
  }

  /**
   * The JDK's HTTP client reports a refused connection as a bare ConnectException caused by a
   * ClosedChannelException, without the operating system's reason. Only then, after the failure
   * (nothing was sent), one plain socket connection to the same address, bounded to 2 s, asks the
   * operating system what is wrong.
   */
  static String probe(String host, int port) {
    try (var socket = new java.net.Socket()) {
      socket.connect(new java.net.InetSocketAddress(host, port), 2000);
      return "the connection was closed while it was being opened";
    } catch (java.net.SocketTimeoutException e) {
      return "no answer to the connection attempt (a firewall, or a wrong host or port)";
    } catch (java.io.IOException e) {
      String known = reason(e);
      return known != null ? known : describe(e);
    }
  }

  /** The reason the failure itself names, or null when it names none the operator could act on. */
  static String reason(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof HttpConnectTimeoutException) {
        return "no connection within the connect timeout";
      }
      if (t instanceof UnresolvedAddressException || t instanceof UnknownHostException) {
        return "the host name does not resolve (DNS); check api_base";
      }
      if (t instanceof NoRouteToHostException) {
        return "no route to the host (network unreachable)";
      }
      if (t instanceof SSLHandshakeException || t instanceof CertificateException) {
        return "the TLS handshake failed (" + tlsDetail(t) + ")";
      }
      if (t instanceof SSLException) {
        return "TLS failed (" + tlsDetail(t) + ")";
      }
      if (t instanceof EOFException) {
        return CLOSED_BEFORE_ANSWERING;
      }
    }
    String message = deepestMessage(failure).toLowerCase(Locale.ROOT);
    if (message.contains("connection refused")) {
      return "connection refused (nothing listens on that port)";
    }
    if (message.contains("connection reset")) {
      return "the connection was reset";
    }
    if (message.contains("timed out")) {
      return "the connection timed out";
    }
    if (failure instanceof ConnectException) {
      return null;
    }
    return describe(failure);
  }

  /** The first line of the TLS failure, shortened for the common cases. */
  private static String tlsDetail(Throwable t) {
    String all = deepestMessage(t);
    if (all.contains("Unrecognized SSL message") || all.contains("plaintext connection")) {
      // The JDK's words for a server that answered the ClientHello in plain text.
      return "the server answered in plain HTTP; use http:// in api_base, or the provider's TLS port";
    }
    if (all.contains("PKIX path building failed") || all.contains("unable to find valid certification path")) {
      return "the server's certificate is not trusted by the gateway";
    }
    if (all.contains("No subject alternative") || all.contains("No name matching")) {
      return "the server's certificate does not name this host";
    }
    int newline = all.indexOf('\n');
    return newline < 0 ? all : all.substring(0, newline);
  }

  private static String deepestMessage(Throwable failure) {
    String found = "";
    for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
      String message = t.getMessage();
      // The JDK often wraps a cause with the cause's own message (or its toString): say each once.
      boolean repeatsCause = t.getCause() != null && t.getCause() != t && String.valueOf(message).equals(t.getCause().toString());
      if (message != null && !message.isBlank() && !found.contains(message) && !repeatsCause) {
        found = found.isEmpty() ? message : found + ": " + message;
      }
    }
    return found.isEmpty() ? NO_DETAIL : found;
  }

  private static String describe(Throwable failure) {
    Throwable innermost = failure;
    while (innermost.getCause() != null && innermost.getCause() != innermost) {
      innermost = innermost.getCause();
    }
    String message = innermost.getMessage();
    // The JDK's words only: a Java class name tells a client nothing, and no body names one (issue 15).
    return message == null || message.isBlank() ? NO_DETAIL : message;
  }
}

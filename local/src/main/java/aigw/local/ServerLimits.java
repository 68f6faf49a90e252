package aigw.local;

import java.time.Duration;
import java.util.Map;

/**
 * What a client may hold of the local server, so that a few stalled or slow connections cannot lock
 * out everyone else (issue 15, finding 2). Read from the environment at start:
 *
 * <ul>
 *   <li>{@code AIGW_HTTP_REQUEST_TIMEOUT_SECONDS} (default 30): from a request's first byte until its
 *       headers and whole body are read; a slower request's connection is closed (slowloris).
 *   <li>{@code AIGW_HTTP_WRITE_TIMEOUT_SECONDS} (default 30): how long one write of an answer may wait
 *       for a client that reads nothing; then its connection is closed. A long stream whose client
 *       keeps reading is never cut: the time a model takes between two events does not count.
 *   <li>{@code AIGW_HTTP_IDLE_TIMEOUT_SECONDS} (default 30): a kept-alive connection with no request,
 *       and a new one that sends nothing, is closed after this long.
 *   <li>{@code AIGW_HTTP_MAX_CONNECTIONS} (default 512): connections open at once; more are closed as
 *       soon as they are accepted.
 * </ul>
 *
 * @param requestTimeout headers and body of one request, from its first byte
 * @param writeTimeout one blocked write of an answer
 * @param idleTimeout a connection between requests (or before its first)
 * @param maxConnections open connections at once
 */
record ServerLimits(Duration requestTimeout, Duration writeTimeout, Duration idleTimeout, int maxConnections) {
  static final ServerLimits DEFAULTS = new ServerLimits(Duration.ofSeconds(30), Duration.ofSeconds(30), Duration.ofSeconds(30), 512);

  ServerLimits {
    if (requestTimeout.toSeconds() < 1 || writeTimeout.toSeconds() < 1 || idleTimeout.toSeconds() < 1 || maxConnections < 1) {
      throw new IllegalArgumentException("server limits must be at least 1 (second or connection): " + requestTimeout + ", " + writeTimeout
          + ", " + idleTimeout + ", " + maxConnections);
    }
  }

  /** The limits named in {@code env}, the defaults for the others. */
  static ServerLimits fromEnv(Map<String, String> env) {
    return new ServerLimits(
        Duration.ofSeconds(positive(env, "AIGW_HTTP_REQUEST_TIMEOUT_SECONDS", DEFAULTS.requestTimeout.toSeconds())),
        Duration.ofSeconds(positive(env, "AIGW_HTTP_WRITE_TIMEOUT_SECONDS", DEFAULTS.writeTimeout.toSeconds())),
        Duration.ofSeconds(positive(env, "AIGW_HTTP_IDLE_TIMEOUT_SECONDS", DEFAULTS.idleTimeout.toSeconds())),
        (int) positive(env, "AIGW_HTTP_MAX_CONNECTIONS", DEFAULTS.maxConnections));
  }

  /** No value means the default; 0 is refused, since "no limit" is the hole these limits close. */
  private static long positive(Map<String, String> env, String name, long fallback) {
    String text = env.get(name);
    if (text == null || text.isBlank()) {
      return fallback;
    }
    try {
      long value = Long.parseLong(text.strip());
      if (value < 1 || value > Integer.MAX_VALUE) {
        throw new NumberFormatException();
      }
      return value;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " must be a whole number from 1 up, got '" + text + "'");
    }
  }
}

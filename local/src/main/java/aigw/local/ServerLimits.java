package aigw.local;

import java.time.Duration;
import java.util.Map;

/**
 * What a client may hold of the local server, so that a few stalled or slow connections cannot lock
 * out everyone else (issue 15, finding 2). Read from the environment at start:
 *
 * <ul>
 *   <li>{@code AIGW_HTTP_REQUEST_TIMEOUT_SECONDS} (default 30): a request's line and headers, from
 *       the request's first byte ({@link LocalServer.HeaderDeadlines}: the
 *       idle timeout restarts with each byte, so it cannot bound a client dribbling them); and from
 *       a request's headers until its whole body is read. A slower request's connection is closed.
 *       Headers are also bounded by their size (16 KiB, {@link LocalServer#MAX_HEADER_BYTES}).
 *   <li>{@code AIGW_HTTP_WRITE_TIMEOUT_SECONDS} (default 30): how long one write of an answer may wait
 *       for a client that reads nothing; then its connection is closed. A long stream whose client
 *       keeps reading is never cut: the time a model takes between two events does not count.
 *   <li>{@code AIGW_HTTP_IDLE_TIMEOUT_SECONDS} (default 30): a kept-alive connection with no request,
 *       a new one that sends nothing, and a request whose headers or body stop arriving, is closed
 *       after this long without a byte.
 *   <li>{@code AIGW_HTTP_MAX_CONNECTIONS} (default 512): connections open at once; further ones wait
 *       to be accepted (in the listen backlog) until one closes.
 *   <li>{@code AIGW_HTTP_MAX_CONNECTIONS_PER_CLIENT} (default 128, at most the previous): connections
 *       one client address holds at once; more from it are closed as soon as they are accepted, so
 *       that one client cannot take every connection (issue 15). Behind a reverse proxy every
 *       request comes from the proxy's address: set it to {@code AIGW_HTTP_MAX_CONNECTIONS} there.
 *   <li>{@code AIGW_HTTP_MAX_BUFFERED_BODY_BYTES} (default 256 MiB): request-body bytes all
 *       connections together may hold in memory at once. Bodies are read whole before the key is
 *       checked, so without this bound clients with no key could fill the heap with half-sent
 *       bodies. A request takes its {@code Content-Length} from it before its body is read (a chunked
 *       one as its body arrives) and gives it back when its answer is sent; one that cannot is
 *       answered 503 with {@code Retry-After} at once, its body unread. One client address holds at
 *       most its share of it, the budget times {@code AIGW_HTTP_MAX_CONNECTIONS_PER_CLIENT} divided by
 *       {@code AIGW_HTTP_MAX_CONNECTIONS} (64 MiB by default: {@link #maxBufferedBodyBytesPerClient()}),
 *       so that one client declaring large bodies and sending nothing cannot lock every other
 *       client's bodies out; a request over its client's share is answered 429 with {@code
 *       Retry-After} the same way. A declared length over the route's own limit (64 KiB on admin
 *       routes, {@code AIGW_MAX_REQUEST_BYTES} on model routes) is answered 413 before anything is taken.
 *   <li>{@code AIGW_HTTP_MAX_BUFFERED_ANSWER_BYTES} (default 256 MiB): bytes of whole (not streamed)
 *       provider answers all requests together may hold at once ({@link
 *       aigw.core.providers.http.AnswerBudget}); each answer is also bounded by {@code
 *       AIGW_MAX_PROVIDER_ANSWER_BYTES} (64 MiB), and 64 workers could otherwise hold 4 GiB. An
 *       answer it cannot take is dropped and its request answered 503 with {@code Retry-After}.
 *   <li>{@code AIGW_HTTP_MAX_WORKERS_PER_KEY} (default 32, half of the {@value LocalServer#WORKER_THREADS}
 *       workers; at most all of them): requests one presented key may have running at once, so that
 *       one key whose model hangs cannot hold every worker. A request beyond it is answered 429 with
 *       {@code Retry-After} at once. A key's own {@code max_parallel_requests} is checked after it,
 *       in the application, and may be lower.
 * </ul>
 *
 * @param requestTimeout a request's headers, from its first byte; then its body, from its headers
 * @param writeTimeout one blocked write of an answer
 * @param idleTimeout a connection between requests (or before its first)
 * @param maxConnections open connections at once
 * @param maxConnectionsPerClient open connections of one client address at once; at most {@code maxConnections}
 * @param maxBufferedBodyBytes request-body bytes held in memory at once by all requests together
 * @param maxBufferedAnswerBytes whole provider-answer bytes held in memory at once by all requests together
 * @param maxWorkersPerKey requests one presented key may have on the workers at once; at most {@link LocalServer#WORKER_THREADS}
 */
record ServerLimits(Duration requestTimeout, Duration writeTimeout, Duration idleTimeout, int maxConnections, int maxConnectionsPerClient,
    long maxBufferedBodyBytes, long maxBufferedAnswerBytes, int maxWorkersPerKey) {
  /** Room for 4 answers of the largest size read whole (64 MiB), and thousands of ordinary ones. */
  static final long DEFAULT_MAX_BUFFERED_ANSWER_BYTES = 256L * 1024 * 1024;
  /** Half the workers: one key's hanging model leaves the other half to everyone else. */
  static final int DEFAULT_MAX_WORKERS_PER_KEY = LocalServer.WORKER_THREADS / 2;

  /** Room for 25 bodies of the largest size API Gateway accepts (10 MiB) at once. */
  static final long DEFAULT_MAX_BUFFERED_BODY_BYTES = 256L * 1024 * 1024;
  /** A client's default share: a quarter of the default connections. */
  static final int DEFAULT_MAX_CONNECTIONS_PER_CLIENT = 128;
  static final ServerLimits DEFAULTS = new ServerLimits(Duration.ofSeconds(30), Duration.ofSeconds(30), Duration.ofSeconds(30), 512);

  ServerLimits {
    if (requestTimeout.toSeconds() < 1 || writeTimeout.toSeconds() < 1 || idleTimeout.toSeconds() < 1 || maxConnections < 1
        || maxConnectionsPerClient < 1 || maxBufferedBodyBytes < 1 || maxBufferedAnswerBytes < 1 || maxWorkersPerKey < 1) {
      throw new IllegalArgumentException("server limits must be at least 1 (second or connection): " + requestTimeout + ", " + writeTimeout
          + ", " + idleTimeout + ", " + maxConnections + ", " + maxConnectionsPerClient);
    }
    if (maxConnectionsPerClient > maxConnections) {
      throw new IllegalArgumentException("AIGW_HTTP_MAX_CONNECTIONS_PER_CLIENT (" + maxConnectionsPerClient
          + ") cannot be more than AIGW_HTTP_MAX_CONNECTIONS (" + maxConnections + ")");
    }
  }

  /**
   * The request-body bytes one client address may hold at once: its share of {@link
   * #maxBufferedBodyBytes} in proportion to the connections it may hold ({@code maxBufferedBodyBytes
   * × maxConnectionsPerClient ÷ maxConnections}); the whole budget when one client may hold every
   * connection (behind a reverse proxy). At least 1.
   */
  long maxBufferedBodyBytesPerClient() {
    long share = Math.multiplyHigh(maxBufferedBodyBytes, maxConnectionsPerClient) == 0 && maxBufferedBodyBytes * maxConnectionsPerClient >= 0
        ? maxBufferedBodyBytes * maxConnectionsPerClient / maxConnections
        : maxBufferedBodyBytes / maxConnections * maxConnectionsPerClient;
    return Math.max(1, share);
  }

  /** With the default answer budget and share of the workers per key. */
  ServerLimits(Duration requestTimeout, Duration writeTimeout, Duration idleTimeout, int maxConnections, int maxConnectionsPerClient,
      long maxBufferedBodyBytes) {
    this(requestTimeout, writeTimeout, idleTimeout, maxConnections, maxConnectionsPerClient, maxBufferedBodyBytes,
        DEFAULT_MAX_BUFFERED_ANSWER_BYTES, DEFAULT_MAX_WORKERS_PER_KEY);
  }

  /** With the default body budget. */
  ServerLimits(Duration requestTimeout, Duration writeTimeout, Duration idleTimeout, int maxConnections, int maxConnectionsPerClient) {
    this(requestTimeout, writeTimeout, idleTimeout, maxConnections, maxConnectionsPerClient, DEFAULT_MAX_BUFFERED_BODY_BYTES);
  }

  /** With the default share per client, or all of them when fewer than the default. */
  ServerLimits(Duration requestTimeout, Duration writeTimeout, Duration idleTimeout, int maxConnections) {
    this(requestTimeout, writeTimeout, idleTimeout, maxConnections, Math.min(DEFAULT_MAX_CONNECTIONS_PER_CLIENT, maxConnections));
  }

  /** The limits named in {@code env}, the defaults for the others. */
  static ServerLimits fromEnv(Map<String, String> env) {
    int maxConnections = (int) positive(env, "AIGW_HTTP_MAX_CONNECTIONS", DEFAULTS.maxConnections);
    return new ServerLimits(
        Duration.ofSeconds(positive(env, "AIGW_HTTP_REQUEST_TIMEOUT_SECONDS", DEFAULTS.requestTimeout.toSeconds())),
        Duration.ofSeconds(positive(env, "AIGW_HTTP_WRITE_TIMEOUT_SECONDS", DEFAULTS.writeTimeout.toSeconds())),
        Duration.ofSeconds(positive(env, "AIGW_HTTP_IDLE_TIMEOUT_SECONDS", DEFAULTS.idleTimeout.toSeconds())),
        maxConnections,
        (int) positive(env, "AIGW_HTTP_MAX_CONNECTIONS_PER_CLIENT", Math.min(DEFAULT_MAX_CONNECTIONS_PER_CLIENT, maxConnections)),
        positive(env, "AIGW_HTTP_MAX_BUFFERED_BODY_BYTES", DEFAULT_MAX_BUFFERED_BODY_BYTES, Long.MAX_VALUE),
        positive(env, "AIGW_HTTP_MAX_BUFFERED_ANSWER_BYTES", DEFAULT_MAX_BUFFERED_ANSWER_BYTES, Long.MAX_VALUE),
        (int) positive(env, "AIGW_HTTP_MAX_WORKERS_PER_KEY", DEFAULT_MAX_WORKERS_PER_KEY, LocalServer.WORKER_THREADS));
  }

  /** No value means the default; 0 is refused, since "no limit" is the hole these limits close. */
  private static long positive(Map<String, String> env, String name, long fallback) {
    return positive(env, name, fallback, Integer.MAX_VALUE);
  }

  private static long positive(Map<String, String> env, String name, long fallback, long max) {
    String text = env.get(name);
    if (text == null || text.isBlank()) {
      return fallback;
    }
    try {
      long value = Long.parseLong(text.strip());
      if (value < 1 || value > max) {
        throw new NumberFormatException();
      }
      return value;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " must be a whole number from 1 " + (max < Integer.MAX_VALUE ? "to " + max : "up") + ", got '" + text + "'");
    }
  }
}

package aigw.core.auth;

import aigw.core.errors.AuthenticationFailed;
import aigw.core.errors.AuthenticationFailed.Reason;
import aigw.core.errors.ServiceUnavailable;
import aigw.core.http.GatewayRequest;
import aigw.core.keys.ApiKeys;
import aigw.core.keys.KeyCache;
import aigw.core.keys.VirtualKey;
import aigw.core.secrets.MasterKey;
import aigw.core.secrets.SecretSource;
import aigw.core.teams.Team;
import aigw.core.teams.TeamCache;
import java.time.Instant;
import java.util.Locale;
import java.util.Optional;

/**
 * Turns the key a request presents into a {@link Caller}, or throws {@link AuthenticationFailed}
 * with LiteLLM's message and type. The key is read from {@code Authorization: Bearer}, {@code
 * x-api-key} (Anthropic SDKs) or {@code api-key} (Azure OpenAI SDKs).
 */
public final class Authenticator {
  private final MasterKey masterKey;
  private final KeyCache keys;
  private final TeamCache teams;

  public Authenticator(MasterKey masterKey, KeyCache keys, TeamCache teams) {
    this.masterKey = masterKey;
    this.keys = keys;
    this.teams = teams;
  }

  /**
   * Model routes: the master key as last read is compared first, without reading its secret (a
   * virtual key is never the master key: {@link aigw.core.keys.KeyRules#customKey} refuses one), so
   * a master-key call reads no key table (the local gateway answers it before its database has
   * started); then virtual keys are looked up, so the common case never reads the master key.
   */
  public Caller forModelRoute(GatewayRequest request, Instant now) {
    String presented = presentedKey(request);
    byte[] digest = ApiKeys.sha256(presented); // once: the master key's comparison and the key's lookup both need it
    if (masterKey.digestMatchesAsLastRead(digest)) { // presentedKey is never empty
      return new Caller.Master();
    }
    Optional<VirtualKey> key = keys.find(ApiKeys.hashOfDigest(digest));
    if (key.isPresent()) {
      return checked(key.get(), now);
    }
    if (isMaster(presented)) {
      return new Caller.Master();
    }
    throw unknown(presented);
  }

  /** Admin routes: the master key is checked first; a virtual key is recognised only to say 403. */
  public Caller forAdminRoute(GatewayRequest request, Instant now) {
    String presented = presentedKey(request);
    if (isMaster(presented)) {
      return new Caller.Master();
    }
    Optional<VirtualKey> key = keys.find(ApiKeys.hash(presented));
    if (key.isPresent()) {
      return checked(key.get(), now);
    }
    throw unknown(presented);
  }

  private boolean isMaster(String presented) {
    try {
      return masterKey.matches(presented);
    } catch (SecretSource.SecretUnavailable e) {
      throw new ServiceUnavailable("The master key cannot be read: " + e.getMessage(), e);
    }
  }

  private Caller checked(VirtualKey key, Instant now) {
    if (key.isRotatedOut(now)) {
      // Checked on every request, not left to the cache or to TTL: the old value stops at the
      // grace end exactly.
      throw new AuthenticationFailed(
          Reason.UNKNOWN,
          "Authentication Error, this key was rotated and its grace period ended at " + key.graceEndsAt()
              + ". Use the new key (" + key.keyName() + ").");
    }
    if (key.blocked()) {
      throw new AuthenticationFailed(
          Reason.BLOCKED, "Authentication Error, Key is blocked. Update via `/key/unblock` if you're an admin.");
    }
    if (key.isExpired(now)) {
      throw new AuthenticationFailed(
          Reason.EXPIRED,
          "Authentication Error - Expired Key. Key Expiry time " + key.expiresAt() + " and current time " + now);
    }
    return new Caller.Virtual(key, teamOf(key));
  }

  /**
   * The key's team, which must exist and not be blocked (LiteLLM's {@code common_checks}, with its
   * messages; its auth handler answers both with 401). Checked on every route a key opens, so a
   * blocked team stops its keys everywhere, not only on model calls. A key whose team is gone fails
   * closed: it was created in a team that was deleted at the same time (a team's deletion deletes
   * its keys) or is still cached in this container.
   */
  private Team teamOf(VirtualKey key) {
    if (key.teamId() == null) {
      return null;
    }
    Team team =
        teams.find(key.teamId())
            .orElseThrow(
                () ->
                    new AuthenticationFailed(
                        Reason.TEAM_NOT_FOUND,
                        "Authentication Error, Team doesn't exist in db. Team=" + key.teamId()
                            + ". Create team via `/team/new` call."));
    if (team.blocked()) {
      throw new AuthenticationFailed(
          Reason.BLOCKED, "Authentication Error, Team=" + team.teamId() + " is blocked. Update via `/team/unblock` if you're an admin.");
    }
    return team;
  }

  private static AuthenticationFailed unknown(String presented) {
    return new AuthenticationFailed(
        Reason.UNKNOWN,
        "Authentication Error, Invalid proxy server token passed. Received API Key = "
            + ApiKeys.mask(presented)
            + ", Unable to find token in cache or the keys table");
  }

  /**
   * The key a request presents, by the same rule as authentication ({@code Authorization: Bearer},
   * else {@code x-api-key}, else {@code api-key}; the first line of each), or null when it presents
   * none or a malformed {@code Authorization}. For a transport that must tell callers apart before
   * the application runs (the local server's share of its workers per key); nothing is checked.
   *
   * @param header a header's first value by name (any case), null when absent
   */
  public static String presentedKeyOrNull(java.util.function.UnaryOperator<String> header) {
    try {
      return presentedKey(new GatewayRequest("GET", "/", headersOf(header), null, null, null));
    } catch (AuthenticationFailed none) {
      return null;
    }
  }

  private static java.util.Map<String, String> headersOf(java.util.function.UnaryOperator<String> header) {
    var headers = new java.util.HashMap<String, String>(4);
    for (String name : new String[] {"authorization", "x-api-key", "api-key"}) {
      String value = header.apply(name);
      if (value != null) {
        headers.put(name, value);
      }
    }
    return headers;
  }

  static String presentedKey(GatewayRequest request) {
    String authorization = request.header("authorization");
    if (authorization != null && !authorization.isBlank()) {
      String value = authorization.trim();
      if (value.length() > 7 && value.substring(0, 7).toLowerCase(Locale.ROOT).equals("bearer ")) {
        String key = value.substring(7).trim();
        if (!key.isEmpty()) {
          return key;
        }
      }
      throw new AuthenticationFailed(
          Reason.MISSING,
          "Authentication Error, Malformed API Key passed in. Ensure Key has `Bearer ` prefix.");
    }
    for (String header : new String[] {"x-api-key", "api-key"}) {
      String value = request.header(header);
      if (value != null && !value.isBlank()) {
        return value.trim();
      }
    }
    throw new AuthenticationFailed(Reason.MISSING, "Authentication Error, No api key passed in.");
  }
}

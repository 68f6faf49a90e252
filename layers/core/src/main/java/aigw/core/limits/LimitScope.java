package aigw.core.limits;

/**
 * One thing whose limits a request counts against.
 *
 * @param id the scope's stable id, unique across kinds: {@code key:<key_id>} ({@link #ofKey}), later {@code team:<team_id>}
 * @param label how an error names it to the client, e.g. {@code api_key: sk-...abcd}; never a secret
 */
public record LimitScope(String id, String label, Limits limits) {
  public static LimitScope ofKey(String keyId, String keyName, Limits limits) {
    return new LimitScope("key:" + keyId, "api_key: " + keyName, limits);
  }
}

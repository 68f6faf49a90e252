package aigw.core.limits;

/**
 * One thing whose limits a request counts against: a virtual key, or the team the key belongs to
 * (whose limits hold for the sum of its keys' requests, LiteLLM's rule).
 *
 * @param id the scope's stable id, unique across kinds: {@code key:<key_id>} ({@link #ofKey}) or
 *     {@code team:<team_id>} ({@link #ofTeam}); its state is the item {@code limits#<id>}
 * @param label how a rate-limit error names it, as LiteLLM's limiter does ({@code
 *     parallel_request_limiter_v3.py}: "Rate limit exceeded for {descriptor}: {value}"), e.g. {@code
 *     api_key: sk-...abcd} or {@code team: <team_id>}; never a secret
 * @param budgetSubject how a budget error names it after "Budget has been exceeded!", as LiteLLM's
 *     auth checks do ({@code Team=<team_id>}); null for a key, whose message names no scope
 */
public record LimitScope(String id, String label, String budgetSubject, Limits limits) {
  public static LimitScope ofKey(String keyId, String keyName, Limits limits) {
    return new LimitScope("key:" + keyId, "api_key: " + keyName, null, limits);
  }

  public static LimitScope ofTeam(String teamId, Limits limits) {
    return new LimitScope("team:" + teamId, "team: " + teamId, "Team=" + teamId, limits);
  }

  /**
   * The partition key ({@code token_hash}) of the keys-table item that holds the limit state of key
   * {@code keyId}: its windows, its reservations in flight and its budget period. Deleted with the
   * key, in the same transaction (DynamoDbKeyStore), so nothing of a deleted key's limits remains.
   */
  public static String keyItem(String keyId) {
    return LimitTable.PREFIX + "key:" + keyId;
  }

  /** As {@link #keyItem} for team {@code teamId}: deleted with the team (DynamoDbTeamStore), so a new team of the same id starts afresh. */
  public static String teamItem(String teamId) {
    return LimitTable.PREFIX + "team:" + teamId;
  }
}

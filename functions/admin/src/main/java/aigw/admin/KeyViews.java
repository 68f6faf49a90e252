package aigw.admin;

import aigw.core.keys.KeyRotation;
import aigw.core.keys.VirtualKey;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/** A key as the admin API shows it, with LiteLLM's field names; never the key itself. */
final class KeyViews {
  private KeyViews() {}

  /** LiteLLM's /key/info "info": the row without the token. */
  static Map<String, Object> info(VirtualKey key) {
    var view = new LinkedHashMap<String, Object>();
    view.put("key_id", key.keyId());
    view.put("key_name", key.keyName());
    view.put("key_alias", key.keyAlias());
    view.put("models", key.models());
    view.put("team_id", key.teamId());
    view.put("user_id", key.userId());
    view.put("metadata", key.metadata());
    view.put("expires", text(key.expiresAt()));
    view.put("blocked", key.blocked());
    view.put("created_at", text(key.createdAt()));
    view.put("updated_at", text(key.updatedAt()));
    view.put("request_count", key.usage().requests());
    view.put("prompt_tokens", key.usage().promptTokens());
    view.put("completion_tokens", key.usage().completionTokens());
    view.put("total_tokens", key.usage().totalTokens());
    // Of request_count, the streams cut off before the provider reported usage: their tokens are estimates.
    view.put("estimated_request_count", key.usage().estimatedRequests());
    view.put("last_used_at", text(key.usage().lastUsedAt()));
    view.put("spend", key.usage().spend()); // USD, a JSON number (LiteLLM's spend); exact as DynamoDB summed it
    KeyRotation rotation = key.rotation();
    view.put("auto_rotate", rotation.autoRotate());
    view.put("rotation_interval", rotation.interval() == null ? null : Durations.format(rotation.interval()));
    view.put("grace_period", rotation.gracePeriod() == null ? null : Durations.format(rotation.gracePeriod()));
    view.put("rotation_secret", rotation.secretTarget());
    view.put("key_rotation_at", text(rotation.nextRotationAt()));
    view.put("last_rotation_at", text(rotation.lastRotatedAt()));
    view.put("rotation_count", rotation.count());
    view.put("previous_key_valid_until", text(rotation.previousKeyValidUntil()));
    var limits = key.limits();
    view.put("rpm_limit", limits.rpmLimit());
    view.put("tpm_limit", limits.tpmLimit());
    view.put("max_parallel_requests", limits.maxParallelRequests());
    view.put("max_budget", limits.maxBudget());
    view.put("soft_budget", limits.softBudget());
    view.put("budget_duration", limits.budgetDuration());
    return view;
  }

  /** /key/list with return_full_object=true: the info plus the token hash. */
  static Map<String, Object> full(VirtualKey key) {
    var view = new LinkedHashMap<String, Object>();
    view.put("token", key.tokenHash());
    view.putAll(info(key));
    return view;
  }

  private static String text(Instant instant) {
    return instant == null ? null : instant.toString();
  }
}

package aigw.core.rotation;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a rotation tells the world, for alerts and automation: which key, its new display form and
 * when the previous value stops working. Never the key itself.
 *
 * @param trigger {@code schedule} or {@code manual}
 * @param deliveredTo the secret that received the new key; null when there is none
 * @param deliveryFailed whether writing the new key to that secret failed (the previous key still
 *     works until {@code previousKeyValidUntil}: regenerate the key before then)
 * @param retrievable whether the new key waits for one {@code POST /key/retrieve}
 */
public record RotationEvent(
    String keyId,
    String keyAlias,
    String keyName,
    String previousKeyName,
    Instant rotatedAt,
    Instant previousKeyValidUntil,
    Instant nextRotationAt,
    long rotationCount,
    String trigger,
    String deliveredTo,
    boolean deliveryFailed,
    boolean retrievable) {

  public static final String SOURCE = "aigw";
  public static final String DETAIL_TYPE = "Virtual key rotated";

  /** The event's detail, with LiteLLM's field names where it has them. */
  public Map<String, Object> detail() {
    var detail = new LinkedHashMap<String, Object>();
    detail.put("key_id", keyId);
    detail.put("key_alias", keyAlias);
    detail.put("key_name", keyName);
    detail.put("previous_key_name", previousKeyName);
    detail.put("rotated_at", rotatedAt.toString());
    detail.put("previous_key_valid_until", previousKeyValidUntil.toString());
    detail.put("key_rotation_at", nextRotationAt == null ? null : nextRotationAt.toString());
    detail.put("rotation_count", rotationCount);
    detail.put("trigger", trigger);
    detail.put("rotation_secret", deliveredTo);
    detail.put("delivery_failed", deliveryFailed);
    detail.put("retrievable", retrievable);
    return detail;
  }
}

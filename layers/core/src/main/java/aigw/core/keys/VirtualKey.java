package aigw.core.keys;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * A virtual key as stored: everything but the key itself, of which only the SHA-256 is kept.
 *
 * @param tokenHash SHA-256 of the key, hex: the table's partition key
 * @param keyId stable id of this key; it survives rotation, the hash does not
 * @param keyName the display form, {@code sk-...abcd}
 * @param models the models this key may call; empty means all
 * @param expiresAt null when the key never expires
 */
public record VirtualKey(
    String tokenHash,
    String keyId,
    String keyName,
    String keyAlias,
    List<String> models,
    String teamId,
    String userId,
    Map<String, Object> metadata,
    Instant createdAt,
    Instant updatedAt,
    Instant expiresAt,
    boolean blocked,
    KeyUsage usage) {

  public VirtualKey {
    models = models == null ? List.of() : List.copyOf(models);
    metadata = metadata == null ? Map.of() : metadata;
    usage = usage == null ? KeyUsage.NONE : usage;
  }

  public boolean isExpired(Instant now) {
    return expiresAt != null && !now.isBefore(expiresAt);
  }

  /** LiteLLM's rule: an empty list, or the special name {@code all-proxy-models}, allows every model. */
  public boolean allowsModel(String model) {
    return models.isEmpty() || models.contains(model) || models.contains("all-proxy-models");
  }

  public boolean allowsAllModels() {
    return models.isEmpty() || models.contains("all-proxy-models");
  }
}

package aigw.admin;

import aigw.core.keys.RotationSettings;
import aigw.core.limits.LimitFields;
import aigw.core.limits.Limits;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * The settings of a key that {@code /key/generate} and {@code /key/update} both take, with
 * LiteLLM's field names, parsed and type-checked; an empty Optional is a field the request leaves
 * out. The key rules ({@link aigw.core.keys.KeyRules}) are applied by {@link KeyEndpoints}.
 */
record KeySettings(
    Optional<String> keyAlias,
    Optional<Durations.Lifetime> duration,
    Optional<List<String>> models,
    Optional<String> teamId,
    Optional<String> userId,
    Optional<Map<String, Object>> metadata,
    Optional<Boolean> blocked,
    RotationSettings rotation,
    Optional<UnaryOperator<Limits>> limits) {

  /** The request fields these settings are read from. */
  static final Set<String> FIELDS =
      GenerateKeyRequest.with(
          LimitFields.NAMES,
          "key_alias", "duration", "models", "team_id", "user_id", "metadata", "blocked",
          "auto_rotate", "rotation_interval", "grace_period", "rotation_secret");

  static KeySettings from(Fields fields) {
    return new KeySettings(
        fields.text("key_alias"),
        fields.text("duration").map(d -> Durations.lifetime(d, "duration")),
        fields.strings("models"),
        fields.text("team_id"),
        fields.text("user_id"),
        fields.object("metadata"),
        fields.bool("blocked"),
        new RotationSettings(
            fields.bool("auto_rotate"),
            fields.text("rotation_interval").map(t -> Durations.parse(t, "rotation_interval")),
            fields.text("grace_period").map(t -> Durations.parseAllowingZero(t, "grace_period")),
            fields.text("rotation_secret").map(String::trim)),
        limits(fields));
  }

  /**
   * The limit fields the request names, applied over a key's current limits: an absent field keeps
   * its value, a field sent as null removes the limit (LiteLLM's {@code /key/update}, {@link
   * LimitFields}); empty when the request names none. Parsed at once, so a bad value is a 400
   * before anything is looked up.
   */
  private static Optional<UnaryOperator<Limits>> limits(Fields fields) {
    if (LimitFields.NAMES.stream().noneMatch(fields::names)) {
      return Optional.empty();
    }
    LimitFields.read(fields.body(), Limits.NONE); // validates now; applied to the key's current limits below
    return Optional.of(current -> LimitFields.read(fields.body(), current));
  }
}

package aigw.core.keys;

import java.time.Duration;
import java.util.Optional;

/**
 * The rotation fields an admin request sets ({@code auto_rotate}, {@code rotation_interval},
 * {@code grace_period}, {@code rotation_secret}), parsed but not yet checked; an empty Optional
 * keeps the key's current setting. {@link KeyRules#rotation} checks them against the key.
 *
 * @param secretTarget a Secrets Manager secret id; {@code ""} removes the key's secret target
 */
public record RotationSettings(
    Optional<Boolean> autoRotate, Optional<Duration> interval, Optional<Duration> gracePeriod, Optional<String> secretTarget) {

  public static final RotationSettings NONE =
      new RotationSettings(Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty());

  /** True when the request sets none of the rotation fields. */
  public boolean isEmpty() {
    return equals(NONE);
  }
}

package aigw.core.routing;

import aigw.core.config.Deployment;
import aigw.core.config.RouterSettings;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Which deployments are cooling down: LiteLLM's {@code allowed_fails} and {@code cooldown_time}
 * ({@code litellm/router_utils/cooldown_handlers.py}, {@code should_cooldown_based_on_allowed_fails_policy}).
 * A deployment that fails more than {@code allowed_fails} times within {@link
 * RouterSettings#FAILURE_WINDOW} is skipped for {@code cooldown_time}; its count starts again after.
 *
 * <p>A per-container cache: one instance per process, shared by its requests, so on AWS each Lambda
 * execution environment learns on its own (a cold one tries a failing deployment again). Thread-safe
 * without a lock: a deployment's state is one immutable value swapped by compare-and-set on a failure;
 * a successful call writes nothing, and checking a deployment is one map read.
 */
public final class Cooldowns {
  private final ConcurrentHashMap<Deployment, AtomicReference<State>> states = new ConcurrentHashMap<>();

  /** Failures counted since {@code windowStart}; skipped until {@code coolUntil} (epoch ms, 0 = not cooling). */
  private record State(long windowStart, int failures, long coolUntil) {}

  /**
   * Forgets every count and cooldown: after a SnapStart restore, what the snapshot's process learned
   * (its clock may be long past) is not this environment's.
   */
  public void forgetAll() {
    states.clear();
  }

  /** Whether {@code deployment} is skipped at {@code now}. */
  public boolean isCooling(Deployment deployment, Instant now) {
    AtomicReference<State> state = states.get(deployment);
    return state != null && state.get().coolUntil() > now.toEpochMilli();
  }

  /** How long until the first of {@code deployments} is tried again (zero when one is not cooling). */
  public Duration shortestWait(List<Deployment> deployments, Instant now) {
    long shortest = Long.MAX_VALUE;
    for (Deployment deployment : deployments) {
      AtomicReference<State> state = states.get(deployment);
      long left = state == null ? 0 : Math.max(0, state.get().coolUntil() - now.toEpochMilli());
      shortest = Math.min(shortest, left);
    }
    return Duration.ofMillis(shortest == Long.MAX_VALUE ? 0 : shortest);
  }

  /**
   * Counts one failure of {@code deployment}; the one beyond {@code allowed_fails} in the window
   * starts its cooldown.
   *
   * @return true when this failure started a cooldown
   */
  public boolean recordFailure(Deployment deployment, Instant now, RouterSettings settings) {
    long at = now.toEpochMilli();
    AtomicReference<State> ref = states.computeIfAbsent(deployment, d -> new AtomicReference<>(new State(at, 0, 0)));
    while (true) {
      State current = ref.get();
      boolean windowOver = at - current.windowStart() >= RouterSettings.FAILURE_WINDOW.toMillis() || current.coolUntil() != 0 && current.coolUntil() <= at;
      int failures = (windowOver ? 0 : current.failures()) + 1;
      long windowStart = windowOver ? at : current.windowStart();
      State next =
          failures > settings.allowedFails()
              ? new State(at, 0, at + settings.cooldownTime().toMillis())
              : new State(windowStart, failures, windowOver ? 0 : current.coolUntil());
      if (ref.compareAndSet(current, next)) {
        return next.coolUntil() > at && next.failures() == 0;
      }
    }
  }
}

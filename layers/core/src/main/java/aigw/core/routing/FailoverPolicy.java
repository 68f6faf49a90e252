package aigw.core.routing;

import aigw.core.config.Deployment;
import aigw.core.config.RouterSettings;
import aigw.core.errors.GatewayException;
import aigw.core.errors.NoDeploymentAvailable;
import aigw.core.http.ClientClosedRequest;
import aigw.core.http.ClientDeparture;
import aigw.core.providers.ProviderAnswer;
import aigw.core.providers.ProviderRequest;
import aigw.core.providers.ProviderResponse;
import aigw.core.providers.ProviderStream;
import aigw.core.providers.StreamChunk;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.DoubleSupplier;
import java.util.function.Function;
import java.util.logging.Logger;

/**
 * How one model call is made reliable, with LiteLLM's router settings ({@link RouterSettings}):
 *
 * <ol>
 *   <li>The group's deployments are tried in their round-robin order, skipping those cooling down
 *       ({@link Cooldowns}); when all of them are, the group fails with {@link NoDeploymentAvailable}
 *       (429). A group of one deployment is never cooled down: there is nothing to route to instead,
 *       and the provider's own error says more.
 *   <li>A failure where nothing was sent moves to the next untried deployment at once, without
 *       counting as a retry (what aigw did before these settings existed). A provider's 408, 429 or
 *       5xx, or its refusal of the gateway's credential, moves to the next deployment at once when
 *       there is one and {@code num_retries} allows it; when all were tried, the call waits ({@link
 *       Backoff}: the provider's Retry-After up to 60 s, else exponential backoff with full jitter)
 *       and goes round again, as long as {@code num_retries} lasts and the wait ends within the
 *       first deployment's {@code timeout} from the start of the call.
 *   <li>A failure after which the request may have run (a timeout, a connection lost after sending,
 *       a stream cut before its first chunk) is answered as it is: never retried, never sent to a
 *       fallback, so nothing is run or billed twice. A client error is answered as it is.
 *   <li>A stream counts as answered once its first chunk arrived: an error before it (an error
 *       event, a 429) is retried like any answered error; from the first chunk on, nothing is.
 *   <li>A client that closed its connection meanwhile ({@link ClientClosedRequest}) ends the call
 *       at once, also during a wait before a retry: nothing is retried or sent to a fallback, and
 *       nothing counts against the deployment.
 *   <li>When the group failed in a way that may be retried, its {@code fallbacks} groups are tried
 *       in order (at most {@code max_fallbacks}), each by the same rules; a context-window refusal
 *       tries {@code context_window_fallbacks} instead. Fallbacks are the operator's routing: they
 *       apply whatever the key's {@code models} allow, as in LiteLLM. If every group fails, the
 *       first group's error is answered.
 * </ol>
 *
 * Thread-safe; one instance per process, its {@link Cooldowns} shared by every request.
 */
public final class FailoverPolicy {
  private static final Logger LOG = Logger.getLogger(FailoverPolicy.class.getName());

  /** Calls one deployment (in the gateway: {@code Providers.call}). */
  @FunctionalInterface
  public interface DeploymentCall {
    ProviderAnswer call(Deployment deployment, ProviderRequest request);
  }

  /** Waits; interrupted, it stops waiting (the call then answers the error it has). */
  @FunctionalInterface
  public interface Sleeper {
    void sleep(Duration wait) throws InterruptedException;
  }

  private final RouterSettings settings;
  private final DeploymentCall deployments;
  private final Function<String, List<Deployment>> groups;
  private final Cooldowns cooldowns;
  private final Clock clock;
  private final DoubleSupplier jitter;
  private final Sleeper sleeper;

  /** The gateway's: real waits (ended early by the client's departure), a thread-local random jitter. */
  public FailoverPolicy(RouterSettings settings, DeploymentCall deployments, Function<String, List<Deployment>> groups, Clock clock) {
    this(settings, deployments, groups, new Cooldowns(), clock, () -> ThreadLocalRandom.current().nextDouble(), FailoverPolicy::waitForRetry);
  }

  /**
   * Waits {@code wait} before a retry, or until the client of the request this thread serves closes
   * its connection ({@link ClientDeparture}): the next attempt then finds it gone and is not made.
   */
  static void waitForRetry(Duration wait) throws InterruptedException {
    var clientLeft = new java.util.concurrent.CountDownLatch(1);
    try (var watching = ClientDeparture.whileWaiting(clientLeft::countDown)) {
      clientLeft.await(wait.toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS);
    }
  }

  /**
   * @param groups a model group's deployments in the order to try them (the router's rotation); empty if unknown
   * @param jitter uniform random numbers in [0, 1) for the backoff
   */
  public FailoverPolicy(
      RouterSettings settings,
      DeploymentCall deployments,
      Function<String, List<Deployment>> groups,
      Cooldowns cooldowns,
      Clock clock,
      DoubleSupplier jitter,
      Sleeper sleeper) {
    this.settings = settings;
    this.deployments = deployments;
    this.groups = groups;
    this.cooldowns = cooldowns;
    this.clock = clock;
    this.jitter = jitter;
    this.sleeper = sleeper;
  }

  public RouterSettings settings() {
    return settings;
  }

  public Cooldowns cooldowns() {
    return cooldowns;
  }

  /**
   * Every deployment a call to {@code model} may reach: its own ({@code rotation}), then those of
   * its {@code fallbacks} and {@code context_window_fallbacks} groups (a fallback group's own
   * fallbacks are not followed, as in {@link #call}). A rule about the whole call (which protocol
   * a request may be passed through in, which routing fields it may carry) must hold for all of them.
   */
  public List<Deployment> reachableFrom(String model, List<Deployment> rotation) {
    var groupNames = new java.util.LinkedHashSet<String>();
    groupNames.addAll(settings.fallbacks().getOrDefault(model, List.of()));
    groupNames.addAll(settings.contextWindowFallbacks().getOrDefault(model, List.of()));
    groupNames.remove(model);
    if (groupNames.isEmpty()) {
      return rotation;
    }
    var reachable = new ArrayList<Deployment>(rotation);
    for (String group : groupNames) {
      reachable.addAll(groups.apply(group));
    }
    return List.copyOf(reachable);
  }

  /**
   * Calls the model group of {@code rotation} (its deployments, in the order to try them), with
   * retries, cooldowns and fallbacks.
   *
   * @return the answer, with the deployment that gave it ({@code ProviderResponse#answeredBy},
   *     {@code ProviderStream#answeredBy}); a stream's first chunk has already arrived (it is given first by {@code next()})
   * @throws GatewayException the failure answered to the client (see the class comment for which)
   */
  public ProviderAnswer call(List<Deployment> rotation, ProviderRequest request) {
    return call(rotation, request, null);
  }

  /**
   * As {@link #call(List, ProviderRequest)}, for the virtual key {@code keyId} (its stable key id,
   * never the key nor its hash), which the log line of a fallback names so that an
   * operator can tell whose calls fall back; null for the master key or when unknown.
   */
  public ProviderAnswer call(List<Deployment> rotation, ProviderRequest request, String keyId) {
    if (rotation.isEmpty()) {
      throw new IllegalArgumentException("a call needs at least one deployment");
    }
    String model = rotation.get(0).modelName();
    GroupFailed failed;
    try {
      return callGroup(model, rotation, request);
    } catch (GroupFailed e) {
      failed = e;
    }
    List<String> fallbacks =
        (failed.contextWindow ? settings.contextWindowFallbacks() : settings.fallbacks()).getOrDefault(model, List.of());
    int tried = 0;
    for (String group : fallbacks) {
      List<Deployment> fallbackRotation = groups.apply(group);
      if (group.equals(model) || fallbackRotation.isEmpty()) {
        continue;
      }
      if (tried++ >= settings.maxFallbacks()) {
        break;
      }
      LOG.info("Model '" + model + "' failed (" + failed.failure.getClass().getSimpleName() + ")"
          + (keyId == null ? "" : " for key id " + keyId) + "; trying its fallback '" + group + "'.");
      try {
        return callGroup(group, fallbackRotation, request);
      } catch (GroupFailed again) {
        // the next fallback; the first group's error is answered if none works
      }
    }
    throw failed.failure;
  }

  /** One group: its deployments and retries. */
  private ProviderAnswer callGroup(String model, List<Deployment> rotation, ProviderRequest request) {
    Instant start = clock.instant();
    boolean coolable = rotation.size() > 1 && !settings.disableCooldowns();
    List<Deployment> candidates = rotation;
    if (coolable) {
      candidates = new ArrayList<>(rotation.size());
      for (Deployment deployment : rotation) {
        if (!cooldowns.isCooling(deployment, start)) {
          candidates.add(deployment);
        }
      }
      if (candidates.isEmpty()) {
        throw new GroupFailed(new NoDeploymentAvailable(model, cooldowns.shortestWait(rotation, start)), false);
      }
    }
    long deadline = start.toEpochMilli() + candidates.get(0).timeout().toMillis();
    int retriesLeft = settings.numRetries();
    int attempt = 0;
    int waits = 0;
    while (true) {
      Deployment deployment = candidates.get(attempt % candidates.size());
      GatewayException error;
      try {
        return firstChunkRead(deployments.call(deployment, request), deployment);
      } catch (ClientClosedRequest gone) {
        throw gone.calling(deployment); // nobody is left to answer: no retry, no fallback, nothing against the deployment
      } catch (GatewayException e) {
        error = e;
      }
      Failure failure = Failure.of(error);
      if (coolable && failure.countsAgainstDeployment && cooldowns.recordFailure(deployment, clock.instant(), settings)) {
        LOG.warning("Deployment " + deployment + " failed more than " + settings.allowedFails() + " times within "
            + RouterSettings.FAILURE_WINDOW.toSeconds() + " s; skipped for " + settings.cooldownTime().toMillis() / 1000.0 + " s.");
      }
      switch (failure) {
        case FINAL, MAY_HAVE_RUN -> throw error;
        case CONTEXT_WINDOW -> throw new GroupFailed(error, true);
        default -> {}
      }
      attempt++;
      boolean untried = attempt < candidates.size();
      if (untried && failure == Failure.NOT_SENT) {
        continue; // nothing was sent: the next deployment, as before num_retries existed
      }
      if (retriesLeft == 0 || (!untried && failure == Failure.CREDENTIAL_REFUSED)) {
        throw new GroupFailed(error, false);
      }
      retriesLeft--;
      if (!untried) {
        Duration wait = Backoff.wait(waits++, error, settings.retryAfter(), jitter, clock.instant());
        if (wait.compareTo(Backoff.MAX_RETRY_AFTER) > 0 || clock.millis() + wait.toMillis() > deadline) {
          throw new GroupFailed(error, false); // the client hears the provider's Retry-After instead
        }
        try {
          sleeper.sleep(wait);
        } catch (InterruptedException interrupted) {
          Thread.currentThread().interrupt();
          throw error;
        }
        if (ClientDeparture.clientLeft()) {
          throw new ClientClosedRequest(false, deployment); // the wait ended for it: no further attempt
        }
      }
    }
  }

  /**
   * A stream's first chunk, read while the call may still be retried: an error before it is the
   * provider's answer to this attempt. Either kind of answer is returned marked with the
   * deployment that gave it ({@code answeredBy}), which the cost of the call depends on.
   */
  private static ProviderAnswer firstChunkRead(ProviderAnswer answer, Deployment deployment) {
    if (answer instanceof ProviderResponse whole) {
      return whole.answeredBy(deployment);
    }
    if (!(answer instanceof ProviderStream stream)) {
      return answer;
    }
    StreamChunk first;
    try {
      first = stream.next();
    } catch (RuntimeException e) {
      stream.close(); // next() closes on its failures; a bug's exception must not leave the call open either
      throw e;
    }
    return new FirstChunkStream(first, stream, deployment);
  }

  /** The group failed in a way its fallbacks may answer. */
  private static final class GroupFailed extends RuntimeException {
    final GatewayException failure;
    final boolean contextWindow;

    GroupFailed(GatewayException failure, boolean contextWindow) {
      super(null, null, false, false);
      this.failure = failure;
      this.contextWindow = contextWindow;
    }
  }
}

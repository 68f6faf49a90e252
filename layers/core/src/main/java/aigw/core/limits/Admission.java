package aigw.core.limits;

import aigw.core.usage.TokenUsage;
import java.math.BigDecimal;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * What one admitted request holds against its scopes' limits (a request unit and tokens of this
 * container's window leases, a parallel slot, a budget reservation), until it is settled with what
 * it really used, or released when the call failed. Settling twice, or after a release, does
 * nothing: the first ends it.
 */
public final class Admission {
  /** A request whose scopes have no limits: holds nothing, costs nothing. */
  public static final Admission NONE = new Admission(null, List.of(), Map.of());

  private final LimitEngine engine;
  private final List<LimitEngine.Held> held;
  private final Map<String, String> headers;
  private final AtomicBoolean ended = new AtomicBoolean();

  Admission(LimitEngine engine, List<LimitEngine.Held> held, Map<String, String> headers) {
    this.engine = engine;
    this.held = held;
    this.headers = headers;
  }

  /**
   * The call was answered: counts {@code usage} (tokens) and {@code costUsd} (spend) and frees what
   * was held. Writes only when the scope has a parallel limit or a budget, or when the tokens went
   * beyond the reservation.
   */
  public void settle(TokenUsage usage, BigDecimal costUsd) {
    if (engine != null && ended.compareAndSet(false, true)) {
      engine.settle(held, usage.totalTokens(), costUsd == null ? BigDecimal.ZERO : costUsd);
    }
  }

  /**
   * As {@link #settle}, off the client's path: what this container holds in memory is settled at
   * once, the writes (the slot and the budget reservation's end, with the real cost) go to the
   * engine's write-behind queue, written after the answer is sent (on Lambda inside the invocation,
   * locally by background writers; {@link LimitEngine#flushEndings}). The reservation, taken at
   * admission, already holds the slot and the estimate until then.
   */
  public void settleAfterAnswer(TokenUsage usage, BigDecimal costUsd) {
    if (engine != null && ended.compareAndSet(false, true)) {
      engine.endAfterAnswer(held, LimitEngine.Ending.SETTLED, usage.totalTokens(), costUsd == null ? BigDecimal.ZERO : costUsd);
    }
  }

  /** As {@link #release}, written after the answer like {@link #settleAfterAnswer}. */
  public void releaseAfterAnswer() {
    if (engine != null && ended.compareAndSet(false, true)) {
      engine.endAfterAnswer(held, LimitEngine.Ending.RELEASED, 0, BigDecimal.ZERO);
    }
  }

  /** The call failed before any answer: frees what was held; the request still counts against rpm_limit. */
  public void release() {
    if (engine != null && ended.compareAndSet(false, true)) {
      engine.release(held);
    }
  }

  /**
   * OpenAI's {@code x-ratelimit-limit-requests}, {@code -remaining-requests}, {@code
   * -reset-requests} and the {@code -tokens} ones, for a key with {@code rpm_limit} / {@code
   * tpm_limit} (as this container last saw the window); empty otherwise.
   */
  public Map<String, String> headers() {
    return headers;
  }
}

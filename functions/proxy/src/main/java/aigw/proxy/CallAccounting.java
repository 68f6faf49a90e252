package aigw.proxy;

import aigw.core.Gateway;
import aigw.core.auth.Caller;
import aigw.core.config.Deployment;
import aigw.core.errors.ErrorEnvelope;
import aigw.core.errors.GatewayException;
import aigw.core.http.ClientClosedRequest;
import aigw.core.spend.SpendLogEntry;
import aigw.core.spend.SpendLogs;
import aigw.core.usage.TokenUsage;
import aigw.core.usage.UsageDelta;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The one place a finished model call is accounted, whatever its protocol (chat, completions,
 * embeddings, Responses, Messages) and whether it was whole or streamed:
 *
 * <ol>
 *   <li>its cost in USD, from the tokens and the prices of the deployment that answered (after
 *       failover, not necessarily the first tried): {@code gateway.costs()};
 *   <li>the key's counters and spend, in one atomic write ({@code gateway.usage()}; not for the
 *       master key, which has no counters);
 *   <li>one spend-log entry ({@code gateway.spendLogs()}): request id, key id and alias, team, model,
 *       deployment, tokens, cost, status, latency, time; never the prompt or the key.
 * </ol>
 *
 * An answered call (status 200) is accounted before the client is told it is complete: a whole
 * answer before it is sent, a stream before its last event (the relays). A stream cut before the
 * provider's usage is accounted with the gateway's estimate, costed on it and marked {@code
 * estimated}; one whose provider reported usage is never accounted at $0 (LiteLLM's #37923). A call
 * the gateway admitted but that failed (the provider's error, a timeout, no deployment available)
 * gets a spend-log entry with its status and cost 0, and nothing on the key (docs/api.md, "Spend").
 */
final class CallAccounting {
  private static final Logger LOG = Logger.getLogger(CallAccounting.class.getName());

  /** What a streamed answer's relay calls once, when the stream ends, with the tokens it counted. */
  @FunctionalInterface
  interface Finish {
    /**
     * @param estimated the tokens are the gateway's estimate (no usage came from the provider)
     * @param endStatus 200 for a stream told complete; for one ended by an error event, that
     *     error's status (499 when the client left): the spend log's status, so a cut stream is
     *     logged as the failure it was while its tokens still count
     */
    void finished(TokenUsage tokens, boolean estimated, int endStatus);
  }

  private final Gateway gateway;
  private final SpendLogs spendLogs;

  /** @param spendLogs where the entries go ({@code gateway.spendLogs()} in the gateway) */
  CallAccounting(Gateway gateway, SpendLogs spendLogs) {
    this.gateway = gateway;
    this.spendLogs = spendLogs;
  }

  /** The {@link Finish} of a streamed call, answered by {@code answeredBy}. */
  Finish streamed(ProxyService.Admitted admitted, Deployment answeredBy) {
    return (tokens, estimated, endStatus) -> answered(admitted, answeredBy, tokens, estimated, endStatus);
  }

  /**
   * Accounts a call whose answer reached the client (200).
   *
   * @throws aigw.core.errors.ServiceUnavailable the key's usage could be neither written nor kept
   *     ({@code DurableUsageRecorder}); no spend-log entry is written then
   */
  void answered(ProxyService.Admitted admitted, Deployment answeredBy, TokenUsage tokens, boolean estimated) {
    answered(admitted, answeredBy, tokens, estimated, 200);
  }

  /** As {@link #answered(ProxyService.Admitted, Deployment, TokenUsage, boolean)}, for a stream that ended with {@code endStatus} ({@link Finish}). */
  void answered(ProxyService.Admitted admitted, Deployment answeredBy, TokenUsage tokens, boolean estimated, int endStatus) {
    BigDecimal cost = gateway.costs().cost(answeredBy, tokens);
    Instant now = gateway.clock().instant();
    try {
      if (admitted.keyId() != null) {
        gateway.usage().record(admitted.keyId(), UsageDelta.oneRequest(tokens, cost, estimated, now));
      }
    } finally {
      if (admitted.admission() != null) {
        // The key's limits learn the call's real tokens and cost (its reservation was an estimate),
        // written after the answer like the usage (Gateway.flushWrites).
        admitted.admission().settleAfterAnswer(tokens, cost);
      }
    }
    log(admitted, answeredBy, tokens, cost, endStatus, estimated, now);
  }

  /**
   * Logs a call that failed after it was admitted (the status its client got) and releases what it
   * held against the key's limits; nothing is added to the key.
   */
  void failed(ProxyService.Admitted admitted, GatewayException failure) {
    if (admitted.admission() != null) {
      admitted.admission().releaseAfterAnswer(); // nothing was used: what the call held goes back right after the error is sent
    }
    log(admitted, null, TokenUsage.NONE, BigDecimal.ZERO, ErrorEnvelope.status(failure), false, gateway.clock().instant());
  }

  /**
   * Accounts a call whose client closed its connection before the provider answered ({@link
   * ClientClosedRequest}), as a stream the client leaves midway is ({@link StreamRelay}): logged
   * with {@link ClientClosedRequest#STATUS}. A request that had left for the provider may have run
   * and be billed: it counts on the key with estimated tokens (its prompt from the body sent, no
   * answer), costed at the prices of the deployment called. One that never left costs nothing and
   * only releases what it held against the key's limits.
   *
   * @param sentBytes the size of the request body sent to the provider, for the prompt's estimate
   */
  void clientLeft(ProxyService.Admitted admitted, ClientClosedRequest gone, long sentBytes) {
    if (gone.sent()) {
      Deployment called = gone.deployment() != null ? gone.deployment() : admitted.rotation().get(0);
      answered(admitted, called, StreamRelay.estimate(sentBytes, 0), true, ClientClosedRequest.STATUS);
      return;
    }
    if (admitted.admission() != null) {
      admitted.admission().releaseAfterAnswer();
    }
    log(admitted, gone.deployment(), TokenUsage.NONE, BigDecimal.ZERO, ClientClosedRequest.STATUS, false, gateway.clock().instant());
  }

  private void log(
      ProxyService.Admitted admitted, Deployment answeredBy, TokenUsage tokens, BigDecimal cost, int status, boolean estimated, Instant now) {
    String keyAlias = null;
    String teamId = null;
    if (admitted.caller() instanceof Caller.Virtual virtual) {
      keyAlias = virtual.key().keyAlias();
      teamId = virtual.key().teamId();
    }
    var entry = new SpendLogEntry(
        admitted.requestId(),
        admitted.keyId(),
        keyAlias,
        teamId,
        admitted.model(),
        answeredBy == null ? null : answeredBy.litellmModel(),
        tokens.promptTokens(),
        tokens.completionTokens(),
        tokens.totalTokens(),
        cost,
        status,
        Math.max(0, Duration.between(admitted.startedAt(), now).toMillis()),
        estimated,
        admitted.startedAt());
    try {
      spendLogs.record(entry);
    } catch (RuntimeException notKept) {
      // The call is served (or has failed) already: a log that cannot keep its entry must not turn
      // it into an error. The key's spend, written above, is what budgets read.
      LOG.log(Level.WARNING, "The spend-log entry of request " + admitted.requestId() + " (key id " + admitted.keyId()
          + ") was not kept: " + notKept.getMessage(), notKept);
    }
  }
}

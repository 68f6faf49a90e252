package aigw.core.limits;

import static aigw.core.limits.LimitTable.decimalOf;
import static aigw.core.limits.LimitTable.decimalOrNull;
import static aigw.core.limits.LimitTable.longOf;
import static aigw.core.limits.LimitTable.longOrNull;

import aigw.core.errors.BudgetExceeded;
import aigw.core.errors.RateLimited;
import aigw.core.errors.ServiceUnavailable;
import aigw.core.usage.WriteBehind;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.ConditionalCheckFailedException;

/**
 * Holds every scope's {@link Limits} across all containers (Lambda execution environments, local
 * gateways) that share one keys table, whatever the concurrency: rpm_limit and
 * max_parallel_requests are never exceeded; tpm_limit and budgets within the bounds docs/limits.md
 * states (tokens beyond a reservation, one request's cost plus what was in flight at a reset). The
 * design, its consistency model and its DynamoDB reads and writes per request are in
 * docs/limits.md. In short:
 *
 * <ul>
 *   <li>{@code rpm_limit}, {@code tpm_limit}: fixed 60-second windows; each container leases a
 *       share of what is left with one conditional UpdateItem and admits from it in memory
 *       ({@link WindowPool}); a warm container with lease left makes no DynamoDB call.
 *   <li>{@code max_parallel_requests}, {@code max_budget}: each request reserves a slot and/or an
 *       estimate of its cost with one conditional UpdateItem, and settles with its real cost (one
 *       more); an entry a crashed container never settled expires after {@link #RESERVATION_TTL}
 *       and is removed (what it holds given back) by a later request of the scope.
 * </ul>
 *
 * A scope without limits ({@link Limits#isEmpty}) costs nothing: {@link Admission#NONE}.
 */
public final class LimitEngine {
  private static final Logger LOG = Logger.getLogger(LimitEngine.class.getName());

  /** How long a reservation holds if its container never settles it: the longest a Lambda invocation runs (15 min). */
  public static final Duration RESERVATION_TTL = Duration.ofMinutes(15);
  /** How far past its expiry an entry must be before another container gives it back (clock skew between containers). */
  static final Duration RECLAIM_MARGIN = Duration.ofSeconds(5);
  /** Expired entries an admitted request removes at most (one conditional write each). */
  static final int CLEANUP_PER_REQUEST = 4;
  /** Expired entries a refused request removes at most before it retries (any of them may free what it needs). */
  static final int CLEANUP_ON_REFUSAL = 16;
  /** How often a container reads a scope's item after reserving, to remove expired entries (one GetItem). */
  static final Duration SWEEP_INTERVAL = Duration.ofMinutes(1);
  /**
   * How long a request refused for want of a parallel slot (or a blind turn) waits, in ms, before
   * each new look: settlements are written just after their answers, so a slot held by an answered
   * call frees within a write's time. 150 ms in all, only on the way to a refusal.
   */
  static final long[] SETTLEMENT_WAITS = {10, 20, 40, 80};

  /** Request ends that may wait unwritten before handing one over waits (back-pressure; on Lambda a flush follows each response). */
  static final int MAX_PENDING_ENDINGS = 1024;
  /** A soft budget alone is tracked as a budget no request reaches. */
  private static final BigDecimal UNLIMITED = LimitFields.MAX_USD.multiply(BigDecimal.TEN);
  private static final SecureRandom RANDOM = new SecureRandom();

  private final LimitTable table; // null: no store, only scopes without limits are admitted
  /** Writes this container's pending request ends folded per scope (one write per scope), before a refusal for want of a slot. */
  private final aigw.core.usage.AfterAnswerWrites together;
  private final Clock clock;
  private final ConcurrentHashMap<String, ScopeState> scopes = new ConcurrentHashMap<>();
  private final AtomicLong requests = new AtomicLong();
  /** Request ends written after the answer ({@link #endAfterAnswer}); each request its own lane, never merged. */
  private final WriteBehind<Long, PendingEnding> endings =
      new WriteBehind<>("limits", LimitEngine::neverMerged, this::writeEnding, MAX_PENDING_ENDINGS, Duration.ofSeconds(1));
  private final AtomicLong endingIds = new AtomicLong();
  private volatile String containerId = newContainerId();

  /** Limits kept in the keys table {@code table}. */
  public LimitEngine(DynamoDbClient dynamo, String table, Clock clock) {
    this.table = new LimitTable(dynamo, table);
    this.together = new aigw.core.usage.AfterAnswerWrites(dynamo);
    this.clock = clock;
  }

  private LimitEngine(Clock clock) {
    this.table = null;
    this.together = null;
    this.clock = clock;
  }

  /** For gateways without DynamoDB (tests over an in-memory key store): a key with limits gets 503. */
  public static LimitEngine withoutStore(Clock clock) {
    return new LimitEngine(clock);
  }

  /** Per scope, this container's view: its window leases, and what it learnt of the budget. */
  static final class ScopeState {
    final WindowPool requests;
    final WindowPool tokens;
    volatile long budgetEnd; // epoch s of the budget period last seen; 0: not read yet
    volatile BigDecimal averageCost = BigDecimal.ZERO; // of the scope's settled requests in the period
    volatile boolean averageKnown; // some request of the scope has settled: averageCost is an estimate
    volatile long softWarnedEnd = -1;
    volatile long nextSweepMillis; // when a reservation next reads the item to remove expired entries (0: at once)
    final ReservationGroup reservations; // this container's reservation writes of the scope, one in flight
    /**
     * This container's requests of the scope that hold a parallel slot and have not ended (not yet
     * answered, failed or refused), by request id, each with its reservation's expiry (epoch ms).
     * While they alone fill max_parallel_requests no slot can free within a settlement's time, so a
     * request over the limit is refused at once, without a DynamoDB call ({@link #reserve}). One
     * whose reservation expired no longer counts (its entry is removed from the item by a later request).
     */
    final ConcurrentHashMap<String, Long> slotsUnanswered = new ConcurrentHashMap<>();

    ScopeState(String scopeId, LimitTable table, Clock clock) {
      this.requests = new WindowPool("rq", scopeId, table, clock);
      this.tokens = new WindowPool("tk", scopeId, table, clock);
      this.reservations = new ReservationGroup(scopeId, table);
    }
  }

  /** What an admitted request holds in one scope. */
  record Held(
      LimitScope scope, ScopeState state, WindowPool.Reserved requests, WindowPool.Reserved tokens, String requestId, int slots,
      BigDecimal usd, long budgetEnd, LimitTable.Turn turn) {}

  /**
   * Admits a request against every scope in {@code scopes} (the key, then its team), all or
   * nothing: when a later scope refuses, whatever earlier ones took is given back at once (the
   * request unit and tokens to this container's lease, the slot and the budget reservation to the
   * item, uncounted), so a refused request counts against none of them.
   *
   * @throws RateLimited over rpm_limit, tpm_limit or max_parallel_requests (429, Retry-After)
   * @throws BudgetExceeded the period's budget is spent (429)
   * @throws ServiceUnavailable the store cannot be reached (503)
   */
  public Admission admit(List<LimitScope> scopes, Demand demand) {
    List<Held> held = null;
    Map<String, String> headers = Map.of();
    for (LimitScope scope : scopes) {
      if (scope.limits().isEmpty()) {
        continue;
      }
      if (table == null) {
        throw new ServiceUnavailable("Key limits need the DynamoDB key store, which this gateway does not use.", null);
      }
      if (held == null) {
        held = new ArrayList<>(scopes.size());
      }
      try {
        Held one = admitOne(scope, demand);
        held.add(one);
        if (headers.isEmpty()) {
          headers = headers(one);
        }
      } catch (RuntimeException refused) {
        end(held, Ending.REFUSED, 0, BigDecimal.ZERO);
        throw refused;
      }
    }
    if (held != null) {
      // Only once every scope admitted it: a slot of a key whose team then refuses the request is not
      // one of the key's calls, and must not turn the key's next requests away as if it were full.
      long expiresAtMs = clock.millis() + RESERVATION_TTL.toMillis();
      for (Held one : held) {
        if (one.slots() > 0) {
          one.state().slotsUnanswered.put(one.requestId(), expiresAtMs);
        }
      }
    }
    return held == null ? Admission.NONE : new Admission(this, List.copyOf(held), headers);
  }

  /** As {@link #admit(List, Demand)} for one scope. */
  public Admission admit(LimitScope scope, Demand demand) {
    return admit(List.of(scope), demand);
  }

  /** A budget as {@code /key/info} shows it. */
  public record BudgetView(BigDecimal spend, Instant resetAt) {}

  /**
   * The spend of {@code scope}'s current budget period and when it resets (null: never); spend 0 and
   * the next reset once a period has ended, before the next request starts the new one. One read,
   * after the request ends this process still holds are written.
   */
  public BudgetView budget(LimitScope scope) {
    Instant now = clock.instant();
    String duration = scope.limits().budgetDuration();
    Instant next = duration == null ? null : BudgetDuration.nextReset(duration, now);
    if (table == null) {
      return new BudgetView(BigDecimal.ZERO, next);
    }
    endings.flush(); // so a read right after an answer in this process counts it
    var item = table.read(scope.id());
    Long end = longOrNull(item, "b_end");
    if (end == null || end <= now.getEpochSecond()) {
      return new BudgetView(BigDecimal.ZERO, next);
    }
    return new BudgetView(decimalOf(item, "b_spend"), end == LimitTable.NEVER ? null : Instant.ofEpochSecond(end));
  }

  /**
   * After a SnapStart restore: the leases and the container id in the snapshot are shared with
   * every environment restored from it, so none of them may be used; each restored environment
   * takes its own.
   */
  public void forgetAll() {
    scopes.clear();
    containerId = newContainerId();
  }

  private Held admitOne(LimitScope scope, Demand demand) {
    Limits limits = scope.limits();
    ScopeState state = scopes.computeIfAbsent(scope.id(), id -> new ScopeState(id, table, clock));
    WindowPool.Reserved requests = null;
    WindowPool.Reserved tokens = null;
    try {
      if (limits.rpmLimit() != null) {
        requests = state.requests.reserve(limits.rpmLimit(), 1);
        if (requests.units() == 0) {
          throw windowRefusal(scope, "requests", limits.rpmLimit(), limits, state);
        }
      }
      if (limits.tpmLimit() != null) {
        tokens = state.tokens.reserve(limits.tpmLimit(), demand.tokens());
        if (tokens.units() == 0) {
          throw windowRefusal(scope, "tokens", limits.tpmLimit(), limits, state);
        }
      }
      BigDecimal budgetMax = budgetMax(limits);
      if (limits.maxParallelRequests() == null && budgetMax == null) {
        return new Held(scope, state, requests, tokens, null, 0, BigDecimal.ZERO, 0, LimitTable.Turn.NONE);
      }
      String requestId = "r" + containerId + "_" + this.requests.incrementAndGet();
      int slots = limits.maxParallelRequests() == null ? 0 : 1;
      Reservation reservation = reserve(scope, state, requestId, slots, demand, budgetMax);
      return new Held(scope, state, requests, tokens, requestId, slots, reservation.usd(), reservation.budgetEnd(), reservation.turn());
    } catch (RuntimeException refused) {
      if (requests != null) {
        state.requests.giveBack(requests); // a refused request is not counted
      }
      if (tokens != null) {
        state.tokens.giveBack(tokens);
      }
      throw refused;
    }
  }

  /**
   * One conditional write for the slot and the budget reservation; when it fails, one read says
   * why: the item or period not set up yet (set up, retried), limits changed by an admin (moved,
   * retried), or nothing free (expired entries given back and retried, else refused).
   */
  /**
   * What a reservation took: {@code usd} of the budget period ending {@code budgetEnd} (0: no
   * budget); {@code turn}: how it counts against a hard budget while in flight.
   */
  private record Reservation(long budgetEnd, BigDecimal usd, LimitTable.Turn turn) {}

  private Reservation reserve(LimitScope scope, ScopeState state, String requestId, int slots, Demand demand, BigDecimal budgetMax) {
    Integer parMax = scope.limits().maxParallelRequests();
    if (parMax != null && parMax == 0) {
      throw parallelRefusal(scope, 0);
    }
    if (slots > 0 && ownCallsFill(state, parMax)) {
      // Every slot is held by this container's own calls, none of them answered: none frees within a
      // settlement's time, so waiting for one (SETTLEMENT_WAITS) or asking DynamoDB only delays the
      // 429, and holds the request's worker meanwhile. LiteLLM refuses such a request at once too.
      throw parallelRefusal(scope, parMax);
    }
    String id = scope.id();
    long end = state.budgetEnd;
    int waits = 0;
    boolean ownEndsWritten = false;
    for (int attempt = 0; attempt < 12 + SETTLEMENT_WAITS.length; attempt++) {
      Instant now = clock.instant();
      long nowSecond = now.getEpochSecond();
      boolean periodKnown = budgetMax == null || (end != 0 && end > nowSecond);
      // Estimated at each attempt: a cold container learns the scope's average cost from its first read.
      BigDecimal usd = budgetMax == null ? BigDecimal.ZERO : estimate(demand, state);
      LimitTable.Turn turn = turn(scope.limits(), demand, state);
      boolean blind = turn == LimitTable.Turn.BLIND;
      // A blind request first reads the item: another container may have settled one and the
      // average may be known there, which spares the scope a turn alone.
      if (periodKnown && !(blind && attempt == 0)) {
        long expiresAtMs = now.toEpochMilli() + RESERVATION_TTL.toMillis();
        boolean landed;
        if (attempt == 0 && !blind) {
          // The usual case: written with the other requests of the scope waiting in this container
          // (one write for all of them, ReservationGroup); after a refusal, alone, as it always was.
          landed = state.reservations.reserve(new LimitTable.Entry(requestId, usd, expiresAtMs),
              new ReservationGroup.Terms(slots, parMax, budgetMax, end, turn));
        } else {
          try {
            table.reserve(id, requestId, slots, parMax, usd, budgetMax, end, expiresAtMs, turn);
            landed = true;
          } catch (ConditionalCheckFailedException notNow) {
            landed = false; // read below why
          }
        }
        if (landed) {
          if (now.toEpochMilli() >= state.nextSweepMillis) {
            sweepAfterLanding(id, state, null, budgetMax == null ? 0 : end, now.toEpochMilli());
          }
          return new Reservation(end, usd, turn);
        }
      }
      Map<String, AttributeValue> item = table.read(id);
      AttributeValue mine = item.containsKey("res") ? item.get("res").m().get(requestId) : null;
      if (mine != null) {
        // The write landed and was refused only when repeated (the SDK retries a write whose answer
        // timed out): the reservation is held, once.
        Map<String, AttributeValue> fields = LimitTable.fields(mine);
        long mineEnd = budgetMax == null ? end : longOf(fields, "e", end);
        sweepAfterLanding(id, state, item, budgetMax == null ? 0 : mineEnd, now.toEpochMilli());
        return new Reservation(mineEnd, budgetMax == null ? BigDecimal.ZERO : decimalOf(fields, "a"), LimitTable.Turn.of(fields));
      }
      if (!item.containsKey("res")) {
        table.createReservations(id);
        continue;
      }
      if (slots > 0 && !Objects.equals(longOrNull(item, "par_max"), parMax.longValue())) {
        Long current = longOrNull(item, "par_max");
        table.setParallelMax(id, current == null ? null : current.intValue(), parMax);
        continue;
      }
      if (budgetMax != null) {
        Long itemEnd = longOrNull(item, "b_end");
        if (itemEnd == null || itemEnd <= nowSecond) {
          table.startBudgetPeriod(id, itemEnd, nextEnd(scope.limits(), now), budgetMax);
          end = 0;
          continue;
        }
        end = itemEnd;
        state.budgetEnd = end;
        long settledRequests = longOf(item, "b_n");
        if (settledRequests > 0) {
          // The period's average so far: a new container (or one restored from a snapshot) learns it
          // here, and every read refreshes it (settlements written in a transaction bring no answer back).
          boolean known = state.averageKnown;
          state.averageCost = decimalOf(item, "b_spend").divide(BigDecimal.valueOf(settledRequests), 10, RoundingMode.UP);
          state.averageKnown = true;
          if (blind && !known) {
            continue; // estimable now: reserve the average rather than wait for the blind turn
          }
        }
        BigDecimal itemMax = decimalOrNull(item, "b_max");
        if (itemMax == null || itemMax.compareTo(budgetMax) != 0) {
          table.setBudgetMax(id, itemMax == null ? BigDecimal.ZERO : itemMax, budgetMax);
          continue;
        }
      }
      boolean slotsFull = slots > 0 && longOf(item, "par_left") < 1;
      boolean budgetSpent = budgetMax != null && decimalOf(item, "b_left").signum() <= 0;
      // A blind request runs alone: it waits for every budget reservation in flight, and they for it.
      boolean blindBusy = turn != LimitTable.Turn.NONE && (longOf(item, "b_blind") >= 1 || blind && longOf(item, "b_fly") >= 1);
      if (!slotsFull && !budgetSpent && !blindBusy) {
        continue; // it changed since the write: try again
      }
      if (reclaimExpired(id, item, budgetMax == null ? 0 : end, now.toEpochMilli(), CLEANUP_ON_REFUSAL, new int[1]) > 0) {
        continue;
      }
      if (slotsFull && ownCallsFill(state, parMax)) {
        throw parallelRefusal(scope, parMax); // as before the first write: these free no slot soon
      }
      if ((slotsFull || blindBusy) && waits < SETTLEMENT_WAITS.length) {
        // A slot or a blind turn is freed by a settlement written right after its answer (write-behind),
        // so a sequential client's next request can arrive a few ms before it lands: this container's
        // own are written now, another container's are waited for briefly, before refusing.
        if (!ownEndsWritten && endings.backlog() > 0) {
          // This container's own answered requests may hold the slots (the local group commit
          // gathers their ends for a short window): written now, folded per scope, and looked again
          // at once, without a pause. Once per admission, so other scopes' ends cannot keep it here.
          ownEndsWritten = true;
          together.write(List.of(this::takeEndingsTogether));
          endings.flush();
          continue;
        }
        endings.flush();
        pause(SETTLEMENT_WAITS[waits++]);
        continue;
      }
      if (slotsFull) {
        throw parallelRefusal(scope, parMax);
      }
      BigDecimal spent = decimalOf(item, "b_spend");
      if (!budgetSpent) {
        // Only blindBusy: a request whose cost could not be estimated (no max_tokens, no average yet)
        // runs alone. Admitting others beside it would let a burst overshoot by its size (32 × the
        // cost on a fresh key); it settles within its call and gives the scope an average to reserve.
        throw new RateLimited("Rate limit exceeded for " + scope.label() + ". Limit type: max_budget. Current cost: "
            + spent.stripTrailingZeros().toPlainString() + ", Max budget: " + budgetMax.stripTrailingZeros().toPlainString()
            + "; the cost of a request without max_tokens is not known yet and one is in flight. Try again shortly.",
            now, now.plusSeconds(1), Map.of());
      }
      if (spent.compareTo(budgetMax) < 0) {
        // Nothing left only because requests in flight reserved it: they settle (and give back what
        // they did not use) within their call, so try again shortly, not at the period's end.
        throw new RateLimited("Rate limit exceeded for " + scope.label() + ". Limit type: max_budget. Current cost: "
            + spent.stripTrailingZeros().toPlainString() + ", Max budget: " + budgetMax.stripTrailingZeros().toPlainString()
            + "; the rest is reserved by requests in flight. Try again shortly.", now, now.plusSeconds(1), Map.of());
      }
      throw new BudgetExceeded(
          scope.budgetSubject(), decimalOf(item, "b_spend"), scope.limits().maxBudget(), now, end == LimitTable.NEVER ? null : Instant.ofEpochSecond(end));
    }
    throw new ServiceUnavailable("The limits of " + scope.label() + " changed too often to admit the request; try again.", null);
  }

  /** Whether this container's own unanswered calls of the scope, their reservations not expired, hold {@code parMax} slots or more. */
  private boolean ownCallsFill(ScopeState state, int parMax) {
    if (state.slotsUnanswered.size() < parMax) {
      return false;
    }
    long now = clock.millis();
    state.slotsUnanswered.values().removeIf(expiry -> expiry <= now); // never ended (a lost worker): the item's entry expires too
    return state.slotsUnanswered.size() >= parMax;
  }

  /**
   * Removes a few expired entries from {@code item} (read for this request anyway, or once per
   * {@link #SWEEP_INTERVAL} per scope and container: the proxy's IAM policy allows no ALL_NEW answer
   * to UpdateItem, so a read is the only way to see the map), and decides when to look again: at
   * once when the bound was reached (a backlog), else after the interval.
   */
  /**
   * {@link #sweep} once this request's reservation has landed ({@code item}: the item already read,
   * or null to read it). The sweep is housekeeping for other requests: when its read or a reclaim
   * fails (throttled, timed out), this request keeps its reservation and goes on. Failing it here
   * would answer 503 while its slot and budget stayed held in the item until the entry expires
   * ({@link #RESERVATION_TTL}), refusing the key meanwhile (session 13's review).
   */
  private void sweepAfterLanding(String id, ScopeState state, Map<String, AttributeValue> item, long budgetEnd, long nowMillis) {
    try {
      sweep(id, state, item != null ? item : table.read(id), budgetEnd, nowMillis);
    } catch (RuntimeException housekeeping) {
      state.nextSweepMillis = nowMillis + SWEEP_INTERVAL.toMillis();
      LOG.warning("Could not look for expired limit reservations of " + id + " (" + housekeeping.getClass().getSimpleName()
          + "); a later request looks again");
    }
  }

  private void sweep(String id, ScopeState state, Map<String, AttributeValue> item, long budgetEnd, long nowMillis) {
    int[] removed = new int[1];
    reclaimExpired(id, item, budgetEnd, nowMillis, CLEANUP_PER_REQUEST, removed);
    state.nextSweepMillis = removed[0] >= CLEANUP_PER_REQUEST ? nowMillis : nowMillis + SWEEP_INTERVAL.toMillis();
  }

  /**
   * Removes up to {@code atMost} of the entries in {@code item}'s reservation map whose holders never
   * settled them ({@code x} passed), of any period, giving back what each still holds (LimitTable#reclaim).
   * Run on the items a reservation reads ({@link #sweep}, or the read after a refusal), so the map
   * stays as small as the requests in flight; bounded, so one request never pays for a large
   * backlog (the next ones carry on).
   *
   * @param budgetEnd the period running now; 0: the scope has no budget
   * @param removedOut its [0] is set to how many were removed
   * @return how many of those removed gave something back (a slot, or budget of the period running now)
   */
  private int reclaimExpired(String id, Map<String, AttributeValue> item, long budgetEnd, long nowMillis, int atMost, int[] removedOut) {
    AttributeValue res = item == null ? null : item.get("res");
    if (res == null || !res.hasM()) {
      return 0;
    }
    int removed = 0;
    int freed = 0;
    for (var entry : res.m().entrySet()) {
      if (removed >= atMost) {
        break;
      }
      Map<String, AttributeValue> fields = LimitTable.fields(entry.getValue());
      boolean expired = longOf(fields, "x", Long.MAX_VALUE) + RECLAIM_MARGIN.toMillis() < nowMillis;
      if (expired && table.reclaim(id, entry.getKey(), entry.getValue(), budgetEnd == 0 ? null : budgetEnd)) {
        LOG.warning("Removed a limit reservation of " + id + " that its container never settled (" + entry.getKey() + ")");
        removed++;
        boolean heldSlot = longOf(fields, "p") > 0;
        boolean heldBudget = budgetEnd != 0 && longOf(fields, "e") == budgetEnd && decimalOf(fields, "a").signum() > 0;
        boolean heldTurn = LimitTable.Turn.of(fields) != LimitTable.Turn.NONE; // a blind request may wait for it
        freed += heldSlot || heldBudget || heldTurn ? 1 : 0;
      }
    }
    removedOut[0] = removed;
    return freed;
  }

  /** How a request's hold ends. */
  enum Ending {
    /** Answered: its real tokens and cost are counted. */
    SETTLED,
    /** Failed after admission: everything held goes back uncounted, but it still counts as a request (rpm_limit; LiteLLM counts before the call). */
    RELEASED,
    /** Refused by a later scope: everything held goes back, the request unit too; it counts nowhere. */
    REFUSED
  }

  /** Settles what a request held with what it really used. */
  void settle(List<Held> held, long tokens, BigDecimal cost) {
    end(held, Ending.SETTLED, tokens, cost);
  }

  /** Releases what a request that failed held. */
  void release(List<Held> held) {
    end(held, Ending.RELEASED, 0, BigDecimal.ZERO);
  }

  /**
   * As {@link #settle}, {@link #release}, but the writes leave the caller's path: what is in memory
   * (this container's window leases) is settled at once; the writes (the reservation's end, tokens
   * beyond a lease) are handed to a write-behind queue, written by background writers ({@link
   * #startEndingWriters}, the local gateway) or by {@link #flushEndings} (on Lambda after the
   * response is sent, inside the invocation). A write that fails is tried again until the
   * reservation would have expired anyway ({@link #RESERVATION_TTL}); only then is it given up
   * (logged; the entry expires by itself, the cost is not counted).
   */
  void endAfterAnswer(List<Held> held, Ending ending, long tokens, BigDecimal cost) {
    var steps = new ArrayList<Runnable>(held.size() * 2);
    for (Held one : held) {
      answered(one);
      WindowPool.Debt debt = endInMemory(one, ending, tokens);
      if (debt != null) {
        steps.add(() -> one.state().tokens.writeDebt(debt));
      }
      if (one.requestId() != null) {
        steps.add(() -> endReservation(one, ending, cost));
      }
    }
    if (steps.isEmpty()) {
      return; // window leases only, settled in memory: no write
    }
    String what = (ending == Ending.SETTLED ? "settle" : "give back") + " the limits of " + held.getFirst().scope().label()
        + (held.size() > 1 ? " and its team" : "") + " (cost " + cost.toPlainString() + " USD)";
    try {
      endings.submit(endingIds.incrementAndGet(),
          new PendingEnding(steps, togetherOrNull(held, ending, cost, steps.size()), what, clock.millis() + RESERVATION_TTL.toMillis()));
    } catch (WriteBehind.Unavailable full) {
      LOG.warning("Could not " + what + ": " + full.getMessage() + "; the reservation expires by itself");
    }
  }

  /**
   * The writes of one request's end, in order; {@code done} counts those written, so a retry after a
   * failure writes only the rest. Touched only by the one writer of its lane (WriteBehind).
   */
  private static final class PendingEnding {
    final List<Runnable> steps;
    /** The same writes as request ends that may go into a transaction with others; null when they may not. */
    final List<TogetherEnd> together;
    final String what;
    final long giveUpAtMillis;
    int done;

    PendingEnding(List<Runnable> steps, List<TogetherEnd> together, String what, long giveUpAtMillis) {
      this.steps = steps;
      this.together = together;
      this.what = what;
      this.giveUpAtMillis = giveUpAtMillis;
    }
  }

  /** One scope's part of a request end that may be written in a transaction: which item, which period, what ends. */
  private record TogetherEnd(String scopeId, long budgetEnd, boolean budgeted, LimitTable.RequestEnd end) {}

  /**
   * A request's end as writes that need no answer from DynamoDB, so that they can go into one
   * transaction with the usage and the spend log ({@link #takeEndingsTogether}); null when some
   * write needs its own call: tokens beyond a lease (a window lease's own write), a budget whose
   * average is not known in this container yet (the settlement's answer teaches it), a soft budget
   * not yet warned about in the period (the answer tells whether this settlement crossed it).
   */
  private static List<TogetherEnd> togetherOrNull(List<Held> held, Ending ending, BigDecimal cost, int steps) {
    var together = new ArrayList<TogetherEnd>(held.size());
    for (Held one : held) {
      if (one.requestId() == null) {
        continue;
      }
      Limits limits = one.scope().limits();
      boolean budgeted = budgetMax(limits) != null;
      if ((budgeted && !one.state().averageKnown) || (limits.softBudget() != null && one.state().softWarnedEnd != one.budgetEnd())) {
        return null;
      }
      together.add(new TogetherEnd(one.scope().id(), one.budgetEnd(), budgeted,
          new LimitTable.RequestEnd(one.requestId(), one.slots(), one.usd(), cost, ending == Ending.SETTLED, one.turn())));
    }
    return together.size() == steps ? together : null; // a step that is not a reservation's end: a debt
  }

  /**
   * Takes request ends handed over and not yet written that need no answer from DynamoDB, as at
   * most {@code maxItems} transaction items: one conditional update per scope item, folding the
   * ends of one scope and budget period ({@link LimitTable#settlementTogether}, up to {@link
   * LimitTable#MAX_ENDS_TOGETHER}). Ended not written, they go back to be settled one by one.
   */
  public aigw.core.usage.WrittenTogether takeEndingsTogether(int maxItems) {
    if (table == null || maxItems < 1) {
      return aigw.core.usage.WrittenTogether.NOTHING;
    }
    record Group(long budgetEnd, boolean budgeted, List<LimitTable.RequestEnd> ends) {}
    var groups = new java.util.LinkedHashMap<String, Group>();
    var taken = endings.take(pending -> {
      if (pending.together == null || pending.done > 0) {
        return false;
      }
      int newGroups = 0;
      for (TogetherEnd end : pending.together) {
        Group group = groups.get(end.scopeId());
        if (group == null) {
          newGroups++;
        } else if (group.budgetEnd() != end.budgetEnd() || group.budgeted() != end.budgeted()
            || group.ends().size() >= LimitTable.MAX_ENDS_TOGETHER) {
          return false;
        }
      }
      if (groups.size() + newGroups > maxItems) {
        return false;
      }
      for (TogetherEnd end : pending.together) {
        groups.computeIfAbsent(end.scopeId(), id -> new Group(end.budgetEnd(), end.budgeted(), new ArrayList<>())).ends().add(end.end());
      }
      return true;
    }, Integer.MAX_VALUE);
    if (taken.isEmpty()) {
      return aigw.core.usage.WrittenTogether.NOTHING;
    }
    var items = new ArrayList<software.amazon.awssdk.services.dynamodb.model.TransactWriteItem>(groups.size());
    try {
      groups.forEach((scopeId, group) -> items.add(table.settlementTogether(scopeId, group.budgetEnd(), group.budgeted(), group.ends())));
    } catch (RuntimeException cannot) {
      taken.forEach(one -> one.end(false)); // settled one by one instead
      throw cannot;
    }
    return new aigw.core.usage.WrittenTogether() {
      @Override
      public List<software.amazon.awssdk.services.dynamodb.model.TransactWriteItem> items() {
        return items;
      }

      @Override
      public void end(boolean written) {
        for (var one : taken) {
          if (written) {
            one.delta().done = one.delta().steps.size();
          }
          one.end(written);
        }
      }
    };
  }

  private void writeEnding(Long id, PendingEnding pending) {
    while (pending.done < pending.steps.size()) {
      try {
        pending.steps.get(pending.done).run();
      } catch (RuntimeException failed) {
        if (LimitTable.refusedAsInvalid(failed)) {
          // DynamoDB said the write itself is wrong (a number it cannot hold, say): trying again cannot
          // help, and would hold a writer and the queue's retry pause until the reservation expires.
          LOG.log(Level.SEVERE, "DynamoDB refused to " + pending.what + " as invalid; not tried again (its reservation expires by itself): "
              + failed.getMessage());
        } else if (clock.millis() < pending.giveUpAtMillis) {
          throw failed; // kept by the queue and tried again
        } else {
          LOG.log(Level.WARNING, "Gave up trying to " + pending.what + " after " + RESERVATION_TTL.toMinutes()
              + " minutes: its reservation has expired by now and is removed by a later request; the cost is not counted on the budget", failed);
        }
      }
      pending.done++;
    }
  }

  /** Writes every request end handed over before this call (Lambda: after each response). False if some failed and is still queued. */
  public boolean flushEndings() {
    return endings.flush();
  }

  /** Background writers of request ends (the local gateway; never on Lambda). */
  public void startEndingWriters(int count) {
    endings.startWriters(count);
  }

  /** At shutdown: the last flush, then the writers stop; what could not be written is logged (its reservations expire by themselves). */
  public boolean closeEndings() {
    return endings.close((id, pending) -> LOG.warning("Could not " + pending.what + " before shutdown; the reservation expires by itself"));
  }

  /** Forgets request ends not yet written (SnapStart, before the snapshot: priming runs with the master key, which holds nothing). */
  public int discardPendingEndings() {
    return endings.discardPending();
  }

  /** Request ends handed over and not yet written. */
  public int pendingEndings() {
    return endings.backlog();
  }

  private void end(List<Held> held, Ending ending, long tokens, BigDecimal cost) {
    if (held == null) {
      return;
    }
    for (Held one : held) {
      answered(one);
      try {
        WindowPool.Debt debt = endInMemory(one, ending, tokens);
        if (debt != null) {
          one.state().tokens.writeDebt(debt);
        }
        endReservation(one, ending, cost);
      } catch (RuntimeException notSettled) {
        // The reservation expires by itself (RESERVATION_TTL); the cost is not counted against the budget.
        LOG.log(Level.WARNING, "Could not " + (ending == Ending.SETTLED ? "settle" : "give back") + " the limits of "
            + one.scope().label() + " (cost " + cost.toPlainString() + " USD not counted on its budget): " + notSettled.getMessage(),
            notSettled);
      }
    }
  }

  /** The request no longer waits on its call: its slot may free within a settlement's time ({@link ScopeState#slotsUnanswered}). */
  private static void answered(Held held) {
    if (held.slots() > 0) {
      held.state().slotsUnanswered.remove(held.requestId());
    }
  }

  /** What ends in this container's memory (its window leases); returns tokens beyond the lease still to be written, or null. */
  private static WindowPool.Debt endInMemory(Held held, Ending ending, long tokens) {
    if (ending == Ending.REFUSED && held.requests() != null) {
      held.state().requests.giveBack(held.requests());
    }
    if (held.tokens() == null) {
      return null;
    }
    return held.state().tokens.settleInMemory(held.tokens(), ending == Ending.SETTLED ? Math.max(0, tokens) : 0, held.scope().limits().tpmLimit());
  }

  /** Ends the request's reservation in the item (one conditional UpdateItem): slot freed, cost counted. */
  private void endReservation(Held held, Ending ending, BigDecimal cost) {
    if (held.requestId() == null) {
      return;
    }
    Limits limits = held.scope().limits();
    boolean budgeted = budgetMax(limits) != null;
    boolean counted = ending == Ending.SETTLED;
    var settled =
        table.settle(held.scope().id(), held.requestId(), held.slots(), held.usd(), held.budgetEnd(), cost, budgeted, counted, held.turn());
    if (settled == null) {
      return;
    }
    if (settled.requests() > 0) {
      held.state().averageCost = settled.spend().divide(BigDecimal.valueOf(settled.requests()), 10, RoundingMode.UP);
      held.state().averageKnown = true;
    }
    BigDecimal soft = limits.softBudget();
    long end = held.budgetEnd();
    if (soft != null && settled.spend().compareTo(soft) >= 0 && held.state().softWarnedEnd != end) {
      held.state().softWarnedEnd = end;
      if (table.markSoftBudgetWarned(held.scope().id(), end)) {
        LOG.warning("Soft budget crossed: " + held.scope().label() + " has spent " + settled.spend().toPlainString()
            + " USD of its soft_budget " + soft.toPlainString() + " USD in the period ending "
            + (end == LimitTable.NEVER ? "never" : Instant.ofEpochSecond(end).toString()) + ".");
      }
    }
  }

  /** The budget's reservation for a request: its own estimate, else the scope's average cost per request so far. */
  private static BigDecimal estimate(Demand demand, ScopeState state) {
    return demand.usd() != null && demand.usd().signum() > 0 ? demand.usd() : state.averageCost;
  }

  /**
   * Whether a request's cost cannot be estimated against a hard budget: no estimate of its own (no
   * {@code max_tokens} or no price) and no average of the scope yet (its first requests, in every
   * new container until its first read of the item finds a settled request): {@link
   * LimitTable.Turn#BLIND}, reserving 0 and admitted only alone (docs/limits.md, "The budget rule and
   * its bound"). Otherwise an estimated turn under a hard budget, or none.
   */
  private static LimitTable.Turn turn(Limits limits, Demand demand, ScopeState state) {
    if (limits.maxBudget() == null) {
      return LimitTable.Turn.NONE;
    }
    boolean ownEstimate = demand.usd() != null && demand.usd().signum() > 0;
    return ownEstimate || state.averageKnown ? LimitTable.Turn.ESTIMATED : LimitTable.Turn.BLIND;
  }

  private static BigDecimal budgetMax(Limits limits) {
    if (limits.maxBudget() != null) {
      return limits.maxBudget();
    }
    return limits.softBudget() != null ? UNLIMITED : null;
  }

  private static long nextEnd(Limits limits, Instant now) {
    return limits.budgetDuration() == null ? LimitTable.NEVER : BudgetDuration.nextReset(limits.budgetDuration(), now).getEpochSecond();
  }

  private RateLimited windowRefusal(LimitScope scope, String type, long limit, Limits limits, ScopeState state) {
    Instant now = clock.instant();
    Instant reset = Instant.ofEpochMilli(WindowPool.windowEndMillis(now.toEpochMilli()));
    return new RateLimited(scope.label(), type, limit, now, reset, headers(limits, state, now));
  }

  /**
   * max_parallel_requests: a slot frees when any call of the scope ends, which cannot be foreseen,
   * so Retry-After is 1 s (LiteLLM says its window, 60 s; a client would wait far too long).
   */
  private RateLimited parallelRefusal(LimitScope scope, int max) {
    Instant now = clock.instant();
    return new RateLimited(scope.label(), "max_parallel_requests", max, now, now.plusSeconds(1), Map.of());
  }

  private Map<String, String> headers(Held held) {
    return headers(held.scope().limits(), held.state(), clock.instant());
  }

  private static Map<String, String> headers(Limits limits, ScopeState state, Instant now) {
    if (limits.rpmLimit() == null && limits.tpmLimit() == null) {
      return Map.of();
    }
    var headers = new LinkedHashMap<String, String>();
    String reset = resetText(WindowPool.windowEndMillis(now.toEpochMilli()) - now.toEpochMilli());
    if (limits.rpmLimit() != null) {
      headers.put("x-ratelimit-limit-requests", Long.toString(limits.rpmLimit()));
      headers.put("x-ratelimit-remaining-requests", Long.toString(state.requests.remaining(limits.rpmLimit())));
      headers.put("x-ratelimit-reset-requests", reset);
    }
    if (limits.tpmLimit() != null) {
      headers.put("x-ratelimit-limit-tokens", Long.toString(limits.tpmLimit()));
      headers.put("x-ratelimit-remaining-tokens", Long.toString(state.tokens.remaining(limits.tpmLimit())));
      headers.put("x-ratelimit-reset-tokens", reset);
    }
    return headers;
  }

  /** OpenAI's form of a reset time: {@code 1s}, {@code 59s}, {@code 1m0s}. */
  static String resetText(long millis) {
    long seconds = Math.max(1, (millis + 999) / 1000);
    return seconds < 60 ? seconds + "s" : (seconds / 60) + "m" + (seconds % 60) + "s";
  }

  private static void pause(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ServiceUnavailable("Interrupted while waiting for a parallel slot.", e);
    }
  }

  private static PendingEnding neverMerged(PendingEnding older, PendingEnding newer) {
    throw new IllegalStateException("request ends have one lane each and are never merged");
  }

  private static String newContainerId() {
    byte[] bytes = new byte[6];
    RANDOM.nextBytes(bytes);
    return HexFormat.of().formatHex(bytes);
  }
}

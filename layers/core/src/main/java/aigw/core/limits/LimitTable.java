package aigw.core.limits;

import aigw.core.errors.ServiceUnavailable;
import java.math.BigDecimal;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.ConditionalCheckFailedException;
import software.amazon.awssdk.services.dynamodb.model.ReturnValue;
import software.amazon.awssdk.services.dynamodb.model.UpdateItemResponse;

/**
 * A scope's limit state: one item {@code limits#<scope id>} in the keys table (partition key {@code
 * token_hash}), changed only by conditional UpdateItems, so every container sees one truth:
 *
 * <ul>
 *   <li>{@code rq_win}, {@code rq_left}; {@code tk_win}, {@code tk_left}: the current 60-second
 *       window (epoch second of its start) and what is left of {@code rpm_limit} / {@code
 *       tpm_limit} in it after every lease taken (a lease is never returned: it dies with its window);
 *   <li>{@code res}: a map of the requests in flight that hold a parallel slot or a budget
 *       reservation, {@code <request id>} → {@code "<slots>|<USD reserved>|<budget period end>|<expiry
 *       epoch ms>|<turn>"} ({@link #entryText}; written before session 13 as a map {@code {p, a, e,
 *       x, f|u}}, still read: {@link #fields}); {@code par_max}, {@code par_left}: {@code
 *       max_parallel_requests} and the slots free;
 *   <li>{@code b_end} (epoch s), {@code b_max}, {@code b_left}, {@code b_spend}, {@code b_n}: the
 *       budget period's end, its {@code max_budget}, what is left after spend and reservations,
 *       the period's spend and settled request count; {@code b_warned}: the period end whose soft
 *       budget was warned about;
 *   <li>{@code b_fly}: requests in flight holding an estimated budget reservation (entry flag {@code
 *       f: 1}); {@code b_blind}: requests in flight whose cost could not be estimated (no {@code
 *       max_tokens} and no average yet; entry flag {@code u: 1}). A blind request is admitted only
 *       alone ({@code b_fly} and {@code b_blind} 0) and nothing else while it runs, so its unknown
 *       cost is the only one that can cross the budget (docs/limits.md, the budget bound).
 * </ul>
 *
 * DynamoDB conditions cannot add two attributes, so what is left is kept as its own number ({@code
 * *_left}) rather than compared as {@code spend + reserved < max}.
 */
final class LimitTable {
  static final String PREFIX = "limits#";
  static final String PK = "token_hash";
  /** Far beyond any period: a budget without budget_duration never resets. */
  static final long NEVER = 253_402_300_799L; // 9999-12-31T23:59:59Z

  private final DynamoDbClient dynamo;
  private final String table;

  LimitTable(DynamoDbClient dynamo, String table) {
    this.dynamo = dynamo;
    this.table = table;
  }

  // ---- windows (rpm_limit, tpm_limit) ----

  /** What a window lease got: {@code granted} units (0: none left) and what is left in the window after it. */
  record WindowGrant(long granted, long left) {}

  /**
   * Takes up to {@code want} units of {@code counter} ({@code rq} or {@code tk}) in the window
   * starting at {@code window}, plus {@code debt} (tokens used beyond earlier reservations, taken
   * unconditionally). Fewer when fewer are left; none when none are.
   */
  WindowGrant takeWindow(String scopeId, String counter, long window, long limit, long want, long debt) {
    String win = counter + "_win";
    String left = counter + "_left";
    long n = Math.min(want, limit);
    if (n <= 0) {
      return new WindowGrant(0, 0);
    }
    for (int attempt = 0; attempt < 8; attempt++) {
      try {
        var response = update(scopeId, "ADD " + left + " :neg",
            win + " = :w AND " + left + " >= :n",
            Map.of(":neg", num(-(n + debt)), ":w", num(window), ":n", num(n)));
        return new WindowGrant(n, longOf(response.attributes(), left));
      } catch (ConditionalCheckFailedException notThisWindowOrTooFew) {
        // read below
      }
      Map<String, AttributeValue> item = read(scopeId);
      long itemWindow = longOf(item, win, -1);
      if (itemWindow < window) {
        try {
          update(scopeId, "SET " + win + " = :w, " + left + " = :rest",
              "attribute_not_exists(" + win + ") OR " + win + " < :w",
              Map.of(":w", num(window), ":rest", num(limit - n - debt)));
          return new WindowGrant(n, limit - n - debt);
        } catch (ConditionalCheckFailedException anotherContainerOpenedIt) {
          continue;
        }
      }
      if (itemWindow > window) {
        return new WindowGrant(0, 0); // this container's clock is behind: its window is over elsewhere
      }
      long itemLeft = longOf(item, left, 0);
      if (itemLeft <= 0) {
        return new WindowGrant(0, itemLeft);
      }
      n = Math.min(n, itemLeft);
    }
    throw new ServiceUnavailable("The rate limit state of " + scopeId + " changed too often to take a lease; try again.", null);
  }

  /**
   * Counts {@code debt} tokens used beyond their reservation against the window starting at {@code
   * window} (of {@code limit}), opening it if no container has yet; if the item is in a later window
   * already (this container's clock is behind), against that one. Never dropped, unless the item is
   * gone (its key or team was deleted meanwhile): then nothing is written, so no item comes back.
   */
  void addWindowDebt(String scopeId, String counter, long window, long limit, long debt) {
    String win = counter + "_win";
    String left = counter + "_left";
    long target = window;
    for (int attempt = 0; attempt < 8; attempt++) {
      try {
        update(scopeId, "ADD " + left + " :neg", win + " = :w", Map.of(":neg", num(-debt), ":w", num(target)));
        return;
      } catch (ConditionalCheckFailedException notThatWindow) {
        // read below
      }
      Map<String, AttributeValue> item = read(scopeId);
      if (item == null || item.isEmpty()) {
        // The scope's item is gone: its key or team was deleted (with its limit state) while the
        // call ran. Nothing is left to count against; writing would bring the item back.
        return;
      }
      long itemWindow = longOf(item, win, -1);
      if (itemWindow > target) {
        target = itemWindow;
        continue;
      }
      try {
        update(scopeId, "SET " + win + " = :w, " + left + " = :rest", "attribute_not_exists(" + win + ") OR " + win + " < :w",
            Map.of(":w", num(target), ":rest", num(limit - debt)));
        return;
      } catch (ConditionalCheckFailedException anotherContainerOpenedIt) {
        // add to it
      }
    }
    throw new ServiceUnavailable("The rate limit state of " + scopeId + " changed too often to count the tokens used.", null);
  }

  // ---- reservations (max_parallel_requests, max_budget) ----

  /** The item as last read; attribute names as in the class comment. */
  Map<String, AttributeValue> read(String scopeId) {
    return call(() -> dynamo.getItem(r -> r.tableName(table).key(key(scopeId)).consistentRead(true))).item();
  }

  /**
   * One conditional write that reserves a parallel slot ({@code slots} 1) and/or {@code usd} of the
   * budget for request {@code requestId}, if the slots and the budget allow it as the item stands in
   * the budget period ending {@code budgetEnd} (the one the caller read: a reservation taken from
   * another period would be given back to the wrong one), and only if the entry is not there yet: the
   * SDK retries a write whose answer timed out, and a retry of one that landed must not take the
   * slot and the budget twice (the caller reads the item and finds its entry: done).
   *
   * @param turn how the request counts against a hard budget while in flight: not at all ({@link
   *     Turn#NONE}), by its estimate beside others ({@code b_fly}), or without an estimate and alone
   *     ({@code b_blind})
   * @throws ConditionalCheckFailedException they do not, the entry is there already (or the item is
   *     not set up for these limits yet)
   */
  void reserve(String scopeId, String requestId, int slots, Integer parMax, BigDecimal usd, BigDecimal budgetMax,
      long budgetEnd, long expiresAtMs, Turn turn) {
    reserveTogether(scopeId, List.of(new Entry(requestId, usd, expiresAtMs)), slots, parMax, budgetMax, budgetEnd, turn);
  }

  /** One request's part of a reservation write: its entry name, the USD it reserves, when the entry expires (epoch ms). */
  record Entry(String requestId, BigDecimal usd, long expiresAtMs) {}

  /** Most reservations one write takes ({@link #reserveTogether}): its expressions stay far below DynamoDB's 4 KB. */
  static final int MAX_RESERVATIONS_TOGETHER = 25;

  /**
   * As {@link #reserve}, for several requests of one scope in <b>one</b> conditional write, all or
   * none: each gets its entry, and the write takes their slots ({@code slots} each) and budget
   * reservations together, if the item allows them as it allows that many requests admitted one
   * after the other: {@code par_left} at least their slots, and {@code b_left} above the sum of
   * every reservation but the largest (one by one, the largest last, each would have found {@code
   * b_left > 0}: so at most one reservation crosses zero, as with single writes, and the budget's
   * bound in docs/limits.md holds). Only for requests that may run beside others ({@link Turn#NONE},
   * {@link Turn#ESTIMATED}): a blind request reserves alone.
   *
   * @throws ConditionalCheckFailedException the item does not allow all of them (or an entry is
   *     there already): the caller reserves each on its own, which tells the cases apart
   */
  void reserveTogether(String scopeId, List<Entry> entries, int slots, Integer parMax, BigDecimal budgetMax, long budgetEnd,
      Turn turn) {
    if (entries.isEmpty() || entries.size() > MAX_RESERVATIONS_TOGETHER || (turn == Turn.BLIND && entries.size() > 1)) {
      throw new IllegalArgumentException("1 to " + MAX_RESERVATIONS_TOGETHER + " reservations (a blind one alone), not " + entries.size());
    }
    var values = new HashMap<String, AttributeValue>();
    var set = new StringBuilder("SET ");
    var condition = new StringBuilder("attribute_exists(res)");
    BigDecimal sum = BigDecimal.ZERO;
    BigDecimal largest = BigDecimal.ZERO;
    for (int i = 0; i < entries.size(); i++) {
      Entry one = entries.get(i);
      String path = "res." + checked(one.requestId());
      values.put(":entry" + i, AttributeValue.fromS(entryText(slots, one.usd(), budgetEnd, one.expiresAtMs(), turn)));
      set.append(i == 0 ? "" : ", ").append(path).append(" = :entry").append(i);
      condition.append(" AND attribute_not_exists(").append(path).append(')');
      sum = sum.add(one.usd());
      largest = largest.max(one.usd());
    }
    int n = entries.size();
    var add = new StringBuilder();
    if (slots > 0) {
      add.append("par_left :negslot");
      values.put(":negslot", num(-(long) slots * n));
      values.put(":slots", num((long) slots * n));
      values.put(":parmax", num(parMax));
      condition.append(" AND par_max = :parmax AND par_left >= :slots");
    }
    if (budgetMax != null) {
      add.append(add.isEmpty() ? "" : ", ").append("b_left :negusd");
      values.put(":negusd", num(sum.negate()));
      values.put(":before", num(sum.subtract(largest))); // 0 for one request: b_left > 0
      values.put(":bmax", num(budgetMax));
      values.put(":e", num(budgetEnd));
      condition.append(" AND b_max = :bmax AND b_end = :e AND b_left > :before");
    }
    if (turn != Turn.NONE) {
      // No request runs beside a blind one: its cost is covered by no reservation.
      add.append(add.isEmpty() ? "" : ", ").append(turn == Turn.BLIND ? "b_blind :turns" : "b_fly :turns");
      values.put(":turns", num(n));
      values.put(":one", num(1));
      condition.append(" AND (attribute_not_exists(b_blind) OR b_blind < :one)");
      if (turn == Turn.BLIND) {
        condition.append(" AND (attribute_not_exists(b_fly) OR b_fly < :one)");
      }
    }
    String expression = set + (add.isEmpty() ? "" : " ADD " + add);
    call(() -> dynamo.updateItem(r -> r.tableName(table).key(key(scopeId)).updateExpression(expression)
        .conditionExpression(condition.toString()).expressionAttributeValues(values)));
  }

  /**
   * A reservation entry as written since session 13: one string {@code <slots>|<USD>|<period
   * end>|<expiry ms>|<turn>} (turn {@code f} estimated, {@code u} blind, empty: none), e.g. {@code
   * 1|0.05|1767225600|1765000000000|f}. Until then an entry was a map {@code {p, a, e, x, f|u}} of
   * numbers; DynamoDB Local reads and writes the whole item on every write, and five numbers an entry
   * (each a {@code BigDecimal} parsed and printed, each a JSON member) were most of a busy key's
   * item (docs/architecture.md, Performance, session 13). Entries of either form are read by
   * {@link #fields}: a table written by the old code keeps working, and its map entries settle,
   * expire and are reclaimed as before.
   */
  static String entryText(int slots, BigDecimal usd, long budgetEnd, long expiresAtMs, Turn turn) {
    return slots + "|" + usd.toPlainString() + "|" + budgetEnd + "|" + expiresAtMs + "|"
        + (turn == Turn.ESTIMATED ? "f" : turn == Turn.BLIND ? "u" : "");
  }

  /** An entry's fields {@code p, a, e, x} and {@code f} or {@code u}, whichever form it was written in ({@link #entryText}). */
  static Map<String, AttributeValue> fields(AttributeValue entry) {
    if (entry == null) {
      return Map.of();
    }
    if (entry.s() == null) {
      return entry.m();
    }
    String[] parts = entry.s().split("\\|", -1);
    if (parts.length != 5) {
      return Map.of(); // not an entry this code wrote: never expires here, never reclaimed
    }
    try {
      var fields = new HashMap<String, AttributeValue>(8);
      fields.put("p", num(Long.parseLong(parts[0])));
      fields.put("a", num(new BigDecimal(parts[1])));
      fields.put("e", num(Long.parseLong(parts[2])));
      fields.put("x", num(Long.parseLong(parts[3])));
      if (parts[4].equals("f")) {
        fields.put("f", num(1));
      } else if (parts[4].equals("u")) {
        fields.put("u", num(1));
      }
      return fields;
    } catch (NumberFormatException notOurs) {
      return Map.of();
    }
  }

  /** Creates the item's reservation map if it has none (any container may; only the first does). */
  /** How a request counts against a hard budget ({@code max_budget}) while it is in flight. */
  enum Turn {
    /** No hard budget (none, or only {@code soft_budget}). */
    NONE,
    /** Its reservation is an estimate of its cost; admitted beside others unless a blind one runs. */
    ESTIMATED,
    /** Its cost cannot be estimated (reserves 0); admitted only when no other request holds the budget. */
    BLIND;

    /** The turn an entry of the reservation map was written with (entries without a flag: none). */
    static Turn of(Map<String, AttributeValue> entry) {
      return longOf(entry, "u", 0) > 0 ? BLIND : longOf(entry, "f", 0) > 0 ? ESTIMATED : NONE;
    }
  }

  void createReservations(String scopeId) {
    try {
      update(scopeId, "SET res = :empty", "attribute_not_exists(res)", Map.of(":empty", AttributeValue.fromM(Map.of())));
    } catch (ConditionalCheckFailedException alreadyThere) {
      // another container made it
    }
  }

  /** Sets {@code max_parallel_requests} to {@code max}, keeping the slots in use: left moves by the change. */
  void setParallelMax(String scopeId, Integer current, int max) {
    try {
      if (current == null) {
        update(scopeId, "SET par_max = :m, par_left = :m", "attribute_not_exists(par_max)", Map.of(":m", num(max)));
      } else {
        update(scopeId, "SET par_max = :m ADD par_left :d", "par_max = :old",
            Map.of(":m", num(max), ":d", num(max - current), ":old", num(current)));
      }
    } catch (ConditionalCheckFailedException changedMeanwhile) {
      // read again by the caller
    }
  }

  /** Starts a budget period ending at {@code end} with all of {@code max} left, if the period {@code currentEnd} (null: none) is still the item's. */
  void startBudgetPeriod(String scopeId, Long currentEnd, long end, BigDecimal max) {
    try {
      if (currentEnd == null) {
        update(scopeId, "SET b_end = :e, b_max = :m, b_left = :m, b_spend = :z, b_n = :z", "attribute_not_exists(b_end)",
            Map.of(":e", num(end), ":m", num(max), ":z", num(0)));
      } else {
        update(scopeId, "SET b_end = :e, b_max = :m, b_left = :m, b_spend = :z, b_n = :z", "b_end = :old",
            Map.of(":e", num(end), ":m", num(max), ":z", num(0), ":old", num(currentEnd)));
      }
    } catch (ConditionalCheckFailedException anotherContainerDidIt) {
      // read again by the caller
    }
  }

  /** Sets {@code max_budget} to {@code max}, keeping the spend and reservations: left moves by the change. */
  void setBudgetMax(String scopeId, BigDecimal current, BigDecimal max) {
    try {
      update(scopeId, "SET b_max = :m ADD b_left :d", "b_max = :old",
          Map.of(":m", num(max), ":d", num(max.subtract(current)), ":old", num(current)));
    } catch (ConditionalCheckFailedException changedMeanwhile) {
      // read again by the caller
    }
  }

  /**
   * Removes an entry whose holder never settled it (a container that crashed or froze past {@code
   * x}), giving back what it still holds: its slot, and its budget reservation only when it belongs
   * to the period {@code budgetEnd} running now (an older period's is gone with it). Only if the
   * entry is still the one read, so a retried or concurrent reclaim gives nothing back twice.
   *
   * @return whether it was given back
   */
  boolean reclaim(String scopeId, String requestId, AttributeValue written, Long budgetEnd) {
    Map<String, AttributeValue> entry = fields(written);
    long slots = longOf(entry, "p", 0);
    BigDecimal usd = decimalOf(entry, "a");
    boolean samePeriod = budgetEnd != null && longOf(entry, "e", -1) == budgetEnd;
    var values = new HashMap<String, AttributeValue>();
    // Only the entry as read: a string entry compared whole, a map entry (written before session 13) by its expiry.
    boolean text = written.s() != null;
    values.put(":x", text ? written : entry.get("x"));
    var add = new StringBuilder();
    if (slots > 0) {
      add.append("par_left :p");
      values.put(":p", num(slots));
    }
    if (samePeriod && usd.signum() > 0) {
      add.append(add.isEmpty() ? "" : ", ").append("b_left :a");
      values.put(":a", num(usd));
      values.put(":e", num(budgetEnd));
    }
    turnEnds(Turn.of(entry), add, values); // whatever its period: it is no longer in flight
    if (!REQUEST_ID.matcher(requestId).matches()) {
      return false; // not an entry this code wrote
    }
    String condition = "res." + requestId + (text ? " = :x" : ".x = :x") + (values.containsKey(":e") ? " AND b_end = :e" : "");
    String expression = "REMOVE res." + requestId + (add.isEmpty() ? "" : " ADD " + add);
    try {
      call(() -> dynamo.updateItem(r -> r.tableName(table).key(key(scopeId)).updateExpression(expression).conditionExpression(condition)
          .expressionAttributeValues(values)));
      return true;
    } catch (ConditionalCheckFailedException settledOrReclaimedMeanwhile) {
      return false;
    }
  }

  /** The budget after a settlement: the period's spend and settled request count, and what is left. */
  record Settled(BigDecimal spend, long requests, BigDecimal left) {}

  /**
   * Ends request {@code requestId}'s reservation: frees its slot and, when {@code counted}, counts its
   * real {@code cost} as spend (and one settled request) and gives back what it reserved beyond that;
   * when not counted (the call failed, or another scope refused it), gives back all it reserved and
   * counts nothing. If the period reset meanwhile, the slot is freed and the cost counted against the
   * period running now. If the entry is gone (reclaimed meanwhile, or this settlement already landed
   * and was retried), nothing is freed or counted again: every write here is conditional on the
   * entry, so a retried write never counts twice.
   *
   * @param turn how it counted against a hard budget in flight ({@code b_fly}, {@code b_blind}): that ends
   * @return the budget after it; null when the scope has no budget or nothing was counted
   */
  Settled settle(String scopeId, String requestId, int slots, BigDecimal reserved, long budgetEnd, BigDecimal cost, boolean budgeted,
      boolean counted, Turn turn) {
    var values = new HashMap<String, AttributeValue>();
    var add = new StringBuilder();
    if (slots > 0) {
      add.append("par_left :p");
      values.put(":p", num(slots));
    }
    turnEnds(turn, add, values);
    if (budgeted) {
      add.append(add.isEmpty() ? "" : ", ").append(counted ? "b_spend :c, b_n :one, b_left :back" : "b_left :back");
      if (counted) {
        values.put(":c", num(cost));
        values.put(":one", num(1));
      }
      values.put(":back", num(counted ? reserved.subtract(cost) : reserved));
      values.put(":e", num(budgetEnd));
    }
    String condition = "attribute_exists(res." + checked(requestId) + ")" + (budgeted ? " AND b_end = :e" : "");
    String expression = "REMOVE res." + requestId + (add.isEmpty() ? "" : " ADD " + add);
    try {
      var response = call(() -> dynamo.updateItem(r -> {
        r.tableName(table).key(key(scopeId)).updateExpression(expression).conditionExpression(condition).returnValues(ReturnValue.UPDATED_NEW);
        if (!values.isEmpty()) {
          r.expressionAttributeValues(values);
        }
      }));
      return budgeted && counted ? settled(response.attributes()) : null;
    } catch (ConditionalCheckFailedException goneOrReset) {
      // The entry is gone (this settlement landed already and the SDK retried it after a timeout,
      // or another container reclaimed it) or its period is over; read which.
    }
    var item = read(scopeId);
    boolean entryThere = item.containsKey("res") && item.get("res").m().containsKey(requestId);
    if (!entryThere) {
      // Whatever it held was given back already, and whether its cost was counted cannot be told
      // apart from here: counting it again on a retried settlement would count it twice, so it is not.
      return null;
    }
    // Its period is over: free its slot, and count the cost against the period running now (its
    // reservation belonged to the old period, which is gone). Only while the entry is still there,
    // so a retry of this write, or a reclaim meanwhile, cannot free or count anything twice.
    var fallbackValues = new HashMap<String, AttributeValue>();
    var fallbackAdd = new StringBuilder();
    if (slots > 0) {
      fallbackAdd.append("par_left :p");
      fallbackValues.put(":p", num(slots));
    }
    turnEnds(turn, fallbackAdd, fallbackValues);
    if (budgeted && counted) {
      fallbackAdd.append(fallbackAdd.isEmpty() ? "" : ", ").append("b_spend :c, b_n :one, b_left :neg");
      fallbackValues.put(":c", num(cost));
      fallbackValues.put(":one", num(1));
      fallbackValues.put(":neg", num(cost.negate()));
    }
    String fallback = "REMOVE res." + requestId + (fallbackAdd.isEmpty() ? "" : " ADD " + fallbackAdd);
    try {
      var response = call(() -> dynamo.updateItem(r -> {
        r.tableName(table).key(key(scopeId)).updateExpression(fallback).conditionExpression("attribute_exists(res." + requestId + ")")
            .returnValues(ReturnValue.UPDATED_NEW);
        if (!fallbackValues.isEmpty()) {
          r.expressionAttributeValues(fallbackValues);
        }
      }));
      return budgeted && counted ? settled(response.attributes()) : null;
    } catch (ConditionalCheckFailedException goneMeanwhile) {
      return null;
    }
  }

  /**
   * One request's end among those {@link #settlementTogether} writes in one update: what {@link
   * #settle} takes for one request.
   */
  record RequestEnd(String requestId, int slots, BigDecimal reserved, BigDecimal cost, boolean counted, Turn turn) {}

  /** Most request ends folded into one update: its expressions stay far below DynamoDB's 4 KB per expression. */
  static final int MAX_ENDS_TOGETHER = 25;

  /**
   * The settlements of {@code ends} (requests of one scope, all of the budget period {@code
   * budgetEnd}) as one conditional update, for a {@code TransactWriteItems} beside the usage and
   * the spend logs (docs/limits.md, "One write after the answer"): what {@link #settle} writes for
   * each, summed ({@code ADD} of the slots, turns, spend, settled requests and what goes back), and
   * only if every entry is still there and the period has not ended. When that condition fails
   * (an entry reclaimed, the period over) the transaction is cancelled as a whole and the caller
   * settles each request on its own with {@link #settle}, which tells the cases apart.
   */
  software.amazon.awssdk.services.dynamodb.model.TransactWriteItem settlementTogether(String scopeId, long budgetEnd, boolean budgeted,
      java.util.List<RequestEnd> ends) {
    if (ends.isEmpty() || ends.size() > MAX_ENDS_TOGETHER) {
      throw new IllegalArgumentException("1 to " + MAX_ENDS_TOGETHER + " request ends, not " + ends.size());
    }
    long slots = 0;
    long blind = 0;
    long estimated = 0;
    long settled = 0;
    BigDecimal spend = BigDecimal.ZERO;
    BigDecimal back = BigDecimal.ZERO;
    var remove = new StringBuilder("REMOVE ");
    var condition = new StringBuilder();
    for (RequestEnd end : ends) {
      String entry = "res." + checked(end.requestId());
      remove.append(remove.length() > "REMOVE ".length() ? ", " : "").append(entry);
      condition.append(condition.isEmpty() ? "" : " AND ").append("attribute_exists(").append(entry).append(')');
      slots += end.slots();
      if (end.turn() == Turn.BLIND) {
        blind--;
      } else if (end.turn() == Turn.ESTIMATED) {
        estimated--;
      }
      if (end.counted()) {
        spend = spend.add(end.cost());
        settled++;
        back = back.add(end.reserved().subtract(end.cost()));
      } else {
        back = back.add(end.reserved());
      }
    }
    var values = new HashMap<String, AttributeValue>();
    var add = new StringBuilder();
    if (slots > 0) {
      add.append("par_left :p");
      values.put(":p", num(slots));
    }
    if (blind != 0) {
      add.append(add.isEmpty() ? "" : ", ").append("b_blind :blind");
      values.put(":blind", num(blind));
    }
    if (estimated != 0) {
      add.append(add.isEmpty() ? "" : ", ").append("b_fly :fly");
      values.put(":fly", num(estimated));
    }
    if (budgeted) {
      add.append(add.isEmpty() ? "" : ", ").append("b_left :back");
      values.put(":back", num(back));
      if (settled > 0) {
        add.append(", b_spend :c, b_n :n");
        values.put(":c", num(spend));
        values.put(":n", num(settled));
      }
      condition.append(" AND b_end = :e");
      values.put(":e", num(budgetEnd));
    }
    String expression = remove + (add.isEmpty() ? "" : " ADD " + add);
    return software.amazon.awssdk.services.dynamodb.model.TransactWriteItem.builder().update(u -> {
      u.tableName(table).key(key(scopeId)).updateExpression(expression).conditionExpression(condition.toString());
      if (!values.isEmpty()) {
        u.expressionAttributeValues(values);
      }
    }).build();
  }

  /** Marks the period {@code end}'s soft budget as warned about; true only for the one container that marks it first. */
  boolean markSoftBudgetWarned(String scopeId, long end) {
    try {
      update(scopeId, "SET b_warned = :e", "attribute_not_exists(b_warned) OR b_warned <> :e", Map.of(":e", num(end)));
      return true;
    } catch (ConditionalCheckFailedException warnedAlready) {
      return false;
    }
  }

  /** Adds to {@code add} what ends a request's {@code turn} in flight. */
  private static void turnEnds(Turn turn, StringBuilder add, Map<String, AttributeValue> values) {
    if (turn != Turn.NONE) {
      add.append(add.isEmpty() ? "" : ", ").append(turn == Turn.BLIND ? "b_blind :turn" : "b_fly :turn");
      values.put(":turn", num(-1));
    }
  }

  private static Settled settled(Map<String, AttributeValue> attributes) {
    return new Settled(decimalOf(attributes, "b_spend"), longOf(attributes, "b_n", 0), decimalOf(attributes, "b_left"));
  }

  private UpdateItemResponse update(String scopeId, String expression, String condition, Map<String, AttributeValue> values) {
    return call(() -> dynamo.updateItem(r -> r.tableName(table).key(key(scopeId)).updateExpression(expression)
        .conditionExpression(condition).expressionAttributeValues(values).returnValues(ReturnValue.UPDATED_NEW)));
  }

  /**
   * A request id as it is written into expressions: a letter, then letters, digits and {@code _}.
   * Written as a plain path element (not an expression attribute name), so that IAM's {@code
   * dynamodb:Attributes} sees only the top-level {@code res} (template.yaml).
   */
  static final java.util.regex.Pattern REQUEST_ID = java.util.regex.Pattern.compile("[A-Za-z][A-Za-z0-9_]{0,63}");

  private static String checked(String requestId) {
    if (!REQUEST_ID.matcher(requestId).matches()) {
      throw new IllegalArgumentException("not a request id: " + requestId);
    }
    return requestId;
  }

  private static Map<String, AttributeValue> key(String scopeId) {
    return Map.of(PK, AttributeValue.fromS(PREFIX + scopeId));
  }

  /**
   * True when DynamoDB refused a write as invalid ({@code ValidationException}, HTTP 400: a number
   * beyond its 38 digits or range, an expression it cannot run): the same write will be refused
   * again, unlike throttling (also a 400, another error code) or an unreachable service.
   */
  static boolean refusedAsInvalid(Throwable failure) {
    for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
      if (cause instanceof software.amazon.awssdk.awscore.exception.AwsServiceException refused
          && refused.statusCode() == 400 && refused.awsErrorDetails() != null
          && "ValidationException".equals(refused.awsErrorDetails().errorCode())) {
        return true;
      }
    }
    return false;
  }

  static <T> T call(Supplier<T> request) {
    try {
      return request.get();
    } catch (ConditionalCheckFailedException e) {
      throw e;
    } catch (SdkException e) {
      throw new ServiceUnavailable("The limit store (DynamoDB) is unavailable: " + e.getMessage(), e);
    }
  }

  static AttributeValue num(long value) {
    return AttributeValue.fromN(Long.toString(value));
  }

  static AttributeValue num(BigDecimal value) {
    return AttributeValue.fromN(value.toPlainString());
  }

  static long longOf(Map<String, AttributeValue> item, String name) {
    return longOf(item, name, 0);
  }

  static long longOf(Map<String, AttributeValue> item, String name, long fallback) {
    AttributeValue value = item == null ? null : item.get(name);
    return value == null || value.n() == null ? fallback : new BigDecimal(value.n()).longValue();
  }

  static Long longOrNull(Map<String, AttributeValue> item, String name) {
    AttributeValue value = item == null ? null : item.get(name);
    return value == null || value.n() == null ? null : new BigDecimal(value.n()).longValue();
  }

  static BigDecimal decimalOf(Map<String, AttributeValue> item, String name) {
    AttributeValue value = item == null ? null : item.get(name);
    return value == null || value.n() == null ? BigDecimal.ZERO : new BigDecimal(value.n());
  }

  static BigDecimal decimalOrNull(Map<String, AttributeValue> item, String name) {
    AttributeValue value = item == null ? null : item.get(name);
    return value == null || value.n() == null ? null : new BigDecimal(value.n());
  }
}

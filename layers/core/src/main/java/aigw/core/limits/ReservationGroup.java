package aigw.core.limits;

import java.math.BigDecimal;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import software.amazon.awssdk.services.dynamodb.model.ConditionalCheckFailedException;

/**
 * This container's reservation writes of one scope, as a group commit: at most one is in flight,
 * and the requests that arrive while it is go together in the next one ({@link
 * LimitTable#reserveTogether}: one conditional UpdateItem for all, taking their slots and budget
 * reservations as they would be taken one after the other). Each request keeps its own entry in
 * the item, so what it holds, its expiry and its settlement are those of a reservation written
 * alone; only the number of writes falls, from one per request to one per group.
 *
 * <p>Why (session 13): every request of a key with {@code max_parallel_requests} or {@code
 * max_budget} wrote its reservation in a call of its own before its call to the provider. On one
 * item those writes serialise wherever the item lives (DynamoDB Local's table write lock, a real
 * partition's one item), so under concurrency the requests of a key queued behind each other's
 * writes, and the local gateway spent most of a limited request's CPU in DynamoDB Local
 * rewriting the item (docs/architecture.md, Performance, session 13). The requests that queue
 * behind a write now join the next write instead, the way {@link WindowPool} takes one lease for
 * every request waiting for one. On Lambda an environment serves one request at a time, so every
 * group there is one request: nothing changes.
 */
final class ReservationGroup {
  /** What a group's requests must share to be written together: the item's conditions and what each entry takes. */
  record Terms(int slots, Integer parMax, BigDecimal budgetMax, long budgetEnd, LimitTable.Turn turn) {}

  private static final class Waiting {
    final LimitTable.Entry entry;
    final Terms terms;
    boolean done; // guarded by the group
    boolean landed;

    Waiting(LimitTable.Entry entry, Terms terms) {
      this.entry = entry;
      this.terms = terms;
    }
  }

  private final String scopeId;
  private final LimitTable table;
  // Guarded by this.
  private final ArrayDeque<Waiting> queue = new ArrayDeque<>();
  private boolean writing;

  ReservationGroup(String scopeId, LimitTable table) {
    this.scopeId = scopeId;
    this.table = table;
  }

  /**
   * Writes {@code entry}'s reservation, with those of the requests waiting beside it under the same
   * {@code terms} (not a blind one: it reserves alone, {@link LimitTable#reserve}).
   *
   * @return true when it landed; false when the group's write did not (a condition failed for the
   *     group, or DynamoDB could not be reached or answered too late): the caller reads the item, which
   *     says whether its entry is there (an answer lost after the write landed) or why not, and goes on
   *     alone as before
   */
  boolean reserve(LimitTable.Entry entry, Terms terms) {
    if (terms.turn() == LimitTable.Turn.BLIND) {
      throw new IllegalArgumentException("a blind request reserves alone");
    }
    var me = new Waiting(entry, terms);
    List<Waiting> group;
    synchronized (this) {
      queue.add(me);
      boolean interrupted = false;
      while (!me.done && writing) {
        try {
          wait();
        } catch (InterruptedException e) {
          if (queue.remove(me)) {
            // Not taken into a write yet: nothing was written for it.
            Thread.currentThread().interrupt();
            return false;
          }
          interrupted = true; // taken into a write in flight: its outcome decides what it holds
        }
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
      if (me.done) {
        return me.landed; // written by the request that led its group
      }
      queue.remove(me);
      group = new ArrayList<>();
      group.add(me);
      for (Iterator<Waiting> next = queue.iterator(); next.hasNext() && group.size() < LimitTable.MAX_RESERVATIONS_TOGETHER; ) {
        Waiting other = next.next();
        if (other.terms.equals(terms)) {
          group.add(other);
          next.remove();
        }
      }
      // Last, with nothing left to fail before the try below resets it: a write marked in flight
      // and never ended would keep every later reservation of the scope waiting.
      writing = true;
    }
    boolean landed = false;
    try {
      var entries = new ArrayList<LimitTable.Entry>(group.size());
      group.forEach(one -> entries.add(one.entry));
      table.reserveTogether(scopeId, entries, terms.slots(), terms.parMax(), terms.budgetMax(), terms.budgetEnd(), terms.turn());
      landed = true;
    } catch (ConditionalCheckFailedException notAll) {
      // each reads the item and goes on alone
    } catch (RuntimeException unknown) {
      // DynamoDB out of reach, or its answer lost: each reads the item, which may show its entry (or fail, 503)
    } finally {
      synchronized (this) {
        for (Waiting one : group) {
          one.done = true;
          one.landed = landed;
        }
        writing = false;
        notifyAll();
      }
    }
    return landed;
  }
}

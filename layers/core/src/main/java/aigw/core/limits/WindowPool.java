package aigw.core.limits;

import java.time.Clock;

/**
 * This container's lease of one scope's {@code rpm_limit} (requests) or {@code tpm_limit} (tokens)
 * in the current fixed 60-second window: admissions are served from it in memory; when it runs
 * short, one thread takes a new lease for every request waiting then (the others wait for it, as
 * in a group commit), sized to that demand plus a prediction from this container's previous window
 * (none in a container's first window, so a burst takes exactly what it asks for). A lease is never
 * given back: what is left of it dies with its window, so the sum of all leases never exceeds the
 * limit. See docs/limits.md.
 */
final class WindowPool {
  static final long WINDOW_SECONDS = 60;

  private final String counter; // "rq" or "tk": the item's attribute prefix
  private final String scopeId;
  private final LimitTable table;
  private final Clock clock;

  // All guarded by this.
  private long window = -1; // epoch second of the window this state belongs to
  private long available; // leased, not reserved
  private long lastLeft = -1; // what the item had left after this container's last lease in the window; -1: unknown
  private long usedThisWindow;
  private long usedPreviousWindow;
  private long waiting; // units wanted by threads waiting for a lease
  private boolean leasing;
  private boolean exhausted; // a lease found nothing left in this window
  private boolean lastLeaseShort; // the last lease could not cover the demand: its rest may admit one partly covered request
  private final java.util.List<Debt> unwritten = new java.util.ArrayList<>(); // debts settled here, not yet in the item

  WindowPool(String counter, String scopeId, LimitTable table, Clock clock) {
    this.counter = counter;
    this.scopeId = scopeId;
    this.table = table;
    this.clock = clock;
  }

  /** A reservation: how much, in which window (0 units: refused). */
  record Reserved(long units, long window) {}

  /**
   * Reserves {@code need} units (at least 1) against {@code limit}. When the window's last units
   * are fewer than {@code need}, the request still gets them (LiteLLM's rule: admitted while the
   * window's count is below the limit), and the next one is refused.
   */
  Reserved reserve(long limit, long need) {
    while (true) {
      long leaseWindow;
      long want;
      synchronized (this) {
        long now = clock.millis();
        roll(windowOf(now));
        if (exhausted) {
          return new Reserved(0, window);
        }
        if (available >= need || (lastLeaseShort && available > 0)) {
          long units = Math.min(need, available);
          available -= units;
          usedThisWindow += units;
          if (units < need) {
            lastLeaseShort = false; // one partly covered request per short lease
          }
          return new Reserved(units, window);
        }
        if (leasing) {
          waiting += need;
          try {
            wait();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Reserved(0, window);
          } finally {
            waiting -= need;
          }
          continue;
        }
        leasing = true;
        leaseWindow = window;
        long demand = need + waiting - available;
        want = demand + predicted(now, limit);
      }
      LimitTable.WindowGrant grant;
      try {
        // Units this container used beyond its leases and has not written yet (the write-behind queue
        // writes them after the answers) are counted first: else the lease would be taken from a count
        // that does not hold them, and one client calling back to back could pass the limit many times.
        writeUnwrittenDebts();
        grant = table.takeWindow(scopeId, counter, leaseWindow, limit, want, 0);
      } catch (RuntimeException e) {
        synchronized (this) {
          leasing = false;
          notifyAll();
        }
        throw e;
      }
      synchronized (this) {
        leasing = false;
        notifyAll();
        if (leaseWindow == window) {
          available += grant.granted();
          lastLeft = Math.max(0, grant.left());
          exhausted = grant.granted() == 0;
          lastLeaseShort = grant.granted() < want;
        }
      }
    }
  }

  /** Gives back units a refused or failed request reserved; they stay this container's until the window ends. */
  synchronized void giveBack(Reserved reserved) {
    if (reserved.window() == window && reserved.units() > 0) {
      available += reserved.units();
      usedThisWindow -= reserved.units();
    }
  }

  /**
   * Settles a reservation with what was really used: unused units go back to this container's
   * lease (only while its window runs: a lease dies with its window); units used beyond it are
   * counted at once (one write, only then), against the window running now if the reservation's
   * window is over (a long call, or a stream that ended after the minute), so tokens beyond a
   * reservation are never dropped.
   */
  void settle(Reserved reserved, long used, long limit) {
    Debt debt = settleInMemory(reserved, used, limit);
    if (debt != null) {
      writeDebt(debt);
    }
  }

  /**
   * Units used beyond their reservation, still to be counted against the window starting at {@code
   * window} (of {@code limit}); written once, by whoever comes first: the request's end ({@link
   * #writeDebt}, after the answer) or this container's next lease. State guarded by the pool.
   */
  static final class Debt {
    final long window;
    final long units;
    final long limit;
    private boolean writing;
    private boolean written;

    Debt(long window, long units, long limit) {
      this.window = window;
      this.units = units;
      this.limit = limit;
    }

    long units() {
      return units;
    }
  }

  /**
   * The in-memory part of {@link #settle}: unused units back to this container's lease at once;
   * what was used beyond the lease is returned, to be counted by {@link #writeDebt} (null: nothing).
   */
  Debt settleInMemory(Reserved reserved, long used, long limit) {
    long over;
    long debtWindow;
    synchronized (this) {
      roll(windowOf(clock.millis()));
      debtWindow = window;
      if (reserved.window() == window) {
        available += reserved.units() - used;
        usedThisWindow += used - reserved.units();
      } else {
        long excess = Math.max(0, used - reserved.units());
        available -= excess; // taken from this container's lease of the current window first
        usedThisWindow += excess;
      }
      over = available < 0 ? -available : 0;
      available = Math.max(0, available);
      if (over > 0) {
        lastLeft = Math.max(0, lastLeft - over);
      }
    }
    if (over <= 0) {
      return null;
    }
    Debt debt = new Debt(debtWindow, over, limit);
    synchronized (this) {
      unwritten.add(debt);
    }
    return debt;
  }

  /**
   * Counts {@code debt} against its window in the item (one UpdateItem; never dropped, see {@link
   * LimitTable#addWindowDebt}), unless it is written already (by a lease of this container); while
   * another thread writes it, waits for that write.
   *
   * @throws RuntimeException the write failed: the debt stays unwritten, for a retry or the next lease
   */
  void writeDebt(Debt debt) {
    synchronized (this) {
      while (debt.writing) {
        try {
          wait();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException("interrupted while the tokens of a call were being counted", e);
        }
      }
      if (debt.written) {
        return;
      }
      debt.writing = true;
    }
    boolean written = false;
    try {
      table.addWindowDebt(scopeId, counter, debt.window, debt.limit, debt.units);
      written = true;
    } finally {
      synchronized (this) {
        debt.writing = false;
        debt.written = written;
        if (written) {
          unwritten.remove(debt);
        }
        notifyAll();
      }
    }
  }

  /** Writes every debt settled here and not yet written (the leasing thread, before its lease). */
  private void writeUnwrittenDebts() {
    java.util.List<Debt> debts;
    synchronized (this) {
      debts = java.util.List.copyOf(unwritten);
    }
    for (Debt debt : debts) {
      writeDebt(debt);
    }
  }

  /** What the headers report: left in the window as this container last saw it, its own lease included. */
  synchronized long remaining(long limit) {
    long seen = lastLeft < 0 ? limit - usedThisWindow : lastLeft + available;
    return Math.max(0, Math.min(limit, seen));
  }

  /** The end of the window that holds {@code nowMillis}, in epoch milliseconds. */
  static long windowEndMillis(long nowMillis) {
    return (windowOf(nowMillis) + WINDOW_SECONDS) * 1000;
  }

  static long windowOf(long nowMillis) {
    long second = Math.floorDiv(nowMillis, 1000);
    return second - Math.floorMod(second, WINDOW_SECONDS);
  }

  private void roll(long current) {
    if (current == window) {
      return;
    }
    usedPreviousWindow = current == window + WINDOW_SECONDS ? usedThisWindow : 0;
    window = current;
    available = 0;
    lastLeft = -1;
    usedThisWindow = 0;
    exhausted = false;
    lastLeaseShort = false;
  }

  /**
   * Units to lease beyond the demand: this container's previous window's use, scaled to the time
   * left in this one, and never more than a quarter of what is left (so other containers still
   * find most of it). Zero in a container's first window.
   */
  private long predicted(long nowMillis, long limit) {
    if (usedPreviousWindow == 0) {
      return 0;
    }
    double fractionLeft = (windowEndMillis(nowMillis) - nowMillis) / (WINDOW_SECONDS * 1000.0);
    long left = lastLeft < 0 ? limit - usedThisWindow : lastLeft;
    return Math.max(0, Math.min((long) (usedPreviousWindow * fractionLeft), left / 4));
  }
}

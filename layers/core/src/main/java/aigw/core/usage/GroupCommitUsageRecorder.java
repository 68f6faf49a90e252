package aigw.core.usage;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Coalesces concurrent usage writes of one key into one atomic write (group commit), keeping
 * "written before answered": each caller returns only after a write that includes its delta has
 * succeeded, and sees that write's failure if it failed.
 *
 * <p>Why: every request of one key updates the same item, and DynamoDB (Local, through one SQLite
 * thread; and real DynamoDB, per partition) serialises those updates. Under load, requests that
 * arrive while a write is in flight are written together by the next one. On Lambda a container
 * serves one request at a time, so there every batch holds one delta and this adds one uncontended
 * lock.
 */
public final class GroupCommitUsageRecorder implements UsageRecorder {
  private final UsageRecorder delegate;
  private final ConcurrentHashMap<String, KeyLane> lanes = new ConcurrentHashMap<>();

  public GroupCommitUsageRecorder(UsageRecorder delegate) {
    this.delegate = delegate;
  }

  @Override
  public void record(String keyId, UsageDelta delta) {
    KeyLane lane = lanes.computeIfAbsent(keyId, id -> new KeyLane());
    Batch batch;
    lane.lock.lock();
    try {
      Batch mine = lane.open;
      mine.add(delta);
      // Wait while another caller writes; our delta rides in the next write, or already did.
      while (lane.writing && !mine.done) {
        lane.writeEnded.awaitUninterruptibly();
      }
      if (mine.done) {
        mine.throwIfFailed();
        return;
      }
      // Nobody is writing and our batch is still open: we write it, with every delta gathered so far.
      lane.writing = true;
      batch = mine;
      lane.open = new Batch();
    } finally {
      lane.lock.unlock();
    }
    RuntimeException failure = null;
    try {
      delegate.record(keyId, batch.total);
    } catch (RuntimeException e) {
      failure = e;
    }
    lane.lock.lock();
    try {
      batch.failure = failure;
      batch.done = true;
      lane.writing = false;
      lane.writeEnded.signalAll();
      if (lane.open.total == null) {
        // Idle: forget the key so the map holds only keys in use. A caller that fetched this lane
        // a moment ago still writes correctly (each write is an atomic ADD), just on its own.
        lanes.remove(keyId, lane);
      }
    } finally {
      lane.lock.unlock();
    }
    batch.throwIfFailed();
  }

  /** Deltas that one write carries. Guarded by the lane's lock. */
  private static final class Batch {
    UsageDelta total;
    boolean done;
    RuntimeException failure;

    void add(UsageDelta delta) {
      total = total == null ? delta : total.plus(delta);
    }

    void throwIfFailed() {
      if (failure != null) {
        throw failure;
      }
    }
  }

  /** One key: the batch gathering deltas, and whether a write is in flight. Guarded by its lock. */
  private static final class KeyLane {
    final ReentrantLock lock = new ReentrantLock();
    final Condition writeEnded = lock.newCondition();
    Batch open = new Batch();
    boolean writing;
  }
}

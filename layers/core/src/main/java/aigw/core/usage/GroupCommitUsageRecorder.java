package aigw.core.usage;

import java.util.concurrent.ConcurrentHashMap;
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
  public void record(String tokenHash, UsageDelta delta) {
    KeyLane lane = lanes.computeIfAbsent(tokenHash, hash -> new KeyLane());
    Batch mine = lane.join(delta);
    lane.writer.lock();
    try {
      if (!mine.done) {
        // Whoever holds the lock writes everything that has gathered, including this delta.
        Batch batch = lane.seal();
        try {
          delegate.record(tokenHash, batch.total);
        } catch (RuntimeException e) {
          batch.failure = e;
          throw e;
        } finally {
          batch.done = true;
        }
      } else if (mine.failure != null) {
        throw mine.failure;
      }
    } finally {
      lane.writer.unlock();
    }
  }

  /** Deltas that one write will carry. Fields are guarded by the lane's locks. */
  private static final class Batch {
    UsageDelta total;
    volatile boolean done;
    volatile RuntimeException failure;
  }

  /** One key: the batch now gathering deltas, and the lock that lets one writer in at a time. */
  private static final class KeyLane {
    final ReentrantLock writer = new ReentrantLock();
    private final Object gathering = new Object();
    private Batch open = new Batch();

    Batch join(UsageDelta delta) {
      synchronized (gathering) {
        open.total = open.total == null ? delta : open.total.plus(delta);
        return open;
      }
    }

    Batch seal() {
      synchronized (gathering) {
        Batch sealed = open;
        open = new Batch();
        return sealed;
      }
    }
  }
}

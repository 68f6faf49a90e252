package aigw.core.providers.http;

import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A response body read as an {@link InputStream} while it arrives, in place of the JDK's {@link
 * HttpResponse.BodySubscribers#ofInputStream()}, whose stream asks the HTTP client for the next
 * piece of the body each time its reader takes one ({@code HttpResponseInputStream}: one piece in
 * its queue, "lock-step with the producer"). That ask runs the client's receiver on the reading
 * thread: it parses what the client has already read, or, with nothing read, re-registers the
 * connection's read interest with the client's selector and wakes it up (a write to its eventfd).
 * The first read of a stream paid that before the gateway could relay the stream's first event.
 *
 * <p>Here the client may deliver up to {@link #WINDOW} pieces ahead of the reader, and the reader
 * asks for more only when it has used up half of them or finds none in: the first event of a
 * stream, in its first piece, is read and relayed without calling back into the client, and the
 * later ones ask once per two pieces instead of once per piece. At most {@link #WINDOW} of the
 * client's buffers wait here, so a reader slower than its provider still holds the provider back
 * (TCP's flow control), as before.
 *
 * <p>Only pieces that hold bytes are queued (an empty one is asked for again), so {@link
 * #available()} is more than 0 exactly when a read will not wait: {@link IdleTimedInputStream}
 * watches only the reads that do. When {@code inHand} is given, it completes with this stream once
 * the body's first bytes, its end or its failure are in. {@link #close()} cancels the exchange (the
 * client closes the connection rather than reuse it) and ends a read waiting on another thread; a
 * failure of the body is what the next read throws, as the JDK's stream does ({@code
 * IOException("closed", failure)}).
 */
final class StreamedBody extends InputStream implements HttpResponse.BodySubscriber<InputStream> {
  /** Pieces (the client's lists of buffers) the client may deliver before the reader takes them. */
  static final int WINDOW = 4;

  private final CompletableFuture<InputStream> inHand;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition arrived = lock.newCondition();
  /** The delivered buffers not yet read, each piece's buffers followed by {@link #END_OF_PIECE}. Guarded by {@link #lock}. */
  private final ArrayDeque<ByteBuffer> queued = new ArrayDeque<>();
  private boolean complete; // guarded by lock
  private Throwable failure; // guarded by lock
  private boolean closed; // guarded by lock
  /** Closed by {@link #closeAtEnd}: what still arrives is the body's end, taken and dropped. Guarded by {@link #lock}. */
  private boolean draining;
  /** Bytes {@link #closeAtEnd} still drops before it gives the connection up. Guarded by {@link #lock}. */
  private long dropLeft;
  private volatile Flow.Subscription subscription;
  /** The buffer being read; the reader's alone. */
  private ByteBuffer current;
  /** Pieces read to their end since the client was last asked for more; the reader's alone. */
  private int used;

  /** Marks the end of one delivered piece in {@link #queued}: the reader counts what it used by it. */
  private static final ByteBuffer END_OF_PIECE = ByteBuffer.allocate(0);

  /** @param inHand completed with this stream at the body's first bytes, end or failure; null: at once */
  StreamedBody(CompletableFuture<InputStream> inHand) {
    this.inHand = inHand;
  }

  @Override
  public CompletionStage<InputStream> getBody() {
    return inHand != null ? inHand : CompletableFuture.completedFuture(this);
  }

  @Override
  public void onSubscribe(Flow.Subscription subscription) {
    this.subscription = subscription;
    boolean cancel;
    lock.lock();
    try {
      cancel = closed; // closed before the client subscribed: nobody will read
    } finally {
      lock.unlock();
    }
    if (cancel) {
      subscription.cancel();
    } else {
      subscription.request(WINDOW);
    }
  }

  @Override
  public void onNext(List<ByteBuffer> piece) {
    boolean any = false;
    boolean overBound = false;
    boolean closed;
    lock.lock();
    try {
      closed = this.closed;
      if (closed) {
        if (!draining) {
          return; // cancelled, or cancelling: nothing more is asked for
        }
        for (ByteBuffer buffer : piece) {
          dropLeft -= buffer.remaining();
        }
        draining = dropLeft >= 0;
        overBound = !draining;
      } else {
        for (ByteBuffer buffer : piece) {
          if (buffer.hasRemaining()) {
            queued.add(buffer);
            any = true;
          }
        }
        if (any) {
          queued.add(END_OF_PIECE);
          arrived.signal();
        }
      }
    } finally {
      lock.unlock();
    }
    if (overBound) {
      subscription.cancel(); // more after the reader's end than a body's end: not worth the connection
      return;
    }
    if (closed) {
      return; // dropped: closeAtEnd asked for all of the rest
    }
    if (!any) {
      subscription.request(1); // a piece without bytes: asked for again, so that available() stays true to its word
      return;
    }
    inHand();
  }

  @Override
  public void onError(Throwable thrown) {
    lock.lock();
    try {
      failure = thrown;
      draining = false;
      arrived.signal();
    } finally {
      lock.unlock();
    }
    inHand();
  }

  @Override
  public void onComplete() {
    lock.lock();
    try {
      complete = true;
      draining = false; // the connection goes back to the client's pool
      arrived.signal();
    } finally {
      lock.unlock();
    }
    inHand();
  }

  private void inHand() {
    if (inHand != null && !inHand.isDone()) {
      inHand.complete(this);
    }
  }

  @Override
  public int read() throws IOException {
    ByteBuffer buffer = current(true);
    return buffer == null ? -1 : buffer.get() & 0xff;
  }

  @Override
  public int read(byte[] bytes, int offset, int length) throws IOException {
    java.util.Objects.checkFromIndexSize(offset, length, bytes.length);
    if (length == 0) {
      return 0;
    }
    ByteBuffer buffer = current(true);
    if (buffer == null) {
      return -1;
    }
    int read = 0;
    while (buffer != null && read < length) { // what is in already, without waiting for more
      int n = Math.min(buffer.remaining(), length - read);
      buffer.get(bytes, offset + read, n);
      read += n;
      buffer = read < length ? current(false) : null;
    }
    return read;
  }

  @Override
  public int available() {
    if (current != null && current.hasRemaining()) {
      return current.remaining();
    }
    lock.lock();
    try {
      if (closed) {
        return 0; // as the JDK's stream: the read that follows throws
      }
      for (ByteBuffer buffer : queued) {
        if (buffer.hasRemaining()) {
          return buffer.remaining();
        }
      }
      return 0;
    } finally {
      lock.unlock();
    }
  }

  /**
   * The buffer to read from: the current one while it has bytes, else the next one in; when none is
   * in, waits for one if {@code wait} (null at the body's end) and returns null if not.
   */
  private ByteBuffer current(boolean wait) throws IOException {
    if (current != null && current.hasRemaining()) {
      return current;
    }
    current = null;
    while (true) {
      int ask = 0;
      lock.lock();
      try {
        if (closed) {
          throw new IOException("closed", failure);
        }
        ByteBuffer next;
        while ((next = queued.poll()) == END_OF_PIECE) {
          used++;
        }
        if (next != null) {
          current = next;
          if (used >= WINDOW / 2) {
            ask = used;
            used = 0;
          }
        } else if (failure != null) {
          throw new IOException("closed", failure);
        } else if (complete) {
          return null;
        } else if (!wait) {
          return null; // what was in is read; asking for more is left to the read that would wait
        } else if (used > 0) {
          ask = used; // nothing in: the client must be free to deliver before this waits
          used = 0;
        } else {
          try {
            arrived.await();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for the body", e);
          }
          continue;
        }
      } finally {
        lock.unlock();
      }
      if (ask > 0) {
        // Outside the lock: the client may deliver the next piece on this thread, inside request().
        subscription.request(ask);
      }
      if (current != null) {
        return current;
      }
      if (!wait) {
        return null;
      }
    }
  }

  /**
   * Closes once the reader has all it needs of a body that is ending (an event stream's {@code
   * [DONE]} or last event): what may still arrive is the body's own end (chunked encoding's last,
   * empty chunk), which the client must read to keep the connection for the next call. {@link
   * #close()} there, before the client has it, cancels the exchange and the connection with it, so
   * the next call to the provider opens a new one (TCP and TLS handshakes before its first byte).
   * Here the rest is taken and dropped as it arrives, at most {@code bytes} of it; past that, or if
   * the body has not ended within {@code grace}, the exchange is cancelled as {@link #close()} does.
   */
  void closeAtEnd(long bytes, Duration grace) {
    boolean drain;
    lock.lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      boolean ended = complete || failure != null;
      if (!ended) {
        long unread = 0;
        for (ByteBuffer buffer : queued) {
          unread += buffer.remaining();
        }
        dropLeft = bytes - unread;
        draining = dropLeft >= 0;
      }
      drain = draining;
      queued.clear();
      arrived.signalAll();
      if (ended) {
        return;
      }
    } finally {
      lock.unlock();
    }
    Flow.Subscription subscription = this.subscription;
    if (subscription == null) {
      return; // onSubscribe cancels: nobody reads
    }
    if (!drain) {
      subscription.cancel();
      return;
    }
    subscription.request(Long.MAX_VALUE); // on to the end, whatever the reader had asked for
    CompletableFuture.delayedExecutor(grace.toNanos(), TimeUnit.NANOSECONDS).execute(this::endDrain);
  }

  /** {@link #closeAtEnd}'s grace is over: a body that has not ended is cancelled (its connection closed). */
  private void endDrain() {
    boolean cancel;
    lock.lock();
    try {
      cancel = draining;
      draining = false;
    } finally {
      lock.unlock();
    }
    if (cancel) {
      subscription.cancel();
    }
  }

  @Override
  public void close() {
    Flow.Subscription cancelled;
    lock.lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      queued.clear();
      cancelled = complete || failure != null ? null : subscription;
      arrived.signalAll();
    } finally {
      lock.unlock();
    }
    if (cancelled != null) {
      cancelled.cancel(); // the exchange ends: the connection is closed, not reused
    }
  }
}

package aigw.local;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.temporal.ChronoUnit;

/**
 * One process per data directory: an OS file lock on {@code DATA-DIR/.lock}, held while the gateway
 * (or an {@code invoke}) runs. Two processes on one directory would each open DynamoDB Local's SQLite
 * file and keep their own master key and rotation state, so each would miss the other's rotations.
 * The lock file says who holds it (pid, command, start time) so the refusal can name the process.
 * The OS releases the lock when the process dies, so a crash leaves nothing to clean up.
 */
final class DataDirectoryLock implements AutoCloseable {
  static final String FILE = ".lock";
  private final FileChannel channel;
  private final FileLock lock;

  private DataDirectoryLock(FileChannel channel, FileLock lock) {
    this.channel = channel;
    this.lock = lock;
  }

  /**
   * Takes the lock of {@code dataDir}, creating the directory if needed.
   *
   * @param command what this process does, written into the lock file ("serve", "invoke admin")
   * @throws IllegalStateException when another process (or this one) holds it, naming the holder
   */
  static DataDirectoryLock acquire(Path dataDir, String command) {
    Path file = dataDir.resolve(FILE);
    FileChannel channel = null;
    try {
      Files.createDirectories(dataDir);
      channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
      FileLock lock;
      try {
        lock = channel.tryLock();
      } catch (OverlappingFileLockException heldHere) {
        lock = null; // another gateway in this JVM (tests) holds it
      }
      if (lock == null) {
        String holder = holder(channel);
        channel.close();
        throw new IllegalStateException("the data directory " + dataDir.toAbsolutePath().normalize() + " is in use by another aigw process"
            + (holder.isEmpty() ? "" : " (" + holder + ")")
            + ": stop it first, or give this one another --data-dir (or --in-memory)");
      }
      String me = "pid " + ProcessHandle.current().pid() + ", " + command + ", started " + Instant.now().truncatedTo(ChronoUnit.SECONDS);
      channel.truncate(0);
      channel.write(ByteBuffer.wrap((me + System.lineSeparator()).getBytes(StandardCharsets.UTF_8)), 0);
      channel.force(false);
      return new DataDirectoryLock(channel, lock);
    } catch (IOException e) {
      closeQuietly(channel);
      throw new UncheckedIOException("cannot lock the data directory " + dataDir.toAbsolutePath().normalize() + " (" + e.getMessage() + ")", e);
    }
  }

  /** What the holder wrote; empty if unreadable (Windows does not let others read a locked range). */
  private static String holder(FileChannel channel) {
    try {
      var buffer = ByteBuffer.allocate(512);
      int read = channel.read(buffer, 0);
      return read <= 0 ? "" : new String(buffer.array(), 0, read, StandardCharsets.UTF_8).strip();
    } catch (IOException e) {
      return "";
    }
  }

  private static void closeQuietly(FileChannel channel) {
    if (channel != null) {
      try {
        channel.close();
      } catch (IOException ignored) {
        // nothing to release
      }
    }
  }

  @Override
  public void close() {
    try {
      lock.release();
    } catch (IOException ignored) {
      // the channel's close below releases it too
    }
    closeQuietly(channel);
  }
}

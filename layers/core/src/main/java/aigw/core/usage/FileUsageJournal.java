package aigw.core.usage;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Logger;

/**
 * The local gateway's journal: one JSON line per kept delta ({@link UsageRecords}), appended to a
 * file in the data directory and forced to disk before {@link #keep} returns.
 *
 * <p>{@link #replay} merges the kept deltas per key (one write per key: counters are sums), writes
 * each key, and after each write rewrites the file with what is left (a new file moved over the old
 * one), so a crash loses nothing. A crash in the moment between one key's write and that rewrite
 * would count that key's kept deltas twice: at least once, never lost. A line torn by a crash while
 * it was appended is skipped with a warning.
 */
public final class FileUsageJournal implements UsageJournal {
  private static final Logger LOG = Logger.getLogger(FileUsageJournal.class.getName());

  private final Path file;

  public FileUsageJournal(Path file) {
    this.file = file;
  }

  @Override
  public synchronized void keep(String keyId, UsageDelta delta) {
    byte[] line = (UsageRecords.toJson(keyId, delta) + "\n").getBytes(StandardCharsets.UTF_8);
    try (var channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
      var buffer = ByteBuffer.wrap(line);
      while (buffer.hasRemaining()) {
        channel.write(buffer);
      }
      channel.force(false);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot keep usage in " + file, e);
    }
  }

  @Override
  public synchronized int replay(UsageRecorder store) {
    if (!Files.exists(file)) {
      return 0;
    }
    Map<String, UsageDelta> pending = new LinkedHashMap<>();
    Map<String, Integer> records = new LinkedHashMap<>();
    try {
      for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
        if (line.isBlank()) {
          continue;
        }
        try {
          var kept = UsageRecords.parse(line);
          pending.merge(kept.keyId(), kept.delta(), UsageDelta::plus);
          records.merge(kept.keyId(), 1, Integer::sum);
        } catch (IllegalArgumentException torn) {
          LOG.warning("Skipping an unreadable line of " + file + " (torn by a crash?): " + torn.getMessage());
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read kept usage in " + file, e);
    }
    int written = 0;
    for (String keyId : new ArrayList<>(pending.keySet())) {
      try {
        store.record(keyId, pending.get(keyId));
      } catch (RuntimeException stillDown) {
        LOG.warning("Kept usage not replayed yet (" + stillDown.getMessage() + "); " + remaining(records) + " record(s) stay in " + file);
        break;
      }
      pending.remove(keyId);
      written += records.remove(keyId);
      rewrite(pending);
    }
    if (written > 0) {
      LOG.info("Replayed " + written + " kept usage record(s) from " + file);
    }
    return written;
  }

  private static int remaining(Map<String, Integer> records) {
    return records.values().stream().mapToInt(Integer::intValue).sum();
  }

  private void rewrite(Map<String, UsageDelta> pending) {
    try {
      if (pending.isEmpty()) {
        Files.deleteIfExists(file);
        return;
      }
      List<String> lines = new ArrayList<>();
      pending.forEach((keyId, delta) -> lines.add(UsageRecords.toJson(keyId, delta)));
      Path next = file.resolveSibling(file.getFileName() + ".next");
      try (var channel = FileChannel.open(next, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
        channel.write(ByteBuffer.wrap((String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8)));
        channel.force(false);
      }
      Files.move(next, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot rewrite kept usage in " + file, e);
    }
  }

  @Override
  public String describe() {
    return file.toString();
  }
}

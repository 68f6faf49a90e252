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
import java.util.List;

/**
 * A journal's file in the data directory: one record per line, each appended line forced to disk
 * before {@link #append} returns, and the lines still kept replaced at once (a new file moved over
 * the old one), so a crash leaves either the old or the new content. Shared by the local journals
 * ({@link FileUsageJournal}, {@code aigw.core.spend.dynamodb.FileLogJournal}); callers synchronise.
 */
public final class JournalFile {
  private final Path file;

  public JournalFile(Path file) {
    this.file = file;
  }

  public Path path() {
    return file;
  }

  /** Appends one line (without its newline) and forces it to disk. */
  public void append(String line) {
    try (var channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
      var buffer = ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8));
      while (buffer.hasRemaining()) {
        channel.write(buffer);
      }
      channel.force(false);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot append to " + file, e);
    }
  }

  /** Every non-blank line; none when the file does not exist. */
  public List<String> lines() {
    if (!Files.exists(file)) {
      return List.of();
    }
    try {
      return Files.readAllLines(file, StandardCharsets.UTF_8).stream().filter(l -> !l.isBlank()).toList();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
  }

  /** Replaces the content with {@code lines} atomically; no lines deletes the file. */
  public void replaceWith(List<String> lines) {
    try {
      if (lines.isEmpty()) {
        Files.deleteIfExists(file);
        return;
      }
      Path next = file.resolveSibling(file.getFileName() + ".next");
      try (var channel = FileChannel.open(next, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
        var buffer = ByteBuffer.wrap((String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8));
        while (buffer.hasRemaining()) {
          channel.write(buffer);
        }
        channel.force(false);
      }
      Files.move(next, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot rewrite " + file, e);
    }
  }

  @Override
  public String toString() {
    return file.toString();
  }
}

package aigw.core.testing;

import java.nio.file.Files;
import java.nio.file.Path;

/** Files at the repository root (template.yaml, events/), found from any module's working directory. */
public final class RepoFiles {
  private RepoFiles() {}

  public static Path root() {
    Path dir = Path.of("").toAbsolutePath();
    while (dir != null) {
      if (Files.exists(dir.resolve("template.yaml")) && Files.isDirectory(dir.resolve("events"))) {
        return dir;
      }
      dir = dir.getParent();
    }
    throw new IllegalStateException("no repository root above " + Path.of("").toAbsolutePath());
  }

  public static Path resolve(String relative) {
    return root().resolve(relative);
  }
}

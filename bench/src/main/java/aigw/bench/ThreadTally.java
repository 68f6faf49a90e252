package aigw.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * CPU time and context switches of this JVM's threads, by the gateway's thread groups, from {@code
 * /proc/self/task} (Linux; nothing elsewhere): where a request's CPU goes, and how many times a
 * request puts a thread to sleep and wakes it (each wake-up is a futex or a selector's eventfd
 * write, a context switch, and a reschedule on a busy core). Unlike the process's CPU, which moves
 * by ±15 % from run to run on a shared machine, the switches per request are counts that the load
 * changes little, so a change that takes a wake-up out of the path shows in them.
 *
 * <p>Only threads alive at both snapshots are counted (the bench's own client threads end with
 * each run; the gateway's live as long as it does). The bench's client and the stub run on other
 * threads (the stub's {@code HTTP-Dispatcher}, the client's pool), so the groups here are the
 * gateway's alone, except "other", which also holds the JVM's (GC, JIT) and DynamoDB Local's.
 */
final class ThreadTally {
  /** One thread: its name (at most 15 characters, as the kernel keeps it), CPU in clock ticks, switches. */
  record Thread(String name, long ticks, long voluntary, long involuntary) {}

  private ThreadTally() {}

  static Map<String, Thread> snapshot() {
    var threads = new HashMap<String, Thread>();
    try (var tasks = Files.list(Path.of("/proc/self/task"))) {
      for (Path task : (Iterable<Path>) tasks::iterator) {
        try {
          String name = Files.readString(task.resolve("comm")).strip();
          String stat = Files.readString(task.resolve("stat"));
          String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
          long ticks = Long.parseLong(fields[11]) + Long.parseLong(fields[12]); // utime + stime (fields 14 and 15)
          long voluntary = 0;
          long involuntary = 0;
          for (String line : Files.readAllLines(task.resolve("status"))) {
            if (line.startsWith("voluntary_ctxt_switches:")) {
              voluntary = Long.parseLong(line.substring(line.indexOf(':') + 1).strip());
            } else if (line.startsWith("nonvoluntary_ctxt_switches:")) {
              involuntary = Long.parseLong(line.substring(line.indexOf(':') + 1).strip());
            }
          }
          threads.put(task.getFileName().toString(), new Thread(name, ticks, voluntary, involuntary));
        } catch (IOException | RuntimeException ended) {
          // the thread ended while it was read
        }
      }
    } catch (IOException notLinux) {
      return Map.of();
    }
    return threads;
  }

  /** The gateway's thread groups between two snapshots, per request: "workers 95 µs 2.0/0.3, ...". */
  static String perRequest(Map<String, Thread> before, Map<String, Thread> after, long requests) {
    if (after.isEmpty()) {
      return "not measured (no /proc/self/task)";
    }
    double microsPerTick = 1e6 / 100; // USER_HZ is 100 on Linux
    var groups = new TreeMap<String, long[]>();
    after.forEach((tid, then) -> {
      Thread now = before.get(tid);
      if (now == null || !now.name().equals(then.name())) {
        return;
      }
      long[] sums = groups.computeIfAbsent(group(then.name()), g -> new long[3]);
      sums[0] += then.ticks() - now.ticks();
      sums[1] += then.voluntary() - now.voluntary();
      sums[2] += then.involuntary() - now.involuntary();
    });
    List<String> parts = new ArrayList<>();
    long[] total = new long[3];
    groups.forEach((group, sums) -> {
      if (!group.equals("other")) {
        for (int i = 0; i < 3; i++) {
          total[i] += sums[i];
        }
      }
      if (sums[0] > 0 || sums[1] + sums[2] >= requests / 100) {
        parts.add(String.format(Locale.ROOT, "%s %.0f µs %.2f/%.2f", group, sums[0] * microsPerTick / requests, (double) sums[1] / requests,
            (double) sums[2] / requests));
      }
    });
    return String.format(Locale.ROOT, "gateway's groups %.0f µs %.2f/%.2f: ", total[0] * microsPerTick / requests, (double) total[1] / requests,
        (double) total[2] / requests) + String.join(", ", parts);
  }

  private static String group(String name) {
    if (name.startsWith("aigw-http-io")) {
      return "Jetty";
    }
    if (name.matches("aigw-http-\\d+")) {
      return "workers";
    }
    if (name.startsWith("HttpClient-")) {
      return "HttpClient selector";
    }
    if (name.startsWith("aigw-")) {
      return name.replaceAll("-?\\d+$", "");
    }
    return "other";
  }
}

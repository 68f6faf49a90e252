package aigw.bench;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * aigw beside a peer gateway in one run, as users compare them: each gateway in its own process,
 * started as its users start it, loaded by the same external generator (<a
 * href="https://github.com/wg/wrk">wrk</a>, Debian's {@code wrk} package) against the same
 * loopback stub provider, which wrk also calls directly for the floor.
 *
 * <p>The peer is Portkey's open-source gateway ({@code @portkey-ai/gateway} from npm, {@value
 * #PORTKEY_VERSION}), which forwards to a custom host given per request ({@code
 * x-portkey-custom-host}) and checks no key and writes nothing. It is found at {@code
 * $AIGW_BENCH_PORTKEY} (its {@code build/start-server.js}) or installed once with npm into {@code
 * ~/.cache/aigw-bench/portkey}. Without wrk, or without node and npm, the section says what it skipped.
 *
 * <p>Per target and per connection count (1 and 16): p50 and p99 of wrk's latency distribution,
 * requests per second, answers that were not 2xx, and the gateway process's own CPU time per
 * request (user + system from {@code /proc/<pid>/stat} over the run, in µs), each gateway after a
 * warm-up at 16 connections ({@link #warmUp}: until a JVM's JIT has settled).
 */
final class PeerBench {
  static final String PORTKEY_VERSION = "1.15.2";
  private static final Pattern PERCENTILE = Pattern.compile("^\\s*(50|99)(?:\\.000)?%\\s+([\\d.]+)(us|ms|s)\\s*$", Pattern.MULTILINE);
  private static final Pattern REQUESTS_PER_SECOND = Pattern.compile("^Requests/sec:\\s+([\\d.]+)", Pattern.MULTILINE);
  private static final Pattern REQUESTS = Pattern.compile("^\\s*(\\d+) requests in", Pattern.MULTILINE);
  private static final Pattern NON_2XX = Pattern.compile("Non-2xx or 3xx responses: (\\d+)");
  private static final Pattern SOCKET_ERRORS = Pattern.compile("Socket errors: connect (\\d+), read (\\d+), write (\\d+), timeout (\\d+)");

  /** One wrk run's figures. */
  record WrkRun(int connections, double p50Millis, double p99Millis, double requestsPerSecond, long requests, long failures, double cpuMicrosPerRequest) {}

  /** What wrk is pointed at: a URL, the headers it sends, and the process whose CPU is counted (none for the floor). */
  record Target(String name, URI url, Map<String, String> headers, ProcessHandle process) {}

  private PeerBench() {}

  /**
   * @param jar the packaged aigw-local.jar, started twice ({@code --in-memory}, then file-backed)
   * @param config the gateway config routing {@code bench-model} to the stub
   * @param stubBase the stub provider's base URL ({@code http://127.0.0.1:port})
   * @param gatewayJvmOptions JVM option sets to start the jar with ({@code java OPTIONS -jar}), each
   *     measured as its own pair of targets, in the order given (an empty list: the jar as users
   *     start it, with none); to compare a JVM option against the default in one run
   */
  static void run(Path jar, Path config, String stubBase, Map<String, String> env, Duration seconds, List<List<String>> gatewayJvmOptions)
      throws Exception {
    System.out.println();
    System.out.println("== side by side: wrk against the stub, aigw (java -jar) and Portkey's gateway (node) ==");
    if (!onPath("wrk")) {
      System.out.println("  skipped: wrk is not installed (apt-get install wrk)");
      return;
    }
    if (!Files.exists(jar)) {
      System.out.println("  skipped: " + jar + " not built (./mvnw package -DskipTests)");
      return;
    }
    byte[] body = chatBody();
    var results = new LinkedHashMap<String, List<WrkRun>>();
    results.put("stub (floor)", measure(new Target("stub", URI.create(stubBase + "/v1/chat/completions"), Map.of(), null), body, seconds));

    for (List<String> jvmOptions : gatewayJvmOptions.isEmpty() ? List.of(List.<String>of()) : gatewayJvmOptions) {
      for (boolean inMemory : new boolean[] {true, false}) {
        Path data = Files.createTempDirectory("aigw-peer-data");
        var command = new ArrayList<>(List.of(java()));
        command.addAll(jvmOptions);
        command.addAll(List.of("-jar", jar.toString(), "--config", config.toString(), "--port"));
        int port = freePort();
        command.add(Integer.toString(port));
        command.addAll(inMemory ? List.of("--in-memory") : List.of("--data-dir", data.toString()));
        var builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD);
        builder.environment().putAll(env);
        Process gateway = builder.start();
        try {
          URI base = URI.create("http://127.0.0.1:" + port);
          awaitHealthy(base, gateway);
          String key = Bench.createKey(base);
          var target = new Target("aigw", URI.create(base + "/v1/chat/completions"), Map.of("Authorization", "Bearer " + key), gateway.toHandle());
          String name = inMemory ? "aigw, in memory" : "aigw, file-backed (default)";
          results.put(gatewayJvmOptions.isEmpty() ? name : name + " [" + String.join(" ", jvmOptions) + "]", measure(target, body, seconds));
        } finally {
          stop(gateway);
        }
      }
    }

    Path portkey = portkey();
    if (portkey == null) {
      System.out.println("  Portkey: skipped (set AIGW_BENCH_PORTKEY to its build/start-server.js, or install node and npm)");
    } else {
      int port = freePort();
      Process gateway =
          new ProcessBuilder("node", portkey.toString(), "--port=" + port, "--headless")
              .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      try {
        URI base = URI.create("http://127.0.0.1:" + port);
        var headers = Map.of(
            "Authorization", "Bearer sk-bench-provider-not-a-secret",
            "x-portkey-provider", "openai",
            "x-portkey-custom-host", stubBase + "/v1");
        awaitAnswering(URI.create(base + "/v1/chat/completions"), headers, body, gateway);
        results.put("Portkey " + PORTKEY_VERSION, measure(new Target("portkey", URI.create(base + "/v1/chat/completions"), headers, gateway.toHandle()), body, seconds));
      } finally {
        stop(gateway);
      }
    }
    print(results);
  }

  private static byte[] chatBody() {
    return "{\"model\":\"bench-model\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}],\"temperature\":0.2}"
        .getBytes(StandardCharsets.UTF_8);
  }

  private static List<WrkRun> measure(Target target, byte[] body, Duration seconds) throws Exception {
    Path script = Files.createTempFile("aigw-wrk", ".lua");
    var lua = new StringBuilder("wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n");
    target.headers().forEach((name, value) -> lua.append("wrk.headers[\"").append(name).append("\"] = \"").append(value).append("\"\n"));
    lua.append("wrk.body = [[").append(new String(body, StandardCharsets.UTF_8)).append("]]\n");
    Files.writeString(script, lua);
    try {
      warmUp(target, script, seconds);
      var runs = new ArrayList<WrkRun>();
      for (int connections : new int[] {1, 16}) {
        runs.add(wrk(target, script, connections, seconds));
      }
      return runs;
    } finally {
      Files.deleteIfExists(script);
    }
  }

  /** At most this many warm-up runs of a target: a JIT that never settles still ends the bench. */
  private static final int WARM_UP_MAX_RUNS = 6;
  /** A JVM has settled when its compiler threads used less than this share of a warm-up run's wall time. */
  private static final double WARM_UP_SETTLED_JIT_SHARE = 0.05;

  /**
   * Warms a target at 16 connections (JIT, connections, caches), one wrk run of {@code seconds} at a
   * time. A JVM (aigw's relaunched child) is warmed until its JIT has settled: a run in which its
   * compiler threads ({@code C1 CompilerThre}, {@code C2 CompilerThre} in {@code
   * /proc/<pid>/task/<tid>/comm}) used less than {@link #WARM_UP_SETTLED_JIT_SHARE} of the run's
   * wall time. Session 12 found the in-process bench's first gateway still compiling after 100,000
   * requests (its 1-connection p99 then 2.7-3.7 ms added against 0.6-1.1 ms once settled), and one
   * run of warm-up is about 40,000 requests. Anything else (the stub, Portkey's node) gets two runs,
   * twice the single run it had before session 12.
   */
  private static void warmUp(Target target, Path script, Duration seconds) throws Exception {
    int runs = 0;
    double share;
    do {
      Map<String, Long> compiledBefore = compilerCpuNanos(target.process());
      long start = System.nanoTime();
      wrk(target, script, 16, seconds);
      Map<String, Long> compiledAfter = compilerCpuNanos(target.process());
      share = compiledAfter.isEmpty() ? -1 : compiledDuring(compiledBefore, compiledAfter) / (double) (System.nanoTime() - start);
      runs++;
    } while (runs < WARM_UP_MAX_RUNS && (share < 0 ? runs < 2 : share >= WARM_UP_SETTLED_JIT_SHARE));
    System.out.printf(Locale.ROOT, "  %s: warmed up with %d run%s of %d s at 16 connections%s%n", target.name(), runs, runs == 1 ? "" : "s",
        seconds.toSeconds(),
        share < 0 ? "" : String.format(Locale.ROOT, "; its JIT's compiler threads used %.1f %% of the last%s", share * 100,
            share >= WARM_UP_SETTLED_JIT_SHARE ? " (not settled: its figures include JIT work)" : ""));
  }

  /**
   * The compiler threads' CPU between two snapshots, thread by thread: a thread started meanwhile
   * counts whole. One that ended meanwhile (the JVM ends idle compiler threads on machines with
   * more of them, {@code UseDynamicNumberOfCompilerThreads}) is not seen, so a run in which one
   * ended is taken as unsettled: its compiler was busy enough to have had it.
   */
  private static long compiledDuring(Map<String, Long> before, Map<String, Long> after) {
    if (!after.keySet().containsAll(before.keySet())) {
      return Long.MAX_VALUE / 2;
    }
    long total = 0;
    for (var thread : after.entrySet()) {
      total += Math.max(0, thread.getValue() - before.getOrDefault(thread.getKey(), 0L));
    }
    return total;
  }

  /**
   * CPU time of each JIT compiler thread in a process and its descendants (aigw's relaunched
   * child), from {@code /proc}, by {@code pid/tid}; empty when the process has none (not a JVM, or
   * not Linux).
   */
  private static Map<String, Long> compilerCpuNanos(ProcessHandle process) {
    var threads = new java.util.HashMap<String, Long>();
    if (process == null) {
      return threads;
    }
    for (ProcessHandle each : Stream.concat(Stream.of(process), process.descendants()).toList()) {
      Path tasks = Path.of("/proc", Long.toString(each.pid()), "task");
      try (var listed = Files.list(tasks)) {
        for (Path thread : listed.toList()) {
          try {
            String name = Files.readString(thread.resolve("comm")).strip();
            if (name.startsWith("C1 CompilerThre") || name.startsWith("C2 CompilerThre")) {
              threads.put(each.pid() + "/" + thread.getFileName(), cpuNanosOfStat(Files.readString(thread.resolve("stat"))));
            }
          } catch (IOException | RuntimeException gone) {
            // a thread that ended between the listing and the read
          }
        }
      } catch (IOException | RuntimeException gone) {
        // the process ended
      }
    }
    return threads;
  }

  private static WrkRun wrk(Target target, Path script, int connections, Duration seconds) throws Exception {
    long cpuBefore = cpuNanos(target.process());
    // One wrk thread drives 16 connections with room to spare on loopback, and leaves the second core to the gateway.
    var process =
        new ProcessBuilder("wrk", "-t1", "-c" + connections, "-d" + seconds.toSeconds() + "s", "--latency", "-s", script.toString(), target.url().toString())
            .redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!process.waitFor(seconds.toSeconds() + 30, TimeUnit.SECONDS) || process.exitValue() != 0) {
      throw new IllegalStateException("wrk failed against " + target.name() + ":\n" + output);
    }
    long cpuAfter = cpuNanos(target.process());
    double p50 = -1, p99 = -1;
    Matcher percentile = PERCENTILE.matcher(output);
    while (percentile.find()) {
      double millis = Double.parseDouble(percentile.group(2)) * switch (percentile.group(3)) {
        case "us" -> 0.001;
        case "ms" -> 1;
        default -> 1000;
      };
      if (percentile.group(1).equals("50")) {
        p50 = millis;
      } else {
        p99 = millis;
      }
    }
    long requests = longOf(REQUESTS, output);
    long failures = longOf(NON_2XX, output);
    Matcher socket = SOCKET_ERRORS.matcher(output);
    if (socket.find()) {
      for (int group = 1; group <= 4; group++) {
        failures += Long.parseLong(socket.group(group));
      }
    }
    double cpu = target.process() == null || cpuBefore < 0 || requests == 0 ? Double.NaN : (cpuAfter - cpuBefore) / 1e3 / requests;
    Matcher rps = REQUESTS_PER_SECOND.matcher(output);
    return new WrkRun(connections, p50, p99, rps.find() ? Double.parseDouble(rps.group(1)) : 0, requests, failures, cpu);
  }

  private static void print(Map<String, List<WrkRun>> results) {
    List<WrkRun> floor = results.values().iterator().next();
    for (int i = 0; i < floor.size(); i++) {
      WrkRun direct = floor.get(i);
      System.out.printf(Locale.ROOT, "  %d connection%s (wrk, %d thread):%n", direct.connections(), direct.connections() == 1 ? "" : "s", 1);
      System.out.printf(Locale.ROOT, "    %-30s %9s %9s %11s %11s %10s %13s %9s%n", "", "p50 ms", "p99 ms", "added p50", "added p99", "req/s", "CPU µs/req", "non-2xx");
      for (var entry : results.entrySet()) {
        WrkRun run = entry.getValue().get(i);
        boolean isFloor = run == direct;
        System.out.printf(Locale.ROOT, "    %-30s %9.3f %9.3f %11s %11s %10.0f %13s %9d%n",
            entry.getKey(), run.p50Millis(), run.p99Millis(),
            isFloor ? "" : String.format(Locale.ROOT, "%.3f", run.p50Millis() - direct.p50Millis()),
            isFloor ? "" : String.format(Locale.ROOT, "%.3f", run.p99Millis() - direct.p99Millis()),
            run.requestsPerSecond(), Double.isNaN(run.cpuMicrosPerRequest()) ? "" : String.format(Locale.ROOT, "%.0f", run.cpuMicrosPerRequest()),
            run.failures());
      }
    }
    var aigw = results.get("aigw, in memory");
    var peer = results.entrySet().stream().filter(e -> e.getKey().startsWith("Portkey")).map(Map.Entry::getValue).findFirst();
    if (aigw != null && peer.isPresent()) {
      System.out.printf(Locale.ROOT, "  aigw in memory / Portkey at 16 connections: %.2f× the requests per second (issue 14 target: >= 4×)%n",
          aigw.get(1).requestsPerSecond() / peer.get().get(1).requestsPerSecond());
    }
  }

  /** Portkey's start script: {@code $AIGW_BENCH_PORTKEY}, else a pinned version npm-installed into the user's cache once. */
  private static Path portkey() throws InterruptedException {
    String given = System.getenv("AIGW_BENCH_PORTKEY");
    if (given != null && !given.isBlank()) {
      return Files.exists(Path.of(given)) ? Path.of(given) : null;
    }
    if (!onPath("node") || !onPath("npm")) {
      return null;
    }
    Path prefix = Path.of(System.getProperty("user.home"), ".cache", "aigw-bench", "portkey-" + PORTKEY_VERSION);
    Path script = prefix.resolve("node_modules/@portkey-ai/gateway/build/start-server.js");
    if (Files.exists(script)) {
      return script;
    }
    try {
      Files.createDirectories(prefix);
      System.out.println("  installing @portkey-ai/gateway@" + PORTKEY_VERSION + " into " + prefix + " (once)");
      Process npm =
          new ProcessBuilder("npm", "install", "--prefix", prefix.toString(), "--no-audit", "--no-fund", "@portkey-ai/gateway@" + PORTKEY_VERSION)
              .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      return npm.waitFor(5, TimeUnit.MINUTES) && npm.exitValue() == 0 && Files.exists(script) ? script : null;
    } catch (IOException e) {
      return null;
    }
  }

  /** CPU time (user + system) of a process and its threads from /proc (Linux, clock ticks of 10 ms); -1 when unknown. */
  private static long cpuNanos(ProcessHandle process) {
    if (process == null) {
      return -1;
    }
    // aigw's java -jar relaunches itself as a child JVM (SharedArchiveRelaunch), which does the
    // work: its CPU and any other descendant's count with the started process's.
    long total = ownCpuNanos(process);
    for (ProcessHandle child : process.descendants().toList()) {
      long cpu = ownCpuNanos(child);
      if (cpu > 0) {
        total += cpu;
      }
    }
    return total;
  }

  private static long ownCpuNanos(ProcessHandle process) {
    try {
      return cpuNanosOfStat(Files.readString(Path.of("/proc", Long.toString(process.pid()), "stat")));
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  /** utime + stime of a {@code /proc/<pid>/stat} or {@code /proc/<pid>/task/<tid>/stat} line (clock ticks of 10 ms), in ns. */
  private static long cpuNanosOfStat(String stat) {
    // Fields after the command name (which may hold spaces) start after the last ')'.
    String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    long ticks = Long.parseLong(fields[11]) + Long.parseLong(fields[12]); // utime, stime: fields 14 and 15 of proc(5)
    return ticks * 10_000_000L;
  }

  private static void awaitHealthy(URI base, Process process) throws Exception {
    var client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofMillis(500)).build();
    var request = HttpRequest.newBuilder(URI.create(base + "/health/liveliness")).GET().build();
    poll(process, () -> client.send(request, HttpResponse.BodyHandlers.discarding()).statusCode() == 200);
  }

  private static void awaitAnswering(URI url, Map<String, String> headers, byte[] body, Process process) throws Exception {
    var client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofMillis(500)).build();
    var builder = HttpRequest.newBuilder(url).header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofByteArray(body));
    headers.forEach(builder::header);
    var request = builder.build();
    poll(process, () -> client.send(request, HttpResponse.BodyHandlers.discarding()).statusCode() == 200);
  }

  private interface Check {
    boolean passes() throws Exception;
  }

  private static void poll(Process process, Check check) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IllegalStateException("the gateway exited with " + process.exitValue());
      }
      try {
        if (check.passes()) {
          return;
        }
      } catch (IOException notYet) {
        // not listening yet
      }
      Thread.sleep(50);
    }
    throw new IllegalStateException("the gateway did not answer within 60 s");
  }

  private static void stop(Process process) throws InterruptedException {
    process.destroy();
    if (!process.waitFor(20, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor();
    }
  }

  private static long longOf(Pattern pattern, String text) {
    Matcher matcher = pattern.matcher(text);
    return matcher.find() ? Long.parseLong(matcher.group(1)) : 0;
  }

  private static boolean onPath(String command) {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
      if (Files.isExecutable(Path.of(dir, command))) {
        return true;
      }
    }
    return false;
  }

  private static String java() {
    return ProcessHandle.current().info().command().orElse("java");
  }

  private static int freePort() throws IOException {
    try (var socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }
}

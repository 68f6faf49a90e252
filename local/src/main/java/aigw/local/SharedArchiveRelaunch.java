package aigw.local;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Makes a plain {@code java -jar aigw-local.jar} start from cached classes without asking the user
 * for JVM options (a jar's manifest cannot carry them): the first JVM starts the gateway once more
 * as a child that loads the 6,000-odd classes of a start from a cache instead of the jar. On JDK 25
 * and later the cache is an AOT cache ({@link AotCache}: recorded by a first start, built by this
 * process when the child ends); before JDK 25 a dynamic class-data-sharing archive
 * ({@code -XX:SharedArchiveFile=FILE -XX:+AutoCreateSharedArchive}, JDK 19+, JEP 350 made automatic),
 * which the JDK rewrites at exit when it is missing or stale. A first start pays for the cache once,
 * at its stop; every later start is well under half the CPU to the first proxied answer.
 *
 * <p>The child is invisible: it shares this process's standard streams, its exit code is this
 * process's, SIGINT/SIGTERM to this process stop it gracefully (the shutdown hook below sends it
 * SIGTERM and waits, so its own hook flushes usage and closes the database), and it stops when this
 * process dies even by SIGKILL ({@link #watchParent()}). A system property marks the child, so it
 * never relaunches again.
 *
 * <p>Not relaunched: with {@code AIGW_RELAUNCH=false} or {@code --no-relaunch}, when the JVM was
 * already given an archive or AOT option (the user chose), when not running from a jar (tests, an
 * IDE), and when the cache's directory cannot be written. The cache lives in
 * {@code $XDG_CACHE_HOME/aigw} ({@code ~/.cache/aigw}), one per user whatever the data directory
 * (a new data directory is not a first start), or in {@code DATA-DIR/cds/} when there is no home
 * directory; its name carries the JDK's version, so switching JDKs back and forth does not rebuild
 * it each time.
 *
 * <p>The parent's part runs in a JVM without any cache, where the first use of each lambda, method
 * reference, string concatenation ({@code +} on strings), regular expression or {@link String#format}
 * costs milliseconds of class generation and linking: the code the parent runs before the child is
 * started ({@link #plan}, {@link #run}, {@link AotCache#plan}) uses none of them, only plain calls
 * and small named classes (StartTimeline's marks are off unless asked for).
 */
final class SharedArchiveRelaunch {
  /** Set on the child's command line: this JVM is the relaunched one. */
  static final String CHILD_PROPERTY = "aigw.relaunched";
  static final String OPT_OUT_FLAG = "--no-relaunch";
  static final String OPT_OUT_ENV = "AIGW_RELAUNCH";
  /** How long a stopping parent waits for the child's graceful stop before killing it. */
  private static final long CHILD_STOP_SECONDS = 30;

  private SharedArchiveRelaunch() {}

  /** True in the relaunched child. */
  static boolean isChild() {
    return Boolean.getBoolean(CHILD_PROPERTY);
  }

  /** In the child: stop gracefully (shutdown hooks run) as soon as the parent is gone. */
  static void watchParent() {
    ProcessHandle.current().parent().ifPresent(parent -> parent.onExit().thenRun(() -> System.exit(143)));
  }

  /**
   * How the child starts from cached classes, and what the parent does once the child has ended.
   *
   * @param childOptions the JVM options that give the child the cache (or have it record one)
   * @param afterChild run once by the parent after the child's end, with its exit code: turns what a
   *     first start recorded into the cache the next start uses (nothing to do when the cache was used)
   */
  record Plan(List<String> childOptions, java.util.function.IntConsumer afterChild) {}

  /**
   * How to relaunch, or empty when this start must not relaunch.
   *
   * @param jvmOptions this JVM's options from its command line ({@link #commandLineJvmOptions()})
   */
  static Optional<Plan> plan(LocalOptions options, boolean optedOut, List<String> jvmOptions, Optional<Path> jar) {
    if (isChild() || optedOut || "false".equalsIgnoreCase(options.env().getOrDefault(OPT_OUT_ENV, "")) || jar.isEmpty()) {
      return Optional.empty();
    }
    for (String option : jvmOptions) {
      if (choosesClassCache(option)) {
        return Optional.empty();
      }
    }
    // Options from the environment reach the child too (it inherits it); the user's choice there counts as well.
    for (String variable : List.of("JDK_JAVA_OPTIONS", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS")) {
      if (choosesClassCache(options.env().getOrDefault(variable, ""))) {
        return Optional.empty();
      }
    }
    // One cache per user, not per data directory: a new data directory (each project's ./.aigw/data)
    // is not a first start. The data directory only when there is no home to put a cache in.
    Path directory = cacheDirectory(options.env());
    if (directory == null && !options.inMemory() && !options.aws()) {
      directory = options.dataDir().resolve("cds");
    }
    if (directory == null) {
      return Optional.empty();
    }
    try {
      Files.createDirectories(directory);
      if (!Files.isWritable(directory)) {
        return Optional.empty();
      }
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
    String prefix = "aigw-local-jdk".concat(fileNameSafe(System.getProperty("java.runtime.version", "unknown")));
    if (Runtime.version().feature() < AOT_CACHE_JDK) {
      Path archive = directory.resolve(prefix.concat(".jsa"));
      return Optional.of(new Plan(
          List.of("-XX:SharedArchiveFile=".concat(archive.toString()), "-XX:+AutoCreateSharedArchive"), NOTHING_AFTER_CHILD));
    }
    return Optional.of(AotCache.plan(directory, prefix.concat("-"), jar.get(), jvmOptions));
  }

  /**
   * Whether a JVM option (or an environment variable's options) asks for a class-data-sharing
   * archive or an AOT cache of its own: then the user chose, and there is no relaunch.
   */
  static boolean choosesClassCache(String options) {
    return options.contains("-XX:SharedArchiveFile") || options.contains("-XX:ArchiveClassesAtExit")
        || options.contains("-XX:AOT") || options.contains("-Xshare") || options.contains("AutoCreateSharedArchive");
  }

  /** The JDK's version as part of a file name: {@code 25.0.3+9-LTS} as it is, other characters as '_'. */
  static String fileNameSafe(String version) {
    var safe = new StringBuilder(version.length());
    for (int i = 0; i < version.length(); i++) {
      char c = version.charAt(i);
      boolean kept = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '+' || c == '_' || c == '-';
      safe.append(kept ? c : '_');
    }
    return safe.toString();
  }

  /** A plan's {@link Plan#afterChild} when the child leaves nothing to do (its cache was used). */
  static final java.util.function.IntConsumer NOTHING_AFTER_CHILD = new java.util.function.IntConsumer() {
    @Override
    public void accept(int exit) {}
  };

  /** The first JDK whose AOT cache (JEP 483, with JEP 515's method profiles) the relaunch uses. */
  static final int AOT_CACHE_JDK = 25;

  /**
   * The user's cache directory for aigw: {@code $XDG_CACHE_HOME/aigw}, else {@code ~/.cache/aigw}
   * (Java's {@code user.home}); null when there is no home. Not created here.
   */
  static Path cacheDirectory(Map<String, String> env) {
    String cache = env.get("XDG_CACHE_HOME");
    if (cache != null && !cache.isBlank()) {
      return Path.of(cache, "aigw");
    }
    String home = System.getProperty("user.home");
    return home == null || home.isBlank() || home.equals("?") ? null : Path.of(home, ".cache", "aigw");
  }

  /**
   * The JVM options this process was started with on its command line (what comes before
   * {@code -jar}), to give the child the same ones (heap size, system properties); empty when the
   * operating system does not tell. Options from JDK_JAVA_OPTIONS/JAVA_TOOL_OPTIONS are not among
   * them: the child reads those from the environment it inherits.
   *
   * <p>Read from {@code /proc/self/cmdline} where there is one (Linux), as {@link ProcessHandle.Info}
   * would, but without touching {@link ProcessHandle}: its first use starts the JDK's process reaper
   * (a thread pool and its lambdas, 10-20 ms in this cache-less JVM), which {@link ProcessBuilder#start}
   * then sets up only once the child is already starting, on the other core.
   */
  static Optional<List<String>> commandLineJvmOptions() {
    Optional<List<String>> arguments = ownArguments();
    if (arguments.isEmpty()) {
      return Optional.empty();
    }
    int jarFlag = arguments.get().indexOf("-jar");
    return jarFlag < 0 ? Optional.empty() : Optional.of(arguments.get().subList(0, jarFlag));
  }

  /** This process's arguments after the program's name: {@code /proc/self/cmdline}, else {@link ProcessHandle.Info#arguments()}. */
  private static Optional<List<String>> ownArguments() {
    try {
      return Optional.of(cmdlineArguments(Files.readAllBytes(OWN_COMMAND_LINE), jnuCharset()));
    } catch (IOException | RuntimeException noProc) {
      Optional<String[]> arguments = ProcessHandle.current().info().arguments();
      return arguments.isEmpty() ? Optional.empty() : Optional.of(List.of(arguments.get()));
    }
  }

  private static final Path OWN_COMMAND_LINE = Path.of("/proc/self/cmdline");
  private static final Path OWN_EXECUTABLE = Path.of("/proc/self/exe");

  /**
   * The arguments in a {@code /proc/PID/cmdline}'s bytes (each ends with a NUL), without the first,
   * the program's name: what {@link ProcessHandle.Info#arguments()} gives.
   */
  static List<String> cmdlineArguments(byte[] cmdline, java.nio.charset.Charset charset) {
    var arguments = new ArrayList<String>();
    int start = 0;
    for (int i = 0; i <= cmdline.length; i++) {
      if (i == cmdline.length ? i > start : cmdline[i] == 0) {
        arguments.add(new String(cmdline, start, i - start, charset));
        start = i + 1;
      }
    }
    return arguments.isEmpty() ? arguments : arguments.subList(1, arguments.size());
  }

  /** The charset the JDK decodes command lines and file names with ({@code sun.jnu.encoding}). */
  private static java.nio.charset.Charset jnuCharset() {
    try {
      return java.nio.charset.Charset.forName(System.getProperty("sun.jnu.encoding", "UTF-8"));
    } catch (RuntimeException unknown) {
      return java.nio.charset.StandardCharsets.UTF_8;
    }
  }

  /**
   * This JVM's {@code java} executable, for the child: {@code /proc/self/exe}'s target (Linux, no
   * {@link ProcessHandle}: see {@link #commandLineJvmOptions()}), else {@link ProcessHandle.Info#command()}; null when neither tells.
   */
  static String javaExecutable() {
    try {
      return Files.readSymbolicLink(OWN_EXECUTABLE).toString();
    } catch (IOException | RuntimeException noProc) {
      return ProcessHandle.current().info().command().orElse(null);
    }
  }

  /** The jar this class runs from, if it runs from one. */
  static Optional<Path> runningJar() {
    try {
      var source = SharedArchiveRelaunch.class.getProtectionDomain().getCodeSource();
      if (source == null) {
        return Optional.empty();
      }
      Path path = Path.of(source.getLocation().toURI());
      return Files.isRegularFile(path) && path.toString().endsWith(".jar") ? Optional.of(path) : Optional.empty();
    } catch (Exception e) {
      return Optional.empty();
    }
  }

  /**
   * Runs the gateway in a child JVM with the archive and returns its exit code; this process only
   * waits. Empty when the child could not be started (then the caller serves in this JVM).
   */
  static Optional<Integer> run(Plan plan, Path jar, List<String> jvmOptions, String[] argv) {
    String java = javaExecutable();
    if (java == null) {
      return Optional.empty();
    }
    var command = new ArrayList<String>();
    command.add(java);
    command.addAll(jvmOptions);
    command.addAll(plan.childOptions());
    // The JDK's notes about a missing or stale archive or cache (it then starts without) are not the user's concern.
    command.add("-Xlog:cds*=off,aot*=off");
    command.add("-D" + CHILD_PROPERTY + "=true"); // a constant: no concatenation at run time
    command.add("-jar");
    command.add(jar.toString());
    command.addAll(List.of(argv));
    var builder = new ProcessBuilder(command).inheritIO();
    Process child;
    try {
      StartTimeline.mark("spawn child");
      child = builder.start();
      StartTimeline.mark("child spawned");
    } catch (IOException e) {
      return Optional.empty();
    }
    var finish = new AfterChild(child, plan.afterChild());
    Runtime.getRuntime().addShutdownHook(new StopChild(child, finish));
    while (true) {
      try {
        int exit = child.waitFor();
        finish.run();
        return Optional.of(exit);
      } catch (InterruptedException e) {
        // keep waiting: only the child's end ends this process
      }
    }
  }

  /**
   * The plan's work after the child's end, run once: by main after the child's end or by the stop
   * hook, and whichever thread comes second waits for it (the JVM halts when its hooks return, and
   * main's System.exit waits for the hooks).
   */
  private static final class AfterChild implements Runnable {
    private final Process child;
    private final java.util.function.IntConsumer afterChild;
    private boolean done;

    AfterChild(Process child, java.util.function.IntConsumer afterChild) {
      this.child = child;
      this.afterChild = afterChild;
    }

    @Override
    public synchronized void run() {
      if (!child.isAlive() && !done) {
        done = true;
        afterChild.accept(child.exitValue());
      }
    }
  }

  /** The parent's stop hook (SIGINT, SIGTERM): stops the child gracefully, then finishes. */
  private static final class StopChild extends Thread {
    private final Process child;
    private final AfterChild finish;

    StopChild(Process child, AfterChild finish) {
      super("aigw-stop-child");
      this.child = child;
      this.finish = finish;
    }

    @Override
    public void run() {
      if (child.isAlive()) {
        child.destroy(); // SIGTERM: the child's shutdown hook closes the gateway
        try {
          if (!child.waitFor(CHILD_STOP_SECONDS, TimeUnit.SECONDS)) {
            child.destroyForcibly();
          }
        } catch (InterruptedException e) {
          child.destroyForcibly();
        }
      }
      finish.run(); // stopped by a signal, the parent's last work is here: main's System.exit waits for this hook
    }
  }

}

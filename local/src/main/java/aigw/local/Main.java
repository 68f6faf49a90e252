package aigw.local;

import aigw.core.apigateway.ApiGatewayEvents;
import aigw.core.json.Json;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.NoSuchFileException;
import java.util.concurrent.CountDownLatch;

/** {@code java -jar local/target/aigw-local.jar}: the gateway on 127.0.0.1:3000, or one handler on one event. */
public final class Main {
  private Main() {}

  /** The last line a stop (SIGTERM, Ctrl-C) logs, once the gateway has closed: what it accepted is written. */
  static final String STOPPED_MESSAGE = "aigw local gateway stopped.";

  public static void main(String[] argv) throws Exception {
    installStopLogging(); // first: before anything uses java.util.logging
    StartTimeline.mark("main");
    // Up to the child's start (relaunchWithSharedArchive), plain code only: see SharedArchiveRelaunch.
    boolean noRelaunch = java.util.Arrays.asList(argv).contains(SharedArchiveRelaunch.OPT_OUT_FLAG);
    if (noRelaunch) {
      var kept = new java.util.ArrayList<String>();
      for (String arg : argv) {
        if (!arg.equals(SharedArchiveRelaunch.OPT_OUT_FLAG)) {
          kept.add(arg);
        }
      }
      argv = kept.toArray(new String[0]);
    }

    LocalOptions options;
    try {
      options = LocalOptions.parse(argv, System.getenv());
    } catch (IllegalArgumentException e) {
      System.err.println("aigw: " + e.getMessage());
      System.err.println(LocalOptions.USAGE);
      System.exit(2);
      return;
    }
    switch (options.command()) {
      case "help" -> System.out.println(LocalOptions.USAGE);
      case "version" -> System.out.println(version());
      case "invoke" -> System.exit(invoke(options));
      default -> {
        relaunchWithSharedArchive(options, noRelaunch, argv);
        serve(options);
      }
    }
  }

  /**
   * Makes {@link StopLogging} the JVM's LogManager, unless the user chose one: what the gateway logs
   * while it stops then reaches the log. Plain code only (see below), and no call into StopLogging,
   * which would initialise LogManager before the property is set.
   */
  static void installStopLogging() {
    if (System.getProperty(StopLogging.MANAGER_PROPERTY) == null) {
      System.setProperty(StopLogging.MANAGER_PROPERTY, StopLogging.class.getName());
    }
  }

  /**
   * Serves from a child JVM that starts from a class-data-sharing archive, and exits with its code,
   * unless this start must not relaunch (see {@link SharedArchiveRelaunch}); returns to serve here.
   */
  private static void relaunchWithSharedArchive(LocalOptions options, boolean optedOut, String[] argv) {
    if (SharedArchiveRelaunch.isChild()) {
      SharedArchiveRelaunch.watchParent();
      return;
    }
    var jvmOptions = SharedArchiveRelaunch.commandLineJvmOptions();
    if (jvmOptions.isEmpty()) {
      return;
    }
    var jar = SharedArchiveRelaunch.runningJar();
    var plan = SharedArchiveRelaunch.plan(options, optedOut, jvmOptions.get(), jar);
    if (plan.isPresent()) {
      var exit = SharedArchiveRelaunch.run(plan.get(), jar.get(), jvmOptions.get(), argv);
      if (exit.isPresent()) {
        System.exit(exit.get());
      }
    }
  }

  private static void serve(LocalOptions options) throws InterruptedException {
    LocalGateway gateway;
    try {
      gateway = LocalGateway.start(options);
    } catch (RuntimeException e) {
      System.err.println("aigw: cannot start: " + e.getMessage());
      System.exit(1);
      return;
    }
    var stopped = new CountDownLatch(1);
    Runnable releaseLogging = StopLogging.holdUntilStopped();
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  try {
                    gateway.close();
                    // Not a static field: Main must not touch logging before StopLogging is installed.
                    java.util.logging.Logger.getLogger(Main.class.getName()).info(STOPPED_MESSAGE);
                  } finally {
                    releaseLogging.run(); // now the JDK's own hook may close the log handlers
                    stopped.countDown();
                  }
                }));
    // The embedded database starts after the server listens (LocalGateway): if it cannot, this
    // process stops as it did when the database came first, and the hook above closes the rest.
    gateway.onDatabaseFailure(e -> {
      System.err.println("aigw: cannot start: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
      System.exit(1);
    });
    String url = gateway.baseUrl().toString();
    // Which master key and from where was logged once at start (LocalMasterKey); here only how to use it.
    var masterKey = gateway.startMasterKey();
    String master = masterKey == null ? "$MASTER_KEY" : masterKey.shellReference();
    var models = gateway.gateway().router().models();
    System.out.printf(
        """
        aigw local gateway listening on %s
          OpenAI base URL: %s/v1
          models:          %s (from %s)
          keys:            %s

        Create a first virtual key with the master key:
          curl -s %s/key/generate -H "Authorization: Bearer %s" \\
            -H "Content-Type: application/json" -d '{"key_alias": "my-app"}'
        Then call a model with the "key" it returns:
          curl -s %s/v1/chat/completions -H "Authorization: Bearer <key>" \\
            -H "Content-Type: application/json" -d '{"model": "%s", "messages": [{"role": "user", "content": "Hello"}]}'
        Ctrl-C stops it.
        """,
        url,
        url,
        models.isEmpty() ? "(none: pass --config FILE with a model_list)" : String.join(", ", models.keySet()),
        gateway.configDescription() + (gateway.usesBundledConfig() ? "; --config FILE for your own" : ""),
        gateway.storageDescription(),
        url,
        master,
        url,
        models.isEmpty() ? "<model>" : models.keySet().iterator().next());
    System.out.flush();
    stopped.await();
  }

  /**
   * {@code aigw-local 0.1.0-SNAPSHOT}, from the jar's manifest (Implementation-Version, set by the
   * build); "development build" when run from classes, as in tests and IDEs.
   */
  static String version() {
    String version = Main.class.getPackage().getImplementationVersion();
    return "aigw-local " + (version == null ? "(development build, not from the jar)" : version)
        + " on Java " + Runtime.version();
  }

  /** Prints the handler's response event; a bad file or config is one line on stderr and exit 1. */
  static int invoke(LocalOptions options) {
    try {
      byte[] eventBytes = Files.readAllBytes(options.event());
      if (options.function().equals("master-key-rotation") || options.function().equals("MasterKeyRotationFunction")) {
        // Secrets Manager's event: {"SecretId", "ClientRequestToken", "Step"}. Locally Secrets
        // Manager's part is played too: the token starts a rotation that runs all four steps.
        var event = Json.MAPPER.readTree(eventBytes);
        String token = event.path("ClientRequestToken").asText(null);
        try (var gateway = LocalGateway.create(options)) {
          String before = gateway.currentMasterKey();
          Path file = gateway.rotateMasterKey(token);
          var result = new java.util.LinkedHashMap<String, Object>();
          result.put("rotated", true);
          result.put("master_key_name", aigw.core.keys.ApiKeys.mask(gateway.currentMasterKey()));
          if (file == null) { // --in-memory: a dry run of the rotation handler
            result.put("kept", false);
            result.put("note", "--in-memory: nothing was written; the data directory's master key is unchanged");
            System.out.println(Json.MAPPER.writer(SerializationFeature.INDENT_OUTPUT).writeValueAsString(result));
            return 0;
          }
          result.put("master_key_file", file.toAbsolutePath().toString());
          // What changed for good in the data directory, and how to go back: the next start uses the
          // new key, and the one it replaced (the events/admin-* files present sk-development-only)
          // only until the grace end.
          result.put("previous_key_name", LocalMasterKey.maskOrDefault(before));
          result.put("previous_key_works_until", String.valueOf(gateway.previousMasterKeyValidUntil()));
          result.put("undo", "delete " + file.toAbsolutePath() + " and " + file.resolveSibling(LocalMasterKey.PREVIOUS_FILE).toAbsolutePath()
              + " (with no gateway running): the next start uses "
              + (options.env().getOrDefault("AIGW_MASTER_KEY", "").isBlank() ? "sk-development-only" : "AIGW_MASTER_KEY") + " again");
          System.out.println(Json.MAPPER.writer(SerializationFeature.INDENT_OUTPUT).writeValueAsString(result));
          return 0;
        }
      }
      if (options.function().equals("rotation") || options.function().equals("KeyRotationScheduleFunction")) {
        Json.MAPPER.readTree(eventBytes); // a scheduled event's content does not matter, but it must be JSON
        try (var gateway = LocalGateway.create(options)) {
          System.out.println(Json.MAPPER.writer(SerializationFeature.INDENT_OUTPUT).writeValueAsString(gateway.runKeyRotationSchedule()));
          return 0;
        }
      }
      var event = ApiGatewayEvents.parseEvent(eventBytes);
      try (var gateway = LocalGateway.create(options)) {
        System.err.println("aigw: models from " + gateway.configDescription()
            + (gateway.usesBundledConfig() ? " (--config FILE for your own)" : "") + ": "
            + String.join(", ", gateway.gateway().router().models().keySet()));
        var response = gateway.invoke(options.function(), event);
        System.out.println(Json.MAPPER.writer(SerializationFeature.INDENT_OUTPUT).writeValueAsString(response));
        return 0;
      }
    } catch (NoSuchFileException e) {
      System.err.println("aigw: no such event file: " + e.getFile());
    } catch (IOException | RuntimeException e) {
      System.err.println("aigw: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
    }
    return 1;
  }
}

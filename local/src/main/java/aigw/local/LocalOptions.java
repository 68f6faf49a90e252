package aigw.local;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Command line of the local gateway. Flags win over environment variables, which win over defaults.
 *
 * @param config model list YAML; null means the example bundled in the jar
 * @param dataDir where embedded DynamoDB Local keeps its files (unless inMemory)
 * @param aws use real AWS (or AWS_ENDPOINT_URL_* stand-ins) instead of the embedded database
 * @param rotationCheck how often the key rotation schedule runs; zero turns it off
 * @param masterKeyRotation how often the master key rotates (in the in-memory Secrets Manager);
 *     zero, the default, never
 */
public record LocalOptions(
    String command,
    String host,
    int port,
    Path config,
    Path dataDir,
    boolean inMemory,
    boolean aws,
    String keysTable,
    String masterKeySecretId,
    String function,
    Path event,
    Duration rotationCheck,
    Duration masterKeyRotation,
    Map<String, String> env) {

  /** As often as the template's default rate would be far too slow for a demo; cheap locally. */
  static final Duration DEFAULT_ROTATION_CHECK = Duration.ofSeconds(60);

  static final String USAGE =
      """
      Usage:
        java -jar aigw-local.jar [serve] [options]                      start the gateway
        java -jar aigw-local.jar invoke proxy|admin --event FILE [options]  run one handler on one API Gateway event
        java -jar aigw-local.jar invoke rotation --event FILE [options]  run the key rotation schedule once (events/schedule-rotation.json)
        java -jar aigw-local.jar invoke master-key-rotation --event FILE  rotate the data directory's master key once
                              (events/secretsmanager-rotation.json); see "Master key" below;
                              with --in-memory a dry run that keeps nothing
        java -jar aigw-local.jar --version                             print the version

      Options:
        --port N              port to listen on (AIGW_PORT; default 3000)
        --host ADDRESS        address to bind (AIGW_HOST; default 127.0.0.1, never 0.0.0.0 unless asked;
                              any other than loopback needs a master key of your own)
        --config FILE         model_list YAML (AIGW_CONFIG; default: the bundled example)
        --data-dir DIR        where keys, usage and spend logs are kept: DynamoDB Local's file and
                              spend-logs.db (SQLite) (AIGW_DATA_DIR; default .aigw/data)
        --in-memory           keep nothing: the database lives and dies with the process
        --aws                 use real AWS instead: DynamoDB table and Secrets Manager master key
        --keys-table NAME     the keys table (AIGW_KEYS_TABLE; default aigw-keys)
        --master-key-secret ID  with --aws: the master key secret (AIGW_MASTER_KEY_SECRET_ID)
        --rotation-check-seconds N  how often due keys are rotated (AIGW_ROTATION_CHECK_SECONDS;
                              default 60, 0 = off); the same schedule as KeyRotationScheduleFunction
        --master-key-rotation-seconds N  rotate the master key every N s through the same rotation
                              handler as on AWS (AIGW_MASTER_KEY_ROTATION_SECONDS; default 0 = never);
                              each new key is written to DATA-DIR/master-key
        --cors-allowed-origins LIST  comma-separated origins whose web pages may call the gateway
                              from a browser, or * for any (AIGW_CORS_ALLOWED_ORIGINS; default: none)
        --allowed-hosts LIST  comma-separated host names the gateway answers besides IP addresses and
                              localhost (AIGW_ALLOWED_HOSTS; * for any, behind a trusted proxy);
                              other Host values get 421, so a DNS-rebinding web page cannot call it
        --no-relaunch         start in this JVM, without the class cache a relaunched JVM uses
                              (AIGW_RELAUNCH=false; slower starts, one process)
        --help                this text

      Connections (environment only; see docs/configuration.md):
        AIGW_HTTP_REQUEST_TIMEOUT_SECONDS (30), AIGW_HTTP_WRITE_TIMEOUT_SECONDS (30),
        AIGW_HTTP_IDLE_TIMEOUT_SECONDS (30), AIGW_HTTP_MAX_CONNECTIONS (512),
        AIGW_HTTP_MAX_CONNECTIONS_PER_CLIENT (128), AIGW_HTTP_MAX_BUFFERED_BODY_BYTES (256 MiB),
        AIGW_HTTP_MAX_BUFFERED_ANSWER_BYTES (256 MiB), AIGW_HTTP_MAX_WORKERS_PER_KEY (32)

      Master key, decided at start and named in one start-up line:
        1. DATA-DIR/master-key, if a local rotation wrote it (it wins over AIGW_MASTER_KEY);
        2. AIGW_MASTER_KEY;
        3. sk-development-only, with a WARNING.
      A rotation (invoke master-key-rotation, --master-key-rotation-seconds) changes the data directory
      for good: the new key goes to DATA-DIR/master-key and the key it replaced, with the rotation's
      time and the end of its grace, to DATA-DIR/master-key.previous (both readable by you only). The
      replaced key (and so the events/admin-* files, which present sk-development-only) keeps working
      for AIGW_MASTER_KEY_GRACE_SECONDS (default 3600) as set for the rotation, until the end it
      announced: a restart with another setting never extends it (a shorter one shortens it). To undo,
      stop the gateway and delete both files.

      One process per data directory: a second one is refused (DATA-DIR/.lock names the first).
      """;

  public static LocalOptions parse(String[] argv, Map<String, String> env) {
    var args = new ArrayList<>(List.of(argv));
    String command = "serve";
    String function = null;
    if (!args.isEmpty() && !args.get(0).startsWith("--")) {
      command = args.remove(0);
      if (command.equals("invoke")) {
        if (args.isEmpty() || args.get(0).startsWith("--")) {
          throw new IllegalArgumentException("invoke needs a function: proxy, admin, rotation or master-key-rotation");
        }
        function = args.remove(0);
      } else if (!command.equals("serve")) {
        throw new IllegalArgumentException("unknown command '" + command + "'");
      }
    }
    String host = env.getOrDefault("AIGW_HOST", "127.0.0.1");
    int port = port(env.getOrDefault("AIGW_PORT", "3000"));
    Path config = env.containsKey("AIGW_CONFIG") ? Path.of(env.get("AIGW_CONFIG")) : null;
    Path dataDir = Path.of(env.getOrDefault("AIGW_DATA_DIR", ".aigw/data"));
    boolean inMemory = false;
    boolean aws = false;
    String keysTable = blankToNull(env.get("AIGW_KEYS_TABLE"));
    String secret = env.get("AIGW_MASTER_KEY_SECRET_ID");
    Path event = null;
    Duration rotationCheck = seconds(env.get("AIGW_ROTATION_CHECK_SECONDS"), "AIGW_ROTATION_CHECK_SECONDS", DEFAULT_ROTATION_CHECK);
    Duration masterKeyRotation =
        seconds(env.get("AIGW_MASTER_KEY_ROTATION_SECONDS"), "AIGW_MASTER_KEY_ROTATION_SECONDS", Duration.ZERO);
    for (int i = 0; i < args.size(); i++) {
      String arg = args.get(i);
      switch (arg) {
        case "--port" -> port = port(value(args, ++i, arg));
        case "--host" -> host = value(args, ++i, arg);
        case "--config" -> config = Path.of(value(args, ++i, arg));
        case "--data-dir" -> dataDir = Path.of(value(args, ++i, arg));
        case "--in-memory" -> inMemory = true;
        case "--aws" -> aws = true;
        case "--keys-table" -> keysTable = value(args, ++i, arg);
        case "--master-key-secret" -> secret = value(args, ++i, arg);
        case "--event" -> event = Path.of(value(args, ++i, arg));
        case "--rotation-check-seconds" -> rotationCheck = seconds(value(args, ++i, arg), arg, DEFAULT_ROTATION_CHECK);
        case "--master-key-rotation-seconds" -> masterKeyRotation = seconds(value(args, ++i, arg), arg, Duration.ZERO);
        case "--cors-allowed-origins" -> env = withEntry(env, "AIGW_CORS_ALLOWED_ORIGINS", value(args, ++i, arg)); // read by GatewaySettings
        case "--allowed-hosts" -> env = withEntry(env, "AIGW_ALLOWED_HOSTS", value(args, ++i, arg)); // read by LocalGateway
        case "--help", "-h" -> command = "help";
        case "--version" -> command = "version";
        default -> throw new IllegalArgumentException("unknown option '" + arg + "'");
      }
    }
    if (command.equals("help") || command.equals("version")) {
      return new LocalOptions(command, host, port, config, dataDir, inMemory, aws, keysTable, secret, function, event, rotationCheck, masterKeyRotation, env);
    }
    if (command.equals("invoke") && event == null) {
      throw new IllegalArgumentException("invoke needs --event FILE");
    }
    if (!masterKeyRotation.isZero() && (inMemory || aws)) {
      // In memory there is no file to hand the new key over; on AWS Secrets Manager's own schedule rotates it.
      throw new IllegalArgumentException("--master-key-rotation-seconds needs the file-backed local mode (no --in-memory, no --aws)");
    }
    if (aws && secret == null) {
      throw new IllegalArgumentException("--aws needs --master-key-secret (or AIGW_MASTER_KEY_SECRET_ID)");
    }
    return new LocalOptions(command, host, port, config, dataDir, inMemory, aws, keysTable, secret, function, event, rotationCheck, masterKeyRotation, env);
  }

  /** Options for tests and benchmarks: in memory, an ephemeral port. */
  public static LocalOptions inMemory(Path config, Map<String, String> env) {
    return new LocalOptions("serve", "127.0.0.1", 0, config, null, true, false, null, null, null, null, Duration.ZERO, Duration.ZERO, env);
  }

  public LocalOptions withRotationCheck(Duration every) {
    return new LocalOptions(
        command, host, port, config, dataDir, inMemory, aws, keysTable, masterKeySecretId, function, event, every, masterKeyRotation, env);
  }

  public LocalOptions withMasterKeyRotation(Duration every) {
    return new LocalOptions(
        command, host, port, config, dataDir, inMemory, aws, keysTable, masterKeySecretId, function, event, rotationCheck, every, env);
  }

  private static Map<String, String> withEntry(Map<String, String> env, String name, String value) {
    var copy = new java.util.HashMap<>(env);
    copy.put(name, value);
    return Map.copyOf(copy);
  }

  private static String blankToNull(String value) {
    return value == null || value.isBlank() ? null : value.trim();
  }

  private static String value(List<String> args, int index, String flag) {
    if (index >= args.size()) {
      throw new IllegalArgumentException(flag + " needs a value");
    }
    return args.get(index);
  }

  private static Duration seconds(String text, String name, Duration fallback) {
    if (text == null || text.isBlank()) {
      return fallback;
    }
    try {
      long seconds = Long.parseLong(text.trim());
      if (seconds < 0) {
        throw new NumberFormatException();
      }
      return Duration.ofSeconds(seconds);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " must be a whole number of seconds (0 = off), got '" + text + "'");
    }
  }

  private static int port(String text) {
    try {
      int port = Integer.parseInt(text.trim());
      if (port < 0 || port > 65535) {
        throw new NumberFormatException();
      }
      return port;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("port must be a number from 0 to 65535, got '" + text + "'");
    }
  }
}

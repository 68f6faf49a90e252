package aigw.local;

import aigw.admin.AdminHandler;
import aigw.admin.AdminService;
import aigw.core.Gateway;
import aigw.core.GatewaySettings;
import aigw.core.aws.AwsClients;
import aigw.core.aws.TemplateTables;
import aigw.core.config.Deployment;
import aigw.core.config.ModelList;
import aigw.core.http.CorsPolicy;
import aigw.core.http.GatewayApplication;
import aigw.core.providers.Providers;
import aigw.core.secrets.SecretSource;
import aigw.core.rotation.LoggedRotationEvents;
import aigw.core.rotation.VirtualKeyRotator;
import aigw.core.secrets.InMemorySecretsManager;
import aigw.rotation.KeyRotationScheduleHandler;
import aigw.rotation.MasterKeyRotation;
import aigw.rotation.MasterKeyRotationHandler;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import software.amazon.awssdk.services.secretsmanager.SecretsManagerClient;
import aigw.core.secrets.SecretsManagerSecretSource;
import aigw.proxy.ProxyHandler;
import aigw.proxy.ProxyService;
import aigw.core.apigateway.ProxyRequestEvent;
import aigw.core.apigateway.ProxyResponseEvent;
import aigw.core.usage.FileUsageJournal;
import aigw.core.usage.LoggedUsageJournal;
import aigw.core.usage.UsageJournal;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;

/**
 * The gateway on a laptop: the same {@link ProxyService} and {@link AdminService} Lambda runs,
 * served as one {@link GatewayApplication} by {@link LocalServer} (streamed answers included), over
 * embedded DynamoDB Local (or real AWS with {@code --aws}). {@code invoke} runs the Lambda handler
 * classes themselves on API Gateway events.
 */
public final class LocalGateway implements AutoCloseable {
  private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger(LocalGateway.class.getName());
  static final String BUNDLED_CONFIG = "/aigw/config.example.yaml";
  /** template.yaml, packaged into the jar by the build: the local tables are created from it. */
  static final String TEMPLATE_RESOURCE = "/aigw/template.yaml";
  /** The template's logical table ids, and the table names used locally. */
  static Map<String, String> localTableNames(GatewaySettings settings) {
    return Map.of("KeysTable", settings.keysTable(), "LogsTable", settings.logs().table());
  }

  private final LocalOptions options;
  /** The embedded database, started off the path to the first answer (null with --aws). */
  private final DatabaseOnDemand database;
  /** The spend logs (SQLite, beside DynamoDB Local's file or in memory); null with --aws, where the logs table keeps them. */
  private SqliteSpendLogs spendLogs;
  private final Gateway gateway;
  private final ProxyHandler proxy;
  private final AdminHandler admin;
  /** ProxyFunction's and AdminFunction's routes as one HTTP application: what the server serves. */
  private final GatewayApplication application;
  /** Which browser pages may call the gateway (AIGW_CORS_ALLOWED_ORIGINS, --cors-allowed-origins). */
  private final CorsPolicy cors;
  private final boolean developmentMasterKey;
  /** Which master key this process started with and from where; null with --aws. */
  private final LocalMasterKey localMasterKey;
  /** Dates the local secrets' versions: the system clock, except while a past rotation is put back. */
  private final RestoringClock secretsClock = new RestoringClock();
  /** Held while this process uses the data directory; null in memory and with --aws. */
  private final DataDirectoryLock lock;
  /** Secrets that receive rotated keys: in memory locally (it follows Secrets Manager's rules), AWS with --aws. */
  private final SecretsManagerClient keySecrets;
  /** Holds the master key secret in local mode (null with --aws, where Secrets Manager does). */
  private final InMemorySecretsManager localSecretsManager;
  private final KeyRotationScheduleHandler keyRotationSchedule;
  private ScheduledExecutorService scheduler;
  static final String LOCAL_MASTER_KEY_SECRET = "aigw/master-key";
  static final String LOCAL_ROTATION_FUNCTION = "arn:aws:lambda:local:000000000000:function:MasterKeyRotationFunction";
  private LocalServer server;

  /** Takes the data directory's lock, then builds; the lock is released if building fails. */
  private static LocalGateway build(LocalOptions options, UnaryOperator<DynamoDbClient> decorate, DatabaseStart databaseStart) {
    DataDirectoryLock lock = options.aws() || options.inMemory()
        ? null
        : DataDirectoryLock.acquire(options.dataDir(), options.command().equals("invoke") ? "invoke " + options.function() : "serve");
    try {
      return new LocalGateway(options, decorate, lock, databaseStart);
    } catch (RuntimeException e) {
      if (lock != null) {
        lock.close();
      }
      throw e;
    }
  }

  /** Starts the embedded database with the template's tables ({@link #startDatabase}; tests give one that waits). */
  interface DatabaseStart {
    EmbeddedDynamoDb start(LocalOptions options, Map<String, String> tableNames);
  }

  private LocalGateway(LocalOptions options, UnaryOperator<DynamoDbClient> decorate, DataDirectoryLock lock, DatabaseStart databaseStart) {
    this.options = options;
    this.lock = lock;
    var env = options.env();
    var settings = GatewaySettings.fromEnvironment(env);
    if (options.keysTable() != null) {
      settings = settings.withKeysTable(options.keysTable());
    }
    // The embedded database and its tables (DynamoDB Local's set-up, then two CreateTable calls)
    // are not on the path to the first answer: the gateway is built over a client that starts the
    // database on a thread of its own when asked (DatabaseOnDemand), and a call that needs it waits
    // for it. A server starts it after its first model answer, its first admin request, or
    // DATABASE_START_DELAY after it listens (start); invoke at once, while the model list is read.
    var tableNames = localTableNames(settings);
    this.database = options.aws() ? null : new DatabaseOnDemand(() -> databaseStart.start(options, tableNames));
    if (database != null && options.command().equals("invoke")) {
      database.startInBackground();
    }
    ModelList.Config models;
    Providers providers;
    try {
      models = models(options); // a mistake in it stops the start
      StartTimeline.mark("model list read");
      providers = new Providers(
          // Its TLS context made at the first https connection: a first answer over http:// needs none.
          aigw.core.providers.http.UpstreamHttp.defaultHttpClient(LazyTlsContext.create()), aigw.core.secrets.ProviderCredentials.environmentOnly(),
          maxProviderAnswerBytes(options.env()));
    } catch (RuntimeException e) {
      if (database != null) {
        database.close();
      }
      throw e;
    }
    StartTimeline.mark("providers built");
    // Jetty's MimeTypes lists every locale the JDK knows when its class is initialised (a tenth of
    // the start-up in a profile), which the server's start after the database would wait for: done
    // here, while the database is still starting (invoke starts no server).
    if (!options.command().equals("invoke")) {
      org.eclipse.jetty.http.MimeTypes.isKnownLocale(java.util.Locale.ROOT);
      StartTimeline.mark("server classes initialised");
    } else if (database != null && !database.awaitStarted()) {
      database.client(); // invoke's handler needs the tables: a database that cannot start fails the command, with its reason
    }
    try {
      DynamoDbClient dynamo;
      SecretSource secret;
      SecretsManagerClient secrets;
      InMemorySecretsManager inMemorySecrets = null;
      LocalMasterKey masterKey = null;
      if (options.aws()) {
        secrets = AwsClients.secretsManager();
        dynamo = AwsClients.dynamoDb();
        secret = new SecretsManagerSecretSource(AwsClients.secretsManager(), options.masterKeySecretId());
        this.developmentMasterKey = false;
        LOG.info("Master key from " + secret.describe() + ".");
      } else {
        dynamo = database; // its tables made by startDatabase, when it starts
        inMemorySecrets = new InMemorySecretsManager(secretsClock);
        Path secretFiles = options.inMemory() ? null : options.dataDir().resolve("secrets");
        try {
          if (secretFiles != null) {
            LocalSecrets.load(inMemorySecrets, secretFiles);
          }
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
        LocalMasterKey startKey = LocalMasterKey.resolve(options.inMemory() ? null : options.dataDir(), env);
        startKey.logInForce(settings.masterKeyGrace(), Instant.now());
        masterKey = startKey;
        secrets = new LocalSecrets(inMemorySecrets, secretFiles);
        this.developmentMasterKey = masterKey.developmentDefault();
        // The master key lives in the in-memory Secrets Manager, read and rotated exactly as on AWS:
        // the same secret source (with its AWSPREVIOUS grace) and the same rotation handler.
        if (startKey.previousKey() != null) {
          // An earlier run rotated it: AWSPREVIOUS and AWSCURRENT as that rotation left them. The
          // secret source counts the grace from the current version's date with this process's
          // setting, so the version is dated at the rotation, or earlier when the end it announced
          // (master-key.previous) comes before rotation + this setting: either way the previous key
          // works until exactly LocalMasterKey.previousKeyValidUntil, never longer after a restart.
          secretsClock.pinned = startKey.previousKeyValidUntil(settings.masterKeyGrace()).minus(settings.masterKeyGrace());
          try {
            inMemorySecrets.createSecret(r -> r.name(LOCAL_MASTER_KEY_SECRET).secretString(startKey.previousKey()));
            inMemorySecrets.putSecretValue(r -> r.secretId(LOCAL_MASTER_KEY_SECRET).secretString(startKey.key()));
          } finally {
            secretsClock.pinned = null;
          }
        } else {
          inMemorySecrets.createSecret(r -> r.name(LOCAL_MASTER_KEY_SECRET).secretString(startKey.key()));
        }
        var rotation = new MasterKeyRotationHandler(new MasterKeyRotation(inMemorySecrets));
        inMemorySecrets.registerRotationFunction(LOCAL_ROTATION_FUNCTION, (id, token, step) ->
            rotation.handleRequest(Map.of("SecretId", id, "ClientRequestToken", token, "Step", step), null));
        secret = new SecretsManagerSecretSource(inMemorySecrets, LOCAL_MASTER_KEY_SECRET);
      }
      this.gateway = Gateway.over(settings, decorate.apply(dynamo), secret, models, providers, usageJournal(options), Clock.systemUTC());
      gateway.masterKey().load();
      StartTimeline.mark("master key loaded");
      replayKeptUsage(); // what an earlier run kept while DynamoDB refused it
      replayKeptLogs();
      if (!options.aws()) {
        useSqliteSpendLogs(settings, dynamo);
        StartTimeline.mark("spend logs opened");
      }
      // One policy for both functions and the server's own answers: its start-up line is logged once.
      this.cors = CorsPolicy.allowing(settings.corsAllowedOrigins());
      var proxyService = new ProxyService(gateway);
      this.proxy = new ProxyHandler(proxyService, cors);
      this.keySecrets = secrets;
      this.localSecretsManager = inMemorySecrets;
      this.localMasterKey = masterKey;
      var rotator =
          new VirtualKeyRotator(gateway.keyStore(), gateway.keyCache(), secrets,
              env.getOrDefault("AIGW_KEY_SECRET_PREFIX", VirtualKeyRotator.DEFAULT_SECRET_PREFIX), new LoggedRotationEvents(),
              gateway.clock());
      var adminService = new AdminService(gateway, rotator);
      this.admin = new AdminHandler(adminService, cors);
      // What the server serves: the same services as the handlers, without the API Gateway event
      // between, routed as API Gateway routes template.yaml's resources to the two functions.
      this.application = GatewayApplication.of(
          cors, request -> isAdminPath(request.path()) ? admin(adminService, request) : proxyService.handle(request));
      this.keyRotationSchedule = new KeyRotationScheduleHandler(rotator);
      StartTimeline.mark("gateway built");
    } catch (RuntimeException e) {
      if (spendLogs != null) {
        spendLogs.close();
      }
      if (database != null) {
        database.close(); // its threads are not daemons: left running, the JVM would never exit
      }
      throw e;
    }
  }

  /** An admin request: nearly all of them read or write the tables, so the database starts now if it has not. */
  private aigw.core.http.GatewayResponse admin(AdminService adminService, aigw.core.http.GatewayRequest request) {
    if (database != null) {
      database.startInBackground();
    }
    return adminService.handle(request);
  }

  /**
   * Keeps the spend logs in SQLite ({@link SqliteSpendLogs}): {@code DATA-DIR/spend-logs.db}, or in
   * memory with --in-memory; the rows an earlier version kept in the logs table move there.
   */
  private void useSqliteSpendLogs(GatewaySettings settings, DynamoDbClient dynamo) {
    // SQLite's native library, which DynamoDB Local would load when it starts: the spend logs open first.
    EmbeddedDynamoDb.useKeptNativeLibrary(SharedArchiveRelaunch.cacheDirectory(options.env()));
    NativeSqlite.load();
    spendLogs = SqliteSpendLogs.open(options.inMemory() ? null : options.dataDir().resolve(SqliteSpendLogs.FILE_NAME), settings.logs().retention());
    gateway.useSpendLogs(spendLogs, spendLogs);
    // Off the start's critical path (a cold Scan took 100-250 ms): reads wait for it. It waits for
    // the database without starting it (nor does anything it would be worth starting for).
    spendLogs.moveInBackground("the logs table's spend rows", () -> {
      if (database == null || database.awaitStarted()) {
        SpendRowsFromLogsTable.move(dynamo, settings.logs().table(), spendLogs);
      }
    });
  }

  /** Transactions that wrote spend-log rows (SQLite) since start; 0 with --aws, where they are DynamoDB writes. */
  public long spendLogTransactions() {
    return spendLogs == null ? 0 : spendLogs.transactions();
  }

  /**
   * The embedded database, in the data directory or in memory, with the template's tables (made
   * unless a data directory kept them). SQLite's native library is kept in the user's cache
   * directory ({@link EmbeddedDynamoDb#useKeptNativeLibrary}). Closed again if a table cannot be made.
   */
  static EmbeddedDynamoDb startDatabase(LocalOptions options, Map<String, String> tableNames) {
    StartTimeline.mark("database start");
    Path nativeLibraryCache = SharedArchiveRelaunch.cacheDirectory(options.env());
    var database = options.inMemory()
        ? EmbeddedDynamoDb.inMemory(nativeLibraryCache)
        : EmbeddedDynamoDb.inDirectory(options.dataDir(), nativeLibraryCache);
    StartTimeline.mark("database started");
    try (InputStream template = LocalGateway.class.getResourceAsStream(TEMPLATE_RESOURCE)) {
      TemplateTables.createAll(database.client(), template, tableNames);
    } catch (IOException | RuntimeException e) {
      database.close();
      throw e instanceof IOException io ? new UncheckedIOException(io) : (RuntimeException) e;
    }
    StartTimeline.mark("tables created");
    return database;
  }

  /** Builds the gateway without listening: for {@code invoke}. */
  public static LocalGateway create(LocalOptions options) {
    return build(options, UnaryOperator.identity(), LocalGateway::startDatabase);
  }

  /** Builds the gateway and listens on the configured address. */
  public static LocalGateway start(LocalOptions options) {
    return start(options, UnaryOperator.identity());
  }

  /** As {@link #start(LocalOptions)}, with the DynamoDB client wrapped (the benchmark counts calls). */
  public static LocalGateway start(LocalOptions options, UnaryOperator<DynamoDbClient> decorate) {
    return start(options, decorate, LocalGateway::startDatabase, DATABASE_START_DELAY);
  }

  /**
   * As {@link #start(LocalOptions, UnaryOperator)}, with the database started by {@code databaseStart}
   * at the latest {@code databaseStartDelay} after the server listens (tests).
   */
  static LocalGateway start(
      LocalOptions options, UnaryOperator<DynamoDbClient> decorate, DatabaseStart databaseStart, java.time.Duration databaseStartDelay) {
    var limits = ServerLimits.fromEnv(options.env()); // a bad value is refused before anything starts
    var hosts = AllowedHosts.of(options.env().get("AIGW_ALLOWED_HOSTS"));
    var gateway = build(options, decorate, databaseStart);
    try {
      // Everyone knows sk-development-only (README, events/admin-*), and a short key is guessed: on an
      // address others can reach, it would hand them /key/generate and every model. So would a long key of
      // a repeated pattern (40 times 'a').
      String weakness = gateway.localMasterKey == null ? null : gateway.localMasterKey.weakness();
      if (weakness != null && !isLoopback(options.host())) {
        throw new IllegalArgumentException("refusing to listen on " + options.host() + " with " + weakness + ". Set AIGW_MASTER_KEY to a"
            + " random secret of your own of at least " + LocalMasterKey.MIN_LENGTH_OFF_LOOPBACK + " characters and "
            + LocalMasterKey.MIN_BITS_OFF_LOOPBACK + " bits (openssl rand -hex 32),"
            + " or listen on 127.0.0.1 (the default).");
      }
      if (weakness != null && !gateway.developmentMasterKey) {
        LOG.warning("The master key is " + weakness + "; on 127.0.0.1 it is accepted, on any other address it is refused.");
      }
      // Usage, settlements and spend logs are written in the background by a group commit, off each
      // client's path (Gateway.startBackgroundWriters); close() flushes what is left.
      gateway.gateway.startBackgroundWriters();
      // Each route's body limit before its body is read, and admin routes on threads of their own.
      long maxModelRequestBytes = gateway.gateway.settings().maxRequestBytes();
      var routes = new LocalServer.Routes(path -> isAdminPath(path) ? AdminService.MAX_ADMIN_BODY_BYTES : maxModelRequestBytes, LocalGateway::isAdminPath);
      gateway.server = LocalServer.start(options.host(), options.port(), gateway.application, limits, hosts, routes);
      gateway.server.afterEachModelAnswer(gateway::afterModelAnswer);
      gateway.startSchedules(databaseStartDelay);
      StartTimeline.mark("listening");
    } catch (IOException | RuntimeException e) {
      gateway.close();
      throw e instanceof IOException io ? new UncheckedIOException("cannot listen on " + options.host() + ":" + options.port() + " (" + io.getMessage() + ")", io) : (RuntimeException) e;
    }
    return gateway;
  }

  /**
   * After each model answer, before the connection's next request is read: the database starts
   * after the first (if nothing started it before), and the spend-log backlog is waited on.
   */
  private void afterModelAnswer() {
    if (database != null) {
      database.startInBackground(); // a read of a flag once it has begun
    }
    gateway.awaitWriteRoomAfterAnswer();
  }

  /**
   * The latest the embedded database starts after the server listens when no request asked for it:
   * a request that needs it would otherwise wait for its whole start.
   */
  static final java.time.Duration DATABASE_START_DELAY = java.time.Duration.ofSeconds(1);

  /** Whether the embedded database has been asked to start; false with --aws (tests). */
  boolean databaseBegun() {
    return database != null && database.begun();
  }

  /**
   * Runs {@code failed} with the reason if the embedded database fails to start (it starts after the
   * server listens); never with --aws.
   */
  public void onDatabaseFailure(java.util.function.Consumer<Throwable> failed) {
    if (database != null) {
      database.onFailure(failed);
    }
  }

  /** How often usage kept during a DynamoDB outage is written again (also once at start). */
  static final java.time.Duration USAGE_REPLAY_INTERVAL = java.time.Duration.ofSeconds(30);
  /** The journal file in the data directory: one JSON line per usage delta DynamoDB refused. */
  static final String USAGE_JOURNAL_FILE = "usage-journal.jsonl";

  /**
   * Usage DynamoDB refused is kept in {@code DATA-DIR/usage-journal.jsonl}; in memory (nothing is
   * kept anyway) and with {@code --aws} (no data directory of ours) it goes to the log, as on Lambda.
   */
  private static UsageJournal usageJournal(LocalOptions options) {
    return options.aws() || options.inMemory()
        ? new LoggedUsageJournal()
        : new FileUsageJournal(options.dataDir().resolve(USAGE_JOURNAL_FILE));
  }

  /** Writes kept usage; a store still down leaves it kept for the next time. */
  public int replayKeptUsage() {
    try {
      return gateway.replayKeptUsage();
    } catch (RuntimeException e) {
      LOG.warning("Replaying kept usage failed: " + e.getMessage());
      return 0;
    }
  }

  /**
   * How often the spend log records of a batch not yet full are written (and at shutdown); a full
   * batch of 25 is written at once by the logs' own writer (DynamoDbLogs).
   */
  static final java.time.Duration LOG_FLUSH_INTERVAL = java.time.Duration.ofSeconds(1);

  /** Writes the spend records accepted so far; what DynamoDB refuses goes to DATA-DIR/logs-journal.jsonl. */
  public void flushLogs() {
    try {
      gateway.flushLogs();
    } catch (RuntimeException e) {
      LOG.warning("Writing spend logs failed (kept for the next try): " + e.getMessage());
    }
  }

  /**
   * The periodic write: the spend records of a batch not yet full (full ones are written as they
   * fill); returns at once when the table is slower than the traffic, so the schedules sharing its
   * thread (replays, rotation) keep their times.
   */
  private void flushPartialLogBatch() {
    try {
      gateway.flushLogsPartialBatch();
    } catch (RuntimeException e) {
      LOG.warning("Writing spend logs failed (kept for the next try): " + e.getMessage());
    }
  }

  /** Writes the spend and audit items kept while DynamoDB refused them. */
  public int replayKeptLogs() {
    try {
      int replayed = gateway.replayKeptLogs();
      if (replayed > 0 && spendLogs != null) {
        // Spend items an earlier version kept: replayed into the table, from there into SQLite.
        SpendRowsFromLogsTable.move(database, gateway.settings().logs().table(), spendLogs);
      }
      return replayed;
    } catch (RuntimeException e) {
      LOG.warning("Replaying kept log items failed: " + e.getMessage());
      return 0;
    }
  }

  /**
   * {@code AIGW_MAX_PROVIDER_ANSWER_BYTES}: the most of a whole provider answer the local gateway reads
   * (default {@link aigw.core.providers.http.UpstreamHttp#DEFAULT_MAX_ANSWER_BYTES}, Lambda's bound).
   */
  static int maxProviderAnswerBytes(Map<String, String> env) {
    String text = env.get("AIGW_MAX_PROVIDER_ANSWER_BYTES");
    if (text == null || text.isBlank()) {
      return aigw.core.providers.http.UpstreamHttp.DEFAULT_MAX_ANSWER_BYTES;
    }
    try {
      int bytes = Integer.parseInt(text.strip());
      if (bytes < 1) {
        throw new NumberFormatException();
      }
      return bytes;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("AIGW_MAX_PROVIDER_ANSWER_BYTES must be a whole number of bytes from 1 up, got '" + text + "'");
    }
  }

  /** Whether {@code host} (an address or a name) is a loopback address only this machine can reach. */
  static boolean isLoopback(String host) {
    try {
      return java.net.InetAddress.getByName(host).isLoopbackAddress();
    } catch (java.net.UnknownHostException e) {
      return false; // listening fails on it anyway
    }
  }

  private static ModelList.Config models(LocalOptions options) {
    if (options.config() != null) {
      return ModelList.readConfig(options.config(), options.env());
    }
    try (InputStream bundled = LocalGateway.class.getResourceAsStream(BUNDLED_CONFIG)) {
      return bundled == null ? ModelList.Config.empty() : ModelList.readConfig(bundled, "the bundled config.example.yaml", options.env());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * The key rotation schedule, as EventBridge runs KeyRotationScheduleFunction on AWS: the same
   * handler, every {@code --rotation-check-seconds}.
   */
  private void startSchedules(java.time.Duration databaseStartDelay) {
    scheduler = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().daemon().name("aigw-rotation").unstarted(r));
    if (database != null) {
      scheduler.schedule(database::startInBackground, databaseStartDelay.toMillis(), TimeUnit.MILLISECONDS);
    }
    scheduler.schedule(LazyTlsContext::makeDefaultInBackground, databaseStartDelay.toMillis(), TimeUnit.MILLISECONDS);
    long replayEvery = USAGE_REPLAY_INTERVAL.toMillis();
    scheduler.scheduleWithFixedDelay(this::replayKeptUsage, replayEvery, replayEvery, TimeUnit.MILLISECONDS);
    scheduler.scheduleWithFixedDelay(this::replayKeptLogs, replayEvery, replayEvery, TimeUnit.MILLISECONDS);
    long flushEvery = LOG_FLUSH_INTERVAL.toMillis();
    scheduler.scheduleWithFixedDelay(this::flushPartialLogBatch, flushEvery, flushEvery, TimeUnit.MILLISECONDS);
    if (!options.rotationCheck().isZero()) {
      long every = options.rotationCheck().toMillis();
      scheduler.scheduleWithFixedDelay(this::runKeyRotationSchedule, every, every, TimeUnit.MILLISECONDS);
    }
    if (!options.masterKeyRotation().isZero()) {
      long every = options.masterKeyRotation().toMillis();
      scheduler.scheduleWithFixedDelay(this::rotateMasterKey, every, every, TimeUnit.MILLISECONDS);
    }
  }

  /**
   * Rotates the master key as Secrets Manager's schedule would (RotateSecret, the four steps), then
   * hands the new key to the developer in {@code DATA-DIR/master-key}, readable by its owner only.
   */
  public void rotateMasterKey() {
    try {
      rotateMasterKey(null);
    } catch (IOException | RuntimeException e) {
      LOG.warning("Master key rotation failed: " + e.getMessage());
    }
  }

  /**
   * One rotation of the local master key with this ClientRequestToken (null: a new one), playing
   * Secrets Manager's part: RotateSecret stages the version and invokes the rotation handler for
   * createSecret, setSecret, testSecret and finishSecret, in order. Returns where the new key is:
   * {@code DATA-DIR/master-key}, or null in memory, where nothing is kept (a dry run).
   */
  public Path rotateMasterKey(String clientRequestToken) throws IOException {
    if (localSecretsManager == null) {
      throw new IllegalStateException("with --aws, rotate the master key with aws secretsmanager rotate-secret");
    }
    localSecretsManager.rotateSecret(
        r -> r.secretId(LOCAL_MASTER_KEY_SECRET).rotationLambdaARN(LOCAL_ROTATION_FUNCTION).clientRequestToken(clientRequestToken));
    var current = localSecretsManager.getSecretValue(r -> r.secretId(LOCAL_MASTER_KEY_SECRET));
    String key = SecretsManagerSecretSource.parse(current.secretString(), LOCAL_MASTER_KEY_SECRET);
    String previous = SecretsManagerSecretSource.parse(
        localSecretsManager.getSecretValue(r -> r.secretId(LOCAL_MASTER_KEY_SECRET).versionStage(InMemorySecretsManager.PREVIOUS)).secretString(),
        LOCAL_MASTER_KEY_SECRET);
    Instant graceEnd = current.createdDate().plus(gateway.settings().masterKeyGrace());
    if (options.inMemory()) {
      // A dry run: the rotation handler ran, nothing is kept and the next start uses the same key as before.
      LOG.info("Master key rotated in memory only (" + aigw.core.keys.ApiKeys.mask(key) + "): nothing is kept.");
      return null;
    }
    Path file = LocalMasterKey.write(options.dataDir(), key, previous, current.createdDate(), graceEnd);
    LOG.info("Master key rotated: the new one (" + aigw.core.keys.ApiKeys.mask(key) + ") is in " + file.toAbsolutePath()
        + "; the previous one (" + LocalMasterKey.maskOrDefault(previous) + ") works until " + graceEnd + ", also after a restart.");
    return file;
  }

  /** When the key a rotation replaced stops working; null when it never rotated (or with --aws). */
  public Instant previousMasterKeyValidUntil() {
    if (localSecretsManager == null) {
      return null;
    }
    try {
      localSecretsManager.getSecretValue(r -> r.secretId(LOCAL_MASTER_KEY_SECRET).versionStage(InMemorySecretsManager.PREVIOUS));
    } catch (software.amazon.awssdk.services.secretsmanager.model.ResourceNotFoundException none) {
      return null;
    }
    return localSecretsManager.getSecretValue(r -> r.secretId(LOCAL_MASTER_KEY_SECRET)).createdDate()
        .plus(gateway.settings().masterKeyGrace());
  }

  /** Which master key this process started with, and from where (null with --aws). */
  LocalMasterKey startMasterKey() {
    return localMasterKey;
  }

  /** The master key now (AWSCURRENT of the local secret); with --aws, not available here. */
  public String currentMasterKey() {
    if (localSecretsManager == null) {
      throw new IllegalStateException("with --aws the master key is in Secrets Manager: aws secretsmanager get-secret-value");
    }
    return SecretsManagerSecretSource.parse(
        localSecretsManager.getSecretValue(r -> r.secretId(LOCAL_MASTER_KEY_SECRET)).secretString(), LOCAL_MASTER_KEY_SECRET);
  }

  /** One run of the key rotation schedule; what it did is logged by the rotator. */
  public Map<String, Object> runKeyRotationSchedule() {
    try {
      return keyRotationSchedule.handleRequest(Map.of(), null);
    } catch (RuntimeException e) {
      LOG.warning("Key rotation run failed: " + e.getMessage());
      return Map.of("error", String.valueOf(e.getMessage()));
    }
  }

  /** The secrets rotated keys are written to (rotation_secret): in memory unless --aws. */
  public SecretsManagerClient keySecrets() {
    return keySecrets;
  }

  /**
   * The HTTP application the server serves: admin routes ({@link #isAdminPath}) answered as
   * AdminFunction answers them, every other path as ProxyFunction, with CORS, {@code HEAD} and
   * error envelopes as on AWS.
   */
  public GatewayApplication application() {
    return application;
  }

  /**
   * Runs one function's Lambda handler on an API Gateway event, as {@code sam local invoke} does:
   * the adapter from the event to the application is part of what this tests.
   */
  public ProxyResponseEvent invoke(String function, ProxyRequestEvent event) {
    return switch (function) {
      case "proxy", "ProxyFunction" -> proxy.handleRequest(event, null);
      case "admin", "AdminFunction" -> admin.handleRequest(event, null);
      default -> throw new IllegalArgumentException("unknown function '" + function + "': use proxy, admin or rotation");
    };
  }

  /**
   * Which paths API Gateway sends to AdminFunction: those under a resource of {@link
   * aigw.admin.AdminRoutes} (template.yaml's {@code /<resource>/{proxy+}}); every other goes to ProxyFunction.
   */
  static boolean isAdminPath(String path) {
    return aigw.admin.AdminRoutes.isAdminPath(path);
  }

  public URI baseUrl() {
    return URI.create("http://" + hostForUrl() + ":" + server.port());
  }

  private String hostForUrl() {
    String host = options.host();
    return host.contains(":") ? "[" + host + "]" : host;
  }

  public int port() {
    return server.port();
  }

  public Gateway gateway() {
    return gateway;
  }

  public boolean usesDevelopmentMasterKey() {
    return developmentMasterKey;
  }

  /** Where the model list came from: the --config file, or the bundled example. */
  public String configDescription() {
    return options.config() != null ? options.config().toAbsolutePath().normalize().toString() : "the bundled config.example.yaml";
  }

  /** Whether the model list is the bundled example (no --config). */
  public boolean usesBundledConfig() {
    return options.config() == null;
  }

  public String storageDescription() {
    if (options.aws()) {
      return "DynamoDB table " + gateway.settings().keysTable() + " (AWS), master key from " + gateway.masterKey().describe();
    }
    return options.inMemory()
        ? "embedded DynamoDB Local and SQLite spend logs, in memory (nothing is kept)"
        : "embedded DynamoDB Local and SQLite spend logs (spend-logs.db), data in " + options.dataDir().toAbsolutePath().normalize();
  }

  /**
   * Stops the server (no new requests; streams in flight end), then writes every usage delta handed
   * over (to DynamoDB, else the journal, else the log) before the database stops. The JVM's
   * shutdown hook (Ctrl-C, SIGTERM) calls this.
   */
  @Override
  public void close() {
    if (scheduler != null) {
      scheduler.shutdownNow();
    }
    if (server != null) {
      server.stop();
    }
    if (gateway != null && !gateway.closeWrites()) {
      LOG.severe("Some usage could be written neither to DynamoDB nor to the journal; it is in the log as "
          + aigw.core.usage.LoggedUsageJournal.MARKER + " records (docs/operations.md)");
    }
    if (gateway != null) {
      flushLogs(); // the records accepted since the last flush, before the database closes
    }
    if (database != null) {
      database.cancelIfNotBegun(); // nothing needed it: not started now (a move waiting for it ends)
    }
    if (spendLogs != null) {
      spendLogs.close();
    }
    if (database != null) {
      database.close();
    }
    if (lock != null) {
      lock.close(); // last: the database files are closed by now
    }
  }

  /** {@link Clock#systemUTC()}, except while {@code pinned} is set. */
  private static final class RestoringClock extends Clock {
    volatile Instant pinned;

    @Override
    public Instant instant() {
      Instant at = pinned;
      return at != null ? at : Instant.now();
    }

    @Override
    public java.time.ZoneId getZone() {
      return java.time.ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      throw new UnsupportedOperationException();
    }
  }
}

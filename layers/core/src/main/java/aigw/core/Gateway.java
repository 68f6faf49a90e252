package aigw.core;

import aigw.core.auth.Authenticator;
import aigw.core.aws.AwsClients;
import aigw.core.config.Deployment;
import aigw.core.config.ModelList;
import aigw.core.config.Router;
import aigw.core.config.RouterSettings;
import aigw.core.keys.KeyCache;
import aigw.core.keys.KeyStore;
import aigw.core.keys.dynamodb.DynamoDbKeyStore;
import aigw.core.keys.dynamodb.DynamoDbUsageRecorder;
import aigw.core.providers.Providers;
import aigw.core.providers.openai.OpenAiCompatibleProvider;
import aigw.core.routing.FailoverPolicy;
import aigw.core.secrets.MasterKey;
import aigw.core.secrets.ProviderCredentials;
import aigw.core.secrets.SecretSource;
import aigw.core.secrets.SecretsManagerSecretSource;
import aigw.core.secrets.StaticSecretSource;
import aigw.core.teams.TeamCache;
import aigw.core.teams.TeamStore;
import aigw.core.teams.dynamodb.DynamoDbTeamStore;
import aigw.core.usage.DurableUsageRecorder;
import aigw.core.usage.LoggedUsageJournal;
import aigw.core.usage.UsageJournal;
import aigw.core.usage.UsageRecorder;
import aigw.core.usage.WriteBehindUsageRecorder;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.function.Supplier;
import java.util.logging.Logger;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.secretsmanager.SecretsManagerClient;

/**
 * The composition root: everything a handler needs, built once per container. Lambda builds it
 * from the environment; {@code local/} and tests build it from their own parts.
 */
public final class Gateway {
  private static final Logger LOG = Logger.getLogger(Gateway.class.getName());

  private final GatewaySettings settings;
  private final Clock clock;
  private final KeyStore keyStore;
  private final KeyCache keyCache;
  private final TeamStore teamStore;
  private final TeamCache teamCache;
  private final WriteBehindUsageRecorder usage;
  private final DurableUsageRecorder durableUsage;
  private final MasterKey masterKey;
  private final Authenticator authenticator;
  private final Router router;
  private final Providers providers;
  private final FailoverPolicy failover;
  // Accounting collaborators (issue 13): each starts as the do-nothing form and is wired by the
  // slice that implements it. One field per collaborator, so the slices do not collide.
  private final aigw.core.cost.CostCalculator costs = aigw.core.cost.TokenCostCalculator.builtIn(); // litellm_params prices over the built-in table
  // Rate limits, parallel slots, budgets: over the keys table when the gateway has one (over(...)).
  private aigw.core.limits.LimitEngine limits;
  // The spend and audit logs: null when the gateway was built without a DynamoDB client (then
  // nothing is kept and nothing is read). Set by over(...) before the gateway is handed out.
  private aigw.core.spend.dynamodb.DynamoDbLogs logs;
  // Where spend-log rows go and are read from: the logs table (logs) unless a runtime gives a store of
  // its own (useSpendLogs: the local gateway's SQLite file); null without either.
  private aigw.core.spend.WriteBehindSpendLogs spend;
  private aigw.core.spend.SpendLogReader spendReader;
  // Usage as DynamoDB writes, and the one transaction a flush sends: null without a DynamoDB client.
  private aigw.core.keys.dynamodb.DynamoDbUsageRecorder usageItems;
  private aigw.core.usage.AfterAnswerWrites together;
  // The local gateway's group-commit writer (startBackgroundWriters); never on Lambda.
  private Thread groupCommitter;
  /** Counted down by closeWrites: the group commit ends its write in flight and stops (never interrupted: an interrupted call may have landed). */
  private final java.util.concurrent.CountDownLatch stopWrites = new java.util.concurrent.CountDownLatch(1);

  public Gateway(
      GatewaySettings settings,
      Clock clock,
      KeyStore keyStore,
      UsageRecorder usage,
      SecretSource masterKeySource,
      List<Deployment> models,
      Providers providers) {
    this(settings, clock, keyStore, usage, new LoggedUsageJournal(), masterKeySource, new ModelList.Config(models, RouterSettings.defaults()), providers);
  }

  /**
   * @param usageJournal where usage the store cannot take is kept to be replayed (a file locally,
   *     the log on Lambda)
   * @param models the model list and its router settings (retries, fallbacks, cooldowns)
   */
  public Gateway(
      GatewaySettings settings,
      Clock clock,
      KeyStore keyStore,
      UsageRecorder usage,
      UsageJournal usageJournal,
      SecretSource masterKeySource,
      ModelList.Config models,
      Providers providers) {
    this(settings, clock, keyStore, TeamStore.NONE, usage, usageJournal, masterKeySource, models, providers);
  }

  /** As above, with the store of the teams keys may belong to. */
  public Gateway(
      GatewaySettings settings,
      Clock clock,
      KeyStore keyStore,
      TeamStore teamStore,
      UsageRecorder usage,
      UsageJournal usageJournal,
      SecretSource masterKeySource,
      ModelList.Config models,
      Providers providers) {
    this(settings, clock, keyStore, teamStore, usage, usageJournal, masterKey(settings, masterKeySource, clock), models, providers);
  }

  /** As above, over a master key already made (and perhaps read: Lambda's init reads it beside its second thread). */
  private Gateway(
      GatewaySettings settings,
      Clock clock,
      KeyStore keyStore,
      TeamStore teamStore,
      UsageRecorder usage,
      UsageJournal usageJournal,
      MasterKey masterKey,
      ModelList.Config models,
      Providers providers) {
    this.settings = settings;
    this.clock = clock;
    this.teamStore = teamStore;
    this.teamCache = new TeamCache(teamStore, clock, settings.keyCacheTtl()); // one TTL for keys and teams
    this.durableUsage = new DurableUsageRecorder(usage, usageJournal);
    // Usage leaves the client's path: handed over, written after the answer (docs/architecture.md, step 8).
    this.usage = new WriteBehindUsageRecorder(durableUsage, WriteBehindUsageRecorder.DEFAULT_MAX_BACKLOG);
    // Reads of usage in this process count what it handed over (/key/info right after an answer).
    this.keyStore = new UsageFlushingKeyStore(keyStore, this.usage);
    this.keyCache = new KeyCache(this.keyStore, clock, settings.keyCacheTtl());
    this.masterKey = masterKey;
    this.authenticator = new Authenticator(masterKey, keyCache, teamCache);
    this.router = new Router(models.deployments());
    this.providers = providers;
    this.failover = new FailoverPolicy(models.router(), providers::call, router::rotation, clock);
    this.limits = aigw.core.limits.LimitEngine.withoutStore(clock);
  }

  /** The usual wiring over a DynamoDB client: keys and usage in the table the settings name. */
  public static Gateway over(
      GatewaySettings settings, DynamoDbClient dynamo, SecretSource masterKeySource, List<Deployment> models, Clock clock) {
    return over(settings, dynamo, masterKeySource, models, new Providers(OpenAiCompatibleProvider.defaultHttpClient()), clock);
  }

  public static Gateway over(
      GatewaySettings settings,
      DynamoDbClient dynamo,
      SecretSource masterKeySource,
      List<Deployment> models,
      Providers providers,
      Clock clock) {
    return over(settings, dynamo, masterKeySource, new ModelList.Config(models, RouterSettings.defaults()), providers, new LoggedUsageJournal(), clock);
  }

  /** As above, with the config file's router settings; usage DynamoDB refuses goes to the log (as on Lambda). */
  public static Gateway over(
      GatewaySettings settings,
      DynamoDbClient dynamo,
      SecretSource masterKeySource,
      ModelList.Config models,
      Providers providers,
      Clock clock) {
    return over(settings, dynamo, masterKeySource, models, providers, new LoggedUsageJournal(), clock);
  }

  /** The usual wiring with the config file's router settings, keeping usage DynamoDB refuses in {@code usageJournal}. */
  public static Gateway over(
      GatewaySettings settings,
      DynamoDbClient dynamo,
      SecretSource masterKeySource,
      ModelList.Config models,
      Providers providers,
      UsageJournal usageJournal,
      Clock clock) {
    return over(settings, dynamo, masterKey(settings, masterKeySource, clock), models, providers, usageJournal, clock);
  }

  private static Gateway over(
      GatewaySettings settings,
      DynamoDbClient dynamo,
      MasterKey masterKey,
      ModelList.Config models,
      Providers providers,
      UsageJournal usageJournal,
      Clock clock) {
    var gateway = new Gateway(
        settings,
        clock,
        new DynamoDbKeyStore(dynamo, settings.keysTable()),
        new DynamoDbTeamStore(dynamo, settings.keysTable()),
        new DynamoDbUsageRecorder(dynamo, settings.keysTable()),
        usageJournal,
        masterKey,
        models,
        providers);
    gateway.usageItems = new aigw.core.keys.dynamodb.DynamoDbUsageRecorder(dynamo, settings.keysTable());
    gateway.together = new aigw.core.usage.AfterAnswerWrites(dynamo);
    gateway.limits = new aigw.core.limits.LimitEngine(dynamo, settings.keysTable(), clock);
    gateway.logs = new aigw.core.spend.dynamodb.DynamoDbLogs(
        dynamo, settings.logs().table(), settings.logs().retention(), logJournalBeside(usageJournal));
    gateway.spend = gateway.logs;
    gateway.spendReader = gateway.logs;
    return gateway;
  }

  /** The master key over {@code source}, cached and re-read as the settings say (AIGW_MASTER_KEY_TTL_SECONDS...). */
  private static MasterKey masterKey(GatewaySettings settings, SecretSource source, Clock clock) {
    return new MasterKey(source, clock, settings.masterKeyTtl(), settings.masterKeyRecheck(), settings.masterKeyGrace());
  }

  /**
   * Keeps the spend logs in {@code store} instead of the logs table (audit events stay there): the
   * local gateway's SQLite file, which takes a row for a few microseconds where DynamoDB Local takes
   * about 500 (docs/architecture.md, "Spend and audit logs"). Call before the gateway serves.
   */
  public void useSpendLogs(aigw.core.spend.WriteBehindSpendLogs store, aigw.core.spend.SpendLogReader reader) {
    this.spend = java.util.Objects.requireNonNull(store);
    this.spendReader = java.util.Objects.requireNonNull(reader);
  }

  /**
   * The spend and audit log journal, kept where the usage journal is: a file beside the local
   * gateway's usage journal file, the log otherwise (Lambda).
   */
  private static aigw.core.spend.dynamodb.LogJournal logJournalBeside(UsageJournal usageJournal) {
    return usageJournal instanceof aigw.core.usage.FileUsageJournal file
        ? new aigw.core.spend.dynamodb.FileLogJournal(file.file().resolveSibling(aigw.core.spend.dynamodb.FileLogJournal.FILE_NAME))
        : new aigw.core.spend.dynamodb.LoggedLogJournal();
  }

  /**
   * Lambda's wiring. On AWS the master key comes only from Secrets Manager: with no secret
   * configured or readable the function refuses to start rather than fall back to a known key.
   */
  public static Gateway fromEnvironment(Map<String, String> env) {
    return fromEnvironment(env, false);
  }

  /**
   * @param callsProviders whether this is the proxy function: it calls providers and so may read the
   *     provider credentials secret (AIGW_PROVIDER_SECRET_ID), which the admin function is not
   *     granted; and it serves only model routes, so it reads the master key only if the master key
   *     may call models (AIGW_ALLOW_MASTER_KEY_FOR_MODELS). Otherwise it holds none ({@link
   *     SecretSource#NOT_HELD}; its role has no access to the secret either): the master key is an
   *     unknown key there (401), and a compromised proxy function cannot read it.
   */
  public static Gateway fromEnvironment(Map<String, String> env, boolean callsProviders) {
    return fromEnvironment(env, callsProviders, AwsClients::secretsManager, AwsClients::dynamoDb);
  }

  /** As above, with the AWS clients made by {@code secretsManager} and {@code dynamoDb} (tests: stand-ins). */
  static Gateway fromEnvironment(
      Map<String, String> env, boolean callsProviders, Supplier<SecretsManagerClient> secretsManager, Callable<DynamoDbClient> dynamoDb) {
    var settings = GatewaySettings.fromEnvironment(env);
    // Init's two independent halves: the JDK's TLS context (its trust store read: about a quarter of
    // this init's CPU), the model list file (Jackson and SnakeYAML) and the providers' HTTP client
    // (the JDK's HTTP classes) are made on a second thread while this one builds the Secrets Manager
    // client and reads the secrets, the master key included (the AWS SDK's classes, the larger
    // half). The SDK clients' url-connection client makes its own TLS context only at the first
    // secret read or when the DynamoDB client is built (AwsClients.httpClient), by when the JDK has
    // the trust store and its TLS classes ready. Once its part of the join is handed over, the
    // second thread builds the DynamoDB client unless this thread has taken it (a FutureTask runs
    // once, and a second run() returns at once), then makes the runtime's event serializer, which
    // the runtime would make on this thread after the handler's constructor. Building the DynamoDB
    // client while this thread calls Secrets Manager is safe: SDK clients are thread-safe,
    // each thread has its own builder, and the SDK's process-wide state is immutable, JVM-initialised
    // or lazily made under a lock (docs/architecture.md, "Performance", session 13, has the evidence
    // and the figures).
    var dynamo = new FutureTask<DynamoDbClient>(dynamoDb);
    var aside = new CompletableFuture<Aside>();
    Thread.ofPlatform().name("aigw-init").daemon().start(() -> {
      try {
        defaultTlsContext();
        aside.complete(new Aside(
            settings.configFile() == null ? null : ModelList.parse(Path.of(settings.configFile())),
            callsProviders ? OpenAiCompatibleProvider.defaultHttpClient() : null));
      } catch (Throwable failure) {
        aside.completeExceptionally(failure);
        return;
      }
      // Past the join: the runtime's thread waits for these only where it needs them (the client at
      // built(dynamo), the serializer's class when the runtime loads it after the constructor).
      dynamo.run();
      aigw.core.lambda.ApiGatewayEventSerializer.Ahead.prepare();
    });
    SecretSource secret;
    if (callsProviders && !settings.allowMasterKeyForModels()) {
      secret = SecretSource.NOT_HELD;
      LOG.info("Master-key model calls are off (AIGW_ALLOW_MASTER_KEY_FOR_MODELS): this function does not read the master key.");
    } else if (settings.masterKeySecretId() != null) {
      secret = new SecretsManagerSecretSource(secretsManager.get(), settings.masterKeySecretId());
    } else if (env.containsKey("AWS_LAMBDA_FUNCTION_NAME")) {
      LOG.severe("AIGW_MASTER_KEY_SECRET_ID is not set: on AWS the master key must come from Secrets Manager. Not starting.");
      throw new IllegalStateException("AIGW_MASTER_KEY_SECRET_ID is not set");
    } else {
      secret = StaticSecretSource.fromEnvironment(env);
    }
    Clock clock = Clock.systemUTC();
    ProviderCredentials credentials = ProviderCredentials.environmentOnly();
    Map<String, String> names = env;
    String providerSecret = env.get("AIGW_PROVIDER_SECRET_ID");
    if (callsProviders && providerSecret != null && !providerSecret.isBlank()) {
      // Read again at each call once stale (and after a SnapStart restore): see ProviderCredentials.
      credentials = ProviderCredentials.overSecret(env, secretsManager.get(), providerSecret.trim(), clock);
      names = credentials.names();
    }
    // Read here, beside the second thread, not once the gateway is made after the join: the admin
    // function's first Secrets Manager call (the SDK's call pipeline, signing, the JSON protocol:
    // about 600 classes) is this read. The same MasterKey then serves, so it is re-read as before:
    // once stale (AIGW_MASTER_KEY_TTL_SECONDS), on a key that does not match, and after a SnapStart
    // restore (renewAfterRestore).
    MasterKey masterKey = masterKey(settings, secret, clock);
    try {
      masterKey.load();
    } catch (SecretSource.SecretUnavailable e) {
      LOG.severe("Cannot read the master key from " + secret.describe() + ": " + e.getMessage() + ". Not starting.");
      throw e;
    }
    dynamo.run(); // here if the second thread has not taken it yet
    Aside made = join(aside);
    ModelList.Config models = made.modelList() == null ? ModelList.Config.empty() : ModelList.resolve(made.modelList(), names);
    // The admin function calls no provider: its client is built only if something ever does, not at
    // init (the JDK client is a good part of a cold start; the TLS context it would use is made
    // anyway, for the SDK's HTTPS calls).
    var http = callsProviders
        ? made.http()
        : new aigw.core.providers.http.LazyHttpClient(OpenAiCompatibleProvider::defaultHttpClient);
    var gateway = over(settings, built(dynamo), masterKey, models, new Providers(http, credentials), new LoggedUsageJournal(), clock);
    gateway.router.startAtRandom(new SecureRandom());
    return gateway;
  }

  /**
   * Makes the JDK's default TLS context: its trust store (the JDK's CA certificates) and TLS
   * classes, which any later TLS context of this process reuses (the SDK's url-connection client's,
   * the providers' {@code HttpClient}'s). Both functions need it at init on AWS: their secret read is
   * an HTTPS call.
   */
  private static void defaultTlsContext() {
    try {
      javax.net.ssl.SSLContext.getDefault();
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JDK's default TLS context cannot be made: " + e.getMessage(), e);
    }
  }

  /** What {@link #fromEnvironment(Map, boolean)} makes beside the secrets: the model list file read, the providers' client. */
  private record Aside(ModelList.Parsed modelList, java.net.http.HttpClient http) {}

  /** The DynamoDB client, or its build's failure (no region, say) as it was thrown on either thread. */
  static DynamoDbClient built(FutureTask<DynamoDbClient> dynamo) {
    try {
      return dynamo.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while the DynamoDB client was built", e);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException failure) {
        throw failure;
      }
      if (e.getCause() instanceof Error failure) {
        throw failure;
      }
      throw new IllegalStateException(e.getCause());
    }
  }

  /** The second init thread's result, or its failure (an invalid model list) as it was thrown there. */
  private static Aside join(CompletableFuture<Aside> aside) {
    try {
      return aside.join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof RuntimeException failure) {
        throw failure;
      }
      if (e.getCause() instanceof Error failure) {
        throw failure;
      }
      throw e;
    }
  }

  /**
   * After a SnapStart restore: what init read or chose may be stale or shared with every other
   * environment restored from the same snapshot. The master key and the provider credentials are
   * read again at their next use, the deployments' cooldowns are forgotten, and the round-robin turns start at random (SecureRandom is
   * snapshot-safe on Lambda's Java runtimes). docs/architecture.md lists what init holds and why the
   * rest is safe.
   */
  public void renewAfterRestore() {
    masterKey.expire();
    providers.credentials().expire();
    router.startAtRandom(new SecureRandom());
    failover.cooldowns().forgetAll();
    limits.forgetAll(); // no lease or holder id of the snapshot may be shared by the restored environments
  }

  public GatewaySettings settings() {
    return settings;
  }

  public Clock clock() {
    return clock;
  }

  public KeyStore keyStore() {
    return keyStore;
  }

  public KeyCache keyCache() {
    return keyCache;
  }

  /** The teams keys may belong to (items in the keys table). */
  public TeamStore teamStore() {
    return teamStore;
  }

  /** This container's cache of teams, with the key cache's TTL; team changes evict from it. */
  public TeamCache teamCache() {
    return teamCache;
  }

  /** Where the proxy hands usage over: returns at once, written after the answer ({@link #usageWriter}). */
  public UsageRecorder usage() {
    return usage;
  }

  /** The usage writer behind {@link #usage} (its backlog, a flush of one key). */
  public WriteBehindUsageRecorder usageWriter() {
    return usage;
  }

  // What the answers hand over to be written after them (write-behind): limit settlements, usage,
  // spend logs; another write-behind queue joins each of the four methods below, and every runtime follows.

  /**
   * Writes everything answers handed over so far (to DynamoDB, else the journal). The runtimes call
   * it after each response: on Lambda inside the invocation, before the next one is asked for. What
   * is pending goes in <b>one</b> {@code TransactWriteItems} (limit settlements, usage, spend-log
   * rows: {@link aigw.core.usage.AfterAnswerWrites}); what that cannot take, or a transaction that fails, is written
   * by each queue's own writer as before.
   *
   * @return false when some of it could be written nowhere and is still held, to try again
   */
  public boolean flushWrites() {
    return flushWrites(true);
  }

  /**
   * @param logsTogether whether the spend-log rows join the transaction (2 write units a row) or go
   *     by BatchWriteItem, 25 a call at 1 unit a row: together on Lambda, where one row waits per
   *     invocation and a separate call would be a second write; by batch under the local group
   *     commit, where rows fill batches: there a full batch is written as soon as it is full
   *     ({@code DynamoDbLogs.record}) and the rest by the local gateway's periodic {@link #flushLogs}
   *     and at shutdown, not here
   */
  private boolean flushWrites(boolean logsTogether) {
    if (together != null) {
      var sources = new java.util.ArrayList<java.util.function.IntFunction<aigw.core.usage.WrittenTogether>>(3);
      // Limit ends first: a parallel slot is free again as soon as possible (the next request may come at once).
      sources.add(limits::takeEndingsTogether);
      sources.add(max -> usage.takeTogether(usageItems::transactItem, max));
      if (logsTogether && logs != null && spend == logs) {
        sources.add(logs::takeTogether);
      }
      together.write(sources);
    }
    boolean limitsEnded = limits.flushEndings();
    boolean usageKept = usage.flush();
    if (logsTogether) {
      try {
        flushLogs(); // the spend-log records of the calls just served
      } catch (RuntimeException notKept) {
        // Neither written nor journalled: the records are still pending and go with the next flush.
        LOG.log(java.util.logging.Level.WARNING, "Spend-log records could not be written yet: " + notKept.getMessage());
      }
    }
    return usageKept && limitsEnded;
  }

  /**
   * How long the local gateway's group commit gathers what answers hand over before writing it:
   * every request of a key in that time adds to one usage write, every settlement of a scope to
   * one update, and both go in one call (docs/limits.md, "One write after the answer"). Short
   * beside {@code LimitEngine.SETTLEMENT_WAITS} (150 ms), so a slot held by an answered call in
   * another gateway is free before a request there is refused for want of it.
   */
  static final java.time.Duration GROUP_COMMIT_WINDOW = java.time.Duration.ofMillis(20);
  /** The pause after a flush that left something unwritten (DynamoDB and the journal refused it). */
  static final java.time.Duration GROUP_COMMIT_RETRY_PAUSE = java.time.Duration.ofSeconds(1);

  /**
   * Starts the background group commit (the local gateway; never on Lambda): one daemon thread that
   * every {@link #GROUP_COMMIT_WINDOW} writes the limit settlements and usage that answers handed
   * over, as {@link #flushWrites} does; spend-log rows are written by their store's own writer
   * (DynamoDbLogs: BatchWriteItem, 25 a call, as soon as a batch is full; the local gateway's SQLite
   * store: one transaction per drain), the rest with {@link #flushLogs} (the local gateway's
   * schedule, its shutdown).
   * {@link #closeWrites} stops it after a last flush. Call once.
   */
  public void startBackgroundWriters() {
    synchronized (this) {
      if (groupCommitter != null) {
        throw new IllegalStateException("background writers already started");
      }
      groupCommitter = Thread.ofPlatform().daemon().name("aigw-group-commit").start(this::groupCommitUntilStopped);
    }
  }

  private void groupCommitUntilStopped() {
    long pause = GROUP_COMMIT_WINDOW.toMillis();
    while (true) {
      try {
        if (stopWrites.await(pause, java.util.concurrent.TimeUnit.MILLISECONDS)) {
          return; // closeWrites flushes what is left
        }
      } catch (InterruptedException stop) {
        Thread.currentThread().interrupt();
        return;
      }
      pause = GROUP_COMMIT_WINDOW.toMillis();
      if (usage.backlog() == 0 && limits.pendingEndings() == 0) {
        continue;
      }
      try {
        if (!groupCommitOnce()) {
          pause = GROUP_COMMIT_RETRY_PAUSE.toMillis(); // kept in the queues; tried again after the pause
        }
      } catch (RuntimeException unexpected) {
        LOG.log(java.util.logging.Level.WARNING, "The group commit failed; trying again in " + GROUP_COMMIT_RETRY_PAUSE, unexpected);
        pause = GROUP_COMMIT_RETRY_PAUSE.toMillis();
      }
    }
  }

  /**
   * One window of the local group commit: the settlements and the usage that wait go in one call;
   * the settlements that answers hand over meanwhile go in the next calls at once, as at any flush,
   * each carrying the usage that waits then; usage alone never costs a call after the first: what
   * arrives after the last call waits for the next window ({@link
   * aigw.core.usage.AfterAnswerWrites#leadAndRider}). The usage queue's own writer runs only when a
   * call did not land: it then writes key by key and keeps what fails.
   *
   * @return false when something is left unwritten (kept in its queue for the retry)
   */
  private boolean groupCommitOnce() {
    if (together == null) {
      return flushWrites(false);
    }
    var sources = aigw.core.usage.AfterAnswerWrites.leadAndRider(limits::takeEndingsTogether,
        max -> usage.takeTogether(usageItems::transactItem, max));
    boolean landed = together.writeLanded(sources);
    boolean limitsEnded = limits.flushEndings();
    return (landed || usage.flush()) && limitsEnded;
  }

  /** At shutdown: the group commit stops, a last flush, then what is still unwritable goes to the log. */
  public boolean closeWrites() {
    Thread committer;
    synchronized (this) {
      committer = groupCommitter;
    }
    stopWrites.countDown();
    if (committer != null) {
      // Not interrupted: a DynamoDB call cut short by an interrupt may have landed all the same, and
      // what it took would then be written a second time by the queues' own writers.
      try {
        committer.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    try {
      flushWrites(false);
    } catch (RuntimeException unexpected) {
      LOG.log(java.util.logging.Level.WARNING, "The last flush of the writes failed; what is left goes to the log", unexpected);
    }
    boolean limitsEnded = limits.closeEndings();
    return usage.close() && limitsEnded;
  }

  /** Forgets what is handed over and not written (SnapStart, before the snapshot); returns how many items. */
  public int discardPendingWrites() {
    return usage.discardPending() + (spend == null ? 0 : spend.discardPending()) + limits.discardPendingEndings();
  }

  /**
   * Writes the usage kept during an outage of the key store (see {@link DurableUsageRecorder}).
   *
   * @return how many kept records were written; 0 on Lambda, where they are in the log
   */
  public int replayKeptUsage() {
    return durableUsage.replayKept();
  }

  public MasterKey masterKey() {
    return masterKey;
  }

  public Authenticator authenticator() {
    return authenticator;
  }

  public Router router() {
    return router;
  }

  public Providers providers() {
    return providers;
  }

  /** Model calls with retries, cooldowns (this container's) and fallbacks: {@code router_settings}. */
  public FailoverPolicy failover() {
    return failover;
  }

  /** The cost in USD of a call, from its usage and the answering deployment's prices. */
  public aigw.core.cost.CostCalculator costs() {
    return costs;
  }

  /** One record per model call (LiteLLM's spend logs); accepted in memory, written by {@link #flushLogs}. */
  public aigw.core.spend.SpendLogs spendLogs() {
    return spend == null ? aigw.core.spend.SpendLogs.NONE : spend;
  }

  /** Rate limits, max_parallel_requests and budgets of keys (docs/limits.md). */
  public aigw.core.limits.LimitEngine limits() {
    return limits;
  }

  /** The record of admin actions; written before {@code record} returns. */
  public aigw.core.audit.AuditLog auditLog() {
    return logs == null ? aigw.core.audit.AuditLog.NONE : logs;
  }

  /** The spend logs read back (the admin API). */
  public aigw.core.spend.SpendLogReader spendLogReader() {
    return spendReader == null ? aigw.core.spend.SpendLogReader.NONE : spendReader;
  }

  /** The audit log read back (the admin API). */
  public aigw.core.audit.AuditLogReader auditLogReader() {
    return logs == null ? aigw.core.audit.AuditLogReader.NONE : logs;
  }

  /**
   * Writes every spend record accepted so far, to the logs table or, what it refuses, to the log
   * journal. Lambda calls it before an invocation ends (after the response is sent); the local
   * gateway periodically and at shutdown.
   *
   * @throws aigw.core.errors.ServiceUnavailable when records could be neither written nor journaled
   *     (they stay in memory for the next flush)
   */
  public void flushLogs() {
    if (spend != null) {
      spend.flush();
    }
  }

  /**
   * The local gateway's periodic spend-log write: the rows of a batch not yet full; full batches
   * are written by the logs' own writer as they fill ({@code DynamoDbLogs.flushPartialBatch}), so
   * this returns at once even when the table is slower than the traffic.
   *
   * @throws aigw.core.errors.ServiceUnavailable when records could be neither written nor journaled
   */
  public void flushLogsPartialBatch() {
    if (spend != null) {
      spend.flushPartialBatch();
    }
  }

  /**
   * For the local server, after a model call's answer is sent: waits while the spend-log rows
   * waiting for the table are near their bound, so sustained traffic faster than the table is
   * slowed between calls rather than inside them ({@code DynamoDbLogs.awaitRoomAfterAnswer}).
   */
  public void awaitWriteRoomAfterAnswer() {
    if (spend != null) {
      spend.awaitRoomAfterAnswer();
    }
  }

  /** Writes the spend and audit items the log journal kept (locally; 0 on Lambda). */
  public int replayKeptLogs() {
    return logs == null ? 0 : logs.replayKept();
  }
}

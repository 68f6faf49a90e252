package aigw.local;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.Supplier;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.*; // every operation's request and response: the whole API is passed on

/**
 * The embedded database as a client the gateway can be built over before the database has started:
 * DynamoDB Local's set-up (a third of a start's CPU with its JIT work) is off the path to the first
 * answer, which with the master key needs no table. Each call waits until the database is up, and
 * starts it if nothing has yet ({@link #startInBackground}); the local gateway starts it after the
 * first model answer, on the first admin request, or a moment after it listens, whichever comes
 * first ({@link LocalGateway}). Every operation of {@link DynamoDbClient} is passed on, so the gateway's code
 * cannot tell it from the database's own client.
 *
 * <p>A database that fails to start fails every call with an {@link SdkClientException}, as an
 * unreachable DynamoDB does (the gateway keeps usage it cannot write, and answers 503 where it must
 * read), and tells {@link #onFailure} once: the serving process then stops, as it did when the
 * failure came before it listened.
 */
final class DatabaseOnDemand implements DynamoDbClient {
  private final Supplier<EmbeddedDynamoDb> start;
  private final CompletableFuture<EmbeddedDynamoDb> started = new CompletableFuture<>();
  private final AtomicBoolean begun = new AtomicBoolean();
  private volatile boolean closed;

  /** @param start starts the database and makes its tables (on a thread of its own, once) */
  DatabaseOnDemand(Supplier<EmbeddedDynamoDb> start) {
    this.start = start;
  }

  /** Starts the database on a thread of its own, unless it has started or is starting; returns at once. */
  void startInBackground() {
    if (begun.get() || !begun.compareAndSet(false, true)) {
      return;
    }
    if (closed) {
      started.cancel(false);
      return;
    }
    // Not a daemon whichever thread asks (a worker is one): DynamoDB Local's threads inherit it, and
    // they must keep the JVM up until the database is closed, as they did when main started it.
    try {
      Thread.ofPlatform().name("aigw-start-db").daemon(false).start(() -> {
        try {
          started.complete(start.get());
        } catch (RuntimeException | Error e) {
          started.completeExceptionally(e);
        }
      });
    } catch (RuntimeException | Error noThread) { // e.g. no native thread left: nobody may wait forever
      started.completeExceptionally(noThread);
    }
  }

  /** Whether the database has been asked to start (tests). */
  boolean begun() {
    return begun.get();
  }

  /**
   * Waits, without starting it, until the database is up: true; false when it failed to start or
   * will not ({@link #cancelIfNotBegun}, {@link #close}).
   */
  boolean awaitStarted() {
    try {
      started.join();
      return true;
    } catch (CompletionException | java.util.concurrent.CancellationException e) {
      return false;
    }
  }

  /**
   * Runs {@code failed} with the reason if the database fails to start, once (not when it was not
   * started: {@link #cancelIfNotBegun}), on a thread of its own ({@link #FAILURE_THREAD}): a thread
   * woken from {@code join()} runs the future's callbacks itself, so it would otherwise be a
   * request's, and a callback that stops the process there would leave that request unanswered and
   * the stop waiting for it.
   */
  void onFailure(Consumer<Throwable> failed) {
    started.whenCompleteAsync((database, e) -> {
      if (e != null && !(e instanceof java.util.concurrent.CancellationException)) {
        failed.accept(e instanceof CompletionException c && c.getCause() != null ? c.getCause() : e);
      }
    }, run -> Thread.ofPlatform().name(FAILURE_THREAD).daemon(false).start(run));
  }

  /** The name of the thread that runs {@link #onFailure}'s callback. */
  static final String FAILURE_THREAD = "aigw-database-failed";

  /** The started database's own client, starting it first if nothing has; waits for it. */
  DynamoDbClient client() {
    startInBackground();
    try {
      return started.join().client();
    } catch (java.util.concurrent.CancellationException e) {
      throw SdkClientException.create("The embedded DynamoDB Local was not started: the gateway is stopping.", e);
    } catch (CompletionException e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      throw SdkClientException.create("The embedded DynamoDB Local did not start: " + cause.getMessage(), cause);
    }
  }

  /**
   * Closes the database once it has started (waiting for a start in progress); one never started is
   * not started now. Later calls fail.
   */
  @Override
  public void close() {
    if (cancelIfNotBegun()) {
      return;
    }
    EmbeddedDynamoDb database;
    try {
      database = started.join();
    } catch (CompletionException | java.util.concurrent.CancellationException e) {
      return; // it never started: nothing to close
    }
    database.close();
  }

  /**
   * The gateway stops and nothing asked for the database: it will not start now, and whoever waits
   * for it ({@link #awaitStarted}) is told. True when it had not begun; later calls fail.
   */
  boolean cancelIfNotBegun() {
    closed = true;
    if (begun.compareAndSet(false, true)) {
      started.cancel(false);
      return true;
    }
    return false;
  }

  @Override
  public String serviceName() {
    return SERVICE_NAME;
  }

  @Override
  public BatchExecuteStatementResponse batchExecuteStatement(BatchExecuteStatementRequest request) {
    return client().batchExecuteStatement(request);
  }

  @Override
  public BatchGetItemResponse batchGetItem(BatchGetItemRequest request) {
    return client().batchGetItem(request);
  }

  @Override
  public BatchWriteItemResponse batchWriteItem(BatchWriteItemRequest request) {
    return client().batchWriteItem(request);
  }

  @Override
  public CreateBackupResponse createBackup(CreateBackupRequest request) {
    return client().createBackup(request);
  }

  @Override
  public CreateGlobalTableResponse createGlobalTable(CreateGlobalTableRequest request) {
    return client().createGlobalTable(request);
  }

  @Override
  public CreateTableResponse createTable(CreateTableRequest request) {
    return client().createTable(request);
  }

  @Override
  public DeleteBackupResponse deleteBackup(DeleteBackupRequest request) {
    return client().deleteBackup(request);
  }

  @Override
  public DeleteItemResponse deleteItem(DeleteItemRequest request) {
    return client().deleteItem(request);
  }

  @Override
  public DeleteResourcePolicyResponse deleteResourcePolicy(DeleteResourcePolicyRequest request) {
    return client().deleteResourcePolicy(request);
  }

  @Override
  public DeleteTableResponse deleteTable(DeleteTableRequest request) {
    return client().deleteTable(request);
  }

  @Override
  public DescribeBackupResponse describeBackup(DescribeBackupRequest request) {
    return client().describeBackup(request);
  }

  @Override
  public DescribeContinuousBackupsResponse describeContinuousBackups(DescribeContinuousBackupsRequest request) {
    return client().describeContinuousBackups(request);
  }

  @Override
  public DescribeContributorInsightsResponse describeContributorInsights(DescribeContributorInsightsRequest request) {
    return client().describeContributorInsights(request);
  }

  @Override
  public DescribeEndpointsResponse describeEndpoints(DescribeEndpointsRequest request) {
    return client().describeEndpoints(request);
  }

  @Override
  public DescribeExportResponse describeExport(DescribeExportRequest request) {
    return client().describeExport(request);
  }

  @Override
  public DescribeGlobalTableResponse describeGlobalTable(DescribeGlobalTableRequest request) {
    return client().describeGlobalTable(request);
  }

  @Override
  public DescribeGlobalTableSettingsResponse describeGlobalTableSettings(DescribeGlobalTableSettingsRequest request) {
    return client().describeGlobalTableSettings(request);
  }

  @Override
  public DescribeImportResponse describeImport(DescribeImportRequest request) {
    return client().describeImport(request);
  }

  @Override
  public DescribeKinesisStreamingDestinationResponse describeKinesisStreamingDestination(DescribeKinesisStreamingDestinationRequest request) {
    return client().describeKinesisStreamingDestination(request);
  }

  @Override
  public DescribeLimitsResponse describeLimits(DescribeLimitsRequest request) {
    return client().describeLimits(request);
  }

  @Override
  public DescribeTableResponse describeTable(DescribeTableRequest request) {
    return client().describeTable(request);
  }

  @Override
  public DescribeTableReplicaAutoScalingResponse describeTableReplicaAutoScaling(DescribeTableReplicaAutoScalingRequest request) {
    return client().describeTableReplicaAutoScaling(request);
  }

  @Override
  public DescribeTimeToLiveResponse describeTimeToLive(DescribeTimeToLiveRequest request) {
    return client().describeTimeToLive(request);
  }

  @Override
  public DisableKinesisStreamingDestinationResponse disableKinesisStreamingDestination(DisableKinesisStreamingDestinationRequest request) {
    return client().disableKinesisStreamingDestination(request);
  }

  @Override
  public EnableKinesisStreamingDestinationResponse enableKinesisStreamingDestination(EnableKinesisStreamingDestinationRequest request) {
    return client().enableKinesisStreamingDestination(request);
  }

  @Override
  public ExecuteStatementResponse executeStatement(ExecuteStatementRequest request) {
    return client().executeStatement(request);
  }

  @Override
  public ExecuteTransactionResponse executeTransaction(ExecuteTransactionRequest request) {
    return client().executeTransaction(request);
  }

  @Override
  public ExportTableToPointInTimeResponse exportTableToPointInTime(ExportTableToPointInTimeRequest request) {
    return client().exportTableToPointInTime(request);
  }

  @Override
  public GetItemResponse getItem(GetItemRequest request) {
    return client().getItem(request);
  }

  @Override
  public GetResourcePolicyResponse getResourcePolicy(GetResourcePolicyRequest request) {
    return client().getResourcePolicy(request);
  }

  @Override
  public ImportTableResponse importTable(ImportTableRequest request) {
    return client().importTable(request);
  }

  @Override
  public ListBackupsResponse listBackups(ListBackupsRequest request) {
    return client().listBackups(request);
  }

  @Override
  public ListContributorInsightsResponse listContributorInsights(ListContributorInsightsRequest request) {
    return client().listContributorInsights(request);
  }

  @Override
  public ListExportsResponse listExports(ListExportsRequest request) {
    return client().listExports(request);
  }

  @Override
  public ListGlobalTablesResponse listGlobalTables(ListGlobalTablesRequest request) {
    return client().listGlobalTables(request);
  }

  @Override
  public ListImportsResponse listImports(ListImportsRequest request) {
    return client().listImports(request);
  }

  @Override
  public ListTablesResponse listTables(ListTablesRequest request) {
    return client().listTables(request);
  }

  @Override
  public ListTagsOfResourceResponse listTagsOfResource(ListTagsOfResourceRequest request) {
    return client().listTagsOfResource(request);
  }

  @Override
  public PutItemResponse putItem(PutItemRequest request) {
    return client().putItem(request);
  }

  @Override
  public PutResourcePolicyResponse putResourcePolicy(PutResourcePolicyRequest request) {
    return client().putResourcePolicy(request);
  }

  @Override
  public QueryResponse query(QueryRequest request) {
    return client().query(request);
  }

  @Override
  public RestoreTableFromBackupResponse restoreTableFromBackup(RestoreTableFromBackupRequest request) {
    return client().restoreTableFromBackup(request);
  }

  @Override
  public RestoreTableToPointInTimeResponse restoreTableToPointInTime(RestoreTableToPointInTimeRequest request) {
    return client().restoreTableToPointInTime(request);
  }

  @Override
  public ScanResponse scan(ScanRequest request) {
    return client().scan(request);
  }

  @Override
  public SearchVectorsResponse searchVectors(SearchVectorsRequest request) {
    return client().searchVectors(request);
  }

  @Override
  public TagResourceResponse tagResource(TagResourceRequest request) {
    return client().tagResource(request);
  }

  @Override
  public TransactGetItemsResponse transactGetItems(TransactGetItemsRequest request) {
    return client().transactGetItems(request);
  }

  @Override
  public TransactWriteItemsResponse transactWriteItems(TransactWriteItemsRequest request) {
    return client().transactWriteItems(request);
  }

  @Override
  public UntagResourceResponse untagResource(UntagResourceRequest request) {
    return client().untagResource(request);
  }

  @Override
  public UpdateContinuousBackupsResponse updateContinuousBackups(UpdateContinuousBackupsRequest request) {
    return client().updateContinuousBackups(request);
  }

  @Override
  public UpdateContributorInsightsResponse updateContributorInsights(UpdateContributorInsightsRequest request) {
    return client().updateContributorInsights(request);
  }

  @Override
  public UpdateGlobalTableResponse updateGlobalTable(UpdateGlobalTableRequest request) {
    return client().updateGlobalTable(request);
  }

  @Override
  public UpdateGlobalTableSettingsResponse updateGlobalTableSettings(UpdateGlobalTableSettingsRequest request) {
    return client().updateGlobalTableSettings(request);
  }

  @Override
  public UpdateItemResponse updateItem(UpdateItemRequest request) {
    return client().updateItem(request);
  }

  @Override
  public UpdateKinesisStreamingDestinationResponse updateKinesisStreamingDestination(UpdateKinesisStreamingDestinationRequest request) {
    return client().updateKinesisStreamingDestination(request);
  }

  @Override
  public UpdateTableResponse updateTable(UpdateTableRequest request) {
    return client().updateTable(request);
  }

  @Override
  public UpdateTableReplicaAutoScalingResponse updateTableReplicaAutoScaling(UpdateTableReplicaAutoScalingRequest request) {
    return client().updateTableReplicaAutoScaling(request);
  }

  @Override
  public UpdateTimeToLiveResponse updateTimeToLive(UpdateTimeToLiveRequest request) {
    return client().updateTimeToLive(request);
  }
}

package aigw.core.keys.dynamodb;

import java.util.concurrent.atomic.AtomicInteger;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.CancellationReason;
import software.amazon.awssdk.services.dynamodb.model.GetItemRequest;
import software.amazon.awssdk.services.dynamodb.model.GetItemResponse;
import software.amazon.awssdk.services.dynamodb.model.QueryRequest;
import software.amazon.awssdk.services.dynamodb.model.QueryResponse;
import software.amazon.awssdk.services.dynamodb.model.ScanRequest;
import software.amazon.awssdk.services.dynamodb.model.ScanResponse;
import software.amazon.awssdk.services.dynamodb.model.TransactWriteItemsRequest;
import software.amazon.awssdk.services.dynamodb.model.TransactWriteItemsResponse;
import software.amazon.awssdk.services.dynamodb.model.TransactionCanceledException;
import software.amazon.awssdk.services.dynamodb.model.UpdateItemRequest;
import software.amazon.awssdk.services.dynamodb.model.UpdateItemResponse;

/**
 * DynamoDB Local, except that the next {@link #conflicts} transactions are cancelled the way
 * DynamoDB cancels a transaction that touches an item another transaction is still writing:
 * reason {@code TransactionConflict}, nothing written. DynamoDB Local runs transactions one at a
 * time and so never answers this itself.
 */
final class ConflictingDynamo implements DynamoDbClient {
  final AtomicInteger conflicts = new AtomicInteger();
  private final DynamoDbClient delegate;

  ConflictingDynamo(DynamoDbClient delegate) {
    this.delegate = delegate;
  }

  @Override
  public TransactWriteItemsResponse transactWriteItems(TransactWriteItemsRequest request) {
    if (conflicts.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
      var reasons = request.transactItems().stream()
          .map(i -> CancellationReason.builder().code(i == request.transactItems().get(0) ? "TransactionConflict" : "None")
              .message(i == request.transactItems().get(0) ? "Transaction is ongoing for the item" : null).build())
          .toList();
      throw TransactionCanceledException.builder()
          .message("Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict]")
          .cancellationReasons(reasons)
          .build();
    }
    return delegate.transactWriteItems(request);
  }

  @Override
  public GetItemResponse getItem(GetItemRequest request) {
    return delegate.getItem(request);
  }

  @Override
  public QueryResponse query(QueryRequest request) {
    return delegate.query(request);
  }

  @Override
  public ScanResponse scan(ScanRequest request) {
    return delegate.scan(request);
  }

  @Override
  public UpdateItemResponse updateItem(UpdateItemRequest request) {
    return delegate.updateItem(request);
  }

  @Override
  public String serviceName() {
    return delegate.serviceName();
  }

  @Override
  public void close() {}
}

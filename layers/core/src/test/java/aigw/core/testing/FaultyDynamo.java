package aigw.core.testing;

import aigw.core.aws.AwsClients;
import aigw.core.aws.TemplateTables;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/**
 * DynamoDB that fails on command, reached over HTTP by the gateway's own SDK client ({@link
 * AwsClients#dynamoDbBuilder()}: the same HTTP client, timeouts and SDK retry policy as on Lambda).
 * DynamoDB Local runs as an HTTP server on loopback; in front of it a loopback proxy forwards each
 * call, or, for the operation told to fail, answers as DynamoDB answers a throttled or failing call
 * ({@code x-amzn-ErrorType} and the {@code __type} JSON body) or drops the connection.
 *
 * <p>So a test sees the whole real path: the SDK's retries with backoff, its final exception, and
 * the gateway's mapping of it. {@link #failedAttempts()} counts the attempts answered with a fault,
 * which shows that the SDK did retry.
 */
public final class FaultyDynamo implements AutoCloseable {
  /** How an attempt fails. */
  public enum Fault {
    /** 400 {@code ProvisionedThroughputExceededException}: a provisioned table over its capacity. */
    PROVISIONED_THROUGHPUT_EXCEEDED(400, "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API."),
    /** 400 {@code ThrottlingException}: the account's or an on-demand table's request rate exceeded. */
    THROTTLING(400, "com.amazon.coral.availability#ThrottlingException", "Rate of requests exceeds the allowed throughput."),
    /** 500 {@code InternalServerError}: DynamoDB's own failure. */
    INTERNAL_SERVER_ERROR(500, "com.amazonaws.dynamodb.v20120810#InternalServerError", "Internal server error"),
    /** The connection is closed with no answer (a reset, a load balancer dropping the call). */
    CONNECTION_DROPPED(0, null, null);

    final int status;
    final String type;
    final String message;

    Fault(int status, String type, String message) {
      this.status = status;
      this.type = type;
      this.message = message;
    }
  }

  private static final Set<String> NOT_FORWARDED = Set.of("host", "content-length", "connection", "expect", "upgrade");

  private final DynamoDBProxyServer dynamoDbLocal;
  private final int dynamoDbLocalPort;
  private final HttpServer proxy;
  private final HttpClient forward = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  private final DynamoDbClient client;
  private final String keysTable;
  private final AtomicReference<Failing> failing = new AtomicReference<>();
  private final AtomicInteger failedAttempts = new AtomicInteger();

  private record Failing(String operation, Fault fault, AtomicInteger remaining) {}

  public FaultyDynamo() {
    try {
      dynamoDbLocalPort = freePort();
      dynamoDbLocal = ServerRunner.createServerFromCommandLineArgs(
          new String[] {"-inMemory", "-port", Integer.toString(dynamoDbLocalPort), "-disableTelemetry"});
      dynamoDbLocal.start();
      proxy = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
      proxy.createContext("/", this::handle);
      proxy.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
      proxy.start();
    } catch (Exception e) {
      throw new IllegalStateException("DynamoDB Local server did not start", e);
    }
    client = AwsClients.dynamoDbBuilder()
        .endpointOverride(endpoint())
        .region(Region.US_EAST_1)
        .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create("local", "local")))
        .build();
    keysTable = "keys-faulty";
    try (InputStream template = Files.newInputStream(RepoFiles.resolve("template.yaml"))) {
      TemplateTables.createAll(client, template, Map.of("KeysTable", keysTable, "LogsTable", logsTable()));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The proxy's address: what a client that should see the faults is pointed at. */
  public URI endpoint() {
    return URI.create("http://127.0.0.1:" + proxy.getAddress().getPort());
  }

  /** The gateway's SDK client, through the proxy. */
  public DynamoDbClient client() {
    return client;
  }

  public String keysTable() {
    return keysTable;
  }

  public String logsTable() {
    return "logs-faulty";
  }

  /** From now on every attempt of {@code operation} (e.g. {@code UpdateItem}; null: every operation) fails so. */
  public void fail(String operation, Fault fault) {
    failing.set(new Failing(operation, fault, new AtomicInteger(Integer.MAX_VALUE)));
  }

  /** The next {@code attempts} attempts of {@code operation} fail so; later ones go through. */
  public void failNext(String operation, Fault fault, int attempts) {
    failing.set(new Failing(operation, fault, new AtomicInteger(attempts)));
  }

  /** Every call goes through again. */
  public void recover() {
    failing.set(null);
  }

  /** How many attempts were answered with a fault so far. */
  public int failedAttempts() {
    return failedAttempts.get();
  }

  private void handle(HttpExchange exchange) throws IOException {
    try (exchange) {
      byte[] body = exchange.getRequestBody().readAllBytes();
      String target = exchange.getRequestHeaders().getFirst("X-Amz-Target");
      String operation = target == null ? "" : target.substring(target.indexOf('.') + 1);
      Failing now = failing.get();
      if (now != null && (now.operation == null || now.operation.equals(operation)) && now.remaining.getAndDecrement() > 0) {
        failedAttempts.incrementAndGet();
        answerFault(exchange, now.fault);
        return;
      }
      var request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + dynamoDbLocalPort + exchange.getRequestURI()))
          .POST(HttpRequest.BodyPublishers.ofByteArray(body));
      exchange.getRequestHeaders().forEach((name, values) -> {
        if (!NOT_FORWARDED.contains(name.toLowerCase())) {
          values.forEach(v -> request.header(name, v));
        }
      });
      HttpResponse<byte[]> answer;
      try {
        answer = forward.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      answer.headers().map().forEach((name, values) -> {
        if (!NOT_FORWARDED.contains(name.toLowerCase()) && !name.equals(":status")) {
          exchange.getResponseHeaders().put(name, values);
        }
      });
      exchange.sendResponseHeaders(answer.statusCode(), answer.body().length == 0 ? -1 : answer.body().length);
      exchange.getResponseBody().write(answer.body());
    }
  }

  private static void answerFault(HttpExchange exchange, Fault fault) throws IOException {
    if (fault == Fault.CONNECTION_DROPPED) {
      return; // closing the exchange with no status line: the client reads end of stream
    }
    String shortType = fault.type.substring(fault.type.indexOf('#') + 1);
    byte[] body = ("{\"__type\":\"" + fault.type + "\",\"message\":\"" + fault.message + "\"}").getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", "application/x-amz-json-1.0");
    exchange.getResponseHeaders().set("x-amzn-ErrorType", shortType);
    exchange.getResponseHeaders().set("x-amzn-RequestId", "FAULT" + System.nanoTime());
    exchange.sendResponseHeaders(fault.status, body.length);
    exchange.getResponseBody().write(body);
  }

  /** A loopback port with nothing listening: a client pointed there gets connection refused. */
  public static int freePort() {
    try (var socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void close() {
    client.close();
    proxy.stop(0);
    try {
      dynamoDbLocal.stop();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}

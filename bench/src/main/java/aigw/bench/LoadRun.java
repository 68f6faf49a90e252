package aigw.bench;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/** A closed-loop load: {@code connections} clients, each sending its next request when the last one answers. */
final class LoadRun {
  record Result(int connections, long requests, double seconds, long[] latenciesNanos) {
    double requestsPerSecond() {
      return requests / seconds;
    }

    double percentileMillis(double p) {
      int index = (int) Math.min(latenciesNanos.length - 1, Math.ceil(p / 100.0 * latenciesNanos.length) - 1);
      return latenciesNanos[Math.max(0, index)] / 1e6;
    }
  }

  private LoadRun() {}

  static Result run(URI uri, String authorization, byte[] body, int connections, int requestsPerConnection) throws Exception {
    HttpClient client =
        HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5))
            .executor(Runnable::run) // as the gateway does: no pool hand-off per response
            .build();
    var builder =
        HttpRequest.newBuilder(uri)
            .timeout(Duration.ofSeconds(30))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofByteArray(body));
    if (authorization != null) {
      builder.header("Authorization", authorization);
    }
    HttpRequest request = builder.build();
    ExecutorService pool = Executors.newFixedThreadPool(connections, Thread.ofPlatform().daemon(true).factory());
    try {
      var tasks = new ArrayList<Callable<long[]>>();
      for (int c = 0; c < connections; c++) {
        tasks.add(
            () -> {
              long[] latencies = new long[requestsPerConnection];
              for (int i = 0; i < requestsPerConnection; i++) {
                long start = System.nanoTime();
                HttpResponse<byte[]> response = client.send(request, HttpResponse.BodyHandlers.ofByteArray());
                latencies[i] = System.nanoTime() - start;
                if (response.statusCode() != 200) {
                  throw new IllegalStateException("HTTP " + response.statusCode() + ": " + new String(response.body()));
                }
              }
              return latencies;
            });
      }
      long start = System.nanoTime();
      List<Future<long[]>> futures = pool.invokeAll(tasks);
      double seconds = (System.nanoTime() - start) / 1e9;
      long[] all = new long[connections * requestsPerConnection];
      int offset = 0;
      for (Future<long[]> future : futures) {
        long[] part = future.get();
        System.arraycopy(part, 0, all, offset, part.length);
        offset += part.length;
      }
      Arrays.sort(all);
      return new Result(connections, all.length, seconds, all);
    } finally {
      pool.shutdownNow();
      client.close();
    }
  }

  /**
   * One connection to each of two URIs, their requests in turns (first, second, first, ...): both
   * sets of latencies are sampled over the same seconds, so a burst of load on a shared 2-core
   * machine (a JIT compilation, a background write, another process) falls on both alike; in two
   * runs one after the other each sees other moments, and the difference of their percentiles
   * carries that noise. Each result's seconds are the sum of its own latencies (the rate of its
   * connection while it was in use).
   *
   * @return the first URI's result, then the second's
   */
  static Result[] runInTurns(URI first, String firstAuthorization, URI second, String secondAuthorization, byte[] body, int requests)
      throws Exception {
    HttpClient client =
        HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).executor(Runnable::run).build();
    try {
      HttpRequest[] sent = {request(first, firstAuthorization, body), request(second, secondAuthorization, body)};
      long[][] latencies = {new long[requests], new long[requests]};
      for (int i = 0; i < requests; i++) {
        for (int target = 0; target < 2; target++) {
          long start = System.nanoTime();
          HttpResponse<byte[]> response = client.send(sent[target], HttpResponse.BodyHandlers.ofByteArray());
          latencies[target][i] = System.nanoTime() - start;
          if (response.statusCode() != 200) {
            throw new IllegalStateException("HTTP " + response.statusCode() + ": " + new String(response.body()));
          }
        }
      }
      var results = new Result[2];
      for (int target = 0; target < 2; target++) {
        long total = Arrays.stream(latencies[target]).sum();
        Arrays.sort(latencies[target]);
        results[target] = new Result(1, requests, total / 1e9, latencies[target]);
      }
      return results;
    } finally {
      client.close();
    }
  }

  private static HttpRequest request(URI uri, String authorization, byte[] body) {
    var builder = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofByteArray(body));
    if (authorization != null) {
      builder.header("Authorization", authorization);
    }
    return builder.build();
  }
}

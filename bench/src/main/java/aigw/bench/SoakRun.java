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
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * A closed-loop load for a fixed time: {@code connections} clients, each sending its next request
 * when the last one answers, until {@code duration} has passed. Unlike {@link LoadRun} it does not
 * stop at the first failure: every answer other than 200 (and every failed exchange) is counted as
 * an error, and each request's start time is kept so the first and last minute can be compared.
 */
final class SoakRun {
  /**
   * @param startsNanos each served request's start, in ns since the run began (sorted by start)
   * @param latenciesNanos the latency of the request at the same index
   * @param served requests answered 200
   * @param errors requests answered otherwise or failed, with up to 5 examples in {@code errorSamples}
   */
  record Result(long served, long errors, List<String> errorSamples, double seconds, long[] startsNanos, long[] latenciesNanos) {
    /** The p-th percentile latency, in ms, of the requests started in [fromNanos, toNanos). */
    double percentileMillis(double p, long fromNanos, long toNanos) {
      long[] window = new long[startsNanos.length];
      int n = 0;
      for (int i = 0; i < startsNanos.length; i++) {
        if (startsNanos[i] >= fromNanos && startsNanos[i] < toNanos) {
          window[n++] = latenciesNanos[i];
        }
      }
      if (n == 0) {
        return Double.NaN;
      }
      Arrays.sort(window, 0, n);
      int index = (int) Math.min(n - 1, Math.ceil(p / 100.0 * n) - 1);
      return window[Math.max(0, index)] / 1e6;
    }

    long countIn(long fromNanos, long toNanos) {
      return Arrays.stream(startsNanos).filter(s -> s >= fromNanos && s < toNanos).count();
    }
  }

  /** A run's counts without its per-request records. */
  record Summary(long served, long errors, List<String> errorSamples, double seconds) {
    Summary(Result run) {
      this(run.served(), run.errors(), run.errorSamples(), run.seconds());
    }
  }

  private SoakRun() {}

  static Result run(URI uri, String authorization, byte[] body, int connections, Duration duration) throws Exception {
    HttpClient client =
        HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).executor(Runnable::run).build();
    HttpRequest request =
        HttpRequest.newBuilder(uri)
            .timeout(Duration.ofSeconds(30))
            .header("Content-Type", "application/json")
            .header("Authorization", authorization)
            .POST(HttpRequest.BodyPublishers.ofByteArray(body))
            .build();
    var pool = Executors.newFixedThreadPool(connections, Thread.ofPlatform().daemon(true).factory());
    var errorSamples = java.util.Collections.synchronizedList(new ArrayList<String>());
    var errors = new java.util.concurrent.atomic.AtomicLong();
    long begin = System.nanoTime();
    long end = begin + duration.toNanos();
    try {
      var tasks = new ArrayList<Callable<long[][]>>();
      for (int c = 0; c < connections; c++) {
        tasks.add(() -> {
          long[] starts = new long[1 << 16];
          long[] latencies = new long[1 << 16];
          int n = 0;
          long start;
          while ((start = System.nanoTime()) < end) {
            try {
              HttpResponse<byte[]> response = client.send(request, HttpResponse.BodyHandlers.ofByteArray());
              long latency = System.nanoTime() - start;
              if (response.statusCode() != 200) {
                record(errors, errorSamples, "HTTP " + response.statusCode() + ": " + new String(response.body()));
                continue;
              }
              if (n == starts.length) {
                starts = Arrays.copyOf(starts, n * 2);
                latencies = Arrays.copyOf(latencies, n * 2);
              }
              starts[n] = start - begin;
              latencies[n] = latency;
              n++;
            } catch (java.io.IOException e) {
              record(errors, errorSamples, e.toString());
            }
          }
          return new long[][] {Arrays.copyOf(starts, n), Arrays.copyOf(latencies, n)};
        });
      }
      List<Future<long[][]>> futures = pool.invokeAll(tasks);
      double seconds = (System.nanoTime() - begin) / 1e9;
      int total = 0;
      for (var f : futures) {
        total += f.get()[0].length;
      }
      // Merge, then order by start so windows are cheap to read.
      long[][] pairs = new long[total][];
      int k = 0;
      for (var f : futures) {
        long[][] part = f.get();
        for (int i = 0; i < part[0].length; i++) {
          pairs[k++] = new long[] {part[0][i], part[1][i]};
        }
      }
      Arrays.sort(pairs, (a, b) -> Long.compare(a[0], b[0]));
      long[] starts = new long[total];
      long[] latencies = new long[total];
      for (int i = 0; i < total; i++) {
        starts[i] = pairs[i][0];
        latencies[i] = pairs[i][1];
      }
      return new Result(total, errors.get(), List.copyOf(errorSamples), seconds, starts, latencies);
    } finally {
      pool.shutdownNow();
      client.close();
    }
  }

  private static void record(java.util.concurrent.atomic.AtomicLong errors, List<String> samples, String what) {
    errors.incrementAndGet();
    if (samples.size() < 5) {
      samples.add(what.length() > 300 ? what.substring(0, 300) + "…" : what);
    }
  }
}

package aigw.bench;

import aigw.bench.StreamRun.Framing;
import aigw.local.LocalGateway;
import aigw.local.LocalOptions;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code Bench --adapters}: the latency the gateway adds for each provider adapter and each inbound
 * protocol, over a loopback {@link AdapterStub} that answers every provider API in its own shapes.
 *
 * <p>Each row is one way through the gateway (an inbound route and the deployment it reaches) and
 * its floor: the same stub endpoint the gateway calls for that row, called directly with the
 * provider's own request shape. Both are measured one after the other in the same run, at 1
 * connection: whole answers with {@link LoadRun} (p50 and p99 of the request's latency), streams
 * with {@link StreamRun} (p50 of time to first byte: the first {@code data:} line, or the first
 * body byte of Bedrock's binary event stream). "Added" is gateway minus floor, percentile against
 * percentile. Before any timing, one warm-up pass over every row (so the first row does not pay for
 * compiling the code all rows share); then per row another warm-up of both paths and the
 * measurements, floor then gateway.
 *
 * <p>Bedrock is signed with SigV4 by the AWS SDK as in production: the bench sets static test
 * credentials as the {@code aws.accessKeyId}/{@code aws.secretAccessKey} system properties, which
 * the SDK's default chain reads first; the stub checks no signature.
 */
final class AdapterBench {
  private static final String CLAUDE_ON_BEDROCK = "anthropic.claude-3-5-sonnet-20240620-v1:0";

  /** One way through the gateway and the stub endpoint it reaches. */
  private record Row(String label, String route, String body, String streamBody, Framing framing, Floor floor) {}

  /** A provider endpoint on the stub, called directly with the provider's own request. */
  private record Floor(String path, String body, String streamPath, String streamBody, Framing framing) {}

  /** One row's figures, in milliseconds. */
  private record Figures(double floorP50, double floorP99, double addedP50, double addedP99, double floorFirstByteP50, double addedFirstByteP50,
      String problem) {}

  private AdapterBench() {}

  static void run(int requests, int streams, int chunks) throws Exception {
    System.setProperty("aws.accessKeyId", "AKIDBENCHNOTASECRET1");
    System.setProperty("aws.secretAccessKey", "bench/secret/access/key/not/a/secret/0001");
    System.out.println();
    System.out.printf(Locale.ROOT,
        "== adapters and inbound protocols (in memory; 1 connection; %d whole answers and %d streams of %d content chunks per path, each against its floor) ==%n",
        requests, streams, chunks);
    try (var stub = new AdapterStub(chunks)) {
      String base = stub.baseUrl();
      Path config = writeConfig(base);
      var rows = rows();
      var results = new ArrayList<Figures>();
      try (var gateway = LocalGateway.start(LocalOptions.inMemory(config, Bench.env()))) {
        String bearer = "Bearer " + Bench.createKey(gateway.baseUrl());
        // First a pass over every path, so the code they share (authentication, admission, the
        // HTTP client, usage recording) is compiled before the first row is timed, not during it.
        for (Row row : rows) {
          warmUp(base, gateway.baseUrl().toString(), bearer, row, Math.max(100, requests / 4), Math.max(25, streams / 4));
        }
        for (Row row : rows) {
          results.add(measure(base, gateway.baseUrl().toString(), bearer, row, requests, streams));
        }
      }
      print(rows, results);
    }
  }

  private static List<Row> rows() {
    String chatUser = "\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}],\"temperature\":0.2";
    var openAiChat = new Floor("/v1/chat/completions", "{\"model\":\"bench-model\"," + chatUser + "}",
        "/v1/chat/completions", "{\"model\":\"bench-model\"," + chatUser + ",\"stream\":true,\"stream_options\":{\"include_usage\":true}}",
        Framing.OPENAI_SSE);
    String anthropicBody = "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1024,\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]";
    var anthropic = new Floor("/v1/messages", anthropicBody + "}", "/v1/messages", anthropicBody + ",\"stream\":true}", Framing.SSE);
    String geminiBody = "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Say hello\"}]}],\"generationConfig\":{\"temperature\":0.2}}";
    var gemini = new Floor("/v1beta/models/gemini-2.5-flash:generateContent", geminiBody,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", geminiBody, Framing.SSE);
    String azureDated = "/openai/deployments/bench-dated/chat/completions?api-version=2024-10-21";
    var azureDatedFloor = new Floor(azureDated, openAiChat.body(), azureDated, openAiChat.streamBody(), Framing.OPENAI_SSE);
    var azureV1Floor = new Floor("/openai/v1/chat/completions", openAiChat.body(), "/openai/v1/chat/completions", openAiChat.streamBody(),
        Framing.OPENAI_SSE);
    String bedrockModel = "/model/" + CLAUDE_ON_BEDROCK.replace(":", "%3A");
    String converseBody = "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"Say hello\"}]}],\"inferenceConfig\":{\"temperature\":0.2}}";
    var bedrock = new Floor(bedrockModel + "/converse", converseBody, bedrockModel + "/converse-stream", converseBody, Framing.AWS_EVENT_STREAM);
    String responsesBody = "{\"model\":\"gpt-4.1\",\"input\":\"Say hello\",\"store\":false";
    var responses = new Floor("/v1/responses", responsesBody + "}", "/v1/responses", responsesBody + ",\"stream\":true}", Framing.SSE);

    var rows = new ArrayList<Row>();
    String[][] chatDeployments = {
      {"chat -> openai/", "bench-openai"}, {"chat -> anthropic/", "bench-anthropic"}, {"chat -> gemini/", "bench-gemini"},
      {"chat -> azure/ (api_version)", "bench-azure-dated"}, {"chat -> azure/ (v1)", "bench-azure-v1"}, {"chat -> bedrock/", "bench-bedrock"},
    };
    Floor[] chatFloors = {openAiChat, anthropic, gemini, azureDatedFloor, azureV1Floor, bedrock};
    for (int i = 0; i < chatDeployments.length; i++) {
      String model = chatDeployments[i][1];
      rows.add(new Row(chatDeployments[i][0], "/v1/chat/completions", "{\"model\":\"" + model + "\"," + chatUser + "}",
          "{\"model\":\"" + model + "\"," + chatUser + ",\"stream\":true,\"stream_options\":{\"include_usage\":true}}", Framing.OPENAI_SSE,
          chatFloors[i]));
    }
    // Anthropic's Messages API in: translated for an OpenAI model, passed through to Anthropic.
    String messages = "\"max_tokens\":1024,\"system\":\"You are terse.\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]";
    rows.add(new Row("messages -> openai/ (translated)", "/v1/messages", "{\"model\":\"bench-openai\"," + messages + "}",
        "{\"model\":\"bench-openai\"," + messages + ",\"stream\":true}", Framing.SSE, openAiChat));
    rows.add(new Row("messages -> anthropic/ (passed through)", "/v1/messages", "{\"model\":\"bench-anthropic\"," + messages + "}",
        "{\"model\":\"bench-anthropic\"," + messages + ",\"stream\":true}", Framing.SSE, anthropic));
    // OpenAI's Responses API in: translated for a chat-only provider, passed through to OpenAI.
    String input = "\"input\":\"Say hello\",\"instructions\":\"You are terse.\",\"store\":false";
    rows.add(new Row("responses -> hosted_vllm/ (translated)", "/v1/responses", "{\"model\":\"bench-vllm\"," + input + "}",
        "{\"model\":\"bench-vllm\"," + input + ",\"stream\":true}", Framing.SSE, openAiChat));
    rows.add(new Row("responses -> openai/ (passed through)", "/v1/responses", "{\"model\":\"bench-gpt\"," + input + "}",
        "{\"model\":\"bench-gpt\"," + input + ",\"stream\":true}", Framing.SSE, responses));
    return rows;
  }

  private static Path writeConfig(String stubBase) throws java.io.IOException {
    Path config = Files.createTempFile("aigw-bench-adapters", ".yaml");
    Files.writeString(
        config,
        """
        model_list:
          - model_name: bench-openai
            litellm_params: {model: openai/bench-model, api_base: "%1$s/v1", api_key: os.environ/BENCH_PROVIDER_KEY}
          - model_name: bench-anthropic
            litellm_params: {model: anthropic/claude-sonnet-4-5, api_base: "%1$s", api_key: os.environ/BENCH_PROVIDER_KEY}
          - model_name: bench-gemini
            litellm_params: {model: gemini/gemini-2.5-flash, api_base: "%1$s", api_key: os.environ/BENCH_PROVIDER_KEY}
          - model_name: bench-azure-dated
            litellm_params: {model: azure/bench-dated, api_base: "%1$s", api_key: os.environ/BENCH_PROVIDER_KEY, api_version: "2024-10-21"}
          - model_name: bench-azure-v1
            litellm_params: {model: azure/bench-v1, api_base: "%1$s/openai/v1", api_key: os.environ/BENCH_PROVIDER_KEY}
          - model_name: bench-bedrock
            litellm_params: {model: "bedrock/%2$s", aws_region_name: us-east-1, aws_bedrock_runtime_endpoint: "%1$s"}
          - model_name: bench-vllm
            litellm_params: {model: hosted_vllm/bench-llama, api_base: "%1$s/v1", api_key: os.environ/BENCH_PROVIDER_KEY}
          - model_name: bench-gpt
            litellm_params: {model: openai/gpt-4.1, api_base: "%1$s/v1", api_key: os.environ/BENCH_PROVIDER_KEY}
        """
            .formatted(stubBase, CLAUDE_ON_BEDROCK));
    return config;
  }

  private static Figures measure(String stubBase, String gatewayBase, String bearer, Row row, int requests, int streams) throws Exception {
    URI floorUri = URI.create(stubBase + row.floor().path());
    URI floorStreamUri = URI.create(stubBase + row.floor().streamPath());
    URI gatewayUri = URI.create(gatewayBase + row.route());
    byte[] floorBody = utf8(row.floor().body());
    byte[] floorStreamBody = utf8(row.floor().streamBody());
    byte[] body = utf8(row.body());
    byte[] streamBody = utf8(row.streamBody());
    try {
      warmUp(stubBase, gatewayBase, bearer, row, Math.max(100, requests / 4), Math.max(25, streams / 4));
      var floor = LoadRun.run(floorUri, null, floorBody, 1, requests);
      var through = LoadRun.run(gatewayUri, bearer, body, 1, requests);

      var floorStreams = StreamRun.run(floorStreamUri, null, floorStreamBody, streams, row.floor().framing());
      var gatewayStreams = StreamRun.run(gatewayUri, bearer, streamBody, streams, row.framing());
      double floorFirstByte = Double.NaN;
      double addedFirstByte = Double.NaN;
      String problem = null;
      if (floorStreams instanceof StreamRun.NotMeasured(String why)) {
        problem = "floor did not stream: " + why;
      } else if (gatewayStreams instanceof StreamRun.NotMeasured(String why)) {
        problem = "gateway did not stream: " + why;
      } else {
        floorFirstByte = ((StreamRun.Measured) floorStreams).firstByteMillis(50);
        addedFirstByte = ((StreamRun.Measured) gatewayStreams).firstByteMillis(50) - floorFirstByte;
      }
      return new Figures(floor.percentileMillis(50), floor.percentileMillis(99),
          through.percentileMillis(50) - floor.percentileMillis(50), through.percentileMillis(99) - floor.percentileMillis(99),
          floorFirstByte, addedFirstByte, problem);
    } catch (IllegalStateException failed) { // LoadRun: a status other than 200
      return new Figures(Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, failed.getMessage());
    }
  }

  /** Both paths of a row, whole and streamed, untimed. A failure is left to {@link #measure} to report. */
  private static void warmUp(String stubBase, String gatewayBase, String bearer, Row row, int requests, int streams) throws Exception {
    URI gatewayUri = URI.create(gatewayBase + row.route());
    try {
      LoadRun.run(URI.create(stubBase + row.floor().path()), null, utf8(row.floor().body()), 1, requests);
      LoadRun.run(gatewayUri, bearer, utf8(row.body()), 1, requests);
    } catch (IllegalStateException failedHereAndAgainInMeasure) {
      // reported by measure
    }
    StreamRun.run(URI.create(stubBase + row.floor().streamPath()), null, utf8(row.floor().streamBody()), streams, row.floor().framing());
    StreamRun.run(gatewayUri, bearer, utf8(row.streamBody()), streams, row.framing());
  }

  private static void print(List<Row> rows, List<Figures> results) {
    System.out.printf(Locale.ROOT, "  %-40s %10s %10s %10s %10s %14s %14s%n",
        "route -> adapter", "floor p50", "added p50", "floor p99", "added p99", "floor TTFB p50", "added TTFB p50");
    var problems = new ArrayList<String>();
    for (int i = 0; i < rows.size(); i++) {
      Figures f = results.get(i);
      System.out.printf(Locale.ROOT, "  %-40s %10s %10s %10s %10s %14s %14s%n", rows.get(i).label(),
          ms(f.floorP50()), ms(f.addedP50()), ms(f.floorP99()), ms(f.addedP99()), ms(f.floorFirstByteP50()), ms(f.addedFirstByteP50()));
      if (f.problem() != null) {
        problems.add("  " + rows.get(i).label() + ": " + f.problem());
      }
    }
    System.out.println("  (milliseconds; floor: the same stub endpoint called directly in the provider's own shape; added: gateway minus floor)");
    problems.forEach(System.out::println);
  }

  private static String ms(double millis) {
    return Double.isNaN(millis) ? "-" : String.format(Locale.ROOT, "%.3f", millis);
  }

  private static byte[] utf8(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }
}

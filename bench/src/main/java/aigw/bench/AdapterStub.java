package aigw.bench;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.regex.Pattern;
import software.amazon.eventstream.HeaderValue;
import software.amazon.eventstream.Message;

/**
 * A loopback stand-in for every provider API the gateway's adapters call, answering each in its
 * own shapes, whole or streamed (one flushed write per event, as a model's tokens arrive), chosen
 * by the request's path:
 *
 * <ul>
 *   <li>{@code .../chat/completions} (OpenAI-compatible, Azure dated and v1): a chat completion, or
 *       OpenAI's chunks ending in {@code data: [DONE]} when the body asks {@code "stream": true};
 *   <li>{@code .../v1/messages} (Anthropic): a Message, or Anthropic's event sequence ({@code
 *       message_start}, {@code content_block_start}, {@code ping}, deltas, {@code
 *       content_block_stop}, {@code message_delta}, {@code message_stop});
 *   <li>{@code .../models/<m>:generateContent} and {@code :streamGenerateContent?alt=sse} (Gemini):
 *       a GenerateContentResponse, or one per SSE event, the last with {@code finishReason};
 *   <li>{@code /model/<id>/converse} and {@code /converse-stream} (Bedrock): Converse's JSON, or
 *       ConverseStream's binary {@code application/vnd.amazon.eventstream}, framed by the AWS event
 *       stream library's own {@link Message} encoder (the one the SDK decodes with);
 *   <li>{@code .../responses} (OpenAI Responses API): a Response, or its event sequence ending in
 *       {@code response.completed}.
 * </ul>
 *
 * The shapes are those of the adapters' recorded fixtures (layers/core/src/test/resources/aigw/core/providers/*
 * and local/src/test/java/aigw/local/clients/ResponsesStandIn.java) with {@code contentChunks}
 * one-token deltas. Every answer reports 12 tokens in. The stub reads no credential and checks no
 * signature: the gateway's cost of signing (SigV4) or adding a key is part of what is measured.
 */
final class AdapterStub implements AutoCloseable {
  private static final Pattern STREAM = Pattern.compile("\"stream\"\\s*:\\s*true");
  private static final String TEXT = "Hello! How can I help you today?";

  private final HttpServer server;
  private final ExecutorService workers;
  private final byte[] chatCompletion;
  private final List<byte[]> chatStream;
  private final byte[] anthropicMessage;
  private final List<byte[]> anthropicStream;
  private final byte[] geminiResponse;
  private final List<byte[]> geminiStream;
  private final byte[] converse;
  private final List<byte[]> converseStream;
  private final byte[] response;
  private final List<byte[]> responseStream;

  /** @param contentChunks one-token content deltas per streamed answer (1 or more) */
  AdapterStub(int contentChunks) throws IOException {
    if (contentChunks < 1) {
      throw new IllegalArgumentException("contentChunks must be 1 or more, was " + contentChunks);
    }
    int n = contentChunks;
    chatCompletion = StubProvider.COMPLETION;
    chatStream = chatStream(n);
    anthropicMessage = bytes(
        "{\"id\":\"msg_013Zva2CMHLNnXjNJJKqJ2EF\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\","
            + "\"content\":[{\"type\":\"text\",\"text\":\"" + TEXT + "\"}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,"
            + "\"usage\":{\"input_tokens\":12,\"output_tokens\":9}}");
    anthropicStream = anthropicStream(n);
    geminiResponse = bytes(
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"" + TEXT + "\"}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],"
            + "\"usageMetadata\":{\"promptTokenCount\":12,\"candidatesTokenCount\":9,\"totalTokenCount\":21},"
            + "\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"bench\"}");
    geminiStream = geminiStream(n);
    converse = bytes(
        "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":[{\"text\":\"" + TEXT + "\"}]}},\"stopReason\":\"end_turn\","
            + "\"usage\":{\"inputTokens\":12,\"outputTokens\":9,\"totalTokens\":21},\"metrics\":{\"latencyMs\":1}}");
    converseStream = converseStream(n);
    response = bytes(response("completed", message("completed", TEXT), usage(9)));
    responseStream = responseStream(n);

    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 512);
    workers = Executors.newFixedThreadPool(32, Thread.ofPlatform().daemon(true).name("adapter-stub-", 0).factory());
    server.setExecutor(workers);
    server.createContext("/", exchange -> {
      try (exchange) {
        answer(exchange);
      }
    });
    server.start();
  }

  String baseUrl() {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  private void answer(HttpExchange exchange) throws IOException {
    String path = exchange.getRequestURI().getPath();
    String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
    boolean streamAsked = STREAM.matcher(body).find();
    if (path.endsWith("/chat/completions")) {
      reply(exchange, streamAsked, chatCompletion, chatStream, "text/event-stream");
    } else if (path.endsWith("/messages")) {
      reply(exchange, streamAsked, anthropicMessage, anthropicStream, "text/event-stream");
    } else if (path.endsWith(":generateContent")) {
      reply(exchange, false, geminiResponse, geminiStream, null);
    } else if (path.endsWith(":streamGenerateContent")) {
      reply(exchange, true, null, geminiStream, "text/event-stream");
    } else if (path.endsWith("/converse")) {
      exchange.getResponseHeaders().set("x-amzn-RequestId", "bench-plain");
      reply(exchange, false, converse, converseStream, null);
    } else if (path.endsWith("/converse-stream")) {
      exchange.getResponseHeaders().set("x-amzn-RequestId", "bench-stream");
      reply(exchange, true, null, converseStream, "application/vnd.amazon.eventstream");
    } else if (path.endsWith("/responses")) {
      reply(exchange, streamAsked, response, responseStream, "text/event-stream");
    } else {
      byte[] notFound = bytes("{\"error\":{\"message\":\"bench stub: no route " + path + "\",\"type\":\"invalid_request_error\"}}");
      exchange.getResponseHeaders().set("Content-Type", "application/json");
      exchange.sendResponseHeaders(404, notFound.length);
      exchange.getResponseBody().write(notFound);
    }
  }

  private static void reply(HttpExchange exchange, boolean stream, byte[] whole, List<byte[]> events, String streamType) throws IOException {
    if (!stream) {
      exchange.getResponseHeaders().set("Content-Type", "application/json");
      exchange.sendResponseHeaders(200, whole.length);
      exchange.getResponseBody().write(whole);
      return;
    }
    exchange.getResponseHeaders().set("Content-Type", streamType);
    exchange.getResponseHeaders().set("Cache-Control", "no-cache");
    exchange.sendResponseHeaders(200, 0); // chunked
    OutputStream out = exchange.getResponseBody();
    for (byte[] event : events) {
      out.write(event);
      out.flush(); // one HTTP chunk per event
    }
  }

  // OpenAI chat completions streaming (https://platform.openai.com/docs/api-reference/chat-streaming).
  private static List<byte[]> chatStream(int n) {
    String head = "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"bench-model\",";
    var events = new ArrayList<byte[]>();
    events.add(bytes(head + "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n"));
    for (int i = 0; i < n; i++) {
      events.add(bytes(head + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"tok" + i + " \"},\"finish_reason\":null}]}\n\n"));
    }
    events.add(bytes(head + "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"));
    events.add(bytes(head + "\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":" + n + ",\"total_tokens\":" + (12 + n) + "}}\n\n"));
    events.add(bytes("data: [DONE]\n\n"));
    return events;
  }

  // Anthropic Messages streaming (https://docs.anthropic.com/en/docs/build-with-claude/streaming).
  private static List<byte[]> anthropicStream(int n) {
    var events = new ArrayList<byte[]>();
    events.add(sse("message_start", "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_bench\",\"type\":\"message\",\"role\":\"assistant\","
        + "\"content\":[],\"model\":\"claude-sonnet-4-5-20250929\",\"stop_reason\":null,\"stop_sequence\":null,"
        + "\"usage\":{\"input_tokens\":12,\"output_tokens\":1}}}"));
    events.add(sse("content_block_start", "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}"));
    events.add(sse("ping", "{\"type\":\"ping\"}"));
    for (int i = 0; i < n; i++) {
      events.add(sse("content_block_delta",
          "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"tok" + i + " \"}}"));
    }
    events.add(sse("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}"));
    events.add(sse("message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},"
        + "\"usage\":{\"output_tokens\":" + n + "}}"));
    events.add(sse("message_stop", "{\"type\":\"message_stop\"}"));
    return events;
  }

  // Gemini streamGenerateContent?alt=sse: one GenerateContentResponse per event, CRLF-framed as Google sends it.
  private static List<byte[]> geminiStream(int n) {
    var events = new ArrayList<byte[]>();
    for (int i = 0; i < n; i++) {
      boolean last = i == n - 1;
      events.add(bytes("data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"tok" + i + " \"}],\"role\":\"model\"},"
          + (last ? "\"finishReason\":\"STOP\"," : "") + "\"index\":0}],"
          + "\"usageMetadata\":{\"promptTokenCount\":12," + (last ? "\"candidatesTokenCount\":" + n + ",\"totalTokenCount\":" + (12 + n) : "\"totalTokenCount\":12")
          + "},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"bench\"}\r\n\r\n"));
    }
    return events;
  }

  // Bedrock ConverseStream (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html).
  private static List<byte[]> converseStream(int n) {
    var events = new ArrayList<byte[]>();
    events.add(eventStreamMessage("messageStart", "{\"p\":\"abcd\",\"role\":\"assistant\"}"));
    for (int i = 0; i < n; i++) {
      events.add(eventStreamMessage("contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"tok" + i + " \"},\"p\":\"abcdefgh\"}"));
    }
    events.add(eventStreamMessage("contentBlockStop", "{\"contentBlockIndex\":0,\"p\":\"abcdef\"}"));
    events.add(eventStreamMessage("messageStop", "{\"p\":\"abc\",\"stopReason\":\"end_turn\"}"));
    events.add(eventStreamMessage("metadata",
        "{\"metrics\":{\"latencyMs\":1},\"p\":\"a\",\"usage\":{\"inputTokens\":12,\"outputTokens\":" + n + ",\"totalTokens\":" + (12 + n) + "}}"));
    return events;
  }

  /** One ConverseStream event as Bedrock frames it: {@code :event-type}, {@code :content-type}, {@code :message-type} headers. */
  static byte[] eventStreamMessage(String type, String json) {
    var headers = new LinkedHashMap<String, HeaderValue>();
    headers.put(":event-type", HeaderValue.fromString(type));
    headers.put(":content-type", HeaderValue.fromString("application/json"));
    headers.put(":message-type", HeaderValue.fromString("event"));
    var out = new ByteArrayOutputStream();
    new Message(headers, json.getBytes(StandardCharsets.UTF_8)).encode(out);
    return out.toByteArray();
  }

  // OpenAI Responses streaming (https://platform.openai.com/docs/api-reference/responses-streaming).
  private static List<byte[]> responseStream(int n) {
    var events = new ArrayList<byte[]>();
    int[] sequence = {0};
    java.util.function.BiConsumer<String, String> event = (type, members) -> events.add(
        sse(type, "{\"type\":\"" + type + "\"," + members + ",\"sequence_number\":" + sequence[0]++ + "}"));
    String part = "{\"type\":\"output_text\",\"annotations\":[],\"logprobs\":[],\"text\":\"\"}";
    var text = new StringBuilder();
    event.accept("response.created", "\"response\":" + response("in_progress", null, "null"));
    event.accept("response.in_progress", "\"response\":" + response("in_progress", null, "null"));
    event.accept("response.output_item.added", "\"output_index\":0,\"item\":" + message("in_progress", null));
    event.accept("response.content_part.added", "\"item_id\":\"msg_bench\",\"output_index\":0,\"content_index\":0,\"part\":" + part);
    for (int i = 0; i < n; i++) {
      text.append("tok").append(i).append(' ');
      event.accept("response.output_text.delta",
          "\"item_id\":\"msg_bench\",\"output_index\":0,\"content_index\":0,\"delta\":\"tok" + i + " \",\"logprobs\":[]");
    }
    event.accept("response.output_text.done",
        "\"item_id\":\"msg_bench\",\"output_index\":0,\"content_index\":0,\"text\":\"" + text + "\",\"logprobs\":[]");
    event.accept("response.content_part.done", "\"item_id\":\"msg_bench\",\"output_index\":0,\"content_index\":0,\"part\":"
        + part.replace("\"text\":\"\"", "\"text\":\"" + text + "\""));
    event.accept("response.output_item.done", "\"output_index\":0,\"item\":" + message("completed", text.toString()));
    event.accept("response.completed", "\"response\":" + response("completed", message("completed", text.toString()), usage(n)));
    return events;
  }

  private static String usage(int outputTokens) {
    return "{\"input_tokens\":12,\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens\":" + outputTokens
        + ",\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":" + (12 + outputTokens) + "}";
  }

  private static String message(String status, String text) {
    return "{\"id\":\"msg_bench\",\"type\":\"message\",\"status\":\"" + status + "\",\"role\":\"assistant\",\"content\":["
        + (text == null ? "" : "{\"type\":\"output_text\",\"annotations\":[],\"logprobs\":[],\"text\":\"" + text + "\"}") + "]}";
  }

  /** A Response object as OpenAI returns it (gpt-4.1, 2025). */
  private static String response(String status, String output, String usage) {
    return "{\"id\":\"resp_bench\",\"object\":\"response\",\"created_at\":1741476542,\"status\":\"" + status + "\",\"background\":false,"
        + "\"error\":null,\"incomplete_details\":null,\"instructions\":null,\"max_output_tokens\":null,\"model\":\"gpt-4.1-2025-04-14\","
        + "\"output\":[" + (output == null ? "" : output) + "],\"parallel_tool_calls\":true,\"previous_response_id\":null,"
        + "\"reasoning\":{\"effort\":null,\"summary\":null},\"store\":false,\"temperature\":1.0,\"text\":{\"format\":{\"type\":\"text\"}},"
        + "\"tool_choice\":\"auto\",\"tools\":[],\"top_p\":1.0,\"truncation\":\"disabled\",\"usage\":" + usage + ",\"user\":null,\"metadata\":{}}";
  }

  private static byte[] sse(String type, String json) {
    return bytes("event: " + type + "\ndata: " + json + "\n\n");
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  @Override
  public void close() {
    server.stop(0);
    workers.shutdownNow();
  }
}

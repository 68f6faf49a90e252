package aigw.local.clients;

import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;

import aigw.local.LocalGateway;
import aigw.local.LocalOptions;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseStreamEvent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Responses provider (an OpenAI-compatible server) that ignores {@code stream} and answers one
 * whole Response: the official Java SDK's {@code createStreaming} through the local gateway still
 * gets the event sequence it reads (text deltas, a function call's arguments, {@code
 * response.completed} with the usage), and the key is counted on that usage.
 */
class ResponsesWholeAnswerStreamTest {
  private static final String MASTER = "sk-responses-whole-master-key-for-tests";
  private static final String RESPONSE = """
      {"id":"resp_whole","object":"response","created_at":1741476542,"status":"completed","background":false,"error":null,
       "incomplete_details":null,"instructions":null,"max_output_tokens":null,"model":"gpt-4.1-2025-04-14",
       "output":[{"id":"msg_whole","type":"message","status":"completed","role":"assistant",
                  "content":[{"type":"output_text","annotations":[],"logprobs":[],"text":"Hello whole"}]},
                 {"id":"fc_whole","type":"function_call","status":"completed","arguments":"{\\"city\\":\\"Paris\\"}",
                  "call_id":"call_whole","name":"get_weather"}],
       "parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":false,
       "temperature":1.0,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":1.0,"truncation":"disabled",
       "usage":{"input_tokens":11,"input_tokens_details":{"cached_tokens":0},"output_tokens":7,
                "output_tokens_details":{"reasoning_tokens":0},"total_tokens":18},
       "user":null,"metadata":{}}""";

  @TempDir static Path dir;
  private static WireMockServer upstream;
  private static LocalGateway gateway;

  @BeforeAll
  static void start() throws Exception {
    upstream = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1"));
    upstream.start();
    upstream.stubFor(post("/v1/responses").willReturn(okJson(RESPONSE))); // stream or not: JSON
    Path config = dir.resolve("config.yaml");
    Files.writeString(config, """
        model_list:
          - model_name: whole-gpt
            litellm_params: {model: openai/gpt-4.1-2025-04-14, api_base: "%s/v1", api_key: os.environ/WHOLE_PROVIDER_KEY}
        """.formatted(upstream.baseUrl()));
    gateway = LocalGateway.start(
        LocalOptions.inMemory(config, Map.of("AIGW_MASTER_KEY", MASTER, "WHOLE_PROVIDER_KEY", "sk-provider-whole")));
  }

  @AfterAll
  static void stop() {
    if (gateway != null) {
      gateway.close();
    }
    if (upstream != null) {
      upstream.stop();
    }
  }

  @Test
  void javaSdkCreateStreamingGetsTheWholeAnswersEventsAndTheKeyCountsItsUsage() throws Exception {
    var admin = new GatewayAdmin(gateway.baseUrl(), MASTER);
    String key = admin.newKey("whole");
    var sdk = OpenAIOkHttpClient.builder().baseUrl(gateway.baseUrl() + "/v1").apiKey(key).maxRetries(0).build();

    List<ResponseStreamEvent> events;
    try (var stream = sdk.responses().createStreaming(ResponseCreateParams.builder().model("whole-gpt").input("Say hello").build())) {
      events = stream.stream().toList();
    }

    assertThat(events.get(0).isCreated()).as("response.created first").isTrue();
    String text = events.stream().flatMap(e -> e.outputTextDelta().stream()).map(d -> d.delta()).collect(Collectors.joining());
    assertThat(text).isEqualTo("Hello whole");
    String arguments = events.stream().flatMap(e -> e.functionCallArgumentsDelta().stream()).map(d -> d.delta()).collect(Collectors.joining());
    assertThat(arguments).isEqualTo("{\"city\":\"Paris\"}");
    assertThat(events.get(events.size() - 1).isCompleted()).as("response.completed last").isTrue();
    Response completed = events.get(events.size() - 1).asCompleted().response();
    assertThat(completed.output()).hasSize(2);
    assertThat(completed.usage().orElseThrow().totalTokens()).isEqualTo(18);
    JsonNode info = admin.keyInfoAfter(key, 1);
    assertThat(info.get("request_count").asLong()).isEqualTo(1);
    assertThat(info.get("total_tokens").asLong()).isEqualTo(18);
    assertThat(info.get("estimated_request_count").asLong()).isZero();
  }
}

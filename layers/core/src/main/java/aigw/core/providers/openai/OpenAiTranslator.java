package aigw.core.providers.openai;

import aigw.core.config.Deployment;
import aigw.core.config.Provider;
import aigw.core.errors.ServiceUnavailable;
import aigw.core.errors.UpstreamFailed;
import aigw.core.errors.UpstreamUnreachable;
import aigw.core.json.Json;
import aigw.core.providers.ProviderRequest;
import aigw.core.providers.ProviderResponse;
import aigw.core.providers.StreamChunk;
import aigw.core.providers.http.HttpApiTranslator;
import aigw.core.providers.http.ServerSentEvent;
import aigw.core.providers.http.StreamTranslation;
import aigw.core.providers.http.UpstreamCall;
import aigw.core.providers.http.UpstreamErrors;
import aigw.core.usage.TokenUsage;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpHeaders;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * OpenAI's HTTP API to OpenAI's: the request goes on as the client sent it, byte for byte, with
 * only {@code model} replaced (and, for a stream, {@code stream_options.include_usage} set), so
 * parameters the gateway does not know still reach the provider and no value changes on the way.
 * Serves every OpenAI-compatible prefix of {@link Provider}: OpenAI, Azure OpenAI (v1 API), Groq,
 * Mistral, DeepSeek, OpenRouter, Ollama, vLLM...
 *
 * <p>https://platform.openai.com/docs/api-reference/chat/create,
 * https://platform.openai.com/docs/api-reference/chat-streaming (chunks, {@code data: [DONE]}, the
 * usage chunk with {@code choices: []}), https://platform.openai.com/docs/api-reference/completions
 */
public final class OpenAiTranslator implements HttpApiTranslator {
  private static final String DONE = "[DONE]";

  @Override
  public UpstreamCall request(Deployment deployment, ProviderRequest request) {
    if (deployment.apiBase() == null) {
      throw new ServiceUnavailable(
          "The gateway has no api_base for model '" + deployment.modelName() + "': " + deployment.apiBaseSource()
              + " is not set. The operator must set it (locally in the environment; on AWS in the provider credentials secret).",
          null);
    }
    var headers = new LinkedHashMap<String, String>();
    headers.put("Content-Type", "application/json");
    headers.put("Accept", request.stream() ? "text/event-stream" : "application/json");
    if (deployment.apiKey() != null) {
      if (deployment.provider().authStyle() == Provider.AuthStyle.API_KEY_HEADER) {
        headers.put("api-key", deployment.apiKey());
      } else {
        headers.put("Authorization", "Bearer " + deployment.apiKey());
      }
    } else if (deployment.apiKeySource() != null) {
      throw new ServiceUnavailable(
          "The gateway has no credential for model '" + deployment.modelName() + "': " + deployment.apiKeySource()
              + " is not set. The operator must set it (locally in the environment; on AWS in the provider credentials secret).",
          null);
    }
    // The client's bytes, only model replaced: no value changes on the way (ForwardedBody). A stream
    // always asks for usage: the gateway counts every call, whether or not the client wants the chunk.
    byte[] body =
        request.stream()
            ? request.body().withModelAndUsage(deployment.upstreamModel())
            : request.body().withModel(deployment.upstreamModel());
    return new UpstreamCall(
        deployment.modelName(),
        URI.create(deployment.apiBase() + request.operation().path()),
        headers,
        body,
        deployment.timeout(),
        deployment.apiKey() == null ? List.of() : List.of(deployment.apiKey()));
  }

  @Override
  public ProviderResponse response(Deployment deployment, ProviderRequest request, byte[] body) {
    JsonNode answer;
    try {
      answer = Json.MAPPER.readTree(body);
    } catch (IOException e) {
      throw new UpstreamUnreachable("The provider of '" + deployment.modelName() + "' sent a body that is not JSON.", e, false);
    }
    if (answer == null || !answer.isObject()) {
      throw new UpstreamUnreachable("The provider of '" + deployment.modelName() + "' sent an empty or non-object answer.", null, false);
    }
    return new ProviderResponse(body, TokenUsage.fromOpenAi(answer.get("usage")));
  }

  /**
   * The provider's error in our envelope. Its own 401/403 mean the gateway's provider credential is
   * wrong, not the client's key, so they become 502: the client must not think its key was refused.
   */
  @Override
  public UpstreamFailed error(Deployment deployment, int status, HttpHeaders headers, byte[] body) {
    if (UpstreamErrors.refusesCredential(status)) {
      return UpstreamErrors.credentialRefused(deployment, status);
    }
    UpstreamFailed failure = failureIn(body, status);
    String retryAfter = headers.firstValue("retry-after").orElse(null);
    return new UpstreamFailed(status, failure.getMessage(), failure.upstreamType(), failure.param(), failure.upstreamCode(), retryAfter);
  }

  /** OpenAI's {@code {"error":{...}}} (or Ollama's {@code {"error":"text"}}) in a body, with {@code status}. */
  private static UpstreamFailed failureIn(byte[] body, int status) {
    try {
      return failureIn(Json.MAPPER.readTree(body), status);
    } catch (IOException | RuntimeException notJson) {
      return new UpstreamFailed(status, "The provider answered HTTP " + status + ".", null, null, null, null);
    }
  }

  private static UpstreamFailed failureIn(JsonNode answer, int status) {
    String message = null;
    String type = null;
    String param = null;
    String code = null;
    JsonNode error = answer == null ? null : answer.path("error");
    if (error != null && error.isObject()) {
      message = textOrNull(error.get("message"));
      type = textOrNull(error.get("type"));
      param = textOrNull(error.get("param"));
      code = textOrNull(error.get("code"));
    } else if (error != null && error.isTextual()) {
      message = error.asText(); // Ollama and some others: {"error": "text"}
    }
    if (message == null) {
      message = "The provider answered HTTP " + status + ".";
    }
    return new UpstreamFailed(status, message, type, param, code, null);
  }

  @Override
  public StreamTranslation stream(Deployment deployment, ProviderRequest request) {
    return new ChunkPassThrough(deployment);
  }

  /**
   * OpenAI's stream is already OpenAI's: each {@code data:} event is passed on as it came; the
   * gateway only reads usage and generated text from it. {@code data: [DONE]} ends it; an event
   * carrying {@code error} (OpenAI sends one when generation fails mid-stream) is thrown.
   */
  private static final class ChunkPassThrough implements StreamTranslation {
    private final Deployment deployment;
    private boolean complete;

    ChunkPassThrough(Deployment deployment) {
      this.deployment = deployment;
    }

    @Override
    public List<StreamChunk> onEvent(ServerSentEvent event) {
      if (DONE.equals(event.data().strip())) {
        complete = true;
        return List.of();
      }
      JsonNode chunk;
      try {
        chunk = Json.MAPPER.readTree(event.data());
      } catch (IOException e) {
        throw new UpstreamUnreachable("The provider of '" + deployment.modelName() + "' sent a stream event that is not JSON.", e, false);
      }
      if (chunk == null || !chunk.isObject()) {
        throw new UpstreamUnreachable("The provider of '" + deployment.modelName() + "' sent a stream event that is not a JSON object.", null, false);
      }
      if (chunk.hasNonNull("error")) {
        // Mid-stream: the status was 200 already. The provider's own words, as a server error.
        throw failureIn(chunk, 500);
      }
      JsonNode usage = chunk.get("usage");
      TokenUsage tokens = usage != null && usage.isObject() ? TokenUsage.fromOpenAi(usage) : null;
      JsonNode choices = chunk.path("choices");
      boolean usageOnly = tokens != null && (choices.isMissingNode() || (choices.isArray() && choices.isEmpty()));
      return List.of(new StreamChunk(event.data().getBytes(StandardCharsets.UTF_8), tokens, usageOnly, generatedChars(choices)));
    }

    @Override
    public boolean complete() {
      return complete;
    }
  }

  /** Characters of generated text in a chunk's choices: content, refusal, reasoning, tool call arguments, text. */
  static long generatedChars(JsonNode choices) {
    long chars = 0;
    for (JsonNode choice : choices) {
      chars += length(choice.get("text")); // legacy completions
      JsonNode delta = choice.path("delta");
      chars += length(delta.get("content")) + length(delta.get("refusal")) + length(delta.get("reasoning_content"));
      for (JsonNode call : delta.path("tool_calls")) {
        chars += length(call.path("function").get("arguments"));
      }
    }
    return chars;
  }

  private static long length(JsonNode text) {
    return text != null && text.isTextual() ? text.asText().length() : 0;
  }

  private static String textOrNull(JsonNode node) {
    return node == null || node.isNull() ? null : node.asText();
  }
}

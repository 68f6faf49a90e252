package aigw.core.providers.azure;

import aigw.core.config.Deployment;
import aigw.core.errors.UpstreamFailed;
import aigw.core.json.Json;
import aigw.core.providers.ProviderRequest;
import aigw.core.providers.ProviderResponse;
import aigw.core.providers.StreamChunk;
import aigw.core.providers.http.HttpApiTranslator;
import aigw.core.providers.http.StreamTranslation;
import aigw.core.providers.http.UpstreamCall;
import aigw.core.providers.openai.OpenAiTranslator;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpHeaders;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Azure OpenAI ({@code azure/<deployment>}): OpenAI's API with Azure's URLs, its {@code api-key}
 * header. Answers, stream chunks and errors have OpenAI's shapes
 * (Azure adds {@code prompt_filter_results} and {@code content_filter_results}, and streams a
 * first chunk with {@code choices: []} and no usage, which is relayed like any other chunk), so
 * they are read by {@link OpenAiTranslator}.
 *
 * <p>The URL depends on {@code api_version} ({@link AzureApiVersion}): the v1 API at {@code
 * <api_base>/openai/v1/<operation>}, or a dated version at {@code
 * <api_base>/openai/deployments/<deployment>/<operation>?api-version=<version>}. The body keeps
 * {@code model} = the deployment name in both, as the Azure SDKs send it; the deployment URL is
 * what Azure routes by. A stream to a dated version older than 2024-09-01 goes without {@code
 * stream_options}, which those versions refuse; its usage is then estimated, as for Mistral.
 *
 * <p>https://learn.microsoft.com/azure/ai-foundry/openai/reference (data plane inference),
 * https://learn.microsoft.com/azure/ai-foundry/openai/api-version-lifecycle (v1 API)
 */
public final class AzureTranslator implements HttpApiTranslator {
  private final OpenAiTranslator openAi = new OpenAiTranslator();

  /**
   * The call: {@link OpenAiTranslator}'s (api-key header, body with the deployment name as {@code
   * model}, missing api_base or key answered 503), at Azure's URL for the deployment's version.
   */
  @Override
  public UpstreamCall request(Deployment deployment, ProviderRequest request) {
    UpstreamCall call = openAi.request(deployment, request); // the v1 API: <api_base>/openai/v1 + path
    String version = deployment.apiVersion();
    if (AzureApiVersion.isV1(version)) {
      return call;
    }
    byte[] body = call.body();
    if (request.stream() && !AzureApiVersion.acceptsStreamOptions(version)) {
      body = request.body().withModelWithoutStreamOptions(deployment.upstreamModel());
    }
    return new UpstreamCall(
        call.modelName(), datedUri(deployment, request), call.headers(), body, call.timeout(), call.secrets());
  }

  /** {@code <resource>/openai/deployments/<deployment>/<operation>?api-version=<version>}. */
  static URI datedUri(Deployment deployment, ProviderRequest request) {
    String base = deployment.apiBase().toString(); // <resource>/openai/v1 (ModelList.apiBase)
    String openai = base.substring(0, base.length() - "/v1".length());
    String deploymentName = URLEncoder.encode(deployment.upstreamModel(), StandardCharsets.UTF_8).replace("+", "%20");
    return URI.create(
        openai + "/deployments/" + deploymentName + request.operation().path() + "?api-version="
            + URLEncoder.encode(deployment.apiVersion().strip(), StandardCharsets.UTF_8));
  }

  @Override
  public ProviderResponse response(Deployment deployment, ProviderRequest request, byte[] body) {
    return openAi.response(deployment, request, body);
  }

  @Override
  public StreamTranslation stream(Deployment deployment, ProviderRequest request) {
    return openAi.stream(deployment, request);
  }

  @Override
  public List<StreamChunk> chunksOf(Deployment deployment, ProviderRequest request, byte[] body) {
    return openAi.chunksOf(deployment, request, body);
  }

  /**
   * OpenAI's reading of the error ({@code {"error":{"code":"429","message":...}}}), which keeps
   * Azure's {@code retry-after-ms} beside {@code Retry-After}. A content filter refusal (400, {@code
   * code: content_filter}) names in its message the categories that were filtered, from {@code
   * innererror.content_filter_result}, which the envelope has no field for: the user needs them to
   * know what to change.
   */
  @Override
  public UpstreamFailed error(Deployment deployment, int status, HttpHeaders headers, byte[] body) {
    UpstreamFailed failure = openAi.error(deployment, status, headers, body);
    if (!"content_filter".equals(failure.upstreamCode())) {
      return failure;
    }
    String filtered = filteredCategories(body);
    if (filtered.isEmpty()) {
      return failure;
    }
    return new UpstreamFailed(
        failure.upstreamStatus(), failure.getMessage() + " Filtered by Azure's content filter: " + filtered + ".",
        failure.upstreamType(), failure.param(), failure.upstreamCode(), failure.retryAfter(), failure.retryAfterMs());
  }

  /** {@code hate (medium), jailbreak (detected)}: the categories of {@code innererror.content_filter_result} with {@code filtered: true}. */
  private static String filteredCategories(byte[] body) {
    JsonNode result;
    try {
      result = Json.MAPPER.readTree(body).path("error").path("innererror").path("content_filter_result");
    } catch (IOException | RuntimeException notJson) {
      return "";
    }
    var names = new ArrayList<String>();
    result.properties().forEach(category -> {
      JsonNode verdict = category.getValue();
      if (verdict.path("filtered").asBoolean(false)) {
        String severity = verdict.path("severity").asText("");
        names.add(category.getKey() + (!severity.isEmpty() ? " (" + severity + ")" : verdict.path("detected").asBoolean(false) ? " (detected)" : ""));
      }
    });
    return String.join(", ", names);
  }
}

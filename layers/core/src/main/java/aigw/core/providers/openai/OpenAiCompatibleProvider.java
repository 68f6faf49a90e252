package aigw.core.providers.openai;

import aigw.core.config.Deployment;
import aigw.core.config.Provider;
import aigw.core.errors.ServiceUnavailable;
import aigw.core.errors.UpstreamFailed;
import aigw.core.errors.UpstreamTimeout;
import aigw.core.errors.UpstreamUnreachable;
import aigw.core.json.Json;
import aigw.core.keys.ApiKeys;
import aigw.core.providers.ForwardedBody;
import aigw.core.providers.ModelProvider;
import aigw.core.providers.Operation;
import aigw.core.providers.ProviderResponse;
import aigw.core.usage.TokenUsage;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import javax.net.ssl.SSLHandshakeException;

/**
 * Any provider with OpenAI's HTTP API: OpenAI, Azure OpenAI (v1 API), Groq, Mistral, DeepSeek,
 * OpenRouter, Ollama, vLLM... The request goes on as the client sent it, byte for byte, with only
 * {@code model} replaced, so parameters the gateway does not know still reach the provider and no
 * value changes on the way.
 * https://platform.openai.com/docs/api-reference/chat/create
 */
public final class OpenAiCompatibleProvider implements ModelProvider {
  private final HttpClient http;

  public OpenAiCompatibleProvider(HttpClient http) {
    this.http = http;
  }

  /** How long a provider has to accept a connection (TCP and TLS). */
  public static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);

  /** The client every provider shares: HTTP/2 where the server offers it, a bounded connect time. */
  public static HttpClient defaultHttpClient() {
    return HttpClient.newBuilder()
        .connectTimeout(CONNECT_TIMEOUT)
        .followRedirects(HttpClient.Redirect.NEVER)
        // Completions run on the client's selector thread instead of hopping to a pool thread: the
        // body handlers used here (byte arrays) never block, and one thread hand-off less per call
        // is measurable in bench/.
        .executor(Runnable::run)
        .build();
  }

  @Override
  public ProviderResponse call(Deployment deployment, Operation operation, ForwardedBody request) {
    if (deployment.apiBase() == null) {
      throw new ServiceUnavailable(
          "The gateway has no api_base for model '" + deployment.modelName() + "': " + deployment.apiBaseSource()
              + " is not set. The operator must set it (locally in the environment; on AWS in the provider credentials secret).",
          null);
    }
    URI uri = URI.create(deployment.apiBase() + operation.path());
    // The client's bytes, only model replaced: no value changes on the way (ForwardedBody).
    var forwarded = new WatchedBody(HttpRequest.BodyPublishers.ofByteArray(request.withModel(deployment.upstreamModel())));
    var builder =
        HttpRequest.newBuilder(uri)
            .timeout(deployment.timeout())
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .POST(forwarded);
    if ("http".equals(uri.getScheme())) {
      // Plain-text servers (Ollama, vLLM, test stubs) speak HTTP/1.1; skip the h2c upgrade dance.
      builder.version(HttpClient.Version.HTTP_1_1);
    }
    if (deployment.apiKey() != null) {
      if (deployment.provider().authStyle() == Provider.AuthStyle.API_KEY_HEADER) {
        builder.header("api-key", deployment.apiKey());
      } else {
        builder.header("Authorization", "Bearer " + deployment.apiKey());
      }
    } else if (deployment.apiKeySource() != null) {
      throw new ServiceUnavailable(
          "The gateway has no credential for model '"
              + deployment.modelName()
              + "': "
              + deployment.apiKeySource()
              + " is not set. The operator must set it (locally in the environment; on AWS in the provider credentials secret).",
          null);
    }

    HttpResponse<byte[]> response;
    try {
      response = http.send(builder.build(), HttpResponse.BodyHandlers.ofByteArray());
    } catch (HttpConnectTimeoutException | ConnectException | SSLHandshakeException e) {
      // Checked before HttpTimeoutException, the parent of the first: no connection (or no TLS
      // session) means no byte of the request was sent, so another deployment may be tried.
      throw cannotConnect(deployment, uri, e);
    } catch (HttpTimeoutException e) {
      throw new UpstreamTimeout(
          "The provider of '" + deployment.modelName() + "' at " + hostAndPort(uri) + " did not answer within " + seconds(deployment.timeout()) + " s.");
    } catch (IOException e) {
      if (!forwarded.requested()) {
        // The client never asked for the body, so the request never left: for https it waits for the
        // TLS handshake (HTTP/2 negotiation) before it starts an exchange. The JDK raises a plain
        // SSLException, not an SSLHandshakeException, when e.g. a plain-HTTP port answers the handshake.
        throw cannotConnect(deployment, uri, e);
      }
      throw new UpstreamUnreachable(
          "The connection to the provider of '" + deployment.modelName() + "' at " + hostAndPort(uri) + " failed after the request was sent: "
              + ConnectionFailures.afterSending(e) + ".",
          e, false);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new UpstreamUnreachable("Interrupted while calling the provider of '" + deployment.modelName() + "' at " + hostAndPort(uri) + ".", e, false);
    }

    int status = response.statusCode();
    if (status / 100 == 3) {
      // Redirects are not followed (a provider URL that moved is a configuration error, and
      // following one would resend the credential elsewhere).
      throw new UpstreamFailed(
          502, "The provider of '" + deployment.modelName() + "' answered with a redirect (HTTP " + status + "); check its api_base.",
          "upstream_error", null, null, null);
    }
    if (status / 100 != 2) {
      throw failure(deployment, response);
    }
    JsonNode body;
    try {
      body = Json.MAPPER.readTree(response.body());
    } catch (IOException e) {
      throw new UpstreamUnreachable("The provider of '" + deployment.modelName() + "' sent a body that is not JSON.", e, false);
    }
    if (body == null || !body.isObject()) {
      throw new UpstreamUnreachable("The provider of '" + deployment.modelName() + "' sent an empty or non-object answer.", null, false);
    }
    return new ProviderResponse(response.body(), TokenUsage.fromOpenAi(body.get("usage")));
  }

  /**
   * The provider's error in our envelope. Its own 401/403 mean the gateway's provider credential is
   * wrong, not the client's key, so they become 502: the client must not think its key was refused.
   */
  static UpstreamFailed failure(Deployment deployment, HttpResponse<byte[]> response) {
    int status = response.statusCode();
    String message = null;
    String type = null;
    String param = null;
    String code = null;
    try {
      JsonNode error = Json.MAPPER.readTree(response.body()).path("error");
      if (error.isObject()) {
        message = textOrNull(error.get("message"));
        type = textOrNull(error.get("type"));
        param = textOrNull(error.get("param"));
        code = textOrNull(error.get("code"));
      } else if (error.isTextual()) {
        message = error.asText(); // Ollama and some others: {"error": "text"}
      }
    } catch (IOException | RuntimeException notJson) {
      // fall through to a generic message
    }
    if (message == null) {
      message = "The provider answered HTTP " + status + ".";
    }
    if (deployment.apiKey() != null && deployment.apiKey().length() >= 8) {
      // Some providers quote the credential they were given; it must not reach the client.
      message = message.replace(deployment.apiKey(), ApiKeys.mask(deployment.apiKey()));
    }
    String retryAfter = response.headers().firstValue("retry-after").orElse(null);
    if (status == 401 || status == 403) {
      // The provider's own words about the gateway's credential are for the operator, not the client.
      return new UpstreamFailed(
          502,
          "The provider of '" + deployment.modelName() + "' refused the gateway's credentials (HTTP " + status
              + "). The operator must check the provider key configured for it.",
          "upstream_auth_error",
          null,
          null,
          null);
    }
    return new UpstreamFailed(status, message, type, param, code, retryAfter);
  }

  static String seconds(Duration timeout) {
    return java.math.BigDecimal.valueOf(timeout.toMillis(), 3).stripTrailingZeros().toPlainString();
  }

  private static String textOrNull(JsonNode node) {
    return node == null || node.isNull() ? null : node.asText();
  }

  /** No request left: a failure of the connection or its TLS handshake; another deployment may be tried. */
  private UpstreamUnreachable cannotConnect(Deployment deployment, URI uri, IOException e) {
    return new UpstreamUnreachable(
        "Cannot connect to the provider of '" + deployment.modelName() + "' at " + hostAndPort(uri) + ": "
            + ConnectionFailures.beforeSending(e, uri.getHost(), port(uri), http.connectTimeout().orElse(CONNECT_TIMEOUT)) + ".",
        e, true);
  }

  /**
   * The request body, noting whether the HTTP client ever asked for it. It asks when it sends the
   * request, after the connection is open and, for https, the TLS handshake is complete (the client
   * negotiates HTTP/2 first). A failure before that means the provider cannot have received a whole
   * request, so it cannot have run or billed one, and another deployment may be tried.
   */
  private static final class WatchedBody implements HttpRequest.BodyPublisher {
    private final HttpRequest.BodyPublisher bytes;
    private volatile boolean requested;

    WatchedBody(HttpRequest.BodyPublisher bytes) {
      this.bytes = bytes;
    }

    boolean requested() {
      return requested;
    }

    @Override
    public long contentLength() {
      return bytes.contentLength();
    }

    @Override
    public void subscribe(java.util.concurrent.Flow.Subscriber<? super java.nio.ByteBuffer> subscriber) {
      requested = true;
      bytes.subscribe(subscriber);
    }
  }

  /**
   * {@code host:port} of a provider URL, the port filled in from the scheme. Never the rest of the
   * URL: an {@code api_base} may carry a credential in its user info or query.
   */
  static String hostAndPort(URI uri) {
    String host = uri.getHost() == null ? "?" : uri.getHost();
    return (host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host) + ":" + port(uri);
  }

  private static int port(URI uri) {
    return uri.getPort() != -1 ? uri.getPort() : "https".equals(uri.getScheme()) ? 443 : 80;
  }
}

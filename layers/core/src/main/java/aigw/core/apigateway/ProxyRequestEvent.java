package aigw.core.apigateway;

import java.util.List;
import java.util.Map;

/**
 * An API Gateway REST proxy event (payload format 1.0), the fields aigw reads: what Lambda hands
 * the proxy and admin functions, and what the files of events/ hold. Other fields of the event
 * (resource, stageVariables, pathParameters, …) are ignored when it is read.
 *
 * <p>aigw's own class rather than aws-lambda-java-events' {@code APIGatewayProxyRequestEvent}:
 * that jar (0.5 MB) and the joda-time the runtime's serializer loads for its event classes (0.6
 * MB) were a tenth of the Lambda layer for these few fields. A plain bean (getters, setters)
 * because that is what the runtime interface client's serializer reads and writes for a handler's
 * own types; the {@code with…} methods are for building one in code and tests.
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html#api-gateway-simple-proxy-for-lambda-input-format
 */
public final class ProxyRequestEvent {
  private String httpMethod;
  private String path;
  private Map<String, String> headers;
  private Map<String, List<String>> multiValueHeaders;
  private Map<String, String> queryStringParameters;
  private Map<String, List<String>> multiValueQueryStringParameters;
  private ProxyRequestContext requestContext;
  private String body;
  private Boolean isBase64Encoded;

  public String getHttpMethod() { return httpMethod; }
  public void setHttpMethod(String httpMethod) { this.httpMethod = httpMethod; }
  public ProxyRequestEvent withHttpMethod(String httpMethod) { this.httpMethod = httpMethod; return this; }

  /** The request's path as the client sent it, e.g. {@code /v1/chat/completions}. */
  public String getPath() { return path; }
  public void setPath(String path) { this.path = path; }
  public ProxyRequestEvent withPath(String path) { this.path = path; return this; }

  /** The last value of each header, names as the client sent them; null when there are none. */
  public Map<String, String> getHeaders() { return headers; }
  public void setHeaders(Map<String, String> headers) { this.headers = headers; }
  public ProxyRequestEvent withHeaders(Map<String, String> headers) { this.headers = headers; return this; }

  /** Every value of each header; null when there are none. */
  public Map<String, List<String>> getMultiValueHeaders() { return multiValueHeaders; }
  public void setMultiValueHeaders(Map<String, List<String>> multiValueHeaders) { this.multiValueHeaders = multiValueHeaders; }
  public ProxyRequestEvent withMultiValueHeaders(Map<String, List<String>> multiValueHeaders) { this.multiValueHeaders = multiValueHeaders; return this; }

  public Map<String, String> getQueryStringParameters() { return queryStringParameters; }
  public void setQueryStringParameters(Map<String, String> queryStringParameters) { this.queryStringParameters = queryStringParameters; }
  public ProxyRequestEvent withQueryStringParameters(Map<String, String> queryStringParameters) { this.queryStringParameters = queryStringParameters; return this; }

  public Map<String, List<String>> getMultiValueQueryStringParameters() { return multiValueQueryStringParameters; }
  public void setMultiValueQueryStringParameters(Map<String, List<String>> multiValueQueryStringParameters) { this.multiValueQueryStringParameters = multiValueQueryStringParameters; }
  public ProxyRequestEvent withMultiValueQueryStringParameters(Map<String, List<String>> multiValueQueryStringParameters) { this.multiValueQueryStringParameters = multiValueQueryStringParameters; return this; }

  public ProxyRequestContext getRequestContext() { return requestContext; }
  public void setRequestContext(ProxyRequestContext requestContext) { this.requestContext = requestContext; }
  public ProxyRequestEvent withRequestContext(ProxyRequestContext requestContext) { this.requestContext = requestContext; return this; }

  /** The body as text, or base64 when {@link #getIsBase64Encoded()}; null when there is none. */
  public String getBody() { return body; }
  public void setBody(String body) { this.body = body; }
  public ProxyRequestEvent withBody(String body) { this.body = body; return this; }

  public Boolean getIsBase64Encoded() { return isBase64Encoded; }
  public void setIsBase64Encoded(Boolean isBase64Encoded) { this.isBase64Encoded = isBase64Encoded; }
  public ProxyRequestEvent withIsBase64Encoded(Boolean isBase64Encoded) { this.isBase64Encoded = isBase64Encoded; return this; }

  /** The event's {@code requestContext}: API Gateway's request id and the caller's address. */
  public static final class ProxyRequestContext {
    private String requestId;
    private RequestIdentity identity;

    public String getRequestId() { return requestId; }
    public void setRequestId(String requestId) { this.requestId = requestId; }
    public ProxyRequestContext withRequestId(String requestId) { this.requestId = requestId; return this; }

    public RequestIdentity getIdentity() { return identity; }
    public void setIdentity(RequestIdentity identity) { this.identity = identity; }
    public ProxyRequestContext withIdentity(RequestIdentity identity) { this.identity = identity; return this; }
  }

  /** The event's {@code requestContext.identity}: the caller's address as API Gateway saw it. */
  public static final class RequestIdentity {
    private String sourceIp;

    public String getSourceIp() { return sourceIp; }
    public void setSourceIp(String sourceIp) { this.sourceIp = sourceIp; }
    public RequestIdentity withSourceIp(String sourceIp) { this.sourceIp = sourceIp; return this; }
  }
}

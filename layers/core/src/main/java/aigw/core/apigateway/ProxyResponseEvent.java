package aigw.core.apigateway;

import java.util.List;
import java.util.Map;

/**
 * The answer to an API Gateway REST proxy event (buffered integration): status, headers and the
 * whole body. aigw's own class rather than aws-lambda-java-events' (see {@link ProxyRequestEvent});
 * a plain bean, which the runtime interface client's serializer writes as API Gateway's JSON.
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html#api-gateway-simple-proxy-for-lambda-output-format
 */
public final class ProxyResponseEvent {
  private Integer statusCode;
  private Map<String, String> headers;
  private Map<String, List<String>> multiValueHeaders;
  private String body;
  private Boolean isBase64Encoded;

  public Integer getStatusCode() { return statusCode; }
  public void setStatusCode(Integer statusCode) { this.statusCode = statusCode; }
  public ProxyResponseEvent withStatusCode(Integer statusCode) { this.statusCode = statusCode; return this; }

  public Map<String, String> getHeaders() { return headers; }
  public void setHeaders(Map<String, String> headers) { this.headers = headers; }
  public ProxyResponseEvent withHeaders(Map<String, String> headers) { this.headers = headers; return this; }

  /** Headers with several values; aigw sends none (null). */
  public Map<String, List<String>> getMultiValueHeaders() { return multiValueHeaders; }
  public void setMultiValueHeaders(Map<String, List<String>> multiValueHeaders) { this.multiValueHeaders = multiValueHeaders; }
  public ProxyResponseEvent withMultiValueHeaders(Map<String, List<String>> multiValueHeaders) { this.multiValueHeaders = multiValueHeaders; return this; }

  public String getBody() { return body; }
  public void setBody(String body) { this.body = body; }
  public ProxyResponseEvent withBody(String body) { this.body = body; return this; }

  public Boolean getIsBase64Encoded() { return isBase64Encoded; }
  public void setIsBase64Encoded(Boolean isBase64Encoded) { this.isBase64Encoded = isBase64Encoded; }
  public ProxyResponseEvent withIsBase64Encoded(Boolean isBase64Encoded) { this.isBase64Encoded = isBase64Encoded; return this; }
}

package aigw.admin;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.Gateway;
import aigw.core.GatewaySettings;
import aigw.core.http.CorsPolicy;
import aigw.core.secrets.StaticSecretSource;
import aigw.core.testing.LocalDynamo;
import aigw.core.testing.MutableClock;
import aigw.core.apigateway.ProxyRequestEvent;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The admin function called by a browser page (an admin UI on another origin), through API Gateway's ANY method. */
class AdminHandlerCorsTest {
  private static final String ADMIN_UI = "https://admin.example.com";
  private LocalDynamo dynamo;
  private AdminHandler handler;

  @BeforeEach
  void setUp() {
    dynamo = new LocalDynamo();
    var settings = GatewaySettings.fromEnvironment(Map.of("AIGW_KEYS_TABLE", dynamo.keysTable(), "AIGW_CORS_ALLOWED_ORIGINS", ADMIN_UI));
    var gateway = Gateway.over(settings, dynamo.client(), StaticSecretSource.of(AdminApi.MASTER), List.of(), MutableClock.at(AdminApi.START));
    handler = new AdminHandler(new AdminService(gateway), CorsPolicy.allowing(settings.corsAllowedOrigins()));
  }

  @AfterEach
  void tearDown() {
    dynamo.close();
  }

  private static ProxyRequestEvent event(String method, String path, Map<String, String> headers) {
    return new ProxyRequestEvent()
        .withHttpMethod(method)
        .withPath(path)
        .withHeaders(new HashMap<>(headers))
        .withRequestContext(new ProxyRequestEvent.ProxyRequestContext().withRequestId("req-admin-cors"));
  }

  @Test
  void preflightOfAnAdminRouteNeedsNoMasterKey() {
    var response = handler.handleRequest(
        event("OPTIONS", "/key/generate", Map.of("Origin", ADMIN_UI, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "x-api-key, content-type")),
        null);
    assertThat(response.getStatusCode()).isEqualTo(204);
    assertThat(response.getHeaders()).containsEntry("Access-Control-Allow-Origin", ADMIN_UI);
    assertThat(response.getHeaders().get("Access-Control-Allow-Headers")).contains("x-api-key", "content-type", "authorization");
  }

  @Test
  void anAdminErrorCarriesAllowOriginSoThePageCanReadIt() {
    var response = handler.handleRequest(event("POST", "/key/generate", Map.of("Origin", ADMIN_UI)), null);
    assertThat(response.getStatusCode()).isEqualTo(401);
    assertThat(response.getBody()).contains("\"error\"");
    assertThat(response.getHeaders()).containsEntry("Access-Control-Allow-Origin", ADMIN_UI).containsEntry("Vary", "Origin");
  }

  @Test
  void headOfAHealthRouteIsItsGetWithoutBody() {
    var get = handler.handleRequest(event("GET", "/health/liveliness", Map.of()), null);
    var head = handler.handleRequest(event("HEAD", "/health/liveliness", Map.of()), null);
    assertThat(get.getStatusCode()).isEqualTo(200);
    assertThat(get.getBody()).isNotEmpty();
    assertThat(head.getStatusCode()).isEqualTo(200);
    assertThat(head.getBody()).isEmpty();
  }
}

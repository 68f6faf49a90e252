package aigw.admin;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.Gateway;
import aigw.core.GatewaySettings;
import aigw.core.json.Json;
import aigw.core.secrets.StaticSecretSource;
import aigw.core.testing.Events;
import aigw.core.testing.FaultyDynamo;
import aigw.core.testing.FaultyDynamo.Fault;
import aigw.core.testing.MutableClock;
import aigw.core.apigateway.ProxyResponseEvent;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The admin function over a DynamoDB that throttles or fails on command ({@link FaultyDynamo}: the
 * gateway's own SDK client and retries over HTTP): every route answers 503 with {@code
 * Retry-After}, never 500, and works again once DynamoDB does.
 */
class AdminDynamoDbFaultsTest {
  private static FaultyDynamo dynamo;
  private static AdminHandler handler;

  @BeforeAll
  static void start() {
    dynamo = new FaultyDynamo();
    var settings = GatewaySettings.fromEnvironment(Map.of("AIGW_KEYS_TABLE", dynamo.keysTable()));
    var gateway = Gateway.over(settings, dynamo.client(), StaticSecretSource.of(AdminApi.MASTER), AdminApi.MODELS,
        MutableClock.at(AdminApi.START));
    handler = new AdminHandler(new AdminService(gateway));
  }

  @AfterAll
  static void stop() {
    dynamo.close();
  }

  @ParameterizedTest
  @EnumSource(value = Fault.class, names = {"PROVISIONED_THROUGHPUT_EXCEEDED", "THROTTLING"})
  void adminRoutesGet503WithRetryAfterWhileDynamoDbThrottles(Fault fault) throws Exception {
    dynamo.fail(null, fault);
    try {
      for (String event : new String[] {"admin-key-generate.json", "admin-key-list.json"}) {
        ProxyResponseEvent response = handler.handleRequest(Events.load(event), null);
        assertThat(response.getStatusCode()).as("%s: %s", event, response.getBody()).isEqualTo(503);
        assertThat(response.getHeaders()).containsEntry("Retry-After", "1");
        JsonNode error = Json.MAPPER.readTree(response.getBody()).get("error");
        assertThat(error.get("type").asText()).isEqualTo("service_unavailable");
        assertThat(error.get("message").asText()).contains("DynamoDB");
        assertThat(response.getBody()).doesNotContain("\tat ");
      }
    } finally {
      dynamo.recover();
    }
    assertThat(handler.handleRequest(Events.load("admin-key-list.json"), null).getStatusCode()).isEqualTo(200);
  }
}

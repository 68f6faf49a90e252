package aigw.core.rotation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;

/**
 * Where rotation events go. The partition's DNS suffix is looked up at the first publish, not when
 * the admin function starts (PackagedFunctionsTest checks its init loads none of the SDK's region
 * metadata): the endpoint it then resolves must be the region's own, in every partition.
 */
class EventBridgeRotationEventsTest {
  private final String regionBefore = System.getProperty("aws.region");

  @AfterEach
  void restoreRegion() {
    if (regionBefore == null) {
      System.clearProperty("aws.region");
    } else {
      System.setProperty("aws.region", regionBefore);
    }
  }

  @Test
  void theEndpointIsTheRegionsOwnInItsPartition() {
    for (var expected : Map.of(
        "us-east-1", "https://events.us-east-1.amazonaws.com",
        "eu-west-3", "https://events.eu-west-3.amazonaws.com",
        "cn-north-1", "https://events.cn-north-1.amazonaws.com.cn").entrySet()) {
      System.setProperty("aws.region", expected.getKey()); // the first link of the SDK's region chain
      var events = EventBridgeRotationEvents.fromEnvironment(UrlConnectionHttpClient.create(), Map.of());
      assertThat(events.endpoint()).as(expected.getKey()).isEqualTo(URI.create(expected.getValue()));
    }
  }

  @Test
  void anEndpointOverrideWinsAndAMalformedOneStopsTheStart() {
    System.setProperty("aws.region", "us-east-1");
    var events = EventBridgeRotationEvents.fromEnvironment(UrlConnectionHttpClient.create(),
        Map.of("AWS_ENDPOINT_URL_EVENTBRIDGE", " http://127.0.0.1:4566 "));
    assertThat(events.endpoint()).isEqualTo(URI.create("http://127.0.0.1:4566"));
    assertThatThrownBy(() -> EventBridgeRotationEvents.fromEnvironment(UrlConnectionHttpClient.create(),
        Map.of("AWS_ENDPOINT_URL_EVENTBRIDGE", "http://bad host")))
        .isInstanceOf(IllegalArgumentException.class);
  }
}

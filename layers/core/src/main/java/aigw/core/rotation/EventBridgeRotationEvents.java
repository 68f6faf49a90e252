package aigw.core.rotation;

import aigw.core.json.Json;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.logging.Logger;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.http.ContentStreamProvider;
import software.amazon.awssdk.http.HttpExecuteRequest;
import software.amazon.awssdk.http.HttpExecuteResponse;
import software.amazon.awssdk.http.SdkHttpClient;
import software.amazon.awssdk.http.SdkHttpMethod;
import software.amazon.awssdk.http.SdkHttpRequest;
import software.amazon.awssdk.http.auth.aws.signer.AwsV4HttpSigner;
import software.amazon.awssdk.http.auth.spi.signer.SignedRequest;
import software.amazon.awssdk.regions.PartitionMetadata;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.regions.providers.DefaultAwsRegionProviderChain;

/**
 * Publishes rotation events to the default EventBridge bus with PutEvents.
 *
 * <p>Why not the SDK's EventBridgeClient: the {@code software.amazon.awssdk:eventbridge} module is
 * not served by the Maven mirror this project builds from. PutEvents is one JSON call, so it is
 * made here with the SDK's own pieces (its SigV4 signer, credentials chain and url-connection HTTP
 * client), nothing hand-rolled but the request body. Replace it with EventBridgeClient when the
 * module is available. The endpoint honours AWS_ENDPOINT_URL_EVENTBRIDGE like the SDK would.
 */
public final class EventBridgeRotationEvents implements RotationEvents {
  private static final Logger LOG = Logger.getLogger(EventBridgeRotationEvents.class.getName());

  private final SdkHttpClient http;
  private final AwsCredentialsProvider credentials;
  private final Region region;
  /** Where PutEvents goes; resolved at the first publish, see {@link #fromEnvironment}. */
  private final Supplier<URI> endpointSource;
  private volatile URI endpoint;

  public EventBridgeRotationEvents(SdkHttpClient http, AwsCredentialsProvider credentials, Region region, URI endpoint) {
    this(http, credentials, region, () -> endpoint);
  }

  private EventBridgeRotationEvents(SdkHttpClient http, AwsCredentialsProvider credentials, Region region, Supplier<URI> endpoint) {
    this.http = http;
    this.credentials = credentials;
    this.region = region;
    this.endpointSource = endpoint;
  }

  /**
   * The region from the standard chain (on Lambda, AWS_REGION), the endpoint from
   * AWS_ENDPOINT_URL_EVENTBRIDGE or else {@code https://events.REGION.DNS-SUFFIX} of the region's
   * partition. The partition's DNS suffix is looked up only at the first publish: the SDK's
   * PartitionMetadata loads its whole region and service metadata at once (about 360 classes, close
   * to a second of a loaded admin function's init), and most admin environments never rotate a key.
   */
  public static EventBridgeRotationEvents fromEnvironment(SdkHttpClient http, Map<String, String> env) {
    Region region = new DefaultAwsRegionProviderChain().getRegion();
    String override = env.get("AWS_ENDPOINT_URL_EVENTBRIDGE");
    if (override != null && !override.isBlank()) {
      URI endpoint = URI.create(override.trim()); // a mistake in it stops the init, as before
      return new EventBridgeRotationEvents(http, DefaultCredentialsProvider.builder().build(), region, () -> endpoint);
    }
    Supplier<URI> endpoint = () -> URI.create("https://events." + region.id() + "." + PartitionMetadata.of(region).dnsSuffix());
    return new EventBridgeRotationEvents(http, DefaultCredentialsProvider.builder().build(), region, endpoint);
  }

  /** The endpoint, resolved once (a race resolves it twice to the same value). */
  URI endpoint() {
    URI resolved = endpoint;
    if (resolved == null) {
      resolved = endpointSource.get();
      endpoint = resolved;
    }
    return resolved;
  }

  @Override
  public void publish(RotationEvent event) {
    byte[] body =
        Json.bytes(
            Map.of(
                "Entries",
                List.of(
                    Map.of(
                        "Source", RotationEvent.SOURCE,
                        "DetailType", RotationEvent.DETAIL_TYPE,
                        "Detail", Json.string(event.detail()),
                        "EventBusName", "default"))));
    try {
      SdkHttpRequest request =
          SdkHttpRequest.builder()
              .method(SdkHttpMethod.POST)
              .uri(endpoint())
              .putHeader("Content-Type", "application/x-amz-json-1.1")
              .putHeader("X-Amz-Target", "AWSEvents.PutEvents")
              .build();
      SignedRequest signed =
          AwsV4HttpSigner.create()
              .sign(
                  r ->
                      r.identity(credentials.resolveIdentity().join())
                          .request(request)
                          .payload(ContentStreamProvider.fromByteArray(body))
                          .putProperty(AwsV4HttpSigner.SERVICE_SIGNING_NAME, "events")
                          .putProperty(AwsV4HttpSigner.REGION_NAME, region.id()));
      HttpExecuteResponse response =
          http.prepareRequest(
                  HttpExecuteRequest.builder().request(signed.request()).contentStreamProvider(signed.payload().orElse(null)).build())
              .call();
      JsonNode answer;
      byte[] bytes = new byte[0];
      if (response.responseBody().isPresent()) {
        try (InputStream in = response.responseBody().get()) {
          bytes = in.readAllBytes();
        }
      }
      answer = bytes.length == 0 ? Json.MAPPER.createObjectNode() : Json.MAPPER.readTree(bytes);
      if (!response.httpResponse().isSuccessful() || answer.path("FailedEntryCount").asInt(0) > 0) {
        LOG.warning("EventBridge did not take the rotation event of key " + event.keyId() + ": HTTP "
            + response.httpResponse().statusCode() + " " + answer);
      }
    } catch (IOException | RuntimeException e) {
      LOG.warning("Could not publish the rotation event of key " + event.keyId() + " to EventBridge: " + e);
    }
  }
}

package aigw.rotation;

import aigw.core.GatewaySettings;
import aigw.core.aws.AwsClients;
import aigw.core.keys.KeyCache;
import aigw.core.keys.KeyStore;
import aigw.core.keys.dynamodb.DynamoDbKeyStore;
import aigw.core.rotation.VirtualKeyRotator;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Lambda entry point the EventBridge schedule invokes (KeyRotationScheduleFunction in
 * template.yaml): rotates every virtual key whose {@code key_rotation_at} has come, each exactly
 * once even when two runs overlap. The event's content does not matter; the result says what the
 * run did.
 */
public final class KeyRotationScheduleHandler implements RequestHandler<Map<String, Object>, Map<String, Object>> {
  /**
   * A bound on one rotation: reads and the transaction (DynamoDB calls end within 6 s), two writes
   * to the secret target and, if they fail, two to the held value (3 s each), and PutEvents' 1 s
   * connect plus 3 s read: about 30 s at the very worst.
   */
  static final int TIME_TO_FINISH_ONE_MILLIS = 30_000;

  private final VirtualKeyRotator rotator;

  public KeyRotationScheduleHandler() { // Lambda runtime
    this(fromEnvironment(System.getenv()));
  }

  public KeyRotationScheduleHandler(VirtualKeyRotator rotator) { // tests and local/
    this.rotator = rotator;
  }

  private static VirtualKeyRotator fromEnvironment(Map<String, String> env) {
    KeyStore store = new DynamoDbKeyStore(AwsClients.dynamoDb(), GatewaySettings.fromEnvironment(env).keysTable());
    Clock clock = Clock.systemUTC();
    // No cache to keep fresh here: the functions that serve keys see a rotation within their own TTL.
    return VirtualKeyRotator.fromEnvironment(store, new KeyCache(store, clock, Duration.ZERO), clock, env);
  }

  @Override
  public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
    // Stop starting rotations when one might not finish before the function's timeout (300 s in template.yaml).
    VirtualKeyRotator.RunResult result =
        rotator.rotateDue(() -> context == null || context.getRemainingTimeInMillis() > TIME_TO_FINISH_ONE_MILLIS);
    var summary = new LinkedHashMap<String, Object>();
    summary.put("rotated", result.rotated());
    summary.put("already_rotated", result.alreadyRotated());
    summary.put("failed", result.failed());
    summary.put("skipped", result.skipped());
    if (result.failed() > 0) {
      // A failed run shows in the function's error metric; the keys stay due for the next run.
      throw new IllegalStateException(result.failed() + " key(s) could not be rotated; see the log. " + summary);
    }
    return summary;
  }
}

package aigw.rotation;

import aigw.core.aws.AwsClients;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.Map;

/**
 * Lambda entry point Secrets Manager invokes to rotate the master key: one invocation per step, with
 * the event {@code {"SecretId", "ClientRequestToken", "Step"}} and, when the function rotates a
 * secret of another account, {@code "RotationToken"}. A thrown exception fails the step; Secrets
 * Manager retries the rotation, and AWSCURRENT stays where it was until finishSecret succeeds.
 */
public final class MasterKeyRotationHandler implements RequestHandler<Map<String, String>, Void> {
  private final MasterKeyRotation rotation;

  public MasterKeyRotationHandler() { // Lambda runtime
    this(new MasterKeyRotation(AwsClients.secretsManager()));
    AwsClients.prepareHttpClient(); // at init, as the SDK client's own would be, not at the first step
  }

  public MasterKeyRotationHandler(MasterKeyRotation rotation) { // tests and local/
    this.rotation = rotation;
  }

  @Override
  public Void handleRequest(Map<String, String> event, Context context) {
    rotation.run(event.get("SecretId"), event.get("ClientRequestToken"), event.get("Step"), event.get("RotationToken"));
    return null;
  }
}

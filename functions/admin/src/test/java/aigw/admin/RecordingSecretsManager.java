package aigw.admin;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import software.amazon.awssdk.services.secretsmanager.SecretsManagerClient;
import software.amazon.awssdk.services.secretsmanager.model.GetSecretValueRequest;
import software.amazon.awssdk.services.secretsmanager.model.GetSecretValueResponse;
import software.amazon.awssdk.services.secretsmanager.model.PutSecretValueRequest;
import software.amazon.awssdk.services.secretsmanager.model.PutSecretValueResponse;
import software.amazon.awssdk.services.secretsmanager.model.ResourceNotFoundException;

/** A Secrets Manager that keeps secrets in memory: only putSecretValue and getSecretValue, what rotation uses. */
final class RecordingSecretsManager implements SecretsManagerClient {
  final Map<String, String> secrets = new ConcurrentHashMap<>();
  /** While set, every write fails as Secrets Manager does when it cannot be reached. */
  volatile boolean unavailable;

  @Override
  public PutSecretValueResponse putSecretValue(PutSecretValueRequest request) {
    if (unavailable) {
      throw software.amazon.awssdk.core.exception.SdkClientException.create("test: Secrets Manager is unreachable");
    }
    secrets.put(request.secretId(), request.secretString());
    return PutSecretValueResponse.builder().name(request.secretId()).build();
  }

  @Override
  public GetSecretValueResponse getSecretValue(GetSecretValueRequest request) {
    String value = secrets.get(request.secretId());
    if (value == null) {
      throw ResourceNotFoundException.builder().message("no secret " + request.secretId()).build();
    }
    return GetSecretValueResponse.builder().name(request.secretId()).secretString(value).build();
  }

  String value(String secretId) {
    return getSecretValue(r -> r.secretId(secretId)).secretString();
  }

  @Override
  public String serviceName() {
    return "secretsmanager";
  }

  @Override
  public void close() {}
}

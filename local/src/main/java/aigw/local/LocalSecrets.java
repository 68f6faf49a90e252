package aigw.local;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import software.amazon.awssdk.services.secretsmanager.SecretsManagerClient;
import software.amazon.awssdk.services.secretsmanager.model.CreateSecretRequest;
import software.amazon.awssdk.services.secretsmanager.model.CreateSecretResponse;
import software.amazon.awssdk.services.secretsmanager.model.DeleteSecretRequest;
import software.amazon.awssdk.services.secretsmanager.model.DeleteSecretResponse;
import software.amazon.awssdk.services.secretsmanager.model.GetSecretValueRequest;
import software.amazon.awssdk.services.secretsmanager.model.GetSecretValueResponse;
import software.amazon.awssdk.services.secretsmanager.model.PutSecretValueRequest;
import software.amazon.awssdk.services.secretsmanager.model.PutSecretValueResponse;
import software.amazon.awssdk.services.secretsmanager.model.ResourceNotFoundException;

/**
 * The secrets rotated virtual keys are written to ({@code rotation_secret}, and the pending values
 * {@code /key/retrieve} reads), on a laptop. The in-memory Secrets Manager keeps them as AWS would;
 * two local conveniences make them usable without an AWS console:
 *
 * <ul>
 *   <li>a write to a secret that does not exist creates it (on AWS the operator creates it first);
 *   <li>with a data directory, every value is also written to {@code DATA-DIR/secrets/<name>},
 *       readable by its owner only, where a local application can read its key, and removed when
 *       the secret is deleted.
 * </ul>
 */
final class LocalSecrets implements SecretsManagerClient {
  private final SecretsManagerClient secrets;
  private final Path directory; // null: in memory only

  LocalSecrets(SecretsManagerClient secrets, Path directory) {
    this.secrets = secrets;
    this.directory = directory;
  }

  @Override
  public PutSecretValueResponse putSecretValue(PutSecretValueRequest request) {
    PutSecretValueResponse response;
    try {
      response = secrets.putSecretValue(request);
    } catch (ResourceNotFoundException notCreatedYet) {
      secrets.createSecret(r -> r.name(request.secretId()).description("created by the local aigw gateway"));
      response = secrets.putSecretValue(request);
    }
    mirror(request.secretId(), request.secretString());
    return response;
  }

  @Override
  public CreateSecretResponse createSecret(CreateSecretRequest request) {
    CreateSecretResponse response = secrets.createSecret(request);
    if (request.secretString() != null) {
      mirror(request.name(), request.secretString());
    }
    return response;
  }

  @Override
  public GetSecretValueResponse getSecretValue(GetSecretValueRequest request) {
    return secrets.getSecretValue(request);
  }

  @Override
  public DeleteSecretResponse deleteSecret(DeleteSecretRequest request) {
    DeleteSecretResponse response = secrets.deleteSecret(request);
    if (directory != null) {
      try {
        Files.deleteIfExists(file(request.secretId()));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return response;
  }

  /** Where the value of secret {@code name} is mirrored; null without a data directory. */
  Path file(String name) {
    return directory == null ? null : directory.resolve(name.replace('/', '_'));
  }

  private void mirror(String name, String value) {
    if (directory == null || value == null) {
      return;
    }
    try {
      Files.createDirectories(directory);
      writeOwnerOnly(file(name), value + System.lineSeparator());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file(name), e);
    }
  }

  /**
   * Writes a secret to a file no one else can read at any moment: a new file created owner-only,
   * then moved over the old one (a write followed by a chmod would leave it readable in between).
   */
  static void writeOwnerOnly(Path file, String content) throws IOException {
    Path temporary;
    try {
      temporary = Files.createTempFile(file.getParent(), ".aigw-", ".tmp",
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    } catch (UnsupportedOperationException notPosix) {
      temporary = Files.createTempFile(file.getParent(), ".aigw-", ".tmp"); // Windows: the directory's ACL applies
    }
    try {
      Files.writeString(temporary, content);
      Files.move(temporary, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(temporary);
    }
  }

  @Override
  public String serviceName() {
    return secrets.serviceName();
  }

  @Override
  public void close() {
    secrets.close();
  }
}

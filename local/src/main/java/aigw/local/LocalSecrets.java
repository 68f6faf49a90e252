package aigw.local;

import java.io.IOException;
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
 *   <li>with a data directory, every value is also written to {@code DATA-DIR/secrets/<name>}
 *       (the name's slashes are directories), readable by its owner only, where a local application
 *       can read its key; removed when the secret is deleted, and loaded again at the next start.
 * </ul>
 */
final class LocalSecrets implements SecretsManagerClient {
  private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger(LocalSecrets.class.getName());
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
      } catch (IOException | IllegalArgumentException e) {
        LOG.warning("Could not delete the file of secret " + request.secretId() + ": " + e.getMessage());
      }
    }
    return response;
  }

  /** Where the value of secret {@code name} (or ARN) is mirrored; null without a data directory. */
  Path file(String name) {
    if (directory == null) {
      return null;
    }
    int arn = name.indexOf(":secret:");
    String plain = name.startsWith("arn:") && arn >= 0 ? name.substring(arn + ":secret:".length()) : name;
    Path file = directory.resolve(plain).normalize();
    if (!file.startsWith(directory.normalize()) || file.equals(directory.normalize())) {
      throw new IllegalArgumentException("secret name " + name + " does not name a file under " + directory);
    }
    return file;
  }

  /** The secrets a previous run mirrored, back into {@code secrets}: they outlive the process, as on AWS. */
  static void load(SecretsManagerClient secrets, Path directory) throws IOException {
    if (!Files.isDirectory(directory)) {
      return;
    }
    try (var files = Files.walk(directory)) {
      for (Path file : files.filter(Files::isRegularFile).filter(f -> !f.getFileName().toString().startsWith(".aigw-")).toList()) {
        String name = directory.relativize(file).toString().replace(java.io.File.separatorChar, '/');
        String value = Files.readString(file).strip();
        secrets.createSecret(r -> r.name(name).secretString(value).description("loaded by the local aigw gateway"));
      }
    }
  }

  private void mirror(String name, String value) {
    if (directory == null || value == null) {
      return;
    }
    try {
      Path file = file(name);
      Files.createDirectories(file.getParent());
      writeOwnerOnly(file, value + System.lineSeparator());
    } catch (IOException | IllegalArgumentException e) {
      // The secret itself is written; only the convenience copy is missing.
      LOG.warning("Could not mirror secret " + name + " to a file under " + directory + ": " + e.getMessage());
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

package aigw.core.secrets;

import java.security.SecureRandom;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import software.amazon.awssdk.services.secretsmanager.SecretsManagerClient;
import software.amazon.awssdk.services.secretsmanager.model.CreateSecretRequest;
import software.amazon.awssdk.services.secretsmanager.model.CreateSecretResponse;
import software.amazon.awssdk.services.secretsmanager.model.DescribeSecretRequest;
import software.amazon.awssdk.services.secretsmanager.model.DescribeSecretResponse;
import software.amazon.awssdk.services.secretsmanager.model.GetRandomPasswordRequest;
import software.amazon.awssdk.services.secretsmanager.model.GetRandomPasswordResponse;
import software.amazon.awssdk.services.secretsmanager.model.GetSecretValueRequest;
import software.amazon.awssdk.services.secretsmanager.model.GetSecretValueResponse;
import software.amazon.awssdk.services.secretsmanager.model.InvalidParameterException;
import software.amazon.awssdk.services.secretsmanager.model.InvalidRequestException;
import software.amazon.awssdk.services.secretsmanager.model.PutSecretValueRequest;
import software.amazon.awssdk.services.secretsmanager.model.PutSecretValueResponse;
import software.amazon.awssdk.services.secretsmanager.model.DeleteSecretRequest;
import software.amazon.awssdk.services.secretsmanager.model.DeleteSecretResponse;
import software.amazon.awssdk.services.secretsmanager.model.ResourceExistsException;
import software.amazon.awssdk.services.secretsmanager.model.ResourceNotFoundException;
import software.amazon.awssdk.services.secretsmanager.model.RotateSecretRequest;
import software.amazon.awssdk.services.secretsmanager.model.RotateSecretResponse;
import software.amazon.awssdk.services.secretsmanager.model.RotationRulesType;
import software.amazon.awssdk.services.secretsmanager.model.UpdateSecretVersionStageRequest;
import software.amazon.awssdk.services.secretsmanager.model.UpdateSecretVersionStageResponse;

/**
 * Secrets Manager in memory, for the local gateway and tests: string secrets, their versions and the
 * staging-label rules rotation depends on.
 *
 * <ul>
 *   <li>A label sits on at most one version. Moving AWSCURRENT gives AWSPREVIOUS to the version it
 *       left; a version left without labels is deprecated (readable by id, absent from
 *       VersionIdsToStages).
 *   <li>PutSecretValue: the ClientRequestToken is the version id; without VersionStages the version
 *       becomes AWSCURRENT. The same token with the same value again is a no-op, with another value
 *       a ResourceExistsException.
 *   <li>UpdateSecretVersionStage: a label attached elsewhere may only move if RemoveFromVersionId
 *       names the version that holds it; AWSCURRENT cannot just be removed.
 *   <li>RotateSecret runs the {@link Rotator} registered for the rotation function's ARN, the way
 *       Secrets Manager invokes the Lambda function: it first adds an empty AWSPENDING version whose
 *       id is the token, then calls createSecret, setSecret, testSecret, finishSecret. Unlike the real
 *       (asynchronous) service it runs them on the caller's thread and throws when a step fails; the
 *       AWSPENDING version then stays, AWSCURRENT does not move, and only a RotateSecret with that
 *       same token resumes it. With RotateImmediately=false it runs only testSecret, on a short-lived
 *       AWSPENDING copy of the current value, as Secrets Manager does to test the configuration.
 * </ul>
 *
 * <p>Binary secrets, deletion, replication, policies and tags are not modelled: those methods keep the
 * interface's UnsupportedOperationException. Thread-safe: every read and change holds this object's
 * monitor; rotation steps run without it, since they call back in.
 */
public final class InMemorySecretsManager implements SecretsManagerClient {
  public static final String CURRENT = "AWSCURRENT";
  public static final String PENDING = "AWSPENDING";
  public static final String PREVIOUS = "AWSPREVIOUS";
  private static final String ARN_PREFIX = "arn:aws:secretsmanager:us-east-1:000000000000:secret:";

  /** A rotation function: Secrets Manager's Lambda event, {@code SecretId}, {@code ClientRequestToken}, {@code Step}. */
  @FunctionalInterface
  public interface Rotator {
    void step(String secretId, String clientRequestToken, String step);
  }

  private static final class Version {
    final String id;
    final Instant created;
    String value; // null: created by RotateSecret, not yet filled by createSecret
    final Set<String> stages = new LinkedHashSet<>();

    Version(String id, String value, Instant created) {
      this.id = id;
      this.value = value;
      this.created = created;
    }
  }

  private static final class Secret {
    final String name;
    final String arn;
    final String description;
    final Instant created;
    final Map<String, Version> versions = new LinkedHashMap<>();
    boolean rotationEnabled;
    String rotationLambdaArn;
    RotationRulesType rotationRules;
    Instant lastRotated;
    Instant lastChanged;

    Secret(String name, String description, Instant created) {
      this.name = name;
      this.arn = ARN_PREFIX + name + "-" + randomSuffix();
      this.description = description;
      this.created = created;
    }

    Version holder(String stage) {
      return versions.values().stream().filter(v -> v.stages.contains(stage)).findFirst().orElse(null);
    }
  }

  private final Clock clock;
  private final Map<String, Secret> secrets = new LinkedHashMap<>();
  private final Map<String, Rotator> rotators = new ConcurrentHashMap<>();

  public InMemorySecretsManager(Clock clock) {
    this.clock = clock;
  }

  /** Makes {@code rotator} the function RotateSecret calls when the secret names {@code lambdaArn}. */
  public InMemorySecretsManager registerRotationFunction(String lambdaArn, Rotator rotator) {
    rotators.put(lambdaArn, rotator);
    return this;
  }

  @Override
  public synchronized CreateSecretResponse createSecret(CreateSecretRequest request) {
    if (request.name() == null || request.name().isBlank()) {
      throw InvalidParameterException.builder().message("You must provide a Name").build();
    }
    if (secrets.containsKey(request.name())) {
      throw ResourceExistsException.builder().message("The operation failed because the secret " + request.name() + " already exists.").build();
    }
    Instant now = clock.instant();
    var secret = new Secret(request.name(), request.description(), now);
    secrets.put(secret.name, secret);
    String versionId = null;
    if (request.secretString() != null) {
      versionId = tokenOrNew(request.clientRequestToken());
      var version = new Version(versionId, request.secretString(), now);
      secret.versions.put(versionId, version);
      attach(secret, version, CURRENT);
    }
    secret.lastChanged = now;
    return CreateSecretResponse.builder().arn(secret.arn).name(secret.name).versionId(versionId).build();
  }

  /**
   * Deletes the secret. Only {@code ForceDeleteWithoutRecovery}: a recovery window (the real
   * service's default) would keep the name taken, and nothing here uses one.
   */
  @Override
  public synchronized DeleteSecretResponse deleteSecret(DeleteSecretRequest request) {
    if (!Boolean.TRUE.equals(request.forceDeleteWithoutRecovery())) {
      throw InvalidParameterException.builder().message("This stand-in deletes only with ForceDeleteWithoutRecovery.").build();
    }
    Secret secret = find(request.secretId());
    secrets.remove(secret.name);
    return DeleteSecretResponse.builder().arn(secret.arn).name(secret.name).deletionDate(clock.instant()).build();
  }

  @Override
  public synchronized GetSecretValueResponse getSecretValue(GetSecretValueRequest request) {
    Secret secret = find(request.secretId());
    String stage = request.versionStage() == null && request.versionId() == null ? CURRENT : request.versionStage();
    Version version = request.versionId() != null ? secret.versions.get(request.versionId()) : secret.holder(stage);
    if (version == null || (stage != null && !version.stages.contains(stage)) || version.value == null) {
      throw ResourceNotFoundException.builder()
          .message("Secrets Manager can't find the specified secret value for "
              + (request.versionId() != null ? "VersionId: " + request.versionId() : "staging label: " + stage))
          .build();
    }
    return GetSecretValueResponse.builder()
        .arn(secret.arn)
        .name(secret.name)
        .versionId(version.id)
        .secretString(version.value)
        .versionStages(List.copyOf(version.stages))
        .createdDate(version.created)
        .build();
  }

  @Override
  public synchronized PutSecretValueResponse putSecretValue(PutSecretValueRequest request) {
    Secret secret = find(request.secretId());
    if (request.secretString() == null) {
      throw InvalidRequestException.builder().message("You must provide SecretString (SecretBinary is not modelled here).").build();
    }
    String versionId = tokenOrNew(request.clientRequestToken());
    List<String> stages = request.hasVersionStages() ? request.versionStages() : List.of(CURRENT);
    Version version = secret.versions.get(versionId);
    if (version != null && version.value != null) {
      if (version.value.equals(request.secretString())) {
        return putResponse(secret, version); // a retry: the version exists as asked
      }
      throw ResourceExistsException.builder()
          .message("You can't modify an existing version, you can only create a new version. Version " + versionId + " exists with other data.")
          .build();
    }
    if (version == null) {
      version = new Version(versionId, request.secretString(), clock.instant());
      secret.versions.put(versionId, version);
    } else {
      version.value = request.secretString(); // the empty version RotateSecret created for this token
    }
    for (String stage : stages) {
      attach(secret, version, stage);
    }
    secret.lastChanged = clock.instant();
    return putResponse(secret, version);
  }

  private static PutSecretValueResponse putResponse(Secret secret, Version version) {
    return PutSecretValueResponse.builder().arn(secret.arn).name(secret.name).versionId(version.id).versionStages(List.copyOf(version.stages)).build();
  }

  @Override
  public synchronized DescribeSecretResponse describeSecret(DescribeSecretRequest request) {
    Secret secret = find(request.secretId());
    var versionIdsToStages = new LinkedHashMap<String, List<String>>();
    secret.versions.values().stream()
        .filter(v -> !v.stages.isEmpty())
        .forEach(v -> versionIdsToStages.put(v.id, List.copyOf(v.stages)));
    return DescribeSecretResponse.builder()
        .arn(secret.arn)
        .name(secret.name)
        .description(secret.description)
        .createdDate(secret.created)
        .lastChangedDate(secret.lastChanged)
        .lastRotatedDate(secret.lastRotated)
        .rotationEnabled(secret.rotationEnabled)
        .rotationLambdaARN(secret.rotationLambdaArn)
        .rotationRules(secret.rotationRules)
        .versionIdsToStages(versionIdsToStages)
        .build();
  }

  @Override
  public synchronized UpdateSecretVersionStageResponse updateSecretVersionStage(UpdateSecretVersionStageRequest request) {
    Secret secret = find(request.secretId());
    String stage = request.versionStage();
    Version holder = secret.holder(stage);
    String removeFrom = request.removeFromVersionId();
    String moveTo = request.moveToVersionId();
    if (removeFrom != null && (holder == null || !holder.id.equals(removeFrom))) {
      throw InvalidParameterException.builder()
          .message("The staging label " + stage + " is not attached to version " + removeFrom + ".")
          .build();
    }
    if (moveTo == null) {
      if (CURRENT.equals(stage)) {
        throw InvalidParameterException.builder().message("You can't remove AWSCURRENT; move it to another version instead.").build();
      }
      if (holder != null) {
        holder.stages.remove(stage);
      }
    } else {
      Version target = secret.versions.get(moveTo);
      if (target == null) {
        throw ResourceNotFoundException.builder().message("Secrets Manager can't find the specified secret version: " + moveTo).build();
      }
      if (holder != null && holder != target && removeFrom == null) {
        throw InvalidParameterException.builder()
            .message("The staging label " + stage + " is currently attached to version " + holder.id
                + ", so you must explicitly reference that version in RemoveFromVersionId.")
            .build();
      }
      attach(secret, target, stage);
    }
    secret.lastChanged = clock.instant();
    return UpdateSecretVersionStageResponse.builder().arn(secret.arn).name(secret.name).build();
  }

  /** Puts {@code stage} on {@code version}, taking it from any other; AWSCURRENT leaves AWSPREVIOUS behind. */
  private static void attach(Secret secret, Version version, String stage) {
    Version holder = secret.holder(stage);
    if (holder == version) {
      return;
    }
    if (holder != null) {
      holder.stages.remove(stage);
      if (CURRENT.equals(stage)) {
        attach(secret, holder, PREVIOUS);
      }
    }
    version.stages.add(stage);
  }

  @Override
  public GetRandomPasswordResponse getRandomPassword(GetRandomPasswordRequest request) {
    long length = request.passwordLength() == null ? 32 : request.passwordLength();
    if (length < 1 || length > 4096) {
      throw InvalidParameterException.builder().message("PasswordLength must be between 1 and 4096.").build();
    }
    String exclude = request.excludeCharacters() == null ? "" : request.excludeCharacters();
    var types = new ArrayList<String>();
    if (!Boolean.TRUE.equals(request.excludeLowercase())) types.add("abcdefghijklmnopqrstuvwxyz");
    if (!Boolean.TRUE.equals(request.excludeUppercase())) types.add("ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    if (!Boolean.TRUE.equals(request.excludeNumbers())) types.add("0123456789");
    if (!Boolean.TRUE.equals(request.excludePunctuation())) types.add("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~");
    if (Boolean.TRUE.equals(request.includeSpace())) types.add(" ");
    types.replaceAll(chars -> chars.chars().filter(c -> exclude.indexOf(c) < 0)
        .collect(StringBuilder::new, StringBuilder::appendCodePoint, StringBuilder::append).toString());
    types.removeIf(String::isEmpty);
    boolean eachType = !Boolean.FALSE.equals(request.requireEachIncludedType());
    if (types.isEmpty() || (eachType && types.size() > length)) {
      throw InvalidParameterException.builder().message("No password can satisfy these requirements.").build();
    }
    String all = String.join("", types);
    var random = new SecureRandom();
    while (true) {
      var password = new StringBuilder();
      for (int i = 0; i < length; i++) {
        password.append(all.charAt(random.nextInt(all.length())));
      }
      if (!eachType || types.stream().allMatch(t -> password.chars().anyMatch(c -> t.indexOf(c) >= 0))) {
        return GetRandomPasswordResponse.builder().randomPassword(password.toString()).build();
      }
    }
  }

  @Override
  public RotateSecretResponse rotateSecret(RotateSecretRequest request) {
    String token;
    String secretId;
    Rotator rotator;
    boolean immediately = !Boolean.FALSE.equals(request.rotateImmediately());
    synchronized (this) {
      Secret secret = find(request.secretId());
      secretId = secret.arn;
      String lambdaArn = request.rotationLambdaARN() != null ? request.rotationLambdaARN() : secret.rotationLambdaArn;
      if (lambdaArn == null) {
        throw InvalidRequestException.builder().message("No Lambda rotation function ARN is associated with this secret.").build();
      }
      rotator = rotators.get(lambdaArn);
      if (rotator == null) {
        throw InvalidRequestException.builder().message("Secrets Manager cannot invoke the specified Lambda function " + lambdaArn + ".").build();
      }
      secret.rotationLambdaArn = lambdaArn;
      if (request.rotationRules() != null) {
        secret.rotationRules = request.rotationRules();
      }
      secret.rotationEnabled = true;
      Version current = secret.holder(CURRENT);
      Version pending = secret.holder(PENDING);
      if (pending != null && pending != current) {
        if (!pending.id.equals(request.clientRequestToken())) {
          throw InvalidRequestException.builder().message("A previous rotation isn't complete. That rotation will be reattempted.").build();
        }
        token = pending.id; // resuming the rotation this token started
      } else {
        token = tokenOrNew(request.clientRequestToken());
        if (secret.versions.containsKey(token)) {
          throw ResourceExistsException.builder().message("Version " + token + " already exists.").build();
        }
        var version = new Version(token, immediately ? null : current == null ? null : current.value, clock.instant());
        secret.versions.put(token, version);
        attach(secret, version, PENDING);
      }
    }
    if (!immediately) {
      try {
        run(rotator, secretId, token, "testSecret");
      } finally {
        synchronized (this) {
          find(secretId).versions.get(token).stages.remove(PENDING);
        }
      }
      return rotateResponse(secretId, null);
    }
    for (String step : List.of("createSecret", "setSecret", "testSecret", "finishSecret")) {
      run(rotator, secretId, token, step);
    }
    synchronized (this) {
      Secret secret = find(secretId);
      Version version = secret.versions.get(token);
      if (!version.stages.contains(CURRENT)) {
        throw InvalidRequestException.builder().message("The rotation function did not make version " + token + " AWSCURRENT.").build();
      }
      version.stages.remove(PENDING); // a finished rotation leaves no AWSPENDING behind
      secret.lastRotated = clock.instant();
    }
    return rotateResponse(secretId, token);
  }

  private static void run(Rotator rotator, String secretId, String token, String step) {
    try {
      rotator.step(secretId, token, step);
    } catch (RuntimeException e) {
      throw InvalidRequestException.builder().message("Rotation failed at " + step + ": " + e.getMessage()).cause(e).build();
    }
  }

  private synchronized RotateSecretResponse rotateResponse(String secretId, String token) {
    Secret secret = find(secretId);
    return RotateSecretResponse.builder().arn(secret.arn).name(secret.name).versionId(token).build();
  }

  private Secret find(String secretId) {
    Secret secret = secretId == null ? null : secrets.get(secretId);
    if (secret == null && secretId != null) {
      secret = secrets.values().stream().filter(s -> s.arn.equals(secretId)).findFirst().orElse(null);
    }
    if (secret == null) {
      throw ResourceNotFoundException.builder().message("Secrets Manager can't find the specified secret.").build();
    }
    return secret;
  }

  private static String tokenOrNew(String token) {
    return token == null || token.isBlank() ? UUID.randomUUID().toString() : token;
  }

  private static String randomSuffix() {
    String chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    var random = new SecureRandom();
    var suffix = new StringBuilder();
    for (int i = 0; i < 6; i++) {
      suffix.append(chars.charAt(random.nextInt(chars.length())));
    }
    return suffix.toString();
  }

  @Override
  public String serviceName() {
    return SERVICE_NAME;
  }

  @Override
  public void close() {}
}

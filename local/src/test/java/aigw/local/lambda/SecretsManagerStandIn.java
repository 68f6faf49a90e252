package aigw.local.lambda;

import aigw.core.json.Json;
import aigw.core.secrets.InMemorySecretsManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import software.amazon.awssdk.awscore.exception.AwsServiceException;

/**
 * Secrets Manager's JSON 1.1 wire protocol on a loopback port, for the calls the rotations make
 * (the master key's four steps; CreateSecret and PutSecretValue of a scheduled key rotation),
 * answered by an {@link InMemorySecretsManager}: so a packaged function's own SDK client talks to
 * the staging-label model through AWS_ENDPOINT_URL_SECRETS_MANAGER.
 */
final class SecretsManagerStandIn implements AutoCloseable {
  private final InMemorySecretsManager secrets;
  private final HttpServer server;
  /** The X-Amz-Target of every call, with its SecretId or Name: {@code secretsmanager.CreateSecret aigw/keys/...}. */
  final List<String> calls = new java.util.concurrent.CopyOnWriteArrayList<>();

  SecretsManagerStandIn(InMemorySecretsManager secrets) throws IOException {
    this.secrets = secrets;
    this.server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext("/", this::answer);
    server.start();
  }

  String endpoint() {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  private void answer(HttpExchange exchange) throws IOException {
    String target = exchange.getRequestHeaders().getFirst("X-Amz-Target");
    JsonNode in = Json.MAPPER.readTree(exchange.getRequestBody().readAllBytes());
    calls.add(target + " " + (in.has("SecretId") ? text(in, "SecretId") : text(in, "Name")));
    int status = 200;
    Map<String, Object> out = new LinkedHashMap<>();
    try {
      switch (target == null ? "" : target) {
        case "secretsmanager.CreateSecret" -> {
          var c = secrets.createSecret(r -> r.name(text(in, "Name")).clientRequestToken(text(in, "ClientRequestToken"))
              .description(text(in, "Description")).secretString(text(in, "SecretString")));
          out.put("ARN", c.arn());
          out.put("Name", c.name());
          if (c.versionId() != null) {
            out.put("VersionId", c.versionId());
          }
        }
        case "secretsmanager.DescribeSecret" -> {
          var d = secrets.describeSecret(r -> r.secretId(text(in, "SecretId")));
          out.put("ARN", d.arn());
          out.put("Name", d.name());
          out.put("RotationEnabled", d.rotationEnabled());
          out.put("VersionIdsToStages", d.versionIdsToStages());
        }
        case "secretsmanager.GetSecretValue" -> {
          var v = secrets.getSecretValue(r -> r.secretId(text(in, "SecretId")).versionId(text(in, "VersionId")).versionStage(text(in, "VersionStage")));
          out.put("ARN", v.arn());
          out.put("Name", v.name());
          out.put("VersionId", v.versionId());
          out.put("SecretString", v.secretString());
          out.put("VersionStages", v.versionStages());
          out.put("CreatedDate", v.createdDate().toEpochMilli() / 1000.0);
        }
        case "secretsmanager.PutSecretValue" -> {
          var stages = new ArrayList<String>();
          in.path("VersionStages").forEach(s -> stages.add(s.asText()));
          var p = secrets.putSecretValue(r -> {
            r.secretId(text(in, "SecretId")).clientRequestToken(text(in, "ClientRequestToken")).secretString(text(in, "SecretString"));
            if (!stages.isEmpty()) {
              r.versionStages(stages);
            }
          });
          out.put("ARN", p.arn());
          out.put("VersionId", p.versionId());
          out.put("VersionStages", p.versionStages());
        }
        case "secretsmanager.UpdateSecretVersionStage" -> {
          var u = secrets.updateSecretVersionStage(r -> r.secretId(text(in, "SecretId")).versionStage(text(in, "VersionStage"))
              .moveToVersionId(text(in, "MoveToVersionId")).removeFromVersionId(text(in, "RemoveFromVersionId")));
          out.put("ARN", u.arn());
        }
        default -> throw new UnsupportedOperationException("not modelled: " + target);
      }
    } catch (AwsServiceException e) {
      status = 400;
      out = Map.of("__type", e.getClass().getSimpleName(), "message", e.awsErrorDetails() == null ? e.getMessage() : e.awsErrorDetails().errorMessage());
    }
    byte[] body = Json.MAPPER.writeValueAsString(out).getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", "application/x-amz-json-1.1");
    exchange.sendResponseHeaders(status, body.length);
    exchange.getResponseBody().write(body);
    exchange.close();
  }

  private static String text(JsonNode in, String field) {
    JsonNode value = in.get(field);
    return value == null || value.isNull() ? null : value.asText();
  }

  @Override
  public void close() {
    server.stop(0);
  }

  static List<String> steps() {
    return List.of("createSecret", "setSecret", "testSecret", "finishSecret");
  }
}

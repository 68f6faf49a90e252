package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import aigw.core.errors.ErrorEnvelope;
import aigw.core.errors.NotFound;
import aigw.core.errors.PayloadTooLarge;
import aigw.core.errors.PermissionDenied;
import aigw.core.errors.UpstreamTimeout;
import aigw.core.testing.RepoFiles;
import aigw.core.testing.LocalDynamo;
import aigw.core.testing.TestGateways;
import aigw.core.testing.Upstream;
import aigw.core.secrets.StaticSecretSource;
import aigw.core.http.GatewayRequest;
import aigw.proxy.ProxyService;
import com.github.tomakehurst.wiremock.client.WireMock;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeAction;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.AttributeValueUpdate;
import software.amazon.awssdk.services.dynamodb.model.ReturnValue;
import software.amazon.awssdk.services.dynamodb.model.UpdateItemRequest;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * template.yaml as CloudFormation receives it: after AWS SAM's transform, run by SAM's own
 * translator (aws-sam-translator, the library cfn-lint uses; local/src/test/python/sam_transform.py).
 * What SAM generates - function versions, the API's stages and deployment, Lambda permissions, the
 * OpenAPI body - cannot be checked on the source YAML.
 *
 * <p>Needs {@code python3} with samtranslator (or {@code AIGW_PYTHON} naming an interpreter that
 * has it). Without it the tests are skipped on a developer's machine and fail under CI ({@code
 * CI} set), so CI never passes without having run them.
 */
class TransformedTemplateTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  /** What `sam package` would name the artifacts: S3 keys are checksums of the content. */
  private static final Map<String, String> BUILD_A =
      Map.of("CoreLayer", "s3://aigw-artifacts/layer-aaaa", "ProxyFunction", "s3://aigw-artifacts/proxy-1111",
          "AdminFunction", "s3://aigw-artifacts/admin-2222", "KeyRotationScheduleFunction", "s3://aigw-artifacts/rotation-3333",
          "MasterKeyRotationFunction", "s3://aigw-artifacts/rotation-3333");
  private static final List<String> FUNCTIONS =
      List.of("ProxyFunction", "AdminFunction", "KeyRotationScheduleFunction", "MasterKeyRotationFunction");

  private static JsonNode defaults;
  private static JsonNode conditions;

  @BeforeAll
  static void transformOnce() throws Exception {
    defaults = transform(BUILD_A, Map.of());
    conditions = lastConditions;
  }

  static JsonNode lastConditions; // the Conditions of the last transform (BedrockTemplateTest reads them too)
  static JsonNode lastRules; // the template Rules of the last transform (checked before a stack changes)

  /** The transformed template's Resources, for these artifacts and parameter overrides. */
  static JsonNode transform(Map<String, String> artifacts, Map<String, String> parameters) throws IOException, InterruptedException {
    String python = System.getenv().getOrDefault("AIGW_PYTHON", "python3");
    ObjectNode request = JSON.createObjectNode();
    request.put("template", RepoFiles.resolve("template.yaml").toString());
    request.set("artifacts", JSON.valueToTree(artifacts));
    request.set("parameters", JSON.valueToTree(parameters));
    Process process;
    try {
      process = new ProcessBuilder(python, RepoFiles.resolve("local/src/test/python/sam_transform.py").toString()).start();
    } catch (IOException noPython) {
      return missingTranslator(python + " cannot be started: " + noPython.getMessage());
    }
    try (var stdin = process.getOutputStream()) {
      stdin.write(JSON.writeValueAsBytes(request));
    }
    // Read both streams fully before waiting: the output is larger than a pipe's buffer.
    var stderr = new StringBuilder();
    Thread errors = Thread.ofVirtual().start(() -> {
      try {
        stderr.append(new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
      } catch (IOException ignored) {
        // the exit status tells
      }
    });
    byte[] output = process.getInputStream().readAllBytes();
    if (!process.waitFor(60, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      fail("the SAM transform did not finish within 60 s");
    }
    errors.join();
    if (process.exitValue() == 3) {
      return missingTranslator(stderr.toString().strip());
    }
    assertThat(process.exitValue()).as("SAM transform of template.yaml: %s", stderr).isZero();
    JsonNode transformed = JSON.readTree(output).path("template");
    lastConditions = transformed.path("Conditions");
    lastRules = transformed.path("Rules");
    return transformed.path("Resources");
  }

  private static JsonNode missingTranslator(String why) {
    if (System.getenv("CI") != null) {
      fail("CI must run the transformed-template tests, but " + why + " (.ci/run looks for it in pyenv; otherwise pip install aws-sam-translator)");
    }
    assumeTrue(false, why + "; install aws-sam-translator (pip install aws-sam-translator) to run these tests");
    return null;
  }

  private static Map<String, String> versionOfEachFunction(JsonNode resources) {
    var versions = new HashMap<String, String>();
    resources.fields().forEachRemaining(r -> {
      if ("AWS::Lambda::Version".equals(r.getValue().path("Type").asText())) {
        versions.put(r.getValue().path("Properties").path("FunctionName").path("Ref").asText(), r.getKey());
      }
    });
    assertThat(versions.keySet()).containsExactlyInAnyOrderElementsOf(FUNCTIONS);
    // The alias the API, the schedule and Secrets Manager call serves exactly that version.
    for (String function : FUNCTIONS) {
      JsonNode alias = resources.path(function + "Aliaslive").path("Properties");
      assertThat(alias.path("FunctionVersion").path("Fn::GetAtt").get(0).asText()).as(function).isEqualTo(versions.get(function));
    }
    return versions;
  }

  private static Map<String, JsonNode> ofType(JsonNode resources, String type) {
    var found = new LinkedHashMap<String, JsonNode>();
    resources.fields().forEachRemaining(r -> {
      if (type.equals(r.getValue().path("Type").asText())) {
        found.put(r.getKey(), r.getValue());
      }
    });
    return found;
  }

  @Test
  void aNewCoreLayerPublishesANewVersionOfEveryFunction() throws Exception {
    var changedLayer = new HashMap<>(BUILD_A);
    changedLayer.put("CoreLayer", "s3://aigw-artifacts/layer-bbbb");
    Map<String, String> before = versionOfEachFunction(defaults);
    Map<String, String> after = versionOfEachFunction(transform(changedLayer, Map.of()));
    // SAM's default hash leaves layers out (aws/serverless-application-model#3610): the alias
    // would keep serving the old layer's logic and models.yaml.
    for (String function : FUNCTIONS) {
      assertThat(after.get(function)).as("%s's version after a layer change", function).isNotEqualTo(before.get(function));
    }
  }

  @Test
  void theSameBuildPublishesNoNewVersionsAndNewCodeOnlyItsOwn() throws Exception {
    // Reproducible artifacts (project.build.outputTimestamp) keep their S3 keys from build to
    // build; then a deploy without changes must not publish and snapshot four new versions.
    assertThat(versionOfEachFunction(transform(BUILD_A, Map.of()))).isEqualTo(versionOfEachFunction(defaults));
    var newAdminCode = new HashMap<>(BUILD_A);
    newAdminCode.put("AdminFunction", "s3://aigw-artifacts/admin-9999");
    Map<String, String> before = versionOfEachFunction(defaults);
    Map<String, String> after = versionOfEachFunction(transform(newAdminCode, Map.of()));
    for (String function : FUNCTIONS) {
      if (function.equals("AdminFunction")) {
        assertThat(after.get(function)).isNotEqualTo(before.get(function));
      } else {
        assertThat(after.get(function)).as(function).isEqualTo(before.get(function));
      }
    }
  }

  @Test
  void aNewIntegrationTimeoutIsDeployedToTheStage() throws Exception {
    // AlwaysDeploy names the deployment after the transform's second.
    Thread.sleep(1100);
    JsonNode changed = transform(BUILD_A, Map.of("ApiIntegrationTimeoutMillis", "60000"));
    assertThat(ofType(changed, "AWS::ApiGateway::Deployment").keySet())
        .as("the stage gets a new deployment, so the new timeout is served")
        .doesNotContainAnyElementsOf(ofType(defaults, "AWS::ApiGateway::Deployment").keySet());
  }

  /**
   * SAM hashes a function's properties with parameter references unresolved, so a deploy that
   * changes only a parameter publishes no version by the hash (checked first, so this test notices
   * the day SAM fixes it). What publishes one is the version's Description: CloudFormation resolves
   * it, and a changed Description replaces the version. So every parameter a function's
   * configuration uses must be in it, and it must fit Lambda's 256 characters at every parameter's
   * longest allowed value.
   */
  @Test
  void aParameterChangePublishesANewVersionThroughTheVersionDescription() throws Exception {
    assertThat(versionOfEachFunction(transform(BUILD_A, Map.of("FunctionMemorySize", "1024", "KeyCacheTtlSeconds", "60"))))
        .as("SAM's version names ignore parameter values")
        .isEqualTo(versionOfEachFunction(defaults));
    JsonNode parameters = template().path("Parameters");
    Map<String, JsonNode> versions = ofType(defaults, "AWS::Lambda::Version");
    for (String function : FUNCTIONS) {
      JsonNode properties = defaults.path(function).path("Properties").deepCopy();
      // Reserved concurrency belongs to the function, not to a version: no publish needed.
      ((ObjectNode) properties).remove("ReservedConcurrentExecutions");
      var used = new java.util.TreeSet<String>();
      collectParameterReferences(properties, parameters, used);
      assertThat(used).as("%s uses parameters", function).isNotEmpty();
      JsonNode version = versions.values().stream()
          .filter(v -> v.path("Properties").path("FunctionName").path("Ref").asText().equals(function))
          .findFirst().orElseThrow();
      String description = version.path("Properties").path("Description").path("Fn::Sub").asText();
      for (String parameter : used) {
        assertThat(description).as("%s's version description names %s", function, parameter).contains("${" + parameter + "}");
      }
      String longest = description;
      var placeholder = java.util.regex.Pattern.compile("\\$\\{(\\w+)}").matcher(description);
      while (placeholder.find()) {
        JsonNode parameter = parameters.path(placeholder.group(1));
        int length = parameter.has("AllowedValues")
            ? java.util.stream.StreamSupport.stream(parameter.path("AllowedValues").spliterator(), false).mapToInt(v -> v.asText().length()).max().orElse(0)
            : parameter.has("MaxLength") ? parameter.path("MaxLength").asInt()
            : parameter.has("MaxValue") ? parameter.path("MaxValue").asText().length() + 4 // decimals: "3600.5"
            : fail("%s has no bound, so %s's version description may pass 256 characters", placeholder.group(1), function);
        longest = longest.replace(placeholder.group(), "x".repeat(length));
      }
      assertThat(longest.length()).as("%s's version description at the longest parameter values", function).isLessThanOrEqualTo(256);
    }
  }

  /** Names of the template parameters referenced by Ref or ${...} anywhere under node. */
  private static void collectParameterReferences(JsonNode node, JsonNode parameters, java.util.Set<String> into) {
    if (node.isObject()) {
      if (node.has("Ref") && parameters.has(node.path("Ref").asText())) {
        into.add(node.path("Ref").asText());
      }
      if (node.has("Fn::If")) { // a condition's parameters configure the function as much as a Ref
        collectParameterReferences(conditions.path(node.path("Fn::If").path(0).asText()), parameters, into);
      }
      if (node.has("Condition") && node.path("Condition").isTextual()) {
        collectParameterReferences(conditions.path(node.path("Condition").asText()), parameters, into);
      }
      JsonNode sub = node.path("Fn::Sub");
      String text = sub.isArray() ? sub.path(0).asText() : sub.asText("");
      var placeholder = java.util.regex.Pattern.compile("\\$\\{(\\w+)}").matcher(text);
      while (placeholder.find()) {
        if (parameters.has(placeholder.group(1))) {
          into.add(placeholder.group(1));
        }
      }
    }
    node.elements().forEachRemaining(child -> collectParameterReferences(child, parameters, into));
  }

  @Test
  void theApiHasExactlyOneStageWithItsThrottlingAndAccessLog() {
    Map<String, JsonNode> stages = ofType(defaults, "AWS::ApiGateway::Stage");
    assertThat(stages).hasSize(1);
    JsonNode stage = stages.values().iterator().next().path("Properties");
    assertThat(stage.path("StageName").asText()).isEqualTo("v1api");
    assertThat(stage.path("MethodSettings").get(0).path("ThrottlingRateLimit").path("Ref").asText()).isEqualTo("ApiThrottlingRateLimit");
    assertThat(stage.path("AccessLogSetting").path("DestinationArn").path("Fn::GetAtt").get(0).asText()).isEqualTo("ApiAccessLogGroup");
    // A deployment with a StageName creates a second stage of that name (SAM's "Stage").
    Map<String, JsonNode> deployments = ofType(defaults, "AWS::ApiGateway::Deployment");
    assertThat(deployments).hasSize(1);
    assertThat(deployments.values().iterator().next().path("Properties").has("StageName")).as("a deployment that creates a stage").isFalse();
  }

  @Test
  void apiGatewayMayInvokeEachFunctionOnlyThroughThatStage() {
    String stage = ofType(defaults, "AWS::ApiGateway::Stage").keySet().iterator().next();
    var invokedByTheApi = new ArrayList<String>();
    resolve(defaults.path("Api").path("Properties").path("Body").path("paths"), Map.of()).forEach(path -> path.forEach(method -> {
      String uri = method.path("x-amazon-apigateway-integration").path("uri").path("Fn::Sub").asText();
      invokedByTheApi.add(uri.replaceAll(".*functions/\\$\\{(\\w+)}/(response-streaming-)?invocations", "$1"));
    }));
    // Six proxy routes (theProxyRoutesReachCloudFormationAsStreamIntegrations) and one per admin resource.
    int adminResources = aigw.admin.AdminRoutes.RESOURCES.stream().mapToInt(resource -> resource.apiGatewayResources().size()).sum();
    assertThat(invokedByTheApi).as("one integration per route").hasSize(6 + adminResources).allSatisfy(alias -> assertThat(alias).endsWith("Aliaslive"));
    var permitted = new ArrayList<String>();
    ofType(defaults, "AWS::Lambda::Permission").forEach((name, permission) -> {
      JsonNode properties = permission.path("Properties");
      if (!"apigateway.amazonaws.com".equals(properties.path("Principal").asText())) {
        return;
      }
      JsonNode sourceArn = properties.path("SourceArn").path("Fn::Sub");
      String arn = sourceArn.isArray() ? sourceArn.get(0).asText() : sourceArn.asText();
      assertThat(arn).as(name).startsWith("arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${Api}/${" + stage + "}/");
      assertThat(sourceArn.isArray() ? sourceArn.get(1).toString() : "").as(name).doesNotContain("\"*\"");
      permitted.add(properties.path("FunctionName").path("Ref").asText());
    });
    assertThat(permitted).containsExactlyInAnyOrderElementsOf(invokedByTheApi.stream().distinct().toList());
  }

  /**
   * What CloudFormation receives for the proxy routes, after SAM's transform: streaming
   * integrations (InvokeWithResponseStream on the live alias, STREAM, the timeout parameter), which
   * the same Lambda permission (lambda:InvokeFunction) covers; the admin routes stay buffered.
   */
  @Test
  void theProxyRoutesReachCloudFormationAsStreamIntegrations() {
    Map<String, String> streaming = Map.of();
    var streamed = new ArrayList<String>();
    proxyIntegrations(defaults, streaming).forEach((path, integration) -> {
      assertThat(integration.path("uri").path("Fn::Sub").asText()).as(path)
          .endsWith(":lambda:path/2021-11-15/functions/${ProxyFunctionAliaslive}/response-streaming-invocations");
      assertThat(integration.path("responseTransferMode").asText()).as(path).isEqualTo("STREAM");
      assertThat(integration.path("timeoutInMillis").asText()).as(path).isEqualTo("900000"); // ApiIntegrationTimeoutMillis
      streamed.add(path);
    });
    assertThat(streamed).containsExactlyInAnyOrder("/v1/{proxy+}", "/chat/completions", "/completions", "/embeddings", "/models", "/models/{proxy+}");
    JsonNode proxy = resolve(ofType(defaults, "AWS::Lambda::Function").get("ProxyFunction").path("Properties"), streaming);
    assertThat(proxy.at("/Environment/Variables/AWS_LAMBDA_EXEC_WRAPPER").asText()).isEqualTo("/opt/aigw/streaming-runtime");
    assertThat(proxy.at("/SnapStart/ApplyOn").asText()).isEqualTo("PublishedVersions");
  }

  /**
   * The escape hatch (ProxyResponseStreaming=false): the proxy routes are ordinary BUFFERED
   * integrations on the 2015-03-31 invocations URI with API Gateway's default timeout (29 s), and the
   * proxy function runs its Handler under the runtime interface client (no exec wrapper), with
   * SnapStart; the stage is deployed anew, so the switch takes effect on that deploy.
   */
  @Test
  void proxyResponseStreamingFalseDeploysTheProxyRoutesBufferedUnderTheStandardRuntime() throws Exception {
    Thread.sleep(1100); // AlwaysDeploy names the deployment after the transform's second.
    Map<String, String> buffered = Map.of("ProxyResponseStreaming", "false");
    JsonNode transformed = transform(BUILD_A, buffered);
    Map<String, JsonNode> integrations = proxyIntegrations(transformed, buffered);
    assertThat(integrations.keySet())
        .containsExactlyInAnyOrder("/v1/{proxy+}", "/chat/completions", "/completions", "/embeddings", "/models", "/models/{proxy+}");
    integrations.forEach((path, integration) -> {
      assertThat(integration.path("uri").path("Fn::Sub").asText()).as(path)
          .endsWith(":lambda:path/2015-03-31/functions/${ProxyFunctionAliaslive}/invocations");
      assertThat(integration.path("responseTransferMode").asText()).as(path).isEqualTo("BUFFERED");
      assertThat(integration.has("timeoutInMillis")).as(path + ": API Gateway's default, 29 s").isFalse();
      assertThat(integration.path("type").asText()).as(path).isEqualTo("aws_proxy");
    });
    JsonNode proxy = resolve(ofType(transformed, "AWS::Lambda::Function").get("ProxyFunction").path("Properties"), buffered);
    assertThat(proxy.at("/Environment/Variables").has("AWS_LAMBDA_EXEC_WRAPPER")).isFalse();
    assertThat(proxy.at("/Environment/Variables/AIGW_PROVIDER_SECRET_ID").isMissingNode()).isFalse();
    assertThat(proxy.path("Handler").asText()).isEqualTo("aigw.proxy.ProxyHandler::handleRequest");
    assertThat(proxy.at("/SnapStart/ApplyOn").asText()).isEqualTo("PublishedVersions");
    assertThat(ofType(transformed, "AWS::ApiGateway::Deployment").keySet())
        .as("the stage gets a new deployment, so the switch is served")
        .doesNotContainAnyElementsOf(ofType(defaults, "AWS::ApiGateway::Deployment").keySet());
    // A new function version too (its environment changes): the description names the parameter.
    JsonNode version = ofType(transformed, "AWS::Lambda::Version").values().stream()
        .filter(v -> v.path("Properties").path("FunctionName").path("Ref").asText().equals("ProxyFunction"))
        .findFirst().orElseThrow();
    assertThat(version.at("/Properties/Description/Fn::Sub").asText()).contains("${ProxyResponseStreaming}");
  }

  /** The proxy function's integrations by route, conditions resolved for these parameter values. */
  private static Map<String, JsonNode> proxyIntegrations(JsonNode resources, Map<String, String> parameters) {
    var integrations = new java.util.TreeMap<String, JsonNode>();
    JsonNode paths = resources.path("Api").path("Properties").path("Body").path("paths");
    paths.fields().forEachRemaining(path -> path.getValue().forEach(method -> {
      JsonNode integration = resolve(method.path("x-amazon-apigateway-integration"), parameters);
      if (integration.path("uri").path("Fn::Sub").asText().contains("ProxyFunctionAliaslive")) {
        integrations.put(path.getKey(), integration);
      } else {
        assertThat(integration.has("responseTransferMode")).as(path.getKey() + " (admin) is buffered").isFalse();
      }
    }));
    return integrations;
  }

  /** Sample values for the $context variables the gateway responses may use, as API Gateway fills them in. */
  private static String render(String template) throws IOException {
    // messageString is API Gateway's message as a quoted, escaped JSON string.
    return template
        .replace("$context.error.messageString", JSON.writeValueAsString("Missing \"Authentication\" Token"))
        .replace("$context.requestId", "c6af9ac6-7b61-11e6-9a41-93e8deadbeef");
  }

  @Test
  void apiGatewaysOwnErrorsAreOpenAiErrorsWithTheGatewaysTypes() throws IOException {
    JsonNode responses = defaults.path("Api").path("Properties").path("Body").path("x-amazon-apigateway-gateway-responses");
    // The same failure answers the same type whether API Gateway or a function reports it.
    Map<String, Object[]> expected = new LinkedHashMap<>();
    expected.put("MISSING_AUTHENTICATION_TOKEN", new Object[] {404, ErrorEnvelope.type(new NotFound("m", null))});
    expected.put("RESOURCE_NOT_FOUND", new Object[] {404, ErrorEnvelope.type(new NotFound("m", null))});
    expected.put("REQUEST_TOO_LARGE", new Object[] {413, ErrorEnvelope.type(new PayloadTooLarge(2, 1))});
    expected.put("BAD_REQUEST_BODY", new Object[] {400, "invalid_request_error"});
    expected.put("BAD_REQUEST_PARAMETERS", new Object[] {400, "invalid_request_error"});
    expected.put("UNSUPPORTED_MEDIA_TYPE", new Object[] {415, "invalid_request_error"});
    expected.put("THROTTLED", new Object[] {429, "rate_limit_error"});
    expected.put("QUOTA_EXCEEDED", new Object[] {429, "rate_limit_error"});
    expected.put("ACCESS_DENIED", new Object[] {403, ErrorEnvelope.type(new PermissionDenied("m"))});
    expected.put("WAF_FILTERED", new Object[] {403, ErrorEnvelope.type(new PermissionDenied("m"))});
    expected.put("INTEGRATION_FAILURE", new Object[] {502, "internal_server_error"});
    expected.put("INTEGRATION_TIMEOUT", new Object[] {504, ErrorEnvelope.type(new UpstreamTimeout("m"))});
    expected.put("DEFAULT_4XX", new Object[] {null, "invalid_request_error"});
    expected.put("DEFAULT_5XX", new Object[] {null, "internal_server_error"});

    for (var entry : expected.entrySet()) {
      String type = entry.getKey();
      JsonNode response = responses.path(type);
      assertThat(response.isMissingNode()).as("gateway response %s", type).isFalse();
      Integer status = (Integer) entry.getValue()[0];
      if (status == null) {
        assertThat(response.has("statusCode")).as("%s keeps API Gateway's status", type).isFalse();
      } else {
        assertThat(response.path("statusCode").asText()).as(type).isEqualTo(status.toString());
      }
      String template = response.path("responseTemplates").path("application/json").asText();
      assertThat(template).as(type).doesNotContain("$context.path").doesNotContain("$context.resourcePath").doesNotContain("$input");
      JsonNode body = JSON.readTree(render(template)); // throws unless valid JSON once filled in
      JsonNode error = body.path("error");
      assertThat(body.size()).as(type).isEqualTo(1);
      assertThat(iterableOf(error.fieldNames())).as(type).containsExactly("message", "type", "param", "code");
      assertThat(error.path("message").asText()).as(type).isNotBlank();
      assertThat(error.path("type").asText()).as(type).isEqualTo(entry.getValue()[1]);
      assertThat(error.path("param").isNull()).as(type).isTrue();
      if (status == null) {
        assertThat(error.path("code").isNull()).as(type).isTrue();
      } else {
        assertThat(error.path("code").asText()).as(type).isEqualTo(status.toString());
      }
    }
    // A client that is throttled is told when to come back.
    for (String throttled : List.of("THROTTLED", "QUOTA_EXCEEDED")) {
      String retryAfter = responses.path(throttled).path("responseParameters").path("gatewayresponse.header.Retry-After").asText();
      assertThat(retryAfter).as(throttled).matches("'[1-9][0-9]*'"); // a static value is quoted
    }
  }

  private static List<String> iterableOf(java.util.Iterator<String> names) {
    var list = new ArrayList<String>();
    names.forEachRemaining(list::add);
    return list;
  }

  @Test
  void theAccountWideLoggingRoleIsSetOnlyWhenAsked() throws Exception {
    assertThat(created(defaults, Map.of(), "AWS::ApiGateway::Account")).as("by default").isEmpty();
    assertThat(created(defaults, Map.of(), "AWS::IAM::Role")).doesNotContain("ApiGatewayCloudWatchRole");
    var asked = Map.of("ManageApiGatewayAccountRole", "true");
    JsonNode withRole = transform(BUILD_A, asked);
    assertThat(created(withRole, asked, "AWS::ApiGateway::Account")).containsExactly("ApiGatewayAccount");
    // The stage enables access logging only once the role is set: the API waits for a handle whose
    // Metadata refers to the setting when it exists (a DependsOn cannot name a conditional resource).
    JsonNode api = withRole.path("Api");
    String handle = api.path("DependsOn").isArray() ? api.path("DependsOn").get(0).asText() : api.path("DependsOn").asText();
    assertThat(withRole.path(handle).path("Type").asText()).isEqualTo("AWS::CloudFormation::WaitConditionHandle");
    assertThat(withRole.path(handle).has("Condition")).isFalse();
    assertThat(resolve(withRole.path(handle).path("Metadata"), asked).toString()).contains("{\"Ref\":\"ApiGatewayAccount\"}");
    assertThat(resolve(defaults.path(handle).path("Metadata"), Map.of()).toString()).doesNotContain("ApiGatewayAccount\"}");
  }

  @Test
  void whatOutlivesTheStackIsChosen() {
    // The keys: retained, on deletion and on replacement.
    assertThat(policies(defaults.path("KeysTable"))).isEqualTo(List.of("Retain", "Retain"));
    // The spend and audit logs: kept too (the audit log is evidence); each item expires by its TTL.
    assertThat(policies(defaults.path("LogsTable"))).isEqualTo(List.of("Retain", "Retain"));
    // Credentials: deleted with the stack (CloudFormation skips the recovery window), kept on replacement.
    assertThat(policies(defaults.path("MasterKeySecret"))).isEqualTo(List.of("Delete", "Retain"));
    assertThat(policies(defaults.path("ProviderCredentialsSecret"))).isEqualTo(List.of("Delete", "Retain"));
    // Every log group is kept and expires by its retention.
    Map<String, JsonNode> logGroups = ofType(defaults, "AWS::Logs::LogGroup");
    assertThat(logGroups).hasSize(5);
    logGroups.forEach((name, group) -> {
      assertThat(policies(group)).as(name).isEqualTo(List.of("Retain", "Retain"));
      assertThat(group.path("Properties").path("RetentionInDays").path("Ref").asText()).as(name).endsWith("RetentionDays");
      assertThat(group.path("Properties").has("LogGroupName")).as("%s: a kept group with a fixed name would block the next stack", name).isFalse();
    });
  }

  private static List<String> policies(JsonNode resource) {
    return List.of(resource.path("DeletionPolicy").asText("(none)"), resource.path("UpdateReplacePolicy").asText("(none)"));
  }

  @Test
  void everyFunctionLogsToAGroupWithRetention() {
    Map<String, JsonNode> functions = ofType(defaults, "AWS::Lambda::Function");
    assertThat(functions.keySet()).containsExactlyInAnyOrderElementsOf(FUNCTIONS);
    functions.forEach((name, function) -> {
      String group = function.path("Properties").path("LoggingConfig").path("LogGroup").path("Ref").asText();
      assertThat(defaults.path(group).path("Type").asText()).as(name).isEqualTo("AWS::Logs::LogGroup");
      assertThat(defaults.path(group).path("Properties").path("RetentionInDays").path("Ref").asText()).isEqualTo("FunctionLogRetentionDays");
    });
  }

  @Test
  void keyManagementHasReservedConcurrencyAndTheProxyCapIsAParameter() throws Exception {
    for (String function : List.of("AdminFunction", "KeyRotationScheduleFunction", "MasterKeyRotationFunction")) {
      JsonNode reserved = resolve(defaults.path(function).path("Properties").path("ReservedConcurrentExecutions"), Map.of());
      assertThat(reserved.asInt()).as(function).isPositive();
      JsonNode off = resolve(defaults.path(function).path("Properties").path("ReservedConcurrentExecutions"),
          Map.of("KeyManagementReservedConcurrency", "0"));
      assertThat(off.isMissingNode()).as("%s with KeyManagementReservedConcurrency=0", function).isTrue();
    }
    JsonNode proxy = defaults.path("ProxyFunction").path("Properties").path("ReservedConcurrentExecutions");
    assertThat(resolve(proxy, Map.of()).isMissingNode()).as("the proxy is uncapped by default").isTrue();
    assertThat(resolve(proxy, Map.of("ProxyReservedConcurrency", "50")).asInt()).isEqualTo(50);
  }

  @Test
  void rarelyInvokedFunctionsDoNotUseSnapStart() {
    for (String function : List.of("KeyRotationScheduleFunction", "MasterKeyRotationFunction")) {
      JsonNode snapStart = defaults.path(function).path("Properties").path("SnapStart");
      assertThat(snapStart.isMissingNode() || "None".equals(snapStart.path("ApplyOn").asText())).as(function).isTrue();
    }
    for (String function : List.of("ProxyFunction", "AdminFunction")) {
      assertThat(defaults.path(function).path("Properties").path("SnapStart").path("ApplyOn").asText()).as(function).isEqualTo("PublishedVersions");
    }
  }

  @Test
  void alarmsAndTheRuleCanPublishToTheEncryptedTopic() {
    JsonNode topic = defaults.path("AlertTopic").path("Properties");
    String key = topic.path("KmsMasterKeyId").path("Ref").asText();
    assertThat(defaults.path(key).path("Type").asText()).as("a key whose policy this stack sets, not alias/aws/sns").isEqualTo("AWS::KMS::Key");
    Map<String, List<String>> keyUse = new HashMap<>();
    defaults.path(key).path("Properties").path("KeyPolicy").path("Statement").forEach(s -> {
      String service = s.path("Principal").path("Service").asText();
      if (!service.isEmpty()) {
        var actions = new ArrayList<String>();
        s.path("Action").forEach(a -> actions.add(a.asText()));
        keyUse.put(service, actions);
      }
    });
    assertThat(keyUse.get("cloudwatch.amazonaws.com")).containsExactlyInAnyOrder("kms:Decrypt", "kms:GenerateDataKey*");
    assertThat(keyUse.get("events.amazonaws.com")).containsExactlyInAnyOrder("kms:Decrypt", "kms:GenerateDataKey*");

    var mayPublish = new HashMap<String, JsonNode>();
    defaults.path("AlertTopicPolicy").path("Properties").path("PolicyDocument").path("Statement")
        .forEach(s -> mayPublish.put(s.path("Principal").path("Service").asText(), s.path("Condition")));
    // Every alarm that alerts is allowed, by ARN, and only for this account.
    var alarms = new ArrayList<String>();
    ofType(defaults, "AWS::CloudWatch::Alarm").forEach((name, alarm) -> {
      if (alarm.path("Properties").path("AlarmActions").toString().contains("\"AlertTopic\"")) {
        alarms.add(name);
      }
    });
    assertThat(alarms).hasSize(3);
    var allowedAlarms = new ArrayList<String>();
    mayPublish.get("cloudwatch.amazonaws.com").path("ArnEquals").path("aws:SourceArn").forEach(a -> allowedAlarms.add(a.path("Fn::GetAtt").get(0).asText()));
    assertThat(allowedAlarms).containsExactlyInAnyOrderElementsOf(alarms);
    assertThat(mayPublish.get("cloudwatch.amazonaws.com").path("StringEquals").path("aws:SourceAccount").path("Ref").asText()).isEqualTo("AWS::AccountId");
    assertThat(mayPublish.get("events.amazonaws.com").path("ArnEquals").path("aws:SourceArn").path("Fn::GetAtt").get(0).asText()).isEqualTo("KeyDeliveryFailedRule");
  }

  // --- Per-client limits and the admin API's own throttling (issue 15, finding 3) ---

  /**
   * API Gateway throttles each method of the stage with a bucket of its own: the admin API's is sized
   * by its own parameters, so the model routes' settings and traffic do not decide it.
   */
  @Test
  void theAdminApiIsThrottledInABucketOfItsOwn() {
    JsonNode stage = ofType(defaults, "AWS::ApiGateway::Stage").values().iterator().next().path("Properties");
    var settings = new LinkedHashMap<String, JsonNode>();
    stage.path("MethodSettings").forEach(m -> settings.put(m.path("ResourcePath").asText() + " " + m.path("HttpMethod").asText(), m));
    // Every admin resource of the route table but /health: /prefix/{proxy+}, and /audit itself.
    var adminResources = new ArrayList<String>();
    aigw.admin.AdminRoutes.RESOURCES.stream().filter(r -> !r.prefix().equals("/health"))
        .forEach(r -> r.apiGatewayResources().forEach(resource -> adminResources.add("/" + resource.replace("/", "~1") + " *")));
    var expected = new ArrayList<String>(List.of("/* *"));
    expected.addAll(adminResources);
    assertThat(settings.keySet()).containsExactlyInAnyOrderElementsOf(expected)
        .contains("/~1key~1{proxy+} *", "/~1team~1{proxy+} *", "/~1spend~1{proxy+} *", "/~1global~1{proxy+} *", "/~1audit~1{proxy+} *", "/~1audit *");
    for (String setting : adminResources) {
      JsonNode admin = settings.get(setting);
      assertThat(admin.path("ThrottlingRateLimit").path("Ref").asText()).isEqualTo("AdminThrottlingRateLimit");
      assertThat(admin.path("ThrottlingBurstLimit").path("Ref").asText()).isEqualTo("AdminThrottlingBurstLimit");
      // The setting names a route the API has: a method setting's path is "/" and then the resource
      // path with each "/" written ~1 (/resource/sub is /~1resource~1sub).
      String path = admin.path("ResourcePath").asText().substring(1).replace("~1", "/");
      JsonNode route = defaults.path("Api").path("Properties").path("Body").path("paths").path(path);
      assertThat(route.path("x-amazon-apigateway-any-method").path("x-amazon-apigateway-integration").path("uri").path("Fn::Sub").asText())
          .as(path).contains("${AdminFunctionAliaslive}");
    }
  }

  @Test
  void noWebAclUnlessAsked() {
    assertThat(created(defaults, Map.of(), "AWS::WAFv2::WebACL")).isEmpty();
    assertThat(created(defaults, Map.of(), "AWS::WAFv2::WebACLAssociation")).isEmpty();
  }

  /**
   * WafRateLimiting=true: a regional web ACL on the API's one stage (WAF's ARN format for a REST API
   * stage), whose rate-based rules count each IP address, the admin API apart from the model
   * routes, and with WafRequestsPerKey each key header; a client over its limit gets 429 in the
   * error envelope with Retry-After, and no rule keeps sampled requests (they hold the key headers).
   */
  @Test
  void aWebAclLimitsEachClientAndCountsTheAdminApiApart() throws Exception {
    String stage = ofType(defaults, "AWS::ApiGateway::Stage").keySet().iterator().next();
    for (String perKey : List.of("0", "1000")) {
      Map<String, String> parameters = Map.of("WafRateLimiting", "true", "WafRequestsPerKey", perKey);
      JsonNode transformed = transform(BUILD_A, parameters);
      assertThat(created(transformed, parameters, "AWS::WAFv2::WebACL")).containsExactly("ApiWebAcl");
      assertThat(created(transformed, parameters, "AWS::WAFv2::WebACLAssociation")).containsExactly("ApiWebAclAssociation");
      JsonNode association = transformed.path("ApiWebAclAssociation").path("Properties");
      assertThat(association.path("WebACLArn").path("Fn::GetAtt").toString()).isEqualTo("[\"ApiWebAcl\",\"Arn\"]");
      assertThat(association.path("ResourceArn").path("Fn::Sub").asText())
          .isEqualTo("arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${Api}/stages/${" + stage + "}");

      JsonNode acl = resolve(transformed.path("ApiWebAcl").path("Properties"), parameters);
      assertThat(acl.path("Scope").asText()).isEqualTo("REGIONAL");
      assertThat(acl.path("DefaultAction").has("Allow")).isTrue();
      assertThat(acl.at("/VisibilityConfig/SampledRequestsEnabled").asBoolean(true)).isFalse();
      JsonNode refused = JSON.readTree(acl.at("/CustomResponseBodies/rate-limited/Content").asText());
      assertThat(iterableOf(refused.path("error").fieldNames())).containsExactly("message", "type", "param", "code");
      assertThat(refused.at("/error/type").asText()).isEqualTo("rate_limit_error");
      assertThat(refused.at("/error/code").asText()).isEqualTo("429");

      var rules = new LinkedHashMap<String, JsonNode>();
      var priorities = new java.util.HashSet<Integer>();
      acl.path("Rules").forEach(rule -> {
        rules.put(rule.path("Name").asText(), rule);
        assertThat(priorities.add(rule.path("Priority").asInt())).as("unique priority").isTrue();
        assertThat(rule.at("/VisibilityConfig/SampledRequestsEnabled").asBoolean(true)).as(rule.path("Name").asText()).isFalse();
        JsonNode response = rule.at("/Action/Block/CustomResponse");
        assertThat(response.path("ResponseCode").asInt()).isEqualTo(429);
        assertThat(response.path("CustomResponseBodyKey").asText()).isEqualTo("rate-limited");
        assertThat(response.path("ResponseHeaders").toString()).contains("\"Name\":\"Retry-After\"");
        JsonNode rate = rule.at("/Statement/RateBasedStatement");
        assertThat(rate.path("EvaluationWindowSec").asText()).isEqualTo("300");
      });
      var expected = new ArrayList<>(List.of("admin-per-ip", "per-ip"));
      if (!perKey.equals("0")) {
        // The headers aigw.core.auth.Authenticator reads a key from.
        expected.addAll(List.of("per-key-authorization", "per-key-x-api-key", "per-key-api-key"));
      }
      assertThat(rules.keySet()).containsExactlyElementsOf(expected);

      JsonNode admin = rules.get("admin-per-ip").at("/Statement/RateBasedStatement");
      assertThat(admin.path("AggregateKeyType").asText()).isEqualTo("IP");
      assertThat(admin.path("Limit").asText()).isEqualTo("300");
      JsonNode perIp = rules.get("per-ip").at("/Statement/RateBasedStatement");
      assertThat(perIp.path("AggregateKeyType").asText()).isEqualTo("IP");
      assertThat(perIp.path("Limit").asText()).isEqualTo("3000");
      // Which requests each rule counts: the admin rule the admin API's paths, as WAF sees them
      // on the execute-api URL (stage first) and behind a custom domain; the others everything else.
      Map<String, Boolean> isAdmin = Map.of("/v1api/key/generate", true, "/key/block", true, "/v1api/key/sk-abc/regenerate", true,
          "/v1api/v1/chat/completions", false, "/v1api/chat/completions", false, "/v1/models/openai/gpt-4o", false, "/v1api/health/liveliness", false,
          "/v1api/%6Bey/generate", true, "/v1api/%6b%65y/block", true);
      // Every admin resource of the route table but /health, as the template's MethodSettings give them the admin bucket.
      isAdmin = new java.util.HashMap<>(isAdmin);
      for (var resource : aigw.admin.AdminRoutes.RESOURCES) {
        if (!resource.prefix().equals("/health")) {
          isAdmin.put("/v1api" + resource.prefix() + "/x", true);
          isAdmin.put(resource.prefix() + "/x", true);
          if (resource.servesItsPrefix()) { // LiteLLM's GET /audit
            isAdmin.put("/v1api" + resource.prefix(), true);
            isAdmin.put(resource.prefix(), true);
          }
        }
      }
      isAdmin.put("/v1api/global/spend/keys", true);
      isAdmin.put("/v1api/audit", true);
      isAdmin.put("/v1api/auditing", false);
      isAdmin.put("/v1api/v1/models/teams", false);
      isAdmin.forEach((path, expectedAdmin) -> {
        assertThat(matches(admin.path("ScopeDownStatement"), path)).as("admin-per-ip counts %s", path).isEqualTo(expectedAdmin);
        rules.forEach((name, rule) -> {
          if (!name.equals("admin-per-ip")) {
            assertThat(matches(rule.at("/Statement/RateBasedStatement/ScopeDownStatement"), path)).as("%s counts %s", name, path).isEqualTo(!expectedAdmin);
          }
        });
      });
      rules.forEach((name, rule) -> {
        if (name.startsWith("per-key-")) {
          JsonNode rate = rule.at("/Statement/RateBasedStatement");
          assertThat(rate.path("AggregateKeyType").asText()).isEqualTo("CUSTOM_KEYS");
          assertThat(rate.path("CustomKeys")).hasSize(1);
          assertThat(rate.at("/CustomKeys/0/Header/Name").asText()).isEqualTo(name.substring("per-key-".length()));
          assertThat(rate.path("Limit").asText()).isEqualTo(perKey);
        }
      });
    }
  }

  /** A scope-down statement (ByteMatch on the URI path, OR of them, NOT of one) evaluated for a request path. */
  private static boolean matches(JsonNode statement, String path) {
    if (statement.has("NotStatement")) {
      return !matches(statement.at("/NotStatement/Statement"), path);
    }
    if (statement.has("OrStatement")) {
      boolean any = false;
      for (JsonNode each : statement.at("/OrStatement/Statements")) {
        any |= matches(each, path);
      }
      return any;
    }
    JsonNode byteMatch = statement.path("ByteMatchStatement");
    assertThat(byteMatch.path("FieldToMatch").has("UriPath")).as(statement.toString()).isTrue();
    String seen = transformed(path, byteMatch.path("TextTransformations"));
    String searched = byteMatch.path("SearchString").asText();
    return switch (byteMatch.path("PositionalConstraint").asText()) {
      case "CONTAINS" -> seen.contains(searched);
      case "ENDS_WITH" -> seen.endsWith(searched);
      default -> throw new AssertionError("unexpected PositionalConstraint in " + statement);
    };
  }

  /**
   * A request component as WAF inspects it after these text transformations, lowest priority first
   * (the transformations the template uses; AWS WAF Developer Guide, "Text transformation options").
   */
  private static String transformed(String value, JsonNode transformations) {
    var ordered = new ArrayList<JsonNode>();
    transformations.forEach(ordered::add);
    ordered.sort(java.util.Comparator.comparingInt(t -> t.path("Priority").asInt()));
    for (JsonNode transformation : ordered) {
      value = switch (transformation.path("Type").asText()) {
        case "NONE" -> value;
        case "URL_DECODE" -> java.net.URLDecoder.decode(value.replace("+", "%2B"), StandardCharsets.UTF_8);
        // Whitespace characters (tab, newline, carriage return, vertical tab, form feed, space) become
        // spaces, and runs of spaces one space.
        case "COMPRESS_WHITE_SPACE" -> value.replaceAll("[\\t\\n\\r\\x0B\\f ]+", " ");
        case "LOWERCASE" -> value.toLowerCase(java.util.Locale.ROOT);
        default -> throw new AssertionError("a transformation this test does not know: " + transformation);
      };
    }
    return value;
  }

  /**
   * The per-key rules count a key once however its holder writes the header: aigw.core.auth.Authenticator
   * takes "Bearer" in any case and trims spaces, so each spelling it reads as the same key must be one
   * aggregation value (with TextTransformations NONE each was a counter of its own).
   */
  @Test
  void aKeysHolderCannotGetMoreRequestsByRespellingTheHeader() throws Exception {
    Map<String, String> parameters = Map.of("WafRateLimiting", "true", "WafRequestsPerKey", "100");
    JsonNode acl = resolve(transform(BUILD_A, parameters).path("ApiWebAcl").path("Properties"), parameters);
    Map<String, List<String>> spellings = Map.of(
        "authorization", List.of("Bearer sk-abcd", "bearer sk-abcd", "BEARER sk-abcd", "Bearer  sk-abcd", "Bearer \tsk-abcd"),
        "x-api-key", List.of("sk-abcd", "SK-ABCD"),
        "api-key", List.of("sk-abcd", "Sk-AbCd"));
    int perKeyRules = 0;
    for (JsonNode rule : acl.path("Rules")) {
      String name = rule.path("Name").asText();
      if (!name.startsWith("per-key-")) {
        continue;
      }
      perKeyRules++;
      JsonNode header = rule.at("/Statement/RateBasedStatement/CustomKeys/0/Header");
      var counters = new java.util.HashSet<String>();
      spellings.get(header.path("Name").asText()).forEach(v -> counters.add(transformed(v, header.path("TextTransformations"))));
      assertThat(counters).as("%s counts one key under one value", name).hasSize(1);
    }
    assertThat(perKeyRules).isEqualTo(3);
  }

  /**
   * A client refused by WAF is told to wait the evaluation window (WAF blocks it until its count over
   * that window falls under the limit), in Retry-After and in the message, not a fixed minute.
   */
  @Test
  void theFirewallsRetryAfterIsTheEvaluationWindow() throws Exception {
    for (String window : List.of("60", "600")) {
      Map<String, String> parameters = Map.of("WafRateLimiting", "true", "WafRequestsPerKey", "100", "WafEvaluationWindowSeconds", window);
      JsonNode acl = resolve(transform(BUILD_A, parameters).path("ApiWebAcl").path("Properties"), parameters);
      JsonNode body = JSON.readTree(acl.at("/CustomResponseBodies/rate-limited/Content").asText());
      assertThat(body.at("/error/message").asText()).endsWith("Retry after " + window + " seconds.");
      assertThat(acl.path("Rules")).hasSize(5);
      acl.path("Rules").forEach(rule -> {
        assertThat(rule.at("/Statement/RateBasedStatement/EvaluationWindowSec").asText()).isEqualTo(window);
        assertThat(rule.at("/Action/Block/CustomResponse/ResponseHeaders").toString())
            .isEqualTo("[{\"Name\":\"Retry-After\",\"Value\":\"" + window + "\"}]");
      });
    }
  }

  /** AWS WAF refuses a rate limit under 10: the stack refuses 1 to 9 before changing anything; 0 is "off". */
  @Test
  void aPerKeyLimitWafWouldRefuseIsRefusedBeforeTheStackChanges() {
    JsonNode assertions = lastRules.path("PerKeyLimitIsOffOrAtLeastTen").path("Assertions");
    assertThat(assertions).hasSize(1);
    for (int limit : new int[] {0, 10, 11, 100, 2000000000}) {
      assertThat(resolve(assertions.get(0).path("Assert"), Map.of("WafRequestsPerKey", String.valueOf(limit))).asBoolean())
          .as("%d accepted", limit).isTrue();
    }
    for (int limit = 1; limit <= 9; limit++) {
      assertThat(resolve(assertions.get(0).path("Assert"), Map.of("WafRequestsPerKey", String.valueOf(limit))).asBoolean())
          .as("%d refused", limit).isFalse();
    }
    assertThat(template().at("/Parameters/WafRequestsPerKey/Description").asText()).contains("0 (off) or at least 10");
  }

  // --- The proxy function's role (issue 15, finding 8): what a compromise of the internet-facing function opens ---

  /** The proxy function role's statements, conditions resolved for these parameter values. */
  private static List<JsonNode> proxyStatements(JsonNode resources, Map<String, String> parameters) {
    var statements = new ArrayList<JsonNode>();
    resources.path("ProxyFunctionRole").path("Properties").path("Policies")
        .forEach(policy -> resolve(policy.path("PolicyDocument").path("Statement"), parameters).forEach(statements::add));
    assertThat(statements).as("the proxy function's role has statements").isNotEmpty();
    return statements;
  }

  private static List<String> texts(JsonNode oneOrMany) {
    var values = new ArrayList<String>();
    (oneOrMany.isArray() ? oneOrMany : JSON.createArrayNode().add(oneOrMany)).forEach(v -> values.add(v.isTextual() ? v.asText() : v.toString()));
    return values;
  }

  @Test
  void theProxyFunctionCanReadTheMasterKeyOnlyWhenTheMasterKeyMayCallModels() throws Exception {
    for (String allowed : List.of("false", "true")) {
      Map<String, String> parameters = Map.of("AllowMasterKeyForModels", allowed);
      JsonNode transformed = allowed.equals("false") ? defaults : transform(BUILD_A, parameters);
      var secretsRead = new ArrayList<String>();
      for (JsonNode statement : proxyStatements(transformed, parameters)) {
        if (texts(statement.path("Action")).stream().anyMatch(a -> a.startsWith("secretsmanager:"))) {
          assertThat(texts(statement.path("Action"))).containsExactly("secretsmanager:GetSecretValue");
          texts(statement.path("Resource")).forEach(secretsRead::add);
        }
      }
      JsonNode variables = resolve(transformed.path("ProxyFunction").path("Properties").path("Environment").path("Variables"), parameters);
      assertThat(variables.path("AIGW_ALLOW_MASTER_KEY_FOR_MODELS").asText()).isEqualTo(allowed);
      if (allowed.equals("true")) {
        assertThat(secretsRead).containsExactlyInAnyOrder("{\"Ref\":\"ProviderCredentialsSecret\"}", "{\"Ref\":\"MasterKeySecret\"}");
        assertThat(variables.path("AIGW_MASTER_KEY_SECRET_ID").path("Ref").asText()).isEqualTo("MasterKeySecret");
      } else {
        assertThat(secretsRead).as("by default").containsExactly("{\"Ref\":\"ProviderCredentialsSecret\"}");
        assertThat(variables.has("AIGW_MASTER_KEY_SECRET_ID")).as("by default the proxy is not told where the master key is").isFalse();
      }
      // The admin API still authenticates with it.
      JsonNode admin = resolve(transformed.path("AdminFunction").path("Properties").path("Environment").path("Variables"), parameters);
      assertThat(admin.path("AIGW_MASTER_KEY_SECRET_ID").path("Ref").asText()).isEqualTo("MasterKeySecret");
    }
  }

  /**
   * The proxy's own writes (a whole and a streamed chat completion through {@link ProxyService},
   * recorded on their way to DynamoDB Local) are allowed by its role's UpdateItem statement, as IAM
   * evaluates DynamoDB's condition keys; what a compromised function would write to take over a
   * key (unblock it, widen its models, move its expiry, read it back whole) is not.
   */
  @Test
  void theProxyFunctionMayUpdateOnlyTheUsageCountersOfUsageItems() throws Exception {
    List<JsonNode> writes = proxyStatements(defaults, Map.of()).stream()
        .filter(s -> texts(s.path("Action")).stream().anyMatch(a -> !a.equals("dynamodb:GetItem") && a.startsWith("dynamodb:")))
        .filter(s -> texts(s.path("Resource")).contains("{\"Fn::GetAtt\":[\"KeysTable\",\"Arn\"]}"))
        .toList();
    assertThat(writes).as("one statement lets the proxy write to the keys table").hasSize(1);
    JsonNode update = writes.get(0);
    assertThat(texts(update.path("Action"))).containsExactly("dynamodb:UpdateItem");

    var sent = new java.util.concurrent.CopyOnWriteArrayList<UpdateItemRequest>();
    var provider = Upstream.start();
    try (var dynamo = new LocalDynamo()) {
      String usage = "{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}";
      provider.stubFor(WireMock.post("/v1/chat/completions").willReturn(WireMock.okJson(Upstream.CHAT_COMPLETION)));
      provider.stubFor(WireMock.post("/v1/chat/completions").withRequestBody(WireMock.matchingJsonPath("$.stream", WireMock.equalTo("true")))
          .willReturn(WireMock.aResponse().withHeader("Content-Type", "text/event-stream").withBody(
              "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"}}]}\n\n"
                  + "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":" + usage + "}\n\ndata: [DONE]\n\n")));
      var gateway = aigw.core.Gateway.over(TestGateways.settings(dynamo), recording(dynamo.client(), sent),
          StaticSecretSource.of(TestGateways.MASTER_KEY), List.of(TestGateways.openAi("gpt", "gpt-4o-mini", provider.baseUrl() + "/v1")),
          java.time.Clock.systemUTC());
      String plaintext = "sk-least-privilege-test-key-0001";
      // With every limit, on the key and on its team, so the limit writes (window leases, slot and budget
      // reservations, settlements) of both scopes are checked too.
      var now = gateway.clock().instant();
      var team = new aigw.core.teams.Team("least-privilege-team", null, List.of(), Map.of(), false,
          new aigw.core.teams.TeamLimits(new java.math.BigDecimal("10"), new java.math.BigDecimal("5"), "1d", 100000L, 100L, 4L), now, now);
      gateway.teamStore().create(team);
      var key = TestGateways.storeKey(gateway, plaintext, List.of(), null, false,
          new aigw.core.limits.Limits(100L, 100000L, 4, new java.math.BigDecimal("10"), new java.math.BigDecimal("5"), "1d"), team.teamId());
      var proxy = new ProxyService(gateway);
      var headers = Map.of("authorization", "Bearer " + plaintext, "content-type", "application/json");
      for (String body : List.of("{\"model\":\"gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
          "{\"model\":\"gpt\",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")) {
        var answer = proxy.handle(new GatewayRequest("POST", "/v1/chat/completions", headers, Map.of(), body.getBytes(StandardCharsets.UTF_8), "t")).buffered();
        assertThat(answer.status()).as(answer.bodyText()).isEqualTo(200);
      }
      gateway.flushWrites(); // as the runtime does after each response: the usage write follows the answer
      assertThat(sent).as("the proxy counted both requests").isNotEmpty();
      for (UpdateItemRequest request : sent) {
        assertThat(allows(update, request)).as("the proxy's own write %s", request).isTrue();
      }

      String table = dynamo.keysTable();
      assertThat(sent).as("the limit state was written").anyMatch(r -> r.key().get("token_hash").s().equals("limits#key:" + key.keyId()));
      assertThat(sent).as("the team's limit state was written").anyMatch(r -> r.key().get("token_hash").s().equals("limits#team:" + team.teamId()));
      String usageItem = sent.stream().map(r -> r.key().get("token_hash").s()).filter(k -> k.startsWith("usage#")).findFirst().orElseThrow();
      assertThat(usageItem).isEqualTo("usage#" + key.keyId());
      var counters = Map.of("request_count", AttributeValueUpdate.builder().action(AttributeAction.ADD).value(AttributeValue.fromN("1")).build());
      Map<String, UpdateItemRequest> forged = new LinkedHashMap<>();
      forged.put("unblock the key", UpdateItemRequest.builder().tableName(table).key(Map.of("token_hash", AttributeValue.fromS(key.tokenHash())))
          .attributeUpdates(Map.of("blocked", AttributeValueUpdate.builder().action(AttributeAction.PUT).value(AttributeValue.fromBool(false)).build())).build());
      forged.put("widen the key's models", UpdateItemRequest.builder().tableName(table).key(Map.of("token_hash", AttributeValue.fromS(key.tokenHash())))
          .updateExpression("SET models = :all").expressionAttributeValues(Map.of(":all", AttributeValue.fromL(List.of()))).build());
      forged.put("move the expiry, by a placeholder name", UpdateItemRequest.builder().tableName(table).key(Map.of("token_hash", AttributeValue.fromS(key.tokenHash())))
          .updateExpression("REMOVE #e").expressionAttributeNames(Map.of("#e", "expires_at")).build());
      forged.put("a counter on the key item itself", UpdateItemRequest.builder().tableName(table).key(Map.of("token_hash", AttributeValue.fromS(key.tokenHash())))
          .attributeUpdates(counters).build());
      forged.put("an alias guard", UpdateItemRequest.builder().tableName(table).key(Map.of("token_hash", AttributeValue.fromS("alias#prod")))
          .attributeUpdates(counters).build());
      forged.put("a usage item put on the rotation schedule", UpdateItemRequest.builder().tableName(table).key(Map.of("token_hash", AttributeValue.fromS(usageItem)))
          .updateExpression("SET rotation_schedule = :s, key_rotation_at = :t")
          .expressionAttributeValues(Map.of(":s", AttributeValue.fromS("scheduled"), ":t", AttributeValue.fromN("0"))).build());
      forged.put("the whole usage item read back", UpdateItemRequest.builder().tableName(table).key(Map.of("token_hash", AttributeValue.fromS(usageItem)))
          .attributeUpdates(counters).returnValues(ReturnValue.ALL_NEW).build());
      forged.forEach((what, request) -> assertThat(allows(update, request)).as(what).isFalse());
    } finally {
      provider.stop();
    }
  }

  /** Marks an update recorded from a TransactWriteItems: it has no ReturnValues, so IAM sees no such key. */
  private static final String IN_A_TRANSACTION = "(in a transaction)";

  /** A client that records every UpdateItem request it sends on to {@code real}, and every update inside a TransactWriteItems. */
  private static DynamoDbClient recording(DynamoDbClient real, List<UpdateItemRequest> sent) {
    return (DynamoDbClient) java.lang.reflect.Proxy.newProxyInstance(DynamoDbClient.class.getClassLoader(), new Class<?>[] {DynamoDbClient.class},
        (self, method, args) -> {
          if (args != null && args.length == 1 && args[0] instanceof java.util.function.Consumer<?>) {
            return java.lang.reflect.InvocationHandler.invokeDefault(self, method, args); // builds the request, then calls the method below
          }
          if (args != null && args.length == 1 && args[0] instanceof UpdateItemRequest request) {
            sent.add(request);
          }
          if (args != null && args.length == 1 && args[0] instanceof software.amazon.awssdk.services.dynamodb.model.TransactWriteItemsRequest together) {
            // The one write after the answer: IAM authorises each update in it as an UpdateItem, which carries no ReturnValues.
            together.transactItems().stream().filter(item -> item.update() != null).map(item -> item.update()).forEach(update ->
                sent.add(UpdateItemRequest.builder().tableName(update.tableName()).key(update.key()).updateExpression(update.updateExpression())
                    .conditionExpression(update.conditionExpression())
                    .expressionAttributeNames(update.hasExpressionAttributeNames() ? update.expressionAttributeNames() : null)
                    .expressionAttributeValues(update.hasExpressionAttributeValues() ? update.expressionAttributeValues() : null)
                    .returnValues(IN_A_TRANSACTION).build()));
          }
          try {
            return method.invoke(real, args);
          } catch (java.lang.reflect.InvocationTargetException e) {
            throw e.getCause();
          }
        });
  }

  /**
   * Whether the statement's conditions hold for this request, with DynamoDB's condition keys as IAM
   * sees them (DynamoDB Developer Guide, "Using IAM policy conditions for fine-grained access
   * control"): LeadingKeys the partition key value; Attributes every attribute the request names
   * (key, updated, compared, by name or by placeholder); ReturnValues NONE unless asked otherwise.
   */
  private static boolean allows(JsonNode statement, UpdateItemRequest request) {
    Map<String, List<String>> context = Map.of(
        "dynamodb:LeadingKeys", List.of(request.key().get("token_hash").s()),
        "dynamodb:Attributes", attributesNamed(request),
        "dynamodb:ReturnValues", IN_A_TRANSACTION.equals(request.returnValuesAsString()) ? List.of()
            : List.of(request.returnValues() == null ? "NONE" : request.returnValuesAsString()));
    boolean holds = true;
    for (var operator : iterable(statement.path("Condition").fields())) {
      for (var entry : iterable(operator.getValue().fields())) {
        List<String> allowed = texts(entry.getValue());
        List<String> actual = context.get(entry.getKey());
        assertThat(actual).as("this test knows the condition key %s", entry.getKey()).isNotNull();
        holds &= switch (operator.getKey()) {
          case "ForAllValues:StringLike" -> actual.stream().allMatch(v -> allowed.stream().anyMatch(pattern -> glob(pattern, v)));
          case "ForAllValues:StringEquals" -> allowed.containsAll(actual);
          case "StringEquals" -> actual.size() == 1 && allowed.contains(actual.get(0));
          case "StringEqualsIfExists" -> actual.isEmpty() || (actual.size() == 1 && allowed.contains(actual.get(0)));
          default -> throw new AssertionError("this test does not evaluate the operator " + operator.getKey());
        };
      }
    }
    return holds;
  }

  private static final java.util.Set<String> EXPRESSION_WORDS = java.util.Set.of("SET", "ADD", "REMOVE", "DELETE", "AND", "OR", "NOT", "BETWEEN", "IN");

  private static List<String> attributesNamed(UpdateItemRequest request) {
    var names = new java.util.TreeSet<String>(request.key().keySet());
    names.addAll(request.attributeUpdates().keySet());
    names.addAll(request.expected().keySet());
    names.addAll(request.expressionAttributeNames().values());
    for (String expression : java.util.Arrays.asList(request.updateExpression(), request.conditionExpression())) {
      if (expression != null) {
        // Top-level names only (IAM: "the top-level attribute names accessed by a request"): not a path element after '.'.
        var name = java.util.regex.Pattern.compile("(?<![:#\\w.])([A-Za-z_]\\w*)(?!\\w|\\s*\\()").matcher(expression);
        while (name.find()) {
          if (!EXPRESSION_WORDS.contains(name.group(1).toUpperCase(java.util.Locale.ROOT))) {
            names.add(name.group(1));
          }
        }
      }
    }
    return List.copyOf(names);
  }

  /** IAM's StringLike: * any run of characters, ? any one. */
  private static boolean glob(String pattern, String value) {
    var regex = new StringBuilder();
    for (char c : pattern.toCharArray()) {
      regex.append(c == '*' ? ".*" : c == '?' ? "." : java.util.regex.Pattern.quote(String.valueOf(c)));
    }
    return value.matches(regex.toString());
  }

  private static <T> Iterable<T> iterable(java.util.Iterator<T> iterator) {
    return () -> iterator;
  }

  /**
   * The logs table as CloudFormation receives it: the proxy may only add spend items (BatchWriteItem,
   * or PutItem inside its after-answer TransactWriteItems, into "key#..." partitions: no reads, no audit items), the admin function may only add audit
   * items and Query the table and its indexes; no other function touches it.
   */
  @Test
  void onlyTheProxyWritesSpendItemsAndOnlyTheAdminFunctionWritesAuditItemsAndReads() {
    String table = "{\"Fn::GetAtt\":[\"LogsTable\",\"Arn\"]}";
    Map<String, List<String>> granted = new LinkedHashMap<>();
    for (String function : FUNCTIONS) {
      var statements = new ArrayList<JsonNode>();
      defaults.path(function + "Role").path("Properties").path("Policies")
          .forEach(policy -> resolve(policy.path("PolicyDocument").path("Statement"), Map.of()).forEach(statements::add));
      for (JsonNode statement : statements) {
        List<String> resources = texts(statement.path("Resource"));
        if (resources.stream().noneMatch(r -> r.contains("LogsTable"))) {
          continue;
        }
        for (String action : texts(statement.path("Action"))) {
          granted.computeIfAbsent(function, f -> new ArrayList<>()).add(action);
          if (action.equals("dynamodb:Query")) {
            assertThat(resources).containsExactlyInAnyOrder(table, "{\"Fn::Sub\":\"${LogsTable.Arn}/index/*\"}");
          } else {
            assertThat(resources).containsExactly(table);
            String partitions = function.equals("ProxyFunction") ? "key#*" : "audit#*";
            assertThat(statement.path("Condition").path("ForAllValues:StringLike").path("dynamodb:LeadingKeys"))
                .as("%s %s", function, action).isEqualTo(JSON.createArrayNode().add(partitions));
          }
        }
      }
    }
    assertThat(granted).isEqualTo(Map.of(
        "ProxyFunction", List.of("dynamodb:BatchWriteItem", "dynamodb:PutItem"),
        "AdminFunction", List.of("dynamodb:PutItem", "dynamodb:Query")));

    // The gateway's own writes, recorded on their way to DynamoDB Local, hold to those partitions:
    // every spend item (a key's, a team key's, the master key's) is under key#, every audit item under audit#.
    var sent = new java.util.concurrent.CopyOnWriteArrayList<Object>();
    try (var dynamo = new LocalDynamo()) {
      DynamoDbClient recording = (DynamoDbClient) java.lang.reflect.Proxy.newProxyInstance(DynamoDbClient.class.getClassLoader(),
          new Class<?>[] {DynamoDbClient.class}, (self, method, args) -> {
            if (args != null && args.length == 1 && args[0] instanceof java.util.function.Consumer<?>) {
              return java.lang.reflect.InvocationHandler.invokeDefault(self, method, args);
            }
            if (args != null && args.length == 1) {
              sent.add(args[0]);
            }
            try {
              return method.invoke(dynamo.client(), args);
            } catch (java.lang.reflect.InvocationTargetException e) {
              throw e.getCause();
            }
          });
      var gateway = aigw.core.Gateway.over(TestGateways.settings(dynamo), recording, StaticSecretSource.of(TestGateways.MASTER_KEY), List.of(),
          java.time.Clock.systemUTC());
      java.time.Instant now = java.time.Instant.now();
      for (String[] caller : new String[][] {{"key-1", null}, {"key-2", "team-x"}, {null, null}}) {
        gateway.spendLogs().record(new aigw.core.spend.SpendLogEntry("req-" + caller[0], caller[0], null, caller[1], "m", "openai/m",
            1, 1, 2, java.math.BigDecimal.ONE, 200, 5, false, now));
      }
      gateway.flushLogs();
      gateway.auditLog().record(new aigw.core.audit.AuditEvent("key.block", "key", "key-1", "master_key", null, now, List.of("blocked"), Map.of()));
      gateway.auditLog().record(new aigw.core.audit.AuditEvent("team.new", "team", "team-x", "master_key", null, now, List.of(), Map.of()));
    }
    var spendPartitions = new ArrayList<String>();
    var auditPartitions = new ArrayList<String>();
    for (Object request : sent) {
      if (request instanceof software.amazon.awssdk.services.dynamodb.model.BatchWriteItemRequest batch) {
        batch.requestItems().values().forEach(writes -> writes.forEach(w -> spendPartitions.add(w.putRequest().item().get("pk").s())));
      } else if (request instanceof software.amazon.awssdk.services.dynamodb.model.PutItemRequest put) {
        auditPartitions.add(put.item().get("pk").s());
      }
    }
    assertThat(spendPartitions).hasSize(3).allMatch(pk -> glob("key#*", pk), "under key#");
    assertThat(auditPartitions).hasSize(2).allMatch(pk -> glob("audit#*", pk), "under audit#").noneMatch(pk -> glob("key#*", pk));
    // Both functions are told the table and the retention; a new retention publishes new versions.
    for (String function : List.of("ProxyFunction", "AdminFunction")) {
      JsonNode variables = defaults.path(function).path("Properties").path("Environment").path("Variables");
      assertThat(variables.path("AIGW_LOGS_TABLE").path("Ref").asText()).isEqualTo("LogsTable");
      assertThat(variables.path("AIGW_LOG_RETENTION_DAYS").path("Ref").asText()).isEqualTo("LogRetentionDays");
    }
    JsonNode logs = defaults.path("LogsTable").path("Properties");
    assertThat(logs.path("TimeToLiveSpecification").path("AttributeName").asText()).isEqualTo("purge_at");
    assertThat(logs.path("TimeToLiveSpecification").path("Enabled").asBoolean()).isTrue();
    assertThat(logs.path("BillingMode").asText()).isEqualTo("PAY_PER_REQUEST");
  }

  // --- CloudFormation's conditions, evaluated for a set of parameter values (defaults otherwise) ---

  /** The source template, for parameter defaults (Jackson's YAML reader keeps plain values). */
  private static JsonNode template() {
    try {
      return new ObjectMapper(new com.fasterxml.jackson.dataformat.yaml.YAMLFactory()).readTree(RepoFiles.resolve("template.yaml").toFile());
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private static List<String> created(JsonNode resources, Map<String, String> parameters, String type) {
    var names = new ArrayList<String>();
    ofType(resources, type).forEach((name, resource) -> {
      if (!resource.has("Condition") || condition(resource.path("Condition").asText(), parameters)) {
        names.add(name);
      }
    });
    return names;
  }

  private static boolean condition(String name, Map<String, String> parameters) {
    // Conditions are CloudFormation's; the transform keeps them as they are.
    return resolve(conditions.path(name), parameters).asBoolean();
  }

  /** Resolves Fn::If, Fn::Equals, Fn::Not, Condition and parameter Refs; AWS::NoValue is a missing node. */
  private static JsonNode resolve(JsonNode node, Map<String, String> parameters) {
    if (node.isObject() && node.size() == 1) {
      String function = node.fieldNames().next();
      JsonNode args = node.path(function);
      switch (function) {
        case "Fn::If" -> {
          boolean holds = condition(args.get(0).asText(), parameters);
          return resolve(args.get(holds ? 1 : 2), parameters);
        }
        case "Fn::Equals" -> {
          return JSON.getNodeFactory().booleanNode(
              resolve(args.get(0), parameters).asText().equals(resolve(args.get(1), parameters).asText()));
        }
        case "Fn::And" -> {
          boolean all = true;
          for (JsonNode operand : args) {
            all &= resolve(operand, parameters).asBoolean();
          }
          return JSON.getNodeFactory().booleanNode(all);
        }
        case "Fn::Contains" -> {
          String value = resolve(args.get(1), parameters).asText();
          boolean found = false;
          for (JsonNode element : resolve(args.get(0), parameters)) {
            found |= element.asText().equals(value);
          }
          return JSON.getNodeFactory().booleanNode(found);
        }
        case "Fn::Sub" -> {
          // A string whose every ${Name} is a parameter becomes its value; any other is left as written.
          var matcher = java.util.regex.Pattern.compile("\\$\\{([^}]+)}").matcher(args.asText());
          var substituted = new StringBuilder();
          boolean onlyParameters = args.isTextual();
          while (onlyParameters && matcher.find()) {
            onlyParameters = template().path("Parameters").has(matcher.group(1));
            if (onlyParameters) {
              JsonNode value = resolve(JSON.createObjectNode().put("Ref", matcher.group(1)), parameters);
              matcher.appendReplacement(substituted, java.util.regex.Matcher.quoteReplacement(value.asText()));
            }
          }
          if (onlyParameters) {
            matcher.appendTail(substituted);
            return JSON.getNodeFactory().textNode(substituted.toString());
          }
        }
        case "Fn::Not" -> {
          return JSON.getNodeFactory().booleanNode(!resolve(args.get(0), parameters).asBoolean());
        }
        case "Condition" -> {
          return JSON.getNodeFactory().booleanNode(condition(args.asText(), parameters));
        }
        case "Ref" -> {
          String name = args.asText();
          if (name.equals("AWS::NoValue")) {
            return com.fasterxml.jackson.databind.node.MissingNode.getInstance();
          }
          JsonNode parameter = template().path("Parameters").path(name);
          if (!parameter.isMissingNode()) {
            return JSON.getNodeFactory().textNode(parameters.getOrDefault(name, parameter.path("Default").asText()));
          }
          return node;
        }
        default -> {
          // not a condition function: resolve inside it
        }
      }
    }
    if (node.isArray()) { // an element that resolves to AWS::NoValue is left out, as CloudFormation does
      var copy = JSON.createArrayNode();
      node.forEach(element -> {
        JsonNode value = resolve(element, parameters);
        if (!value.isMissingNode()) {
          copy.add(value);
        }
      });
      return copy;
    }
    if (node.isObject()) {
      ObjectNode copy = JSON.createObjectNode();
      node.fields().forEachRemaining(f -> {
        JsonNode value = resolve(f.getValue(), parameters);
        if (!value.isMissingNode()) {
          copy.set(f.getKey(), value);
        }
      });
      return copy;
    }
    return node;
  }
}

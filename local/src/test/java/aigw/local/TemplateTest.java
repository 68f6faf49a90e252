package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import aigw.core.testing.RepoFiles;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import aigw.core.apigateway.ProxyRequestEvent;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * template.yaml against what the build produces: handlers that load from their CodeUri plus the
 * layer alone (no test classpath), artifacts where the template points, the variables the code
 * needs, least-privilege grants, and no secret in parameters or outputs.
 */
class TemplateTest {
  private static JsonNode template;
  private static JsonNode resources;

  @BeforeAll
  static void read() throws IOException {
    template = new ObjectMapper(new YAMLFactory()).readTree(RepoFiles.resolve("template.yaml").toFile());
    resources = template.path("Resources");
  }

  private static List<String> functions() {
    var names = new ArrayList<String>();
    resources.fields().forEachRemaining(r -> {
      if ("AWS::Serverless::Function".equals(r.getValue().path("Type").asText())) {
        names.add(r.getKey());
      }
    });
    return names;
  }

  private static Path builtDirectory(String relative) {
    Path dir = RepoFiles.resolve(relative);
    assumeTrue(Files.isDirectory(dir), relative + " is built by `./mvnw package` (README's `./mvnw verify` runs it first)");
    return dir;
  }

  private static List<URL> jarsIn(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(f -> f.toString().endsWith(".jar")).sorted().map(TemplateTest::url).toList();
    }
  }

  private static URL url(Path path) {
    try {
      return path.toUri().toURL();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void everyHandlerLoadsFromItsCodeUriAndTheLayerAlone() throws Exception {
    assertThat(functions()).containsExactlyInAnyOrder(
        "ProxyFunction", "AdminFunction", "MasterKeyRotationFunction", "KeyRotationScheduleFunction");
    // What each handler receives: API Gateway events, or Secrets Manager's rotation event as a map.
    Map<String, Class<?>> eventType =
        Map.of("ProxyFunction", ProxyRequestEvent.class, "AdminFunction", ProxyRequestEvent.class,
            "MasterKeyRotationFunction", Map.class, "KeyRotationScheduleFunction", Map.class);
    Path layer = builtDirectory(resources.path("CoreLayer").path("Properties").path("ContentUri").asText());
    List<URL> layerJars = jarsIn(layer.resolve("java/lib"));
    assertThat(layerJars).isNotEmpty();
    // File names only: the checkout's own path may contain any of these words (e.g. a worktree named wt-tests).
    String layerJarNames = layerJars.stream().map(u -> u.getPath().substring(u.getPath().lastIndexOf('/') + 1)).toList().toString();
    assertThat(layerJarNames).doesNotContain("netty").doesNotContain("apache-client").doesNotContain("apache5-client").doesNotContain("-tests");

    for (String function : functions()) {
      JsonNode properties = resources.path(function).path("Properties");
      Path code = builtDirectory(properties.path("CodeUri").asText());
      var classpath = new ArrayList<URL>();
      classpath.add(url(code));
      classpath.addAll(jarsIn(code.resolve("lib")));
      classpath.addAll(layerJars);
      String[] handler = properties.path("Handler").asText().split("::");
      // Parent: the platform loader, so nothing of this test's classpath can hide a missing class.
      try (var loader = new URLClassLoader(classpath.toArray(URL[]::new), ClassLoader.getPlatformClassLoader())) {
        Class<?> type = Class.forName(handler[0], false, loader);
        assertThat(loader.loadClass(RequestHandler.class.getName()).isAssignableFrom(type)).as(function).isTrue();
        assertThat(type.getConstructor()).as("%s needs a public no-argument constructor for the runtime", function).isNotNull();
        type.getMethod(
            handler[1],
            loader.loadClass(eventType.get(function).getName()),
            loader.loadClass(Context.class.getName()));
        // Resolve every class the function and the core declare, so a class missing from the
        // zip/layer split fails here rather than on AWS.
        for (Path root : List.of(code)) {
          resolveAll(root, loader);
        }
      }
    }
  }

  private static void resolveAll(Path root, ClassLoader loader) throws IOException, ClassNotFoundException {
    try (Stream<Path> files = Files.walk(root)) {
      for (Path file : files.filter(f -> f.toString().endsWith(".class")).toList()) {
        String name = root.relativize(file).toString().replace('/', '.').replaceAll("\\.class$", "");
        Class<?> type = Class.forName(name, false, loader);
        type.getDeclaredMethods();
        type.getDeclaredFields();
        type.getDeclaredConstructors();
      }
    }
  }

  @Test
  void theVariablesTheFunctionsNeedOnAwsAreSet() {
    JsonNode variables = template.path("Globals").path("Function").path("Environment").path("Variables");
    // Without these a function refuses to start (no master key secret) or uses a table that does not exist.
    assertThat(variables.has("AIGW_MASTER_KEY_SECRET_ID")).isTrue();
    assertThat(variables.path("AIGW_KEYS_TABLE").asText()).isEqualTo("KeysTable");
    assertThat(variables.has("AIGW_MASTER_KEY")).as("the master key is never an environment variable").isFalse();
    assertThat(resources.path("ProxyFunction").path("Properties").path("Environment").path("Variables").path("AIGW_PROVIDER_SECRET_ID").asText())
        .isEqualTo("ProviderCredentialsSecret");
  }

  @Test
  void theModelListTheFunctionsReadIsInTheLayer() {
    Path layer = builtDirectory(resources.path("CoreLayer").path("Properties").path("ContentUri").asText());
    String inFunction = template.path("Parameters").path("ModelConfigPath").path("Default").asText();
    assertThat(inFunction).startsWith("/opt/"); // layers are extracted to /opt
    Path packaged = layer.resolve(inFunction.substring("/opt/".length()));
    assertThat(packaged).exists();
    var deployments = aigw.core.config.ModelList.read(packaged, Map.of());
    assertThat(deployments).isNotEmpty();
    assertThat(deployments).allSatisfy(d -> assertThat(d.apiKey()).as("no literal key in the packaged list").isNull());
  }

  /** Secrets under the KeySecretsPrefix parameter: the rotation_secret targets. */
  private static final String KEY_SECRETS =
      "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${KeySecretsPrefix}*";
  /** Where a scheduled rotation leaves a new key for one /key/retrieve. */
  private static final String PENDING_KEY_SECRETS =
      "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${KeySecretsPrefix}pending/*";
  private static final String DEFAULT_BUS = "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default";

  private static final String ROTATION_DUE_INDEX = "${KeysTable.Arn}/index/RotationDue";
  private static final String LOGS_INDEXES = "${LogsTable.Arn}/index/*";

  @Test
  void unattendedRotationsCannotFailSilently() {
    // Each rotation function's errors, and a rotated key its secret did not receive, reach the alert topic.
    for (String function : List.of("KeyRotationScheduleFunction", "MasterKeyRotationFunction", "ProxyFunction")) {
      var alarms = new ArrayList<JsonNode>();
      resources.fields().forEachRemaining(r -> {
        JsonNode p = r.getValue().path("Properties");
        if ("AWS::CloudWatch::Alarm".equals(r.getValue().path("Type").asText())
            && "Errors".equals(p.path("MetricName").asText())
            && function.equals(p.path("Dimensions").get(0).path("Value").asText())) {
          alarms.add(p);
        }
      });
      assertThat(alarms).as(function + " has an Errors alarm").hasSize(1);
      assertThat(alarms.get(0).path("AlarmActions").get(0).asText()).isEqualTo("AlertTopic");
    }
    JsonNode rule = resources.path("KeyDeliveryFailedRule").path("Properties");
    assertThat(rule.path("EventPattern").path("source").get(0).asText()).isEqualTo(aigw.core.rotation.RotationEvent.SOURCE);
    assertThat(rule.path("EventPattern").path("detail-type").get(0).asText()).isEqualTo(aigw.core.rotation.RotationEvent.DETAIL_TYPE);
    assertThat(rule.path("EventPattern").path("detail").has("delivery_failed")).isTrue();
    assertThat(rule.path("Targets").get(0).path("Arn").asText()).isEqualTo("AlertTopic");
    // Of EventBridge, only that rule may publish to the topic (the alarms: TransformedTemplateTest).
    JsonNode statement = null;
    for (JsonNode s : resources.path("AlertTopicPolicy").path("Properties").path("PolicyDocument").path("Statement")) {
      if ("events.amazonaws.com".equals(s.path("Principal").path("Service").asText())) {
        statement = s;
      }
    }
    assertThat(statement).as("a statement for EventBridge").isNotNull();
    assertThat(statement.path("Condition").path("ArnEquals").path("aws:SourceArn").asText()).isEqualTo("KeyDeliveryFailedRule.Arn");
  }

  @Test
  void everyProxyRouteTheLocalServerServesIsAResourceOfTheProxyFunction() {
    // The API's routes are its OpenAPI definition; each names the function alias it invokes.
    var paths = new java.util.HashSet<String>();
    resources.path("Api").path("Properties").path("DefinitionBody").path("paths").fields().forEachRemaining(route -> {
      if (route.getValue().toString().contains("${ProxyFunction.Alias}")) {
        paths.add(route.getKey());
      }
    });
    for (String path : List.of("/v1/chat/completions", "/chat/completions", "/v1/completions", "/completions", "/embeddings", "/models", "/v1/models/gpt-4o",
        "/models/gpt-4o", "/models/openai/gpt-4o", "/models/openai%2Fgpt-4o")) {
      assertThat(paths).as("API Gateway resource for " + path).contains(LocalServer.resource(path));
    }
  }

  /**
   * The admin function's routes are the route table's: the template sends exactly the resources of
   * aigw.admin.AdminRoutes to AdminFunction (no more, no fewer: /prefix/{proxy+}, and /audit itself,
   * LiteLLM's GET /audit), every route of the table is under one of them as the local server
   * reports it and is sent to the admin function locally too, and each resource but /health (load
   * balancers' checks) has the admin API's throttling.
   */
  @Test
  void theTemplateRoutesExactlyTheAdminRouteTableToTheAdminFunctionWithTheAdminThrottling() {
    var adminPaths = new java.util.HashSet<String>();
    resources.at("/Api/Properties/DefinitionBody/paths").fields().forEachRemaining(route -> {
      if (route.getValue().toString().contains("${AdminFunction.Alias}")) {
        adminPaths.add(route.getKey());
      }
    });
    var tableResources =
        aigw.admin.AdminRoutes.RESOURCES.stream().flatMap(resource -> resource.apiGatewayResources().stream()).toList();
    assertThat(tableResources)
        .contains("/key/{proxy+}", "/health/{proxy+}", "/team/{proxy+}", "/spend/{proxy+}", "/global/{proxy+}", "/audit/{proxy+}", "/audit");
    assertThat(adminPaths).containsExactlyInAnyOrderElementsOf(tableResources);

    assertThat(aigw.admin.AdminRoutes.routes()).extracting(aigw.admin.AdminRoutes.Route::path)
        .contains("/key/generate", "/health/readiness", "/team/new", "/spend/logs", "/global/spend/keys", "/global/spend/teams", "/audit")
        .doesNotHaveDuplicates();
    for (var route : aigw.admin.AdminRoutes.routes()) {
      String path = route.path().replaceAll("\\{[a-z_]+}", "sk-example"); // /key/{key}/regenerate
      assertThat(adminPaths).as("API Gateway resource for " + route).contains(LocalServer.resource(path));
      assertThat(LocalGateway.isAdminPath(path)).as("the local server sends %s to the admin function", route).isTrue();
    }
    for (String proxyPath : List.of("/v1/chat/completions", "/chat/completions", "/models", "/models/openai/gpt-4o", "/keys", "/teams/x",
        "/auditing", "/global", "/key", "/globalx/spend/keys")) {
      assertThat(LocalGateway.isAdminPath(proxyPath)).as(proxyPath).isFalse();
    }

    var adminThrottled = new java.util.HashSet<String>();
    for (JsonNode setting : resources.at("/Api/Properties/MethodSettings")) {
      if (setting.path("ThrottlingRateLimit").toString().contains("AdminThrottlingRateLimit")) {
        assertThat(setting.path("ThrottlingBurstLimit").toString()).contains("AdminThrottlingBurstLimit");
        assertThat(setting.path("HttpMethod").asText()).isEqualTo("*");
        // A method setting's path is "/" and then the resource path with each "/" written ~1.
        adminThrottled.add(setting.path("ResourcePath").asText().substring(1).replace("~1", "/"));
      }
    }
    assertThat(adminThrottled).containsExactlyInAnyOrderElementsOf(
        tableResources.stream().filter(resource -> !resource.equals("/health/{proxy+}")).toList());
    assertThat(adminThrottled).contains("/global/{proxy+}", "/audit");
  }

  /**
   * The proxy function runs aigw's streaming runtime (AWS_LAMBDA_EXEC_WRAPPER, a script of the core
   * layer, which Lambda mounts at /opt) and its handler can be run by it; its timeout covers the
   * longest stream API Gateway lets through.
   */
  @Test
  void theProxyFunctionRunsTheStreamingRuntimeFromTheLayer() throws Exception {
    JsonNode proxy = resources.path("ProxyFunction").path("Properties");
    // !If [StreamsProxyResponses, wrapper, !Ref AWS::NoValue] (Jackson reads the tagged sequence as an array)
    JsonNode wrapperIf = proxy.at("/Environment/Variables/AWS_LAMBDA_EXEC_WRAPPER");
    assertThat(wrapperIf.path(0).asText()).isEqualTo("StreamsProxyResponses");
    assertThat(wrapperIf.path(2).asText()).as("no wrapper when buffered").isEqualTo("AWS::NoValue");
    String wrapper = wrapperIf.path(1).asText();
    assertThat(wrapper).isEqualTo("/opt/aigw/streaming-runtime");
    String layerDirectory = resources.at("/CoreLayer/Properties/ContentUri").asText();
    Path script = builtDirectory(layerDirectory).resolve(wrapper.substring("/opt/".length()));
    assertThat(Files.isExecutable(script)).as(script + " is executable (Lambda runs it)").isTrue();
    assertThat(Files.readString(script)).startsWith("#!/bin/sh").contains("aigw.core.lambda.StreamingRuntime");

    String handlerClass = proxy.path("Handler").asText().split("::")[0];
    var jars = new ArrayList<URL>(List.of(builtDirectory(proxy.path("CodeUri").asText()).toUri().toURL()));
    jars.addAll(jarsIn(builtDirectory(proxy.path("CodeUri").asText()).resolve("lib")));
    jars.addAll(jarsIn(builtDirectory(layerDirectory).resolve("java/lib")));
    try (var loader = new URLClassLoader(jars.toArray(URL[]::new), ClassLoader.getPlatformClassLoader())) {
      Class<?> handler = loader.loadClass(handlerClass);
      assertThat(loader.loadClass("aigw.core.lambda.StreamingFunction").isAssignableFrom(handler))
          .as(handlerClass + " can be run by the streaming runtime").isTrue();
    }

    JsonNode parameters = template.path("Parameters");
    assertThat(proxy.path("Timeout").asText()).as("!Ref ProxyFunctionTimeoutSeconds").isEqualTo("ProxyFunctionTimeoutSeconds");
    assertThat(parameters.at("/ProxyFunctionTimeoutSeconds/Default").asInt() * 1000)
        .as("the function outlives the longest stream API Gateway allows")
        .isGreaterThanOrEqualTo(parameters.at("/ApiIntegrationTimeoutMillis/Default").asInt())
        .isEqualTo(900_000);
    assertThat(template.at("/Globals/Function/SnapStart/ApplyOn").asText()).isEqualTo("PublishedVersions");
    assertThat(proxy.has("SnapStart")).as("SnapStart stays on for the proxy").isFalse();
  }

  /**
   * Every route of the proxy function streams, unless ProxyResponseStreaming is false (then each is
   * buffered on the ordinary invocations URI); the admin function's routes stay buffered.
   */
  @Test
  void theProxyRoutesAreStreamIntegrationsUnlessSwitchedOffAndTheAdminRoutesAreBuffered() {
    var routes = new ArrayList<String>();
    resources.at("/Api/Properties/DefinitionBody/paths").fields().forEachRemaining(route -> {
      JsonNode integration = route.getValue().path("x-amazon-apigateway-any-method").path("x-amazon-apigateway-integration");
      JsonNode uriNode = integration.path("uri");
      String uri = uriNode.isArray() ? uriNode.path(1).asText() : uriNode.asText();
      routes.add(route.getKey());
      assertThat(integration.path("type").asText()).isEqualTo("aws_proxy");
      assertThat(integration.path("httpMethod").asText()).isEqualTo("POST");
      if (uri.contains("${ProxyFunction.Alias}")) {
        assertThat(uri).as(route.getKey()).isEqualTo(
            "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2021-11-15/functions/${ProxyFunction.Alias}/response-streaming-invocations");
        // !If [StreamsProxyResponses, streaming, buffered], read by Jackson as arrays
        assertThat(uriNode.path(0).asText()).as(route.getKey()).isEqualTo("StreamsProxyResponses");
        assertThat(uriNode.path(2).asText()).as(route.getKey()).isEqualTo(
            "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${ProxyFunction.Alias}/invocations");
        assertThat(integration.path("responseTransferMode").toString()).as(route.getKey()).isEqualTo("[\"StreamsProxyResponses\",\"STREAM\",\"BUFFERED\"]");
        assertThat(integration.path("timeoutInMillis").toString()).as(route.getKey())
            .isEqualTo("[\"StreamsProxyResponses\",\"ApiIntegrationTimeoutMillis\",\"AWS::NoValue\"]");
      } else {
        assertThat(uri).as(route.getKey()).isEqualTo(
            "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${AdminFunction.Alias}/invocations");
        assertThat(integration.has("responseTransferMode")).as(route.getKey() + " is buffered").isFalse();
      }
    });
    assertThat(routes).contains("/completions", "/chat/completions", "/v1/{proxy+}", "/key/{proxy+}");
  }

  @Test
  void theAccessLogNeverRecordsTheRequestPathWhichCanHoldAKey() {
    String format = resources.path("Api").path("Properties").path("AccessLogSetting").path("Format").asText();
    assertThat(format).contains("$context.resourcePath").doesNotContain("$context.path").doesNotContain("header");
  }

  @Test
  void keyRotationIsScheduledAndWritesOnlyUnderTheSecretPrefix() {
    for (String function : List.of("AdminFunction", "KeyRotationScheduleFunction")) {
      assertThat(resources.path(function).path("Properties").path("Environment").path("Variables").path("AIGW_KEY_SECRET_PREFIX").asText())
          .as(function + " knows where it may write keys").isEqualTo("KeySecretsPrefix");
    }
    JsonNode schedule = resources.path("KeyRotationScheduleFunction").path("Properties").path("Events").path("Schedule");
    assertThat(schedule.path("Type").asText()).isEqualTo("Schedule");
    assertThat(schedule.path("Properties").path("Schedule").asText()).isEqualTo("KeyRotationCheckRate");
    assertThat(template.path("Parameters").path("KeyRotationCheckRate").path("Default").asText()).startsWith("rate(");
    JsonNode table = resources.path("KeysTable").path("Properties");
    assertThat(table.path("TimeToLiveSpecification").path("AttributeName").asText()).isEqualTo("purge_at");
    assertThat(table.path("GlobalSecondaryIndexes").get(0).path("IndexName").asText()).isEqualTo("RotationDue");
  }

  @Test
  void theLogsTableKeepsRecordsForTheRetentionAndIsReadByKeyTeamAndDayWithoutAScan() {
    JsonNode retention = template.path("Parameters").path("LogRetentionDays");
    assertThat(retention.path("Default").asInt()).isEqualTo(30);
    assertThat(retention.path("AllowedValues").get(0).asInt()).isEqualTo(1);
    JsonNode table = resources.path("LogsTable").path("Properties");
    assertThat(table.path("TimeToLiveSpecification").path("AttributeName").asText()).isEqualTo(aigw.core.spend.dynamodb.LogItems.PURGE_AT);
    assertThat(table.path("KeySchema").toString())
        .isEqualTo("[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"},{\"AttributeName\":\"sk\",\"KeyType\":\"RANGE\"}]");
    var indexes = new java.util.TreeMap<String, String>();
    table.path("GlobalSecondaryIndexes").forEach(index -> indexes.put(index.path("IndexName").asText(),
        index.path("KeySchema").get(0).path("AttributeName").asText() + "," + index.path("KeySchema").get(1).path("AttributeName").asText()));
    assertThat(indexes).isEqualTo(Map.of(aigw.core.spend.dynamodb.LogItems.BY_TEAM, "tp,sk", aigw.core.spend.dynamodb.LogItems.BY_DAY, "dp,sk"));
    for (String function : List.of("ProxyFunction", "AdminFunction")) {
      JsonNode variables = resources.path(function).path("Properties").path("Environment").path("Variables");
      assertThat(variables.path("AIGW_LOGS_TABLE").asText()).isEqualTo("LogsTable");
      assertThat(variables.path("AIGW_LOG_RETENTION_DAYS").asText()).isEqualTo("LogRetentionDays");
    }
  }

  @Test
  void eachFunctionIsGrantedOnlyWhatItsCodeCalls() {
    Map<String, Set<String>> allowed =
        Map.of(
            "ProxyFunction", Set.of("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem", "dynamodb:PutItem", "secretsmanager:GetSecretValue"),
            // TransactWriteItems is authorised per item as PutItem, UpdateItem and DeleteItem.
            "AdminFunction",
                Set.of("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                    "dynamodb:Scan", "dynamodb:Query", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:DeleteSecret",
                    "events:PutEvents"),
            // MasterKeyRotation: DescribeSecret (the checks), GetSecretValue, PutSecretValue (createSecret),
            // UpdateSecretVersionStage (finishSecret). No GetRandomPassword: keys come from SecureRandom.
            "MasterKeyRotationFunction",
                Set.of("secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue",
                    "secretsmanager:UpdateSecretVersionStage"),
            // The schedule: the due index (Query), the rotation transaction (PutItem, UpdateItem), the
            // secret targets under the prefix and the event bus; no master key, no Scan, no DeleteItem.
            "KeyRotationScheduleFunction",
                Set.of("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query",
                    "secretsmanager:PutSecretValue", "secretsmanager:CreateSecret", "secretsmanager:DeleteSecret", "events:PutEvents"));
    for (String function : functions()) {
      var granted = new HashSet<String>();
      for (JsonNode policy : resources.path(function).path("Properties").path("Policies")) {
        for (JsonNode element : policy.path("Statement")) {
          // !If [Condition, statement, !Ref AWS::NoValue] reads as that array: the statement is its second element.
          JsonNode statement = element.isArray() ? element.get(1) : element;
          JsonNode actions = statement.path("Action");
          (actions.isArray() ? actions : List.of(actions)).forEach(a -> granted.add(a.asText()));
          JsonNode resource = statement.path("Resource");
          var mayTouch =
              switch (function) {
                case "ProxyFunction" -> List.of("KeysTable.Arn", "LogsTable.Arn", "MasterKeySecret", "ProviderCredentialsSecret");
                case "MasterKeyRotationFunction" -> List.of("MasterKeySecret"); // nothing but the secret it rotates
                case "KeyRotationScheduleFunction" -> List.of("KeysTable.Arn", ROTATION_DUE_INDEX, KEY_SECRETS, PENDING_KEY_SECRETS, DEFAULT_BUS);
                default -> List.of("KeysTable.Arn", "LogsTable.Arn", LOGS_INDEXES, "MasterKeySecret", KEY_SECRETS, PENDING_KEY_SECRETS, DEFAULT_BUS); // never provider keys
              };
          (resource.isArray() ? resource : List.of(resource))
              .forEach(r -> assertThat(r.asText()).as(function + " resource").isIn(mayTouch));
        }
      }
      assertThat(granted).as(function).isEqualTo(allowed.get(function));
    }
  }

  @Test
  void secretsManagerRotatesTheMasterKeyThroughTheRotationFunctionsAlias() {
    JsonNode schedule = resources.path("MasterKeyRotationSchedule");
    assertThat(schedule.path("Type").asText()).isEqualTo("AWS::SecretsManager::RotationSchedule");
    JsonNode properties = schedule.path("Properties");
    assertThat(properties.path("SecretId").asText()).isEqualTo("MasterKeySecret");
    assertThat(properties.path("RotationRules").path("AutomaticallyAfterDays").asText()).isEqualTo("MasterKeyRotationDays");
    assertThat(template.path("Parameters").path("MasterKeyRotationDays").path("Default").asInt()).isEqualTo(30);
    assertThat(properties.path("RotateImmediatelyOnUpdate").asBoolean(true)).as("a deploy does not rotate").isFalse();
    // Secrets Manager may invoke exactly what the schedule names, only for this account, and the
    // permission exists before the schedule first invokes the function.
    JsonNode permission = resources.path(schedule.path("DependsOn").asText());
    assertThat(permission.path("Type").asText()).isEqualTo("AWS::Lambda::Permission");
    assertThat(permission.path("Properties").path("Principal").asText()).isEqualTo("secretsmanager.amazonaws.com");
    assertThat(permission.path("Properties").path("Action").asText()).isEqualTo("lambda:InvokeFunction");
    assertThat(permission.path("Properties").path("SourceAccount").asText()).isEqualTo("AWS::AccountId");
    assertThat(permission.path("Properties").path("FunctionName").asText())
        .isEqualTo(properties.path("RotationLambdaARN").asText())
        .isEqualTo("MasterKeyRotationFunction.Alias"); // the published alias: SnapStart applies to versions
    // The gateway's side: the previous key's grace period, from a parameter.
    assertThat(template.path("Globals").path("Function").path("Environment").path("Variables").path("AIGW_MASTER_KEY_GRACE_SECONDS").asText())
        .isEqualTo("MasterKeyGraceSeconds");
    assertThat(template.path("Parameters").path("MasterKeyGraceSeconds").path("Default").asInt()).isEqualTo(3600);
  }

  /**
   * The ARNs and URLs the template writes name the stack's partition (${AWS::Partition},
   * ${AWS::URLSuffix}) rather than the commercial one, so that they are right in China
   * (arn:aws-cn:, amazonaws.com.cn) and GovCloud too.
   */
  @Test
  void everyArnAndUrlTheTemplateWritesNamesThePartition() {
    var written = new ArrayList<String>();
    collectTexts(resources, written);
    collectTexts(template.path("Outputs"), written);
    assertThat(written).filteredOn(text -> text.contains("arn:")).isNotEmpty()
        .noneMatch(text -> text.contains("arn:aws:"));
    assertThat(written).filteredOn(text -> text.contains("https://")).isNotEmpty()
        .noneMatch(text -> text.contains("amazonaws.com"));
  }

  private static void collectTexts(JsonNode node, List<String> into) {
    if (node.isTextual()) {
      into.add(node.asText());
    }
    node.forEach(child -> collectTexts(child, into));
  }

  @Test
  void noSecretIsAParameterOrAnOutput() {
    template.path("Parameters").fields().forEachRemaining(p -> {
      assertThat(p.getKey().toLowerCase()).doesNotContain("apikey");
      if (p.getKey().toLowerCase().contains("masterkey")) { // settings about the key (days, seconds, a switch), never the key
        if (p.getValue().has("AllowedValues")) {
          assertThat(p.getValue().path("AllowedValues").toString()).as(p.getKey()).isEqualTo("[\"true\",\"false\"]");
        } else {
          assertThat(p.getValue().path("Type").asText()).as(p.getKey()).isEqualTo("Number");
        }
      }
      assertThat(p.getValue().path("Default").asText()).doesNotStartWith("sk-");
    });
    template.path("Outputs").fields().forEachRemaining(o ->
        assertThat(o.getValue().path("Value").toString()).doesNotContain("SecretString").doesNotContain("resolve:secretsmanager"));
    assertThat(resources.path("MasterKeySecret").path("Properties").has("GenerateSecretString")).isTrue();
    assertThat(resources.path("MasterKeySecret").path("Properties").has("SecretString")).isFalse();
  }
}

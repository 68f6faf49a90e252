package aigw.local.lambda;

import static com.github.tomakehurst.wiremock.client.WireMock.*;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import aigw.core.aws.TemplateTables;
import aigw.core.json.Json;
import aigw.core.keys.ApiKeys;
import aigw.core.keys.KeyRotation;
import aigw.core.keys.VirtualKey;
import aigw.core.keys.dynamodb.DynamoDbKeyStore;
import aigw.core.testing.Events;
import aigw.core.testing.RepoFiles;
import aigw.core.testing.TestGateways;
import com.amazonaws.services.lambda.runtime.api.client.AWSLambda;
import com.amazonaws.services.lambda.runtime.serialization.factories.JacksonFactory;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.github.tomakehurst.wiremock.WireMockServer;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/**
 * The packaged functions run as Lambda runs them: each function directory as the task root, the
 * core layer's jars, and the official runtime interface client polling a loopback stand-in of the
 * Runtime API, with the template's environment; DynamoDB Local (server mode) and a Secrets Manager
 * stand-in behind the standard AWS_ENDPOINT_URL_* variables (and an EventBridge stand-in for the
 * key rotation schedule). The events/ files are replayed.
 */
class PackagedFunctionsTest {
  private static final String VIRTUAL_KEY = Events.EVENTS_VIRTUAL_KEY;
  private static final String KEYS_TABLE = "aigw-packaged-keys";
  private static final String LOGS_TABLE = "aigw-packaged-logs";
  private static final Map<String, Long> INIT_MILLIS = new java.util.TreeMap<>();
  private static final Map<String, Long> PEAK_RSS_MB = new java.util.TreeMap<>();
  private static final Map<String, Long> FIRST_ANSWER_MILLIS = new java.util.TreeMap<>();

  @TempDir static Path work;
  private static DynamoDBProxyServer dynamo;
  private static int dynamoPort;
  private static WireMockServer aws; // Secrets Manager stand-in and the model provider
  private static JsonNode template;

  @BeforeAll
  static void start() throws Exception {
    assumeTrue(Files.isDirectory(RepoFiles.resolve("functions/proxy/target/function")), "built by ./mvnw package (README's ./mvnw verify runs it first)");
    dynamoPort = freePort();
    dynamo = ServerRunner.createServerFromCommandLineArgs(new String[] {"-inMemory", "-port", Integer.toString(dynamoPort), "-disableTelemetry"});
    dynamo.start();
    try (DynamoDbClient client = dynamoClient(); InputStream template = Files.newInputStream(RepoFiles.resolve("template.yaml"))) {
      TemplateTables.createAll(client, template, Map.of("KeysTable", KEYS_TABLE, "LogsTable", LOGS_TABLE));
      var keys = new DynamoDbKeyStore(client, KEYS_TABLE);
      var gateway = aigw.core.Gateway.over(
          aigw.core.GatewaySettings.fromEnvironment(Map.of("AIGW_KEYS_TABLE", KEYS_TABLE)), client,
          aigw.core.secrets.StaticSecretSource.of("unused"), List.of(), java.time.Clock.systemUTC());
      TestGateways.storeKey(gateway, VIRTUAL_KEY, List.of(), null, false);
      assertThat(keys.findByHash(aigw.core.keys.ApiKeys.hash(VIRTUAL_KEY))).isPresent();
    }

    aws = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1"));
    aws.start();
    secret("master-key-secret", "{\"master_key\":\"" + Events.EVENTS_MASTER_KEY + "\"}");
    secret("provider-secret", "{\"TEST_PROVIDER_KEY\":\"sk-provider-from-secrets-manager\"}");
    aws.stubFor(post("/v1/chat/completions").willReturn(okJson(
        "{\"id\":\"c\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"from the stub\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":3,\"total_tokens\":7}}")));

    template = new ObjectMapper(new YAMLFactory()).readTree(RepoFiles.resolve("template.yaml").toFile());
  }

  @AfterAll
  static void stop() throws Exception {
    if (aws != null) {
      aws.stop();
    }
    if (dynamo != null) {
      dynamo.stop();
    }
    if (!INIT_MILLIS.isEmpty()) {
      System.out.println("Init time under the runtime interface client (process start to first poll): " + INIT_MILLIS);
    }
    if (!FIRST_ANSWER_MILLIS.isEmpty()) {
      System.out.println("First chat completion after init, invoke to complete answer: " + FIRST_ANSWER_MILLIS);
    }
    if (!PEAK_RSS_MB.isEmpty()) {
      System.out.println("Peak resident memory after a chat completion (VmHWM): " + PEAK_RSS_MB);
    }
  }

  private static void secret(String id, String value) {
    aws.stubFor(
        post("/")
            .withHeader("X-Amz-Target", equalTo("secretsmanager.GetSecretValue"))
            .withRequestBody(matchingJsonPath("$.SecretId", equalTo(id)))
            .willReturn(
                aResponse()
                    .withHeader("Content-Type", "application/x-amz-json-1.1")
                    .withBody(Json.string(Map.of("ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + id, "Name", id,
                        "SecretString", value, "VersionId", "v1", "VersionStages", List.of("AWSCURRENT"))))));
  }

  private static DynamoDbClient dynamoClient() {
    return DynamoDbClient.builder()
        .endpointOverride(URI.create("http://127.0.0.1:" + dynamoPort))
        .region(Region.US_EAST_1)
        .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create("test", "test")))
        .httpClient(UrlConnectionHttpClient.create())
        .build();
  }

  private static int freePort() throws IOException {
    try (var socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  private static String jarOf(Class<?> type) throws Exception {
    return Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
  }

  /** The template's variables with their references resolved to this test's stand-ins. */
  private Map<String, String> functionEnvironment(String function, Path config) {
    var env = new HashMap<String, String>();
    // Literal values as the template has them (JAVA_TOOL_OPTIONS); references are resolved below.
    // The globals, then the function's own variables.
    JsonNode own = template.path("Resources").path(function).path("Properties").path("Environment").path("Variables");
    assertThat(template.path("Resources").path(function).path("Type").asText()).as(function).isEqualTo("AWS::Serverless::Function");
    for (JsonNode variables : List.of(template.path("Globals").path("Function").path("Environment").path("Variables"), own)) {
      variables.fields().forEachRemaining(v -> env.put(v.getKey(), v.getKey().startsWith("AIGW_") ? "set-below" : v.getValue().asText()));
    }
    // Read by Lambda's runtime start-up, not by the function: this test starts the wrapper itself
    // (streamingRuntime) or not at all (runtime, as with ProxyResponseStreaming=false).
    env.remove("AWS_LAMBDA_EXEC_WRAPPER");
    env.put("AIGW_KEYS_TABLE", KEYS_TABLE);
    env.put("AIGW_MASTER_KEY_SECRET_ID", "master-key-secret");
    env.put("AIGW_CONFIG", config.toString());
    env.put("AIGW_KEY_CACHE_TTL_SECONDS", "5");
    env.put("AIGW_MASTER_KEY_GRACE_SECONDS", "3600");
    if (env.containsKey("AIGW_PROVIDER_SECRET_ID")) {
      env.put("AIGW_PROVIDER_SECRET_ID", "provider-secret");
    }
    if (env.containsKey("AIGW_KEY_SECRET_PREFIX")) { // !Ref KeySecretsPrefix: the parameter's default
      assertThat(own.path("AIGW_KEY_SECRET_PREFIX").asText()).isEqualTo("KeySecretsPrefix");
      env.put("AIGW_KEY_SECRET_PREFIX", template.path("Parameters").path("KeySecretsPrefix").path("Default").asText());
    }
    if (env.containsKey("AIGW_LOGS_TABLE")) { // !Ref LogsTable, and !Ref LogRetentionDays: its default
      env.put("AIGW_LOGS_TABLE", LOGS_TABLE);
      env.put("AIGW_LOG_RETENTION_DAYS", template.path("Parameters").path("LogRetentionDays").path("Default").asText());
    }
    if (env.containsKey("AIGW_ALLOW_MASTER_KEY_FOR_MODELS")) { // !Ref AllowMasterKeyForModels: the parameter's default, false
      env.put("AIGW_ALLOW_MASTER_KEY_FOR_MODELS", template.path("Parameters").path("AllowMasterKeyForModels").path("Default").asText());
    }
    if (env.containsKey("AIGW_CORS_ALLOWED_ORIGINS")) { // !Ref CorsAllowedOrigins: the parameter's default, CORS off
      env.put("AIGW_CORS_ALLOWED_ORIGINS", template.path("Parameters").path("CorsAllowedOrigins").path("Default").asText());
    }
    assertThat(env.values()).doesNotContain("set-below");
    env.put("AWS_LAMBDA_FUNCTION_NAME", function);
    env.put("AWS_LAMBDA_FUNCTION_VERSION", "1");
    env.put("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512");
    env.put("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/" + function);
    env.put("AWS_LAMBDA_LOG_STREAM_NAME", "test");
    env.put("AWS_REGION", "us-east-1");
    env.put("AWS_ACCESS_KEY_ID", "test");
    env.put("AWS_SECRET_ACCESS_KEY", "test");
    env.put("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:" + dynamoPort);
    env.put("AWS_ENDPOINT_URL_SECRETS_MANAGER", aws.baseUrl());
    env.put("DDB_LOCAL_TELEMETRY", "0");
    return env;
  }

  /** Starts the runtime interface client on a function directory, with the layer's jars. */
  private static Process runtime(String handler, Path taskRoot, List<String> extraClasspath, Map<String, String> env, RuntimeApiStandIn api)
      throws Exception {
    var classpath = new ArrayList<String>(List.of(jarOf(AWSLambda.class), jarOf(JacksonFactory.class),
        jarOf(com.amazonaws.services.lambda.runtime.RequestHandler.class)));
    classpath.addAll(extraClasspath);
    String java = ProcessHandle.current().info().command().orElse("java");
    var builder =
        new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp", String.join(File.pathSeparator, classpath), AWSLambda.class.getName(), handler)
            .directory(taskRoot.toFile()) // the task root, as /var/task on Lambda
            .redirectErrorStream(true)
            .redirectOutput(work.resolve(handler.replaceAll("\\W", "_") + ".log").toFile());
    builder.environment().clear();
    builder.environment().putAll(env);
    builder.environment().put("AWS_LAMBDA_RUNTIME_API", api.address());
    builder.environment().put("PATH", System.getenv().getOrDefault("PATH", "/usr/bin:/bin"));
    return builder.start();
  }

  /**
   * Starts a function as template.yaml deploys the proxy function: the managed runtime's command
   * line (the runtime interface client's main class and jars, its CRaC property) handed to the
   * layer's exec wrapper (AWS_LAMBDA_EXEC_WRAPPER), which runs aigw's streaming runtime instead.
   */
  private static Process streamingRuntime(String handler, Path taskRoot, Map<String, String> env, RuntimeApiStandIn api) throws Exception {
    Path wrapper = RepoFiles.resolve("layers/core/target/layer/aigw/streaming-runtime");
    // !If [StreamsProxyResponses, wrapper, !Ref AWS::NoValue], read by Jackson as an array
    assertThat(template.at("/Resources/ProxyFunction/Properties/Environment/Variables/AWS_LAMBDA_EXEC_WRAPPER").path(1).asText())
        .as("the wrapper the template names").isEqualTo("/opt/aigw/streaming-runtime");
    assertThat(Files.isExecutable(wrapper)).as("Lambda runs the wrapper only if it is executable").isTrue();
    var classpath = List.of(jarOf(AWSLambda.class), jarOf(JacksonFactory.class), jarOf(com.amazonaws.services.lambda.runtime.RequestHandler.class));
    String java = ProcessHandle.current().info().command().orElse("java");
    var builder = new ProcessBuilder(wrapper.toString(), java, "--enable-native-access=ALL-UNNAMED", "-XX:+TieredCompilation", "-XX:TieredStopAtLevel=1",
        "-Dorg.crac.Core.Compat=com.amazonaws.services.lambda.crac", "-classpath", String.join(File.pathSeparator, classpath), AWSLambda.class.getName(), handler)
        .directory(taskRoot.toFile())
        .redirectErrorStream(true)
        .redirectOutput(work.resolve("streaming_" + handler.replaceAll("\\W", "_") + ".log").toFile());
    builder.environment().clear();
    builder.environment().putAll(env);
    builder.environment().put("AWS_LAMBDA_RUNTIME_API", api.address());
    builder.environment().put("LAMBDA_TASK_ROOT", taskRoot.toString());
    builder.environment().put("_HANDLER", handler);
    builder.environment().put("PATH", System.getenv().getOrDefault("PATH", "/usr/bin:/bin"));
    return builder.start();
  }

  /** The names of the process's threads (/proc/PID/task/TID/comm: the first 15 characters of each); Linux only. */
  private static List<String> threadNames(Process process) throws IOException {
    assumeTrue(Files.isDirectory(Path.of("/proc", Long.toString(process.pid()), "task")), "thread names from /proc");
    try (var tasks = Files.list(Path.of("/proc", Long.toString(process.pid()), "task"))) {
      var names = new ArrayList<String>();
      for (Path task : tasks.toList()) {
        try {
          names.add(Files.readString(task.resolve("comm")).strip());
        } catch (IOException ended) {
          // the thread ended meanwhile
        }
      }
      return names;
    }
  }

  /** The process's peak resident set (VmHWM of /proc/PID/status) in MB, or -1 where there is no /proc. */
  private static long peakRssMb(Process process) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc", Long.toString(process.pid()), "status"))) {
        if (line.startsWith("VmHWM:")) {
          return Long.parseLong(line.replaceAll("\\D", "")) / 1024;
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux
    }
    return -1;
  }

  private static List<String> layerJars() throws IOException {
    return jarsIn(RepoFiles.resolve("layers/core/target/layer/java/lib"));
  }

  private static List<String> jarsIn(Path directory) throws IOException {
    try (Stream<Path> jars = Files.list(directory)) {
      return jars.map(Path::toString).filter(p -> p.endsWith(".jar")).sorted().toList();
    }
  }

  private Path testModelList() throws IOException {
    Path config = work.resolve("models.yaml");
    Files.writeString(config, """
        model_list:
          - model_name: gpt-4o-mini
            litellm_params: {model: openai/gpt-4o-mini, api_base: "%s/v1", api_key: os.environ/TEST_PROVIDER_KEY}
        """.formatted(aws.baseUrl()));
    return config;
  }

  /**
   * The function's answer to one events/ file as a response event ({@code statusCode}, {@code
   * headers}, {@code body}): the runtime interface client posts one; the streaming runtime posts
   * the streaming format, whose prelude and body are put in that shape.
   */
  private static JsonNode answer(RuntimeApiStandIn api, String eventFile, Process process) throws Exception {
    var outcome = outcome(api, eventFile, process);
    return "streaming".equals(outcome.header("Lambda-Runtime-Function-Response-Mode")) ? outcome.asResponseEvent() : Json.MAPPER.readTree(outcome.body());
  }

  private static RuntimeApiStandIn.Outcome outcome(RuntimeApiStandIn api, String eventFile, Process process) throws Exception {
    byte[] event = Files.readAllBytes(RepoFiles.resolve("events/" + eventFile));
    var outcome = api.invoke(event).get(60, TimeUnit.SECONDS);
    assertThat(outcome.kind()).as("%s: %s", eventFile, outcome.body()).isEqualTo("response");
    assertThat(process.isAlive()).isTrue();
    return outcome;
  }

  private static int status(JsonNode response) {
    return response.get("statusCode").asInt();
  }

  @Test
  void theProxyFunctionServesTheEventsFromItsPackageUnderItsStreamingRuntime() throws Exception {
    Path taskRoot = RepoFiles.resolve("functions/proxy/target/function");
    try (var api = new RuntimeApiStandIn()) {
      long started = System.nanoTime();
      Process process = streamingRuntime("aigw.proxy.ProxyHandler::handleRequest", taskRoot, functionEnvironment("ProxyFunction", testModelList()), api);
      try {
        INIT_MILLIS.put("ProxyFunction, streaming runtime", TimeUnit.NANOSECONDS.toMillis(api.firstPollNanos.get(60, TimeUnit.SECONDS) - started));
        long asked = System.nanoTime();
        var chat = answer(api, "proxy-chat-completions.json", process);
        FIRST_ANSWER_MILLIS.put("ProxyFunction, streaming runtime", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - asked));
        assertThat(status(chat)).as(chat.toString()).isEqualTo(200);
        assertThat(Json.MAPPER.readTree(chat.get("body").asText()).at("/choices/0/message/content").asText()).isEqualTo("from the stub");
        // The provider key came from the provider credentials secret, not from any variable.
        aws.verify(postRequestedFor(urlEqualTo("/v1/chat/completions")).withHeader("Authorization", equalTo("Bearer sk-provider-from-secrets-manager")));
        PEAK_RSS_MB.put("ProxyFunction, streaming runtime", peakRssMb(process));

        var models = answer(api, "proxy-models.json", process);
        assertThat(status(models)).isEqualTo(200);
        assertThat(Json.MAPPER.readTree(models.get("body").asText()).get("data").findValuesAsText("id")).containsExactly("gpt-4o-mini");

        assertThat(status(answer(api, "proxy-bad-key.json", process))).isEqualTo(401);
        assertThat(status(answer(api, "proxy-no-key.json", process))).isEqualTo(401);
        assertThat(status(answer(api, "proxy-malformed-json.json", process))).isEqualTo(400);
        // A stream, answered whole by API Gateway's buffered mode: the event stream to its [DONE].
        String chunk = "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"streamed\"}}]}";
        aws.stubFor(post("/v1/chat/completions").withRequestBody(matchingJsonPath("$.stream", equalTo("true")))
            .willReturn(aResponse().withHeader("Content-Type", "text/event-stream").withBody("data: " + chunk + "\n\ndata: [DONE]\n\n")));
        var stream = answer(api, "proxy-stream.json", process);
        assertThat(status(stream)).as(stream.toString()).isEqualTo(200);
        assertThat(stream.get("body").asText()).isEqualTo("data: " + chunk + "\n\ndata: [DONE]\n\n");
        assertThat(status(answer(api, "proxy-embeddings.json", process))).isEqualTo(404); // not in this model list
        assertThat(answer(api, "proxy-chat-completions-no-v1.json", process).at("/headers/Content-Type").asText()).isEqualTo("application/json");
      } finally {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  /**
   * Issue 11's first deploy: SnapStart runs init while the provider credentials secret still holds
   * the template's {@code {}}, and every environment is restored from that init. The operator's
   * put-secret-value afterwards must reach the next call without a new version or a restart.
   */
  @Test
  void theProxyFunctionUsesAProviderKeySetAfterItsInitWithoutARestart() throws Exception {
    Path taskRoot = RepoFiles.resolve("functions/proxy/target/function");
    var secrets = new aigw.core.secrets.InMemorySecretsManager(java.time.Clock.systemUTC());
    secrets.createSecret(r -> r.name("master-key-secret").secretString("{\"master_key\":\"" + Events.EVENTS_MASTER_KEY + "\"}"));
    secrets.createSecret(r -> r.name("provider-secret").secretString("{}")); // as the template creates it
    try (var api = new RuntimeApiStandIn(); var secretsManager = new SecretsManagerStandIn(secrets)) {
      var env = functionEnvironment("ProxyFunction", testModelList());
      env.put("AWS_ENDPOINT_URL_SECRETS_MANAGER", secretsManager.endpoint());
      env.put("AIGW_PROVIDER_SECRET_RECHECK_SECONDS", "1"); // the default 5 s, shortened to keep the test quick
      Process process = streamingRuntime("aigw.proxy.ProxyHandler::handleRequest", taskRoot, env, api);
      try {
        api.firstPollNanos.get(60, TimeUnit.SECONDS); // init done: the empty secret was read
        assertThat(secretsManager.calls).contains("secretsmanager.GetSecretValue provider-secret");

        var before = answer(api, "proxy-chat-completions.json", process);
        assertThat(status(before)).as(before.toString()).isEqualTo(503);
        assertThat(Json.MAPPER.readTree(before.get("body").asText()).at("/error/message").asText())
            .contains("os.environ/TEST_PROVIDER_KEY is not set");

        String setLater = "sk-provider-key-put-after-init-" + UUID.randomUUID();
        secrets.putSecretValue(r -> r.secretId("provider-secret").secretString("{\"TEST_PROVIDER_KEY\":\"" + setLater + "\"}"));
        Thread.sleep(1100); // past the recheck interval of the read the 503 made

        var after = answer(api, "proxy-chat-completions.json", process);
        assertThat(status(after)).as(after.toString()).isEqualTo(200);
        assertThat(Json.MAPPER.readTree(after.get("body").asText()).at("/choices/0/message/content").asText()).isEqualTo("from the stub");
        aws.verify(1, postRequestedFor(urlEqualTo("/v1/chat/completions")).withHeader("Authorization", equalTo("Bearer " + setLater)));

        String log = Files.readString(work.resolve("streaming_aigw_proxy_ProxyHandler__handleRequest.log"));
        assertThat(log).as("the change is logged by name, never by value")
            .contains("The provider credentials in provider-secret changed; using the new values for TEST_PROVIDER_KEY.")
            .doesNotContain(setLater);
      } finally {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  /**
   * The same package under the official runtime interface client (what a BUFFERED integration
   * would run): the handler still answers there, and its init time is the baseline the streaming
   * runtime's is compared with (docs/architecture.md, "Streaming on AWS").
   */
  @Test
  void theProxyFunctionAlsoAnswersUnderTheRuntimeInterfaceClient() throws Exception {
    Path taskRoot = RepoFiles.resolve("functions/proxy/target/function");
    try (var api = new RuntimeApiStandIn()) {
      long started = System.nanoTime();
      Process process = runtime("aigw.proxy.ProxyHandler::handleRequest", taskRoot, layerJars(), functionEnvironment("ProxyFunction", testModelList()), api);
      try {
        INIT_MILLIS.put("ProxyFunction, runtime interface client", TimeUnit.NANOSECONDS.toMillis(api.firstPollNanos.get(60, TimeUnit.SECONDS) - started));
        long asked = System.nanoTime();
        var outcome = outcome(api, "proxy-chat-completions.json", process);
        FIRST_ANSWER_MILLIS.put("ProxyFunction, runtime interface client", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - asked));
        assertThat(outcome.header("Lambda-Runtime-Function-Response-Mode")).as("the client cannot stream").isNull();
        JsonNode chat = Json.MAPPER.readTree(outcome.body());
        assertThat(status(chat)).as(chat.toString()).isEqualTo(200);
        assertThat(Json.MAPPER.readTree(chat.get("body").asText()).at("/choices/0/message/content").asText()).isEqualTo("from the stub");
        PEAK_RSS_MB.put("ProxyFunction, runtime interface client", peakRssMb(process));
        assertThat(threadNames(process)).as("the proxy function's provider client").anyMatch(name -> name.startsWith("HttpClient-"));
      } finally {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  /**
   * Issue 15, finding 8: by default the proxy function neither reads the master key (its role may
   * not, and even with the secret's id set by hand it does not ask) nor accepts it: the master key
   * is an unknown key there (401). With AIGW_ALLOW_MASTER_KEY_FOR_MODELS=true it reads it and the
   * master key lists the models.
   */
  @Test
  void theProxyFunctionReadsAndAcceptsTheMasterKeyOnlyWhenItMayCallModels() throws Exception {
    Path taskRoot = RepoFiles.resolve("functions/proxy/target/function");
    String secretId = "proxy-master-key-secret";
    secret(secretId, "{\"master_key\":\"" + Events.EVENTS_MASTER_KEY + "\"}");
    byte[] modelsWithTheMasterKey = Files.readString(RepoFiles.resolve("events/proxy-models.json"))
        .replace("Bearer " + VIRTUAL_KEY, "Bearer " + Events.EVENTS_MASTER_KEY).getBytes(java.nio.charset.StandardCharsets.UTF_8);
    assertThat(new String(modelsWithTheMasterKey, java.nio.charset.StandardCharsets.UTF_8)).contains(Events.EVENTS_MASTER_KEY).doesNotContain(VIRTUAL_KEY);
    var readsOfTheSecret = postRequestedFor(urlEqualTo("/"))
        .withHeader("X-Amz-Target", equalTo("secretsmanager.GetSecretValue")).withRequestBody(matchingJsonPath("$.SecretId", equalTo(secretId)));
    for (String allowed : List.of("false", "true")) {
      var env = functionEnvironment("ProxyFunction", testModelList());
      assertThat(env.get("AIGW_ALLOW_MASTER_KEY_FOR_MODELS")).as("the template's default").isEqualTo("false");
      env.put("AIGW_ALLOW_MASTER_KEY_FOR_MODELS", allowed);
      env.put("AIGW_MASTER_KEY_SECRET_ID", secretId);
      try (var api = new RuntimeApiStandIn()) {
        Process process = runtime("aigw.proxy.ProxyHandler::handleRequest", taskRoot, layerJars(), env, api);
        try {
          var outcome = api.invoke(modelsWithTheMasterKey).get(60, TimeUnit.SECONDS);
          assertThat(outcome.kind()).as(outcome.body()).isEqualTo("response");
          JsonNode models = Json.MAPPER.readTree(outcome.body());
          if (allowed.equals("false")) {
            assertThat(status(models)).as(models.toString()).isEqualTo(401);
            assertThat(Json.MAPPER.readTree(models.get("body").asText()).at("/error/message").asText())
                .contains("Invalid proxy server token").doesNotContain(Events.EVENTS_MASTER_KEY);
            aws.verify(0, readsOfTheSecret);
          } else {
            assertThat(status(models)).as(models.toString()).isEqualTo(200);
            aws.verify(moreThanOrExactly(1), readsOfTheSecret);
          }
        } finally {
          process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      }
    }
  }

  /**
   * The provider's answer to events/proxy-chat-completions-stream.json: five SSE events (the last the
   * usage chunk, then [DONE]) sent over 1.5 s.
   */
  private static void stubCountToThree() {
    String events = """
        data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":"One"},"finish_reason":null}]}

        data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":" two"},"finish_reason":null}]}

        data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":" three"},"finish_reason":"stop"}]}

        data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}

        data: [DONE]

        """;
    // Matched on this event's own prompt, so other tests' streams get their own answers.
    aws.stubFor(post("/v1/chat/completions").atPriority(1).withRequestBody(matchingJsonPath("$.messages[0].content", equalTo("Count to three")))
        .willReturn(aResponse().withHeader("Content-Type", "text/event-stream").withBody(events).withChunkedDribbleDelay(5, 1500)));
  }

  /**
   * The escape hatch (template.yaml's ProxyResponseStreaming=false): under the runtime interface
   * client, a chat completion with {@code stream: true} is answered whole, every event and [DONE]
   * in one response event, as docs/operations.md says.
   */
  @Test
  void underTheRuntimeInterfaceClientAStreamIsAnsweredWhole() throws Exception {
    stubCountToThree();
    Path taskRoot = RepoFiles.resolve("functions/proxy/target/function");
    try (var api = new RuntimeApiStandIn()) {
      Process process = runtime("aigw.proxy.ProxyHandler::handleRequest", taskRoot, layerJars(), functionEnvironment("ProxyFunction", testModelList()), api);
      try {
        api.firstPollNanos.get(60, TimeUnit.SECONDS);
        var outcome = outcome(api, "proxy-chat-completions-stream.json", process);
        assertThat(outcome.header("Lambda-Runtime-Function-Response-Mode")).as("buffered").isNull();
        JsonNode response = Json.MAPPER.readTree(outcome.body());
        assertThat(status(response)).as(response.toString()).isEqualTo(200);
        assertThat(response.at("/headers/content-type").asText(response.at("/headers/Content-Type").asText())).startsWith("text/event-stream");
        assertThat(response.get("body").asText()).contains("\"content\":\"One\"").contains(" three").endsWith("data: [DONE]\n\n");
      } finally {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  /**
   * Issue 9's test: a chat completion with {@code stream: true} (events/proxy-chat-completions-stream.json)
   * through the packaged proxy function under the runtime it runs on AWS, against a provider that
   * sends its events over a second.
   */
  @Test
  void theProxyFunctionStreamsAChatCompletionFromItsPackage() throws Exception {
    Path taskRoot = RepoFiles.resolve("functions/proxy/target/function");
    stubCountToThree();
    try (var api = new RuntimeApiStandIn()) {
      Process process = streamingRuntime("aigw.proxy.ProxyHandler::handleRequest", taskRoot, functionEnvironment("ProxyFunction", testModelList()), api);
      try {
        api.firstPollNanos.get(60, TimeUnit.SECONDS);
        var outcome = outcome(api, "proxy-chat-completions-stream.json", process);

        // The protocol, whatever the answer: streaming mode, API Gateway's prelude, chunked, no error.
        assertThat(outcome.header("Lambda-Runtime-Function-Response-Mode")).isEqualTo("streaming");
        assertThat(outcome.header("Content-Type")).isEqualTo("application/vnd.awslambda.http-integration-response");
        assertThat(outcome.chunked()).isTrue();
        assertThat(outcome.trailers()).as("no error trailer").isEmpty();
        JsonNode prelude = outcome.prelude();
        int status = prelude.get("statusCode").asInt();

        // The provider's events reach the Runtime API as they come, not at the end.
        assertThat(status).as(outcome.body()).isEqualTo(200);
        assertThat(prelude.at("/headers/Content-Type").asText()).startsWith("text/event-stream");
        assertThat(outcome.payload()).contains("\"content\":\"One\"").contains(" three").endsWith("data: [DONE]\n\n");
        var bodyChunks = outcome.chunks().stream().filter(c -> c.text().contains("data:")).toList();
        assertThat(bodyChunks).as("one chunk per event or so, not one at the end").hasSizeGreaterThan(2);
        assertThat(TimeUnit.NANOSECONDS.toMillis(bodyChunks.getLast().arrivedNanos() - bodyChunks.getFirst().arrivedNanos()))
            .as("the first event arrived well before the last (the provider took 1.5 s)").isGreaterThan(500);
      } finally {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  /**
   * SnapStart under the streaming runtime, as Lambda drives it (AWS_LAMBDA_INITIALIZATION_TYPE
   * snap-start): priming runs during init, then /runtime/restore/next, then the afterRestore hook,
   * which makes the first call read the provider credentials again.
   */
  @Test
  void theProxyFunctionPrimesBeforeItsSnapshotAndRenewsAfterTheRestoreUnderItsStreamingRuntime() throws Exception {
    Path taskRoot = RepoFiles.resolve("functions/proxy/target/function");
    var secrets = new aigw.core.secrets.InMemorySecretsManager(java.time.Clock.systemUTC());
    secrets.createSecret(r -> r.name("master-key-secret").secretString("{\"master_key\":\"" + Events.EVENTS_MASTER_KEY + "\"}"));
    secrets.createSecret(r -> r.name("provider-secret").secretString("{\"TEST_PROVIDER_KEY\":\"sk-provider-from-secrets-manager\"}"));
    try (var api = new RuntimeApiStandIn(); var secretsManager = new SecretsManagerStandIn(secrets)) {
      var env = functionEnvironment("ProxyFunction", testModelList());
      env.put("AWS_ENDPOINT_URL_SECRETS_MANAGER", secretsManager.endpoint());
      env.put("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start");
      long started = System.nanoTime();
      Process process = streamingRuntime("aigw.proxy.ProxyHandler::handleRequest", taskRoot, env, api);
      try {
        long restored = api.restoreNextNanos.get(60, TimeUnit.SECONDS);
        INIT_MILLIS.put("ProxyFunction, streaming runtime, SnapStart init to restore/next", TimeUnit.NANOSECONDS.toMillis(restored - started));
        assertThat(Files.readString(work.resolve("streaming_aigw_proxy_ProxyHandler__handleRequest.log")))
            .as("priming ran before the snapshot").contains("Primed the request path")
            .as("the wrapper's --add-opens lets the DNS cache be emptied before the snapshot").doesNotContain("DNS cache could not be emptied");
        assertThat(api.firstPollNanos.get(60, TimeUnit.SECONDS)).as("invocations only after the restore").isGreaterThan(restored);
        assertThat(api.requestLines()).first().isEqualTo("GET /2018-06-01/runtime/restore/next");
        long readsBeforeRestore = secretsManager.calls.stream().filter(c -> c.endsWith(" provider-secret")).count();

        var chat = answer(api, "proxy-chat-completions.json", process);
        assertThat(status(chat)).as(chat.toString()).isEqualTo(200);
        assertThat(secretsManager.calls.stream().filter(c -> c.endsWith(" provider-secret")).count())
            .as("afterRestore expired the provider credentials read at init: the first call read them again").isEqualTo(readsBeforeRestore + 1);
      } finally {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  /**
   * Issue 14: SnapStart priming covers the streamed path. The function runs as SnapStart runs it,
   * with the JVM logging each class it loads; after the restore and two whole chat completions
   * (which load what any first answer needs), a streamed chat completion loads no class of aigw's
   * (but the runtime's time-limit timer) and none of the JDK HTTP client's: priming streamed one
   * through the same code before the snapshot.
   */
  @Test
  void primingBeforeTheSnapshotLoadsWhatAStreamedChatCompletionNeeds() throws Exception {
    Path taskRoot = RepoFiles.resolve("functions/proxy/target/function");
    Path classLog = work.resolve("primed-stream-classes.log");
    var secrets = new aigw.core.secrets.InMemorySecretsManager(java.time.Clock.systemUTC());
    secrets.createSecret(r -> r.name("master-key-secret").secretString("{\"master_key\":\"" + Events.EVENTS_MASTER_KEY + "\"}"));
    secrets.createSecret(r -> r.name("provider-secret").secretString("{\"TEST_PROVIDER_KEY\":\"sk-provider-from-secrets-manager\"}"));
    String chunk = "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"streamed\"}}]}";
    aws.stubFor(post("/v1/chat/completions").withRequestBody(matchingJsonPath("$.stream", equalTo("true")))
        .willReturn(aResponse().withHeader("Content-Type", "text/event-stream").withBody("data: " + chunk + "\n\ndata: [DONE]\n\n")));
    try (var api = new RuntimeApiStandIn(); var secretsManager = new SecretsManagerStandIn(secrets)) {
      var env = functionEnvironment("ProxyFunction", testModelList());
      env.put("AWS_ENDPOINT_URL_SECRETS_MANAGER", secretsManager.endpoint());
      env.put("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start");
      env.put("JAVA_TOOL_OPTIONS", "-Xlog:class+load=info:file=" + classLog);
      Process process = streamingRuntime("aigw.proxy.ProxyHandler::handleRequest", taskRoot, env, api);
      try {
        api.restoreNextNanos.get(60, TimeUnit.SECONDS);
        for (int i = 0; i < 2; i++) {
          assertThat(status(answer(api, "proxy-chat-completions.json", process))).isEqualTo(200);
        }
        Thread.sleep(500); // the second answer's usage write, after its response, runs its course
        int before = Files.readAllLines(classLog).size();

        var stream = answer(api, "proxy-stream.json", process);

        assertThat(status(stream)).as(stream.toString()).isEqualTo(200);
        assertThat(stream.get("body").asText()).contains("\"content\":\"streamed\"").endsWith("data: [DONE]\n\n");
        var loaded = Files.readAllLines(classLog);
        // Left out: the runtime's time-limit timer, whose thread is made at the first stream on purpose
        // (never inside a snapshot).
        assertThat(loaded.subList(before, loaded.size()).stream()
                .filter(line -> line.matches(".* (aigw|jdk\\.internal\\.net\\.http)\\..*") && !line.contains("aigw.core.lambda.StreamingRuntime$")))
            .as("classes the streamed chat completion loaded after priming").isEmpty();
      } finally {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  /**
   * Issue 14: the admin function's init builds its key rotator, whose EventBridge endpoint needs the
   * region's partition; the SDK's PartitionMetadata loads all its region and service metadata at
   * once (about 360 classes). Looked up at the first rotation event instead (EventBridgeRotationEventsTest).
   */
  @Test
  void theAdminFunctionsInitLoadsNoneOfTheSdksRegionMetadata() throws Exception {
    Path taskRoot = RepoFiles.resolve("functions/admin/target/function");
    Path classLog = work.resolve("admin-init-classes.log");
    try (var api = new RuntimeApiStandIn()) {
      var env = functionEnvironment("AdminFunction", testModelList());
      assertThat(env).doesNotContainKey("AWS_ENDPOINT_URL_EVENTBRIDGE"); // as deployed: the endpoint is the partition's
      env.put("JAVA_TOOL_OPTIONS", env.get("JAVA_TOOL_OPTIONS") + " -Xlog:class+load=info:file=" + classLog);
      Process process = runtime("aigw.admin.AdminHandler::handleRequest", taskRoot, layerJars(), env, api);
      try {
        api.firstPollNanos.get(60, TimeUnit.SECONDS);
        var loaded = Files.readAllLines(classLog);
        assertThat(loaded).as("the init built the key rotator").anyMatch(line -> line.contains(" aigw.core.rotation.EventBridgeRotationEvents "));
        assertThat(loaded).as("SDK region and service metadata classes loaded by the admin function's init")
            .filteredOn(line -> line.contains(" software.amazon.awssdk.regions.servicemetadata.") || line.contains(" software.amazon.awssdk.regions.regionmetadata."))
            .isEmpty();
      } finally {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  /**
   * Issue 14: the API Gateway functions register {@code ApiGatewayEventSerializer}, so the runtime
   * interface client reads their events with the layer's Jackson instead of loading its own shaded
   * copy at init (about 600 classes). The events/ replays here check that the answers are the same.
   */
  @Test
  void theApiGatewayFunctionsInitLoadsNoSecondJackson() throws Exception {
    for (String function : List.of("ProxyFunction", "AdminFunction")) {
      boolean proxy = function.equals("ProxyFunction");
      Path taskRoot = RepoFiles.resolve(proxy ? "functions/proxy/target/function" : "functions/admin/target/function");
      Path classLog = work.resolve(function + "-init-classes.log");
      try (var api = new RuntimeApiStandIn()) {
        var env = functionEnvironment(function, testModelList());
        env.put("JAVA_TOOL_OPTIONS", env.get("JAVA_TOOL_OPTIONS") + " -Xlog:class+load=info:file=" + classLog);
        Process process = runtime(proxy ? "aigw.proxy.ProxyHandler::handleRequest" : "aigw.admin.AdminHandler::handleRequest", taskRoot, layerJars(), env, api);
        try {
          api.firstPollNanos.get(60, TimeUnit.SECONDS);
          var loaded = Files.readAllLines(classLog);
          assertThat(loaded).as(function + ": the runtime took the function's serializer")
              .anyMatch(line -> line.contains(" aigw.core.lambda.ApiGatewayEventSerializer "));
          assertThat(loaded).as(function + ": classes of the runtime's shaded Jackson loaded by the init")
              .filteredOn(line -> line.contains(" com.amazonaws.lambda.thirdparty.com.fasterxml.jackson.databind."))
              .isEmpty();
        } finally {
          process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      }
    }
  }

  /**
   * Issue 14: the JDK's TLS context (its trust store read and TLS classes: about a quarter of these
   * functions' init CPU) is made during the init, on the init's second thread, while the runtime's
   * thread builds the SDK clients; the SDK's url-connection client makes its own only at its first
   * request and then reuses it (AwsClients.httpClient).
   */
  @Test
  void theApiGatewayFunctionsMakeTheTlsContextAtInitOffTheRuntimesThread() throws Exception {
    for (String function : List.of("ProxyFunction", "AdminFunction")) {
      boolean proxy = function.equals("ProxyFunction");
      Path taskRoot = RepoFiles.resolve(proxy ? "functions/proxy/target/function" : "functions/admin/target/function");
      String handler = proxy ? "aigw.proxy.ProxyHandler" : "aigw.admin.AdminHandler";
      Path classLog = work.resolve(function + "-init-tls-classes.log");
      try (var api = new RuntimeApiStandIn()) {
        var env = functionEnvironment(function, testModelList());
        env.put("JAVA_TOOL_OPTIONS", env.get("JAVA_TOOL_OPTIONS") + " -Xlog:class+load=info:file=" + classLog + ":tid");
        Process process = runtime(handler + "::handleRequest", taskRoot, layerJars(), env, api);
        try {
          api.firstPollNanos.get(60, TimeUnit.SECONDS);
          var loaded = Files.readAllLines(classLog);
          String runtimeThread = loadingThread(loaded, handler);
          assertThat(runtimeThread).as(function + ": the thread that loaded the handler").isNotNull();
          assertThat(loadingThread(loaded, "sun.security.ssl.SSLContextImpl")).as(function + ": the thread that made the TLS context at init")
              .isNotNull().isNotEqualTo(runtimeThread);
          assertThat(loadingThread(loaded, "sun.security.ssl.TrustStoreManager")).as(function + ": the thread that read the trust store at init")
              .isNotNull().isNotEqualTo(runtimeThread);
        } finally {
          process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      }
    }
  }

  /** The thread id of the -Xlog:class+load line ({@code [tid] class source: ...}) that loaded {@code className}, or null. */
  private static String loadingThread(List<String> classLoadLog, String className) {
    return classLoadLog.stream()
        .filter(line -> line.contains("] " + className + " source: "))
        .map(line -> line.substring(line.indexOf('[') + 1, line.indexOf(']')))
        .findFirst().orElse(null);
  }

  @Test
  void theAdminFunctionServesTheEventsFromItsPackage() throws Exception {
    Path taskRoot = RepoFiles.resolve("functions/admin/target/function");
    try (var api = new RuntimeApiStandIn()) {
      long started = System.nanoTime();
      Process process = runtime("aigw.admin.AdminHandler::handleRequest", taskRoot, layerJars(), functionEnvironment("AdminFunction", testModelList()), api);
      try {
        INIT_MILLIS.put("AdminFunction", TimeUnit.NANOSECONDS.toMillis(api.firstPollNanos.get(60, TimeUnit.SECONDS) - started));
        var ready = answer(api, "admin-health-readiness.json", process);
        assertThat(status(ready)).as(ready.toString()).isEqualTo(200);
        assertThat(Json.MAPPER.readTree(ready.get("body").asText()).get("master_key").asText()).isEqualTo("readable");
        assertThat(status(answer(api, "admin-health-liveliness.json", process))).isEqualTo(200);

        var generated = answer(api, "admin-key-generate.json", process);
        assertThat(status(generated)).as(generated.toString()).isEqualTo(200);
        assertThat(Json.MAPPER.readTree(generated.get("body").asText()).get("key").asText()).startsWith("sk-");
        assertThat(status(answer(api, "admin-key-info.json", process))).isEqualTo(200);
        assertThat(status(answer(api, "admin-key-list.json", process))).isEqualTo(200);
        assertThat(status(answer(api, "admin-key-generate-refused-for-virtual-key.json", process))).isEqualTo(403);
        // Issue 14: the admin function calls no model, so its init builds no provider HTTP client
        // (the JDK client's selector thread would be there; the proxy function's test sees it).
        assertThat(threadNames(process)).as("the admin function's threads").isNotEmpty().noneMatch(name -> name.startsWith("HttpClient-"));
      } finally {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  @Test
  void theRotationFunctionRotatesTheMasterKeyFromItsPackage() throws Exception {
    Path taskRoot = RepoFiles.resolve("functions/rotation/target/function");
    assumeTrue(Files.isDirectory(taskRoot), "built by ./mvnw package");
    String oldKey = "sk-old-master-key-for-the-packaged-rotation-test";
    var secrets = new aigw.core.secrets.InMemorySecretsManager(java.time.Clock.systemUTC());
    String secretArn = secrets.createSecret(r -> r.name("rotated-master-secret").secretString("{\"master_key\":\"" + oldKey + "\",\"owner\":\"ops\"}")).arn();
    try (var api = new RuntimeApiStandIn(); var secretsManager = new SecretsManagerStandIn(secrets)) {
      var env = functionEnvironment("MasterKeyRotationFunction", testModelList());
      env.put("AWS_ENDPOINT_URL_SECRETS_MANAGER", secretsManager.endpoint());
      long started = System.nanoTime();
      Process process = runtime("aigw.rotation.MasterKeyRotationHandler::handleRequest", taskRoot, layerJars(), env, api);
      try {
        INIT_MILLIS.put("MasterKeyRotationFunction", TimeUnit.NANOSECONDS.toMillis(api.firstPollNanos.get(60, TimeUnit.SECONDS) - started));
        var steps = new ArrayList<String>();
        // Secrets Manager's part: one invocation per step, with its event.
        secrets.registerRotationFunction("arn:aws:lambda:us-east-1:000000000000:function:rotation:live", (id, token, step) -> {
          try {
            var outcome = api.invoke(Json.MAPPER.writeValueAsBytes(Map.of("SecretId", id, "ClientRequestToken", token, "Step", step)))
                .get(60, TimeUnit.SECONDS);
            assertThat(outcome.kind()).as("%s: %s", step, outcome.body()).isEqualTo("response");
            steps.add(step);
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        });
        secrets.rotateSecret(r -> r.secretId(secretArn).rotationLambdaARN("arn:aws:lambda:us-east-1:000000000000:function:rotation:live"));
        assertThat(steps).isEqualTo(SecretsManagerStandIn.steps());
        JsonNode current = Json.MAPPER.readTree(secrets.getSecretValue(r -> r.secretId(secretArn)).secretString());
        assertThat(current.path("master_key").asText()).startsWith("sk-").hasSize(46);
        assertThat(current.path("owner").asText()).isEqualTo("ops");
        assertThat(secrets.getSecretValue(r -> r.secretId(secretArn).versionStage("AWSPREVIOUS")).secretString()).contains(oldKey);
        assertThat(Files.readString(work.resolve("aigw_rotation_MasterKeyRotationHandler__handleRequest.log")))
            .as("no key in the function's log but its masked form").doesNotContain(current.path("master_key").asText()).doesNotContain(oldKey);
      } finally {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  /** A key the schedule must rotate: auto_rotate, its key_rotation_at a minute ago. */
  private static VirtualKey dueKey(String plaintext, String alias, String rotationSecret) {
    Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);
    Instant created = now.minus(Duration.ofDays(30));
    var rotation = new KeyRotation(true, Duration.ofDays(30), Duration.ofHours(2), rotationSecret, now.minusSeconds(60), null, 0, null);
    return new VirtualKey(ApiKeys.hash(plaintext), UUID.randomUUID().toString(), ApiKeys.mask(plaintext), alias, List.of("gpt-4o-mini"),
        "team-a", null, Map.of("owner", "platform"), created, created, null, false, null, rotation, null);
  }

  private static String sha256Hex(String value) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(value.getBytes(StandardCharsets.UTF_8)));
  }

  /**
   * The Authorization header SigV4 gives {@code request} as it arrived, signed again with the
   * function's credentials at its own X-Amz-Date: equal only if the signed parts reached the
   * service unchanged and the payload hash is the body's.
   */
  private static String sigV4(EventBridgeStandIn.Request request, String endpoint, String sessionToken) throws Exception {
    assertThat(request.header("X-Amz-Content-Sha256")).isEqualTo(sha256Hex(request.body()));
    Instant signedAt = java.time.LocalDateTime.parse(request.header("X-Amz-Date"), java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'"))
        .toInstant(java.time.ZoneOffset.UTC);
    var unsigned = software.amazon.awssdk.http.SdkHttpRequest.builder()
        .method(software.amazon.awssdk.http.SdkHttpMethod.fromValue(request.method()))
        .uri(URI.create(endpoint + request.path()))
        .putHeader("Content-Type", request.header("Content-Type"))
        .putHeader("X-Amz-Target", request.header("X-Amz-Target"))
        .build();
    var signer = software.amazon.awssdk.http.auth.aws.signer.AwsV4HttpSigner.create();
    var signed = signer.sign(r -> r
        .identity(software.amazon.awssdk.identity.spi.AwsSessionCredentialsIdentity.create("test", "test", sessionToken))
        .request(unsigned)
        .payload(software.amazon.awssdk.http.ContentStreamProvider.fromUtf8String(request.body()))
        .putProperty(software.amazon.awssdk.http.auth.aws.signer.AwsV4HttpSigner.SERVICE_SIGNING_NAME, "events")
        .putProperty(software.amazon.awssdk.http.auth.aws.signer.AwsV4HttpSigner.REGION_NAME, "us-east-1")
        .putProperty(software.amazon.awssdk.http.auth.spi.signer.HttpSigner.SIGNING_CLOCK, java.time.Clock.fixed(signedAt, java.time.ZoneOffset.UTC)));
    return signed.request().firstMatchingHeader("Authorization").orElseThrow();
  }

  @Test
  void theKeyRotationScheduleFunctionRotatesTheDueKeysFromItsPackage() throws Exception {
    Path taskRoot = RepoFiles.resolve("functions/rotation/target/function");
    assumeTrue(Files.isDirectory(taskRoot), "built by ./mvnw package");
    String prefix = template.path("Parameters").path("KeySecretsPrefix").path("Default").asText();
    String target = prefix + "packaged/scheduled-app";
    var secrets = new aigw.core.secrets.InMemorySecretsManager(java.time.Clock.systemUTC());
    secrets.createSecret(r -> r.name(target).secretString("placeholder until the first rotation"));
    String oldWithSecret = ApiKeys.generate();
    String oldPending = ApiKeys.generate();
    VirtualKey withSecret = dueKey(oldWithSecret, "packaged-scheduled-with-secret", target);
    VirtualKey pending = dueKey(oldPending, "packaged-scheduled-pending", null);
    try (DynamoDbClient client = dynamoClient()) {
      var store = new DynamoDbKeyStore(client, KEYS_TABLE);
      store.create(withSecret);
      store.create(pending);
      assertThat(store.dueForRotation(Instant.now(), 25)).extracting(VirtualKey::keyId).containsExactlyInAnyOrder(withSecret.keyId(), pending.keyId());
    }
    String pendingSecret = prefix + "pending/" + pending.keyId() + "/1"; // one secret per rotation: its rotation_count

    try (var api = new RuntimeApiStandIn(); var secretsManager = new SecretsManagerStandIn(secrets); var events = new EventBridgeStandIn()) {
      var env = functionEnvironment("KeyRotationScheduleFunction", testModelList());
      assertThat(env).containsEntry("AIGW_KEY_SECRET_PREFIX", "aigw/keys/");
      env.put("AWS_ENDPOINT_URL_SECRETS_MANAGER", secretsManager.endpoint());
      env.put("AWS_ENDPOINT_URL_EVENTBRIDGE", events.endpoint());
      env.put("AWS_SESSION_TOKEN", "test-session-token"); // Lambda's credentials are temporary ones
      long started = System.nanoTime();
      Process process = runtime("aigw.rotation.KeyRotationScheduleHandler::handleRequest", taskRoot, layerJars(), env, api);
      try {
        INIT_MILLIS.put("KeyRotationScheduleFunction", TimeUnit.NANOSECONDS.toMillis(api.firstPollNanos.get(60, TimeUnit.SECONDS) - started));
        long invoked = Instant.now().getEpochSecond();
        JsonNode result = answer(api, "schedule-rotation.json", process);
        assertThat(result).isEqualTo(Json.MAPPER.readTree("{\"rotated\":2,\"already_rotated\":0,\"failed\":0,\"skipped\":0}"));

        // The new keys: the secret target's new value, and the pending secret CreateSecret made.
        String newWithSecret = secrets.getSecretValue(r -> r.secretId(target)).secretString();
        String newPending = secrets.getSecretValue(r -> r.secretId(pendingSecret)).secretString();
        assertThat(secretsManager.calls).contains("secretsmanager.PutSecretValue " + target, "secretsmanager.CreateSecret " + pendingSecret);
        var plaintexts = List.of(oldWithSecret, oldPending, newWithSecret, newPending);
        for (String key : List.of(newWithSecret, newPending)) {
          assertThat(key).startsWith("sk-").hasSize(46).isNotIn(oldWithSecret, oldPending);
        }

        // Both keys rotated in the table: same key_id, new hash (the SHA-256 of the delivered value),
        // the old hash now a pointer to it.
        try (DynamoDbClient client = dynamoClient()) {
          var store = new DynamoDbKeyStore(client, KEYS_TABLE);
          for (var pair : List.of(Map.entry(withSecret, newWithSecret), Map.entry(pending, newPending))) {
            VirtualKey before = pair.getKey();
            String newHash = sha256Hex(pair.getValue());
            VirtualKey after = store.findByHash(newHash).orElseThrow(() -> new AssertionError("no key under the SHA-256 of the delivered value"));
            assertThat(after.tokenHash()).isEqualTo(newHash).isNotEqualTo(before.tokenHash());
            assertThat(after.keyId()).isEqualTo(before.keyId());
            assertThat(after.keyAlias()).isEqualTo(before.keyAlias());
            assertThat(after.keyName()).isEqualTo(ApiKeys.mask(pair.getValue()));
            assertThat(after.rotation().count()).isEqualTo(1);
            assertThat(after.rotation().lastRotatedAt().getEpochSecond()).isBetween(invoked - 1, Instant.now().getEpochSecond());
            assertThat(after.rotation().nextRotationAt()).isAfter(Instant.now().plus(Duration.ofDays(29)));
            var old = client.getItem(r -> r.tableName(KEYS_TABLE).key(Map.of("token_hash", AttributeValue.fromS(before.tokenHash()))).consistentRead(true)).item();
            assertThat(old.get("rotated_to")).as("the old hash is a rotated-out pointer").isEqualTo(AttributeValue.fromS(newHash));
            assertThat(old).doesNotContainKey("rotation_schedule"); // out of the due index
            // The previous value still works, within the grace period.
            assertThat(store.findByHash(before.tokenHash())).get().extracting(VirtualKey::keyId).isEqualTo(before.keyId());
          }
          assertThat(store.dueForRotation(Instant.now(), 25)).isEmpty();
        }

        // What went to EventBridge: one signed PutEvents per rotation, no key in it.
        assertThat(events.requests).hasSize(2);
        var announced = new HashMap<String, JsonNode>();
        for (var request : events.requests) {
          assertThat(request.method()).isEqualTo("POST");
          assertThat(request.path()).isEqualTo("/");
          assertThat(request.header("X-Amz-Target")).isEqualTo("AWSEvents.PutEvents");
          assertThat(request.header("Content-Type")).isEqualTo("application/x-amz-json-1.1");
          assertThat(request.header("Authorization"))
              .matches("AWS4-HMAC-SHA256 Credential=test/\\d{8}/us-east-1/events/aws4_request, SignedHeaders=[^,]*x-amz-target[^,]*, Signature=[0-9a-f]{64}");
          assertThat(request.header("X-Amz-Date")).isNotNull();
          assertThat(request.header("X-Amz-Security-Token")).isEqualTo("test-session-token");
          assertThat(request.header("Authorization")).isEqualTo(sigV4(request, events.endpoint(), "test-session-token"));
          for (String key : plaintexts) {
            assertThat(request.body()).doesNotContain(key);
          }
          JsonNode entries = Json.MAPPER.readTree(request.body()).path("Entries");
          assertThat(entries).hasSize(1);
          JsonNode entry = entries.get(0);
          assertThat(entry.path("Source").asText()).isEqualTo("aigw");
          assertThat(entry.path("DetailType").asText()).isEqualTo("Virtual key rotated");
          assertThat(entry.path("EventBusName").asText()).isEqualTo("default");
          JsonNode detail = Json.MAPPER.readTree(entry.path("Detail").asText());
          announced.put(detail.path("key_id").asText(), detail);
        }
        assertThat(announced).containsOnlyKeys(withSecret.keyId(), pending.keyId());
        for (var pair : List.of(Map.entry(withSecret, newWithSecret), Map.entry(pending, newPending))) {
          JsonNode detail = announced.get(pair.getKey().keyId());
          assertThat(detail.path("trigger").asText()).isEqualTo("schedule");
          assertThat(detail.path("key_name").asText()).isEqualTo(ApiKeys.mask(pair.getValue()));
          assertThat(detail.path("previous_key_name").asText()).isEqualTo(pair.getKey().keyName());
          Instant validUntil = Instant.parse(detail.path("previous_key_valid_until").asText());
          assertThat(validUntil.getEpochSecond()).isBetween(invoked + 7200 - 1, Instant.now().getEpochSecond() + 7200);
          assertThat(detail.path("rotation_count").asLong()).isEqualTo(1);
        }
        assertThat(announced.get(withSecret.keyId()).path("rotation_secret").asText()).isEqualTo(target);
        assertThat(announced.get(withSecret.keyId()).path("retrievable").asBoolean()).isFalse();
        assertThat(announced.get(pending.keyId()).path("rotation_secret").isNull()).isTrue();
        assertThat(announced.get(pending.keyId()).path("retrievable").asBoolean()).isTrue();
        for (JsonNode detail : announced.values()) {
          assertThat(detail.path("delivery_failed").asBoolean()).isFalse();
        }

        String log = Files.readString(work.resolve("aigw_rotation_KeyRotationScheduleHandler__handleRequest.log"));
        assertThat(log).as("the function logged its run").contains("Scheduled rotation: 2 rotated");
        for (String key : plaintexts) {
          assertThat(log).as("no key in the function's log but its masked form").doesNotContain(key);
        }
      } finally {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  /**
   * The figures of docs/architecture.md's "Streaming on AWS": init time (process start to first
   * poll) and first answer of the packaged proxy function under the runtime interface client and
   * under the streaming runtime, interleaved after one warm-up run of each so that neither pays for
   * this test JVM's own warm-up. Slow (about a minute), so only with -Daigw.measureInit=true.
   */
  @Test
  void initTimesOfTheProxyFunctionUnderBothRuntimes() throws Exception {
    assumeTrue(Boolean.getBoolean("aigw.measureInit"), "a measurement: run with -Daigw.measureInit=true");
    Path taskRoot = RepoFiles.resolve("functions/proxy/target/function");
    var init = new java.util.TreeMap<String, List<Long>>();
    var first = new java.util.TreeMap<String, List<Long>>();
    int runs = Integer.getInteger("aigw.measureRuns", 7);
    for (int run = -1; run < runs; run++) {
      for (boolean streaming : run % 2 == 0 ? List.of(true, false) : List.of(false, true)) {
        String name = streaming ? "streaming runtime" : "runtime interface client 2.9.0";
        try (var api = new RuntimeApiStandIn()) {
          var env = functionEnvironment("ProxyFunction", testModelList());
          long started = System.nanoTime();
          Process process = streaming
              ? streamingRuntime("aigw.proxy.ProxyHandler::handleRequest", taskRoot, env, api)
              : runtime("aigw.proxy.ProxyHandler::handleRequest", taskRoot, layerJars(), env, api);
          try {
            long polled = api.firstPollNanos.get(60, TimeUnit.SECONDS);
            long asked = System.nanoTime();
            assertThat(status(answer(api, "proxy-chat-completions.json", process))).isEqualTo(200);
            if (run >= 0) { // run -1 warms up
              init.computeIfAbsent(name, n -> new ArrayList<>()).add(TimeUnit.NANOSECONDS.toMillis(polled - started));
              first.computeIfAbsent(name, n -> new ArrayList<>()).add(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - asked));
            }
          } finally {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
          }
        }
      }
    }
    init.forEach((name, millis) -> System.out.println("Init, " + name + ": median " + median(millis) + " ms of " + millis));
    first.forEach((name, millis) -> System.out.println("First chat completion, " + name + ": median " + median(millis) + " ms of " + millis));
  }

  /**
   * Issue 14's init target: each packaged function's init (process start to first poll) under the
   * runtime interface client, against a trivial handler's, as a table of medians and ratios. Fair
   * by construction: every process, the trivial one included, gets template.yaml's global
   * JAVA_TOOL_OPTIONS (C1 only), and the five run in turns (after one warm-up turn) so that a burst
   * of load on a shared machine spreads over all. A measurement, not a check: only with
   * -Daigw.measureInit=true (about a minute; -Daigw.measureRuns=N turns, 5 by default).
   *
   * <p>Beside the wall time, the CPU time at the first poll (Linux only): of the whole process, and
   * of the thread that ran the init (the runtime's main thread). On a machine whose cores other
   * work keeps busy, the wall time measures the load more than the init; the init thread's CPU time
   * is the init's critical path as two free cores would run it (the JVM's compiler and GC threads,
   * and aigw's second init thread, run beside it), and the process's CPU time is the work in all.
   *
   * <p>A JVM option is compared in the same turns with -Daigw.measureInit.variant="OPTIONS": a
   * second trivial handler, proxy, admin and master key rotation function run with the options added
   * to JAVA_TOOL_OPTIONS, and their ratios are to that trivial handler's (an option the template would
   * set reaches the trivial handler too, as the measurement's fairness wants).
   */
  private static final String VARIANT = "variant ";

  @Test
  void initOfEachFunctionAgainstATrivialHandler() throws Exception {
    assumeTrue(Boolean.getBoolean("aigw.measureInit"), "a measurement: run with -Daigw.measureInit=true");
    String javaToolOptions = template.at("/Globals/Function/Environment/Variables/JAVA_TOOL_OPTIONS").asText();
    assertThat(javaToolOptions).as("the template's JVM options").isNotBlank();
    Path testClasses = Path.of(TrivialHandler.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    record Launch(String name, String handler, Path taskRoot, String function, boolean streaming, Path layer, String jvmOptions) {
      Launch(String name, String handler, Path taskRoot, String function, boolean streaming, Path layer) {
        this(name, handler, taskRoot, function, streaming, layer, "");
      }
    }
    Path layer = RepoFiles.resolve("layers/core/target/layer/java/lib");
    var launches = new ArrayList<>(List.of(
        new Launch("trivial handler", TrivialHandler.class.getName() + "::handleRequest", testClasses, null, false, null),
        new Launch("ProxyFunction, runtime interface client", "aigw.proxy.ProxyHandler::handleRequest",
            RepoFiles.resolve("functions/proxy/target/function"), "ProxyFunction", false, layer),
        new Launch("ProxyFunction, streaming runtime", "aigw.proxy.ProxyHandler::handleRequest",
            RepoFiles.resolve("functions/proxy/target/function"), "ProxyFunction", true, layer),
        new Launch("AdminFunction", "aigw.admin.AdminHandler::handleRequest",
            RepoFiles.resolve("functions/admin/target/function"), "AdminFunction", false, layer),
        new Launch("MasterKeyRotationFunction", "aigw.rotation.MasterKeyRotationHandler::handleRequest",
            RepoFiles.resolve("functions/rotation/target/function"), "MasterKeyRotationFunction", false, layer)));
    // An A/B in the same turns: -Daigw.measureInit.baseline=DIR, a directory holding another build's
    // functions/*/target/function and layers/core/target/layer (e.g. main's), whose proxy (runtime
    // interface client), admin and master key rotation functions then run in each turn beside this build's.
    String baseline = System.getProperty("aigw.measureInit.baseline");
    if (baseline != null && !baseline.isBlank()) {
      Path base = Path.of(baseline);
      Path baseLayer = base.resolve("layers/core/target/layer/java/lib");
      launches.add(2, new Launch("baseline ProxyFunction, runtime interface client", "aigw.proxy.ProxyHandler::handleRequest",
          base.resolve("functions/proxy/target/function"), "ProxyFunction", false, baseLayer));
      launches.add(5, new Launch("baseline AdminFunction", "aigw.admin.AdminHandler::handleRequest",
          base.resolve("functions/admin/target/function"), "AdminFunction", false, baseLayer));
      launches.add(new Launch("baseline MasterKeyRotationFunction", "aigw.rotation.MasterKeyRotationHandler::handleRequest",
          base.resolve("functions/rotation/target/function"), "MasterKeyRotationFunction", false, baseLayer));
    }
    // A JVM option's A/B in the same turns: -Daigw.measureInit.variant="..." adds a second trivial
    // handler, proxy (runtime interface client), admin and master key rotation function launched with
    // these options too; the variant's ratios are to its own trivial handler's.
    String variant = System.getProperty("aigw.measureInit.variant", "").strip();
    if (!variant.isEmpty()) {
      for (var launch : List.copyOf(launches)) {
        if (!launch.streaming() && !launch.name().startsWith("baseline ")) {
          launches.add(new Launch(VARIANT + launch.name(), launch.handler(), launch.taskRoot(), launch.function(), false, launch.layer(), variant));
        }
      }
    }
    // Profiling: -Daigw.measureInit.jvmOptions="..." is added to every launch's JAVA_TOOL_OPTIONS (e.g.
    // -Xlog:class+load or a flight recording, whose file is written when the process is stopped).
    String profiling = System.getProperty("aigw.measureInit.jvmOptions", "").strip();
    var init = new java.util.LinkedHashMap<String, List<Long>>();
    var initThreadCpu = new java.util.LinkedHashMap<String, List<Long>>();
    var processCpu = new java.util.LinkedHashMap<String, List<Long>>();
    int runs = Integer.getInteger("aigw.measureRuns", 5);
    for (int run = -1; run < runs; run++) {
      for (var launch : launches) {
        try (var api = new RuntimeApiStandIn()) {
          Map<String, String> env = new HashMap<>(launch.function() == null
              ? Map.of("AWS_REGION", "us-east-1", "JAVA_TOOL_OPTIONS", javaToolOptions)
              : functionEnvironment(launch.function(), testModelList()));
          assertThat(env.get("JAVA_TOOL_OPTIONS")).as(launch.name()).isEqualTo(javaToolOptions);
          String extra = (launch.jvmOptions() + " " + profiling).strip();
          if (!extra.isEmpty()) {
            env.put("JAVA_TOOL_OPTIONS", javaToolOptions + " " + extra);
          }
          long started = System.nanoTime();
          Process process = launch.streaming()
              ? streamingRuntime(launch.handler(), launch.taskRoot(), env, api)
              : runtime(launch.handler(), launch.taskRoot(), launch.layer() == null ? List.of() : jarsIn(launch.layer()), env, api);
          try {
            long polled = api.firstPollNanos.get(60, TimeUnit.SECONDS);
            long[] cpu = cpuMillis(process);
            if (run >= 0) { // run -1 warms up
              init.computeIfAbsent(launch.name(), n -> new ArrayList<>()).add(TimeUnit.NANOSECONDS.toMillis(polled - started));
              if (cpu != null) {
                processCpu.computeIfAbsent(launch.name(), n -> new ArrayList<>()).add(cpu[0]);
                initThreadCpu.computeIfAbsent(launch.name(), n -> new ArrayList<>()).add(cpu[1]);
              }
            }
          } finally {
            if (!profiling.isEmpty()) {
              process.destroy(); // a flight recording is written at the JVM's exit, which SIGKILL skips
              process.waitFor(20, TimeUnit.SECONDS);
            }
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
          }
        }
      }
    }
    var table = new java.io.StringWriter();
    var out = new java.io.PrintWriter(table);
    java.util.function.Function<String, Long> trivialOf = name -> median(init.get(name.startsWith(VARIANT) ? VARIANT + "trivial handler" : "trivial handler"));
    out.printf(java.util.Locale.ROOT, "Init under the runtime interface client, median of %d turns, every JVM with JAVA_TOOL_OPTIONS=%s%n", runs, javaToolOptions);
    out.printf(java.util.Locale.ROOT, "  %-42s %8s %7s  %s%n", "function", "median", "ratio", "target <= 2.0x / runs (ms)");
    init.forEach((name, millis) -> {
      double ratio = (double) median(millis) / trivialOf.apply(name);
      out.printf(java.util.Locale.ROOT, "  %-42s %5d ms %6.2fx  %s %s%n", name, median(millis), ratio,
          name.endsWith("trivial handler") ? "baseline" : ratio <= 2.0 ? "met" : String.format(java.util.Locale.ROOT, "missed by %.2fx", ratio - 2.0), millis);
    });
    if (!initThreadCpu.isEmpty()) {
      java.util.function.Function<String, String> trivialName = name -> name.startsWith(VARIANT) ? VARIANT + "trivial handler" : "trivial handler";
      out.printf(java.util.Locale.ROOT, "CPU time at the first poll, medians: the init thread's (the critical path) and the process's (all work)%n");
      initThreadCpu.forEach((name, millis) -> out.printf(java.util.Locale.ROOT, "  %-42s init thread %5d ms %5.2fx  process %5d ms %5.2fx  %s %s%n",
          name, median(millis), (double) median(millis) / median(initThreadCpu.get(trivialName.apply(name))), median(processCpu.get(name)),
          (double) median(processCpu.get(name)) / median(processCpu.get(trivialName.apply(name))), millis, processCpu.get(name)));
    }
    if (!variant.isEmpty()) {
      out.printf(java.util.Locale.ROOT, "  (%s: every JVM with JAVA_TOOL_OPTIONS=%s %s)%n", VARIANT.strip(), javaToolOptions, variant);
    }
    out.flush();
    System.out.print(table);
    // Each surefire execution of a -Dtest run writes the same report file: -Daigw.measureInit.appendTo=FILE keeps every table.
    String appendTo = System.getProperty("aigw.measureInit.appendTo");
    if (appendTo != null && !appendTo.isBlank()) {
      Files.writeString(Path.of(appendTo), table.toString(), StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
    }
  }

  /**
   * CPU time (user and system) of a running process and of its busiest thread named "java" (the
   * launcher's main thread, which runs the runtime and so the init), in milliseconds; null where
   * /proc cannot tell (not Linux).
   */
  private static long[] cpuMillis(Process process) {
    Path proc = Path.of("/proc", Long.toString(process.pid()));
    try (var tasks = Files.list(proc.resolve("task"))) {
      long initThread = 0;
      for (Path task : tasks.toList()) {
        try {
          String stat = Files.readString(task.resolve("stat"));
          if (stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')')).equals("java")) {
            initThread = Math.max(initThread, ticks(stat));
          }
        } catch (IOException ended) {
          // the thread ended meanwhile
        }
      }
      return new long[] {ticksToMillis(ticks(Files.readString(proc.resolve("stat")))), ticksToMillis(initThread)};
    } catch (IOException | RuntimeException notLinux) {
      return null;
    }
  }

  /** utime + stime of a /proc stat line (fields 14 and 15), in clock ticks. */
  private static long ticks(String stat) {
    String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    return Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
  }

  /** Clock ticks are USER_HZ, 100 a second on Linux (getconf CLK_TCK). */
  private static long ticksToMillis(long ticks) {
    return ticks * 10;
  }

  private static long median(List<Long> values) {
    var sorted = values.stream().sorted().toList();
    return sorted.get(sorted.size() / 2);
  }

  /** A managed runtime that started Java some other way gets a clear init failure, not a runtime that cannot stream. */
  @Test
  void theExecWrapperRefusesACommandLineWithoutTheRuntimeInterfaceClient() throws Exception {
    Path wrapper = RepoFiles.resolve("layers/core/target/layer/aigw/streaming-runtime");
    assumeTrue(Files.isRegularFile(wrapper), "built by ./mvnw package");
    String java = ProcessHandle.current().info().command().orElse("java");
    Process process = new ProcessBuilder(wrapper.toString(), java, "-cp", "/nowhere", "some.other.Main", "aigw.proxy.ProxyHandler::handleRequest")
        .redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor(10, TimeUnit.SECONDS)).isTrue();
    assertThat(process.exitValue()).isEqualTo(1);
    assertThat(output).contains("does not start com.amazonaws.services.lambda.runtime.api.client.AWSLambda; not starting");
  }

  /**
   * The streaming runtime's failures at init, reported as the runtime interface client reports
   * them (aws-lambda-java-libs, AWSLambda): a handler it cannot run, a SnapStart hook that fails
   * before the snapshot or after the restore.
   */
  @Test
  void theStreamingRuntimeReportsInitAndSnapStartHookFailuresAsTheRuntimeInterfaceClientDoes() throws Exception {
    Path testClasses = Path.of(HookedHandler.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    record Case(String handler, String failHook, String reportedTo, String errorType, String message, int exitCode) {}
    for (var c : List.of(
        new Case(TrivialHandler.class.getName() + "::handleRequest", "", "init-error", "Runtime.BadFunctionCode", "does not implement aigw.core.lambda.StreamingFunction", 1),
        new Case(HookedHandler.class.getName() + "::handleRequest", "before", "init-error", "Runtime.BeforeCheckpointError", "a resource failed before the snapshot", 64),
        new Case(HookedHandler.class.getName() + "::handleRequest", "after", "restore-error", "Runtime.AfterRestoreError", "a resource failed after the restore", 64))) {
      try (var api = new RuntimeApiStandIn()) {
        Process process = streamingRuntime(c.handler(), testClasses,
            Map.of("AWS_REGION", "us-east-1", "AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start", "FAIL_HOOK", c.failHook()), api);
        try {
          var reported = (c.reportedTo().equals("init-error") ? api.initError : api.restoreError).get(60, TimeUnit.SECONDS);
          assertThat(reported.header("Lambda-Runtime-Function-Error-Type")).as(c.toString()).isEqualTo(c.errorType());
          assertThat(Json.MAPPER.readTree(reported.body()).get("errorMessage").asText()).as(c.toString()).contains(c.message());
          assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
          assertThat(process.exitValue()).as(c.toString()).isEqualTo(c.exitCode());
          assertThat(api.requestLines().contains("GET /2018-06-01/runtime/restore/next")).as(c + ": restore/next")
              .isEqualTo(c.failHook().equals("after"));
          assertThat(api.firstPollNanos).as(c + ": no invocation is taken").isNotDone();
        } finally {
          process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      }
    }
  }

  @Test
  void aTrivialHandlerGivesTheInitBaseline() throws Exception {
    Path testClasses = Path.of(TrivialHandler.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    try (var api = new RuntimeApiStandIn()) {
      long started = System.nanoTime();
      Process process = runtime(TrivialHandler.class.getName() + "::handleRequest", testClasses, List.of(), Map.of("AWS_REGION", "us-east-1"), api);
      try {
        INIT_MILLIS.put("trivial handler", TimeUnit.NANOSECONDS.toMillis(api.firstPollNanos.get(60, TimeUnit.SECONDS) - started));
        var outcome = api.invoke("{\"a\":1}".getBytes(StandardCharsets.UTF_8)).get(60, TimeUnit.SECONDS);
        assertThat(outcome.body()).isEqualTo("\"ok\"");
      } finally {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
  }
}

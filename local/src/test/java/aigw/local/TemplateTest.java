package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import aigw.core.testing.RepoFiles;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.events.APIGatewayProxyRequestEvent;
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
    assertThat(functions()).containsExactlyInAnyOrder("ProxyFunction", "AdminFunction");
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
            loader.loadClass(APIGatewayProxyRequestEvent.class.getName()),
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

  @Test
  void eachFunctionIsGrantedOnlyWhatItsCodeCalls() {
    Map<String, Set<String>> allowed =
        Map.of(
            "ProxyFunction", Set.of("dynamodb:GetItem", "dynamodb:UpdateItem", "secretsmanager:GetSecretValue"),
            // TransactWriteItems is authorised per item as PutItem, UpdateItem and DeleteItem.
            "AdminFunction",
                Set.of("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                    "dynamodb:Scan", "secretsmanager:GetSecretValue"));
    for (String function : functions()) {
      var granted = new HashSet<String>();
      for (JsonNode policy : resources.path(function).path("Properties").path("Policies")) {
        for (JsonNode statement : policy.path("Statement")) {
          JsonNode actions = statement.path("Action");
          (actions.isArray() ? actions : List.of(actions)).forEach(a -> granted.add(a.asText()));
          JsonNode resource = statement.path("Resource");
          var mayTouch =
              function.equals("ProxyFunction")
                  ? List.of("KeysTable.Arn", "MasterKeySecret", "ProviderCredentialsSecret")
                  : List.of("KeysTable.Arn", "MasterKeySecret"); // the admin never reads provider keys
          (resource.isArray() ? resource : List.of(resource))
              .forEach(r -> assertThat(r.asText()).as(function + " resource").isIn(mayTouch));
        }
      }
      assertThat(granted).as(function).isEqualTo(allowed.get(function));
    }
  }

  @Test
  void noSecretIsAParameterOrAnOutput() {
    template.path("Parameters").fields().forEachRemaining(p -> {
      assertThat(p.getKey().toLowerCase()).doesNotContain("masterkey").doesNotContain("apikey");
      assertThat(p.getValue().path("Default").asText()).doesNotStartWith("sk-");
    });
    template.path("Outputs").fields().forEachRemaining(o ->
        assertThat(o.getValue().path("Value").toString()).doesNotContain("SecretString").doesNotContain("resolve:secretsmanager"));
    assertThat(resources.path("MasterKeySecret").path("Properties").has("GenerateSecretString")).isTrue();
    assertThat(resources.path("MasterKeySecret").path("Properties").has("SecretString")).isFalse();
  }
}

package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.testing.RepoFiles;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * CORS on AWS: the template's origin list reaches both API functions, and every API route sends
 * OPTIONS (the browser's preflight) and HEAD to its function, where ApiGatewayEvents answers them;
 * a route with one method would leave the preflight to API Gateway's 403.
 */
class CorsTemplateTest {
  @Test
  void theOriginListReachesBothFunctionsAndEveryRouteTakesAnyMethod() throws IOException {
    // Jackson reads "!Ref Name" as the scalar "Name".
    JsonNode template = new ObjectMapper(new YAMLFactory()).readTree(RepoFiles.resolve("template.yaml").toFile());
    JsonNode parameter = template.path("Parameters").path("CorsAllowedOrigins");
    assertThat(parameter.path("Default").asText()).as("off unless asked").isEmpty();
    for (String function : List.of("ProxyFunction", "AdminFunction")) {
      JsonNode properties = template.path("Resources").path(function).path("Properties");
      assertThat(properties.path("Environment").path("Variables").path("AIGW_CORS_ALLOWED_ORIGINS").asText())
          .as(function)
          .isEqualTo("CorsAllowedOrigins");
    }
    // The API's routes are its OpenAPI definition: each must pass every method to its function.
    JsonNode paths = template.path("Resources").path("Api").path("Properties").path("DefinitionBody").path("paths");
    assertThat(paths.size()).as("routes").isGreaterThanOrEqualTo(7);
    paths.fields().forEachRemaining(route -> {
      assertThat(route.getValue().fieldNames()).toIterable().as(route.getKey()).containsExactly("x-amazon-apigateway-any-method");
    });
  }
}

package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.json.Json;
import aigw.core.testing.RepoFiles;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The proxy function's Bedrock permission, on the template as SAM's own translator turns it into
 * CloudFormation ({@link TransformedTemplateTest#transform}): bedrock:InvokeModel and
 * bedrock:InvokeModelWithResponseStream (the actions Converse, ConverseStream and Claude's native
 * InvokeModel calls are authorized by) and bedrock:CountTokens (count_tokens on Claude) on exactly
 * the ARNs of the {@code BedrockModelArns} parameter, and no Bedrock statement at
 * all while it is empty (its default).
 */
class BedrockTemplateTest {
  private static final Map<String, String> ARTIFACTS =
      Map.of("CoreLayer", "s3://aigw-artifacts/layer-aaaa", "ProxyFunction", "s3://aigw-artifacts/proxy-1111",
          "AdminFunction", "s3://aigw-artifacts/admin-2222", "KeyRotationScheduleFunction", "s3://aigw-artifacts/rotation-3333",
          "MasterKeyRotationFunction", "s3://aigw-artifacts/rotation-3333");

  @Test
  void theProxyMayInvokeOnlyTheListedBedrockArnsAndNothingOnBedrockByDefault() throws Exception {
    JsonNode resources = TransformedTemplateTest.transform(ARTIFACTS, Map.of());
    JsonNode template = new ObjectMapper(new YAMLFactory()).readTree(RepoFiles.resolve("template.yaml").toFile());

    List<JsonNode> bedrock = new ArrayList<>();
    resources.fields().forEachRemaining(resource -> {
      if ("AWS::IAM::Role".equals(resource.getValue().path("Type").asText())) {
        for (JsonNode policy : resource.getValue().path("Properties").path("Policies")) {
          if (policy.toString().contains("bedrock:")) {
            assertThat(resource.getKey()).as("only the proxy function calls Bedrock").isEqualTo("ProxyFunctionRole");
            bedrock.add(policy);
          }
        }
      }
    });
    assertThat(bedrock).as("one policy, which holds nothing else").hasSize(1);
    JsonNode guarded = bedrock.getFirst().path("Fn::If");
    assertThat(guarded.get(0).asText()).isEqualTo("InvokesBedrock");
    assertThat(guarded.get(1).path("PolicyDocument").path("Statement")).isEqualTo(Json.MAPPER.readTree("""
        [{"Effect":"Allow","Action":["bedrock:InvokeModel","bedrock:InvokeModelWithResponseStream","bedrock:CountTokens"],"Resource":{"Ref":"BedrockModelArns"}}]"""));
    assertThat(guarded.get(2)).as("no policy otherwise").isEqualTo(Json.MAPPER.readTree("{\"Ref\":\"AWS::NoValue\"}"));
    // The condition holds exactly when the list joins to something: an empty default grants nothing.
    JsonNode parameter = template.path("Parameters").path("BedrockModelArns");
    assertThat(parameter.path("Type").asText()).isEqualTo("CommaDelimitedList");
    assertThat(parameter.path("Default").asText()).isEmpty();
    assertThat(TransformedTemplateTest.lastConditions.path("InvokesBedrock"))
        .isEqualTo(Json.MAPPER.readTree("""
            {"Fn::Not":[{"Fn::Equals":[{"Fn::Join":["",{"Ref":"BedrockModelArns"}]},""]}]}"""));
  }
}

package aigw.core.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.testing.RepoFiles;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ModelListTest {
  private static List<Deployment> read(String yaml, Map<String, String> env) {
    return ModelList.read(new ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8)), "test.yaml", env);
  }

  @Test
  void readsLiteLlmModelListWithEnvironmentKeys() {
    var deployments =
        read(
            """
            model_list:
              - model_name: gpt-4o-mini
                litellm_params:
                  model: openai/gpt-4o-mini
                  api_key: os.environ/OPENAI_API_KEY
                  timeout: 12.5
              - model_name: fast
                litellm_params:
                  model: groq/llama-3.1-8b-instant
                  api_key: os.environ/GROQ_API_KEY
            router_settings:
              timeout: 30
            """,
            Map.of("OPENAI_API_KEY", "sk-from-env"));
    assertThat(deployments).hasSize(2);
    var openAi = deployments.get(0);
    assertThat(openAi.modelName()).isEqualTo("gpt-4o-mini");
    assertThat(openAi.provider()).isEqualTo(Provider.OPENAI);
    assertThat(openAi.upstreamModel()).isEqualTo("gpt-4o-mini");
    assertThat(openAi.apiBase()).hasToString("https://api.openai.com/v1");
    assertThat(openAi.apiKey()).isEqualTo("sk-from-env");
    assertThat(openAi.timeout()).isEqualTo(Duration.ofMillis(12_500));
    var groq = deployments.get(1);
    assertThat(groq.apiBase()).hasToString("https://api.groq.com/openai/v1");
    assertThat(groq.apiKey()).isNull(); // GROQ_API_KEY unset: the deployment says so when called
    assertThat(groq.apiKeySource()).isEqualTo("os.environ/GROQ_API_KEY");
    assertThat(groq.timeout()).isEqualTo(Duration.ofSeconds(30));
    assertThat(openAi.toString()).doesNotContain("sk-from-env");
  }

  @Test
  void azureUsesTheV1ApiUnderTheResourceEndpoint() {
    var azure =
        read(
                """
                model_list:
                  - model_name: gpt-4o
                    litellm_params:
                      model: azure/my-deployment
                      api_base: https://res.openai.azure.com/
                      api_key: os.environ/AZURE_API_KEY
                """,
                Map.of("AZURE_API_KEY", "azure-key"))
            .get(0);
    assertThat(azure.apiBase()).hasToString("https://res.openai.azure.com/openai/v1");
    assertThat(azure.upstreamModel()).isEqualTo("my-deployment");
    assertThat(azure.provider().authStyle()).isEqualTo(Provider.AuthStyle.API_KEY_HEADER);
  }

  @Test
  void modelNamesWithSlashesKeepEverythingAfterTheProvider() {
    var vllm =
        read(
                """
                model_list:
                  - model_name: qwen
                    litellm_params: {model: hosted_vllm/Qwen/Qwen2.5-7B-Instruct, api_base: "http://localhost:8000/v1"}
                """,
                Map.of())
            .get(0);
    assertThat(vllm.upstreamModel()).isEqualTo("Qwen/Qwen2.5-7B-Instruct");
  }

  @Test
  void mistakesAreReportedWithTheEntryAndTheReason() {
    assertThatThrownBy(() -> read("model_list:\n  - model_name: x\n    litellm_params: {model: gpt-4o}\n", Map.of()))
        .isInstanceOf(InvalidConfig.class)
        .hasMessageContaining("model_list[0]")
        .hasMessageContaining("<provider>/<model>");
    assertThatThrownBy(() -> read("model_list:\n  - model_name: x\n    litellm_params: {model: nosuch/m}\n", Map.of()))
        .hasMessageContaining("provider 'nosuch' is not supported");
    assertThatThrownBy(() -> read("model_list:\n  - litellm_params: {model: openai/m}\n", Map.of()))
        .hasMessageContaining("model_name is required");
    assertThatThrownBy(() -> read("model_list:\n  - model_name: x\n    litellm_params: {model: hosted_vllm/m}\n", Map.of()))
        .hasMessageContaining("needs api_base");
    // A variable may be set later (on AWS in the provider credentials secret): not a start error.
    assertThat(read("model_list:\n  - model_name: x\n    litellm_params: {model: hosted_vllm/m, api_base: os.environ/VLLM_BASE}\n", Map.of())
            .get(0).apiBaseSource())
        .isEqualTo("os.environ/VLLM_BASE");
    assertThatThrownBy(() -> read("model_list: [oops\n", Map.of())).hasMessageContaining("not valid YAML");
    assertThatThrownBy(() -> read("model_list:\n  - model_name: x\n    litellm_params: {model: openai/m, timeout: 0}\n", Map.of()))
        .hasMessageContaining("more than 0 seconds");
    assertThatThrownBy(() -> read("model_list:\n  - model_name: x\n    litellm_params: {model: openai/m, api_base: 'ftp://x'}\n", Map.of()))
        .hasMessageContaining("http(s)");
  }

  @Test
  void theShippedExampleConfigIsValid() {
    var deployments = ModelList.read(RepoFiles.resolve("local/config.example.yaml"), Map.of("OPENAI_API_KEY", "sk-x"));
    assertThat(deployments).extracting(Deployment::modelName).contains("gpt-4o-mini", "text-embedding-3-small");
  }

  @Test
  void readsAzuresApiVersionLiterallyOrFromTheEnvironment() {
    var deployments =
        read(
            """
            model_list:
              - model_name: dated
                litellm_params: {model: azure/dep-a, api_base: https://res.openai.azure.com/openai, api_key: os.environ/K, api_version: 2024-10-21}
              - model_name: from-env
                litellm_params: {model: azure/dep-b, api_base: https://res.openai.azure.com, api_key: os.environ/K, api_version: os.environ/AZURE_API_VERSION}
              - model_name: v1
                litellm_params: {model: azure/dep-c, api_base: https://res.openai.azure.com, api_key: os.environ/K}
            """,
            Map.of("K", "k", "AZURE_API_VERSION", " 2025-04-01-preview "));

    assertThat(deployments.get(0).apiVersion()).isEqualTo("2024-10-21");
    assertThat(deployments.get(0).apiBase()).as("no second /openai").hasToString("https://res.openai.azure.com/openai/v1");
    assertThat(deployments.get(1).apiVersion()).isEqualTo("2025-04-01-preview");
    assertThat(deployments.get(2).apiVersion()).isNull();
    assertThat(deployments.get(0).withApiKey("other").apiVersion()).as("kept when the credential is renewed").isEqualTo("2024-10-21");
  }

  @Test
  void refusesAnAzureApiVersionAzureDoesNotHave() {
    assertThatThrownBy(
            () ->
                read(
                    """
                    model_list:
                      - model_name: gpt-4o
                        litellm_params: {model: azure/dep, api_base: https://res.openai.azure.com, api_key: os.environ/K, api_version: 2024-10}
                    """,
                    Map.of("K", "k")))
        .isInstanceOf(InvalidConfig.class)
        .hasMessageContaining("model_list[0] (gpt-4o)")
        .hasMessageContaining("api_version '2024-10' is not an Azure OpenAI API version");
  }

  @Test
  void bedrockSignsForItsRegionAtBedrocksRegionalEndpointOrTheOneConfigured() {
    String yaml =
        """
        model_list:
          - model_name: claude
            litellm_params: {model: bedrock/us.anthropic.claude-3-7-sonnet-20250219-v1:0, aws_region_name: eu-west-1}
          - model_name: nova
            litellm_params: {model: bedrock/amazon.nova-lite-v1:0}
          - model_name: private
            litellm_params:
              model: bedrock/arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-pro-v1:0
              aws_region_name: os.environ/BEDROCK_REGION
              aws_bedrock_runtime_endpoint: os.environ/BEDROCK_ENDPOINT
        """;
    var deployments =
        read(yaml, Map.of("AWS_REGION", "us-west-2", "BEDROCK_REGION", "us-east-1", "BEDROCK_ENDPOINT", "https://vpce-0a1b.bedrock-runtime.us-east-1.vpce.amazonaws.com/"));
    assertThat(deployments.get(0).provider()).isEqualTo(Provider.BEDROCK);
    assertThat(deployments.get(0).upstreamModel()).isEqualTo("us.anthropic.claude-3-7-sonnet-20250219-v1:0");
    assertThat(deployments.get(0).awsRegion()).isEqualTo("eu-west-1");
    assertThat(deployments.get(0).apiBase()).hasToString("https://bedrock-runtime.eu-west-1.amazonaws.com");
    assertThat(deployments.get(0).apiKey()).isNull();
    assertThat(deployments.get(1).awsRegion()).as("the function's own region").isEqualTo("us-west-2");
    assertThat(deployments.get(1).apiBase()).hasToString("https://bedrock-runtime.us-west-2.amazonaws.com");
    assertThat(deployments.get(2).upstreamModel()).isEqualTo("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-pro-v1:0");
    assertThat(deployments.get(2).awsRegion()).isEqualTo("us-east-1");
    assertThat(deployments.get(2).apiBase()).hasToString("https://vpce-0a1b.bedrock-runtime.us-east-1.vpce.amazonaws.com");
  }

  /** China's regions are another partition, whose endpoints end in amazonaws.com.cn; GovCloud's in amazonaws.com. */
  @Test
  void bedrocksDefaultEndpointIsInTheRegionsPartition() {
    String yaml =
        """
        model_list:
          - model_name: beijing
            litellm_params: {model: bedrock/amazon.nova-lite-v1:0, aws_region_name: cn-north-1}
          - model_name: ningxia
            litellm_params: {model: bedrock/amazon.nova-lite-v1:0}
          - model_name: govcloud
            litellm_params: {model: bedrock/amazon.nova-lite-v1:0, aws_region_name: us-gov-west-1}
        """;
    var deployments = read(yaml, Map.of("AWS_REGION", "cn-northwest-1"));
    assertThat(deployments.get(0).apiBase()).hasToString("https://bedrock-runtime.cn-north-1.amazonaws.com.cn");
    assertThat(deployments.get(1).apiBase()).hasToString("https://bedrock-runtime.cn-northwest-1.amazonaws.com.cn");
    assertThat(deployments.get(2).apiBase()).hasToString("https://bedrock-runtime.us-gov-west-1.amazonaws.com");
  }

  @Test
  void aBedrockModelWithoutARegionOrWithAnUnsetEndpointStopsTheStart() {
    assertThatThrownBy(() -> read("model_list:\n  - model_name: c\n    litellm_params: {model: bedrock/amazon.nova-lite-v1:0}\n", Map.of()))
        .isInstanceOf(InvalidConfig.class)
        .hasMessageContaining("model_list[0] (c)")
        .hasMessageContaining("needs litellm_params.aws_region_name");
    assertThatThrownBy(
            () -> read("model_list:\n  - model_name: c\n    litellm_params: {model: bedrock/m.m, aws_region_name: 'us-east-1.evil.com/'}\n", Map.of()))
        .hasMessageContaining("is not an AWS region");
    assertThatThrownBy(
            () -> read(
                "model_list:\n  - model_name: c\n    litellm_params: {model: bedrock/m.m, aws_bedrock_runtime_endpoint: os.environ/VPCE}\n",
                Map.of("AWS_REGION", "us-east-1")))
        .hasMessageContaining("os.environ/VPCE (aws_bedrock_runtime_endpoint) is not set");
  }
}

package aigw.core.config;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.testing.Logs;
import aigw.core.testing.RepoFiles;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A LiteLLM config copied as it is: every setting aigw does not honour is named at start, no value leaks. */
class LiteLlmSettingsTest {
  private static final String LITERAL_PROVIDER_KEY = "sk-proj-literal-provider-key-in-file-9f3c";
  private static final String MASTER_IN_FILE = "sk-litellm-master-in-file-1234";

  private static List<String> warningsReading(String yaml) {
    return Logs.messages(
        ModelList.class,
        () -> ModelList.read(new ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8)), "config.yaml", Map.of("OPENAI_API_KEY", "sk-env")));
  }

  @Test
  void litellmHabitsAreEachNamedOnceWithWhatToDoInstead() {
    var warnings =
        warningsReading(
            """
            model_list:
              - model_name: gpt-4o
                litellm_params:
                  model: openai/gpt-4o
                  api_key: %s
                model_info:
                  mode: chat
              - model_name: gpt-4o-mini
                litellm_params:
                  model: openai/gpt-4o-mini
                  api_key: os.environ/OPENAI_API_KEY
            general_settings:
              master_key: %s
              database_url: postgresql://user:pw@db/litellm
            router_settings:
              timeout: 30
              routing_strategy: least-busy
              model_group_alias: {gpt4: gpt-4o}
            litellm_settings:
              drop_params: true
              model_alias_map: {gpt-4: gpt-4o}
            model_group_alias: {gpt4: gpt-4o}
            environment_variables:
              OPENAI_API_KEY: sk-in-environment-variables-5678
            """
                .formatted(LITERAL_PROVIDER_KEY, MASTER_IN_FILE));

    assertThat(warnings).filteredOn(w -> w.contains("general_settings.master_key")).singleElement().asString()
        .contains("AIGW_MASTER_KEY").contains("MasterKeySecret");
    assertThat(warnings).filteredOn(w -> w.contains("general_settings.database_url")).singleElement().asString().contains("DynamoDB");
    for (String alias : List.of("router_settings.model_group_alias", "litellm_settings.model_alias_map", ": model_group_alias is ignored")) {
      assertThat(warnings).as(alias).filteredOn(w -> w.contains(alias)).singleElement().asString().contains("model_name is the alias");
    }
    assertThat(warnings).filteredOn(w -> w.contains("router_settings.routing_strategy")).hasSize(1);
    assertThat(warnings).filteredOn(w -> w.contains("litellm_settings.drop_params")).hasSize(1);
    assertThat(warnings).noneMatch(w -> w.contains("router_settings.timeout is ignored"));
    assertThat(warnings).filteredOn(w -> w.contains("environment_variables")).singleElement().asString()
        .contains("OPENAI_API_KEY").contains("os.environ/NAME");
    assertThat(warnings).filteredOn(w -> w.contains("model_info")).singleElement().asString().contains("gpt-4o");
    assertThat(warnings).filteredOn(w -> w.contains("litellm_params.api_key is written in the file")).singleElement().asString()
        .contains("(gpt-4o)").contains("sk-...9f3c").contains("os.environ/NAME");
    assertThat(warnings).noneMatch(w -> w.contains("gpt-4o-mini) "));

    // No secret in any line: the master key, the literal provider key, environment_variables' values, the database password.
    assertThat(String.join("\n", warnings))
        .doesNotContain(LITERAL_PROVIDER_KEY)
        .doesNotContain(MASTER_IN_FILE)
        .doesNotContain("sk-in-environment-variables")
        .doesNotContain("pw@db");
  }

  @Test
  void theFilesAigwShipsStartWithoutAWarning() throws IOException {
    for (String file : List.of("layers/core/models.yaml", "local/config.example.yaml")) {
      try (InputStream in = Files.newInputStream(RepoFiles.resolve(file))) {
        var warnings = Logs.messages(ModelList.class, () -> ModelList.read(in, file, Map.of("OPENAI_API_KEY", "sk-env", "AZURE_API_KEY", "k")));
        assertThat(warnings).as(file).noneMatch(w -> w.contains("is ignored") || w.contains("written in the file"));
      }
    }
  }
}

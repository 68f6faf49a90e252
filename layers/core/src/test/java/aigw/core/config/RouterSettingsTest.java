package aigw.core.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.testing.Logs;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RouterSettingsTest {
  private static final String MODELS =
      """
      model_list:
        - model_name: gpt-4o
          litellm_params: {model: openai/gpt-4o, api_key: os.environ/OPENAI_API_KEY}
        - model_name: gpt-4o-mini
          litellm_params: {model: openai/gpt-4o-mini, api_key: os.environ/OPENAI_API_KEY}
        - model_name: claude
          litellm_params: {model: anthropic/claude-sonnet-4-5, api_key: os.environ/OPENAI_API_KEY}
      """;

  private static ModelList.Config read(String yaml) {
    return ModelList.readConfig(new ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8)), "config.yaml", Map.of("OPENAI_API_KEY", "sk-env"));
  }

  @Test
  void litellmsRouterSettingsAreReadWithTheirNames() {
    var settings =
        read(MODELS + """
            router_settings:
              num_retries: 2
              timeout: 30
              fallbacks: [{gpt-4o: [gpt-4o-mini, claude]}]
              context_window_fallbacks: [{gpt-4o-mini: [claude]}]
              allowed_fails: 1
              cooldown_time: 30
              retry_after: 0.5
              max_fallbacks: 2
            """).router();

    assertThat(settings.numRetries()).isEqualTo(2);
    assertThat(settings.fallbacks()).containsExactly(Map.entry("gpt-4o", List.of("gpt-4o-mini", "claude")));
    assertThat(settings.contextWindowFallbacks()).containsExactly(Map.entry("gpt-4o-mini", List.of("claude")));
    assertThat(settings.allowedFails()).isEqualTo(1);
    assertThat(settings.cooldownTime()).isEqualTo(Duration.ofSeconds(30));
    assertThat(settings.retryAfter()).isEqualTo(Duration.ofMillis(500));
    assertThat(settings.maxFallbacks()).isEqualTo(2);
  }

  @Test
  void withoutRouterSettingsNothingIsRetriedAndLiteLlmsCooldownDefaultsApply() {
    var settings = read(MODELS).router();

    assertThat(settings).isEqualTo(RouterSettings.defaults());
    assertThat(settings.numRetries()).isZero();
    assertThat(settings.allowedFails()).isEqualTo(3);
    assertThat(settings.cooldownTime()).isEqualTo(Duration.ofSeconds(5));
  }

  @Test
  void litellmSettingsMayHoldRetriesAndFallbacksAsInLiteLlm() {
    var settings = read(MODELS + """
        litellm_settings:
          num_retries: 3
          fallbacks: [{gpt-4o: claude}]
        """).router();

    assertThat(settings.numRetries()).isEqualTo(3);
    assertThat(settings.fallbacks()).containsEntry("gpt-4o", List.of("claude"));
  }

  @Test
  void aFallbackToAGroupThatDoesNotExistStopsTheStart() {
    assertThatThrownBy(() -> read(MODELS + "router_settings:\n  fallbacks: [{gpt-4o: [gpt-5]}]\n"))
        .isInstanceOf(InvalidConfig.class)
        .hasMessageContaining("fallbacks.gpt-4o names 'gpt-5', which is no model_name of model_list");
    assertThatThrownBy(() -> read(MODELS + "router_settings:\n  num_retries: two\n"))
        .isInstanceOf(InvalidConfig.class)
        .hasMessageContaining("num_retries must be a whole number");
  }

  @Test
  void honouredSettingsAreNotWarnedAboutAndTheOthersStillAre() {
    var warnings = Logs.messages(ModelList.class, () -> read(MODELS + """
        router_settings:
          num_retries: 1
          allowed_fails: 2
          cooldown_time: 10
          fallbacks: [{gpt-4o: [claude]}]
          routing_strategy: least-busy
          content_policy_fallbacks: [{gpt-4o: [claude]}]
        """));

    assertThat(warnings).noneMatch(w -> w.contains("num_retries is ignored") || w.contains("allowed_fails is ignored")
        || w.contains("cooldown_time is ignored") || w.contains("router_settings.fallbacks is ignored"));
    assertThat(warnings).anyMatch(w -> w.contains("router_settings.routing_strategy is ignored"));
    assertThat(warnings).anyMatch(w -> w.contains("router_settings.content_policy_fallbacks is ignored"));
  }
}

package aigw.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.config.Deployment;
import aigw.core.config.Provider;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Which models {@code /v1/messages} passes through natively ({@link MessagesEndpoint#passedThrough}):
 * those whose every reachable deployment (fallbacks included) is Claude, at Anthropic or on Amazon
 * Bedrock; one other deployment makes the whole call take the translated way.
 */
class MessagesPassThroughDecisionTest {
  private static Deployment deployment(Provider provider, String model) {
    return new Deployment("m", provider, model, URI.create("http://127.0.0.1:1"), null, null, Duration.ofSeconds(5), null, null, null,
        provider == Provider.BEDROCK ? "us-east-1" : null);
  }

  private static final Deployment ANTHROPIC = deployment(Provider.ANTHROPIC, "claude-sonnet-4-5-20250929");
  private static final Deployment BEDROCK_CLAUDE = deployment(Provider.BEDROCK, "us.anthropic.claude-sonnet-4-5-20250929-v1:0");
  private static final Deployment BEDROCK_CLAUDE_ARN =
      deployment(Provider.BEDROCK, "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0");
  private static final Deployment BEDROCK_NOVA = deployment(Provider.BEDROCK, "amazon.nova-lite-v1:0");
  private static final Deployment OPENAI = deployment(Provider.OPENAI, "gpt-4o-mini");

  @Test
  void claudeOnBedrockIsPassedThroughAloneAndBesideAnthropic() {
    assertThat(MessagesEndpoint.passedThrough(List.of(BEDROCK_CLAUDE))).isTrue();
    assertThat(MessagesEndpoint.passedThrough(List.of(BEDROCK_CLAUDE_ARN, ANTHROPIC, BEDROCK_CLAUDE))).isTrue();
    assertThat(MessagesEndpoint.passedThrough(List.of(ANTHROPIC))).isTrue();
  }

  @Test
  void anyOtherDeploymentInTheRotationMakesTheCallTranslated() {
    assertThat(MessagesEndpoint.passedThrough(List.of(BEDROCK_NOVA))).isFalse();
    assertThat(MessagesEndpoint.passedThrough(List.of(BEDROCK_CLAUDE, BEDROCK_NOVA))).isFalse();
    assertThat(MessagesEndpoint.passedThrough(List.of(ANTHROPIC, BEDROCK_CLAUDE, OPENAI))).isFalse();
  }
}

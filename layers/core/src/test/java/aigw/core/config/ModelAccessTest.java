package aigw.core.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

class ModelAccessTest {
  private static final Router ROUTER =
      new Router(
          List.of(
              deployment("gpt-4o-mini", Provider.OPENAI),
              deployment("gpt-4o", Provider.OPENAI),
              deployment("openai/gpt-4.1", Provider.OPENAI),
              deployment("llama3.2", Provider.OLLAMA)));

  private static Deployment deployment(String name, Provider provider) {
    return new Deployment(name, provider, name, URI.create("http://127.0.0.1:9/v1"), null, null, Duration.ofSeconds(5));
  }

  /** LiteLLM's is_model_allowed_by_pattern, with the pattern's other characters taken literally. */
  private static boolean reference(String pattern, String text) {
    String regex = Arrays.stream(pattern.split("\\*", -1)).map(Pattern::quote).collect(Collectors.joining(".*"));
    return Pattern.compile(regex, Pattern.DOTALL).matcher(text).matches();
  }

  @Provide
  Arbitrary<String> patterns() {
    return Arbitraries.strings().withChars("ab*/.-").ofMaxLength(8);
  }

  @Provide
  Arbitrary<String> names() {
    return Arbitraries.strings().withChars("ab/.-").ofMaxLength(10);
  }

  @Property(tries = 3000)
  void theGlobMatchesExactlyWhatTheRegexOfLiteLlmsRuleMatches(@ForAll("patterns") String pattern, @ForAll("names") String name) {
    assertThat(ModelAccess.globMatches(pattern, name)).isEqualTo(reference(pattern, name));
  }

  @Property(tries = 500)
  void everyNameMatchesItselfAndStarAndNoPatternWithoutStarButItself(@ForAll("names") String name, @ForAll("names") String other) {
    assertThat(ModelAccess.globMatches(name, name)).isTrue();
    assertThat(ModelAccess.globMatches("*", name)).isTrue();
    assertThat(ModelAccess.globMatches(name, other)).isEqualTo(name.equals(other));
  }

  // A backtracking matcher would take exponential time here (41 stars over 5,000 characters); the
  // greedy glob answers in one pass. No timing is asserted (timings belong in bench/): a regression
  // to backtracking shows as a hung build.
  @Test
  void aPatternWithManyStarsIsAnsweredWithoutBacktracking() {
    String pattern = "*a".repeat(40) + "*b";
    String text = "a".repeat(5000);
    assertThat(ModelAccess.globMatches(pattern, text)).isFalse();
    assertThat(ModelAccess.globMatches(pattern, text + "b")).isTrue();
  }

  @Test
  void emptyStarAndAllProxyModelsAllowEveryModelEvenOneTheGatewayDoesNotServe() {
    for (var entries : List.of(List.<String>of(), List.of("*"), List.of("all-proxy-models"), List.of("gpt-4o", "*"))) {
      assertThat(ModelAccess.allows(entries, "llama3.2", "ollama")).as("%s", entries).isTrue();
      assertThat(ModelAccess.allows(entries, "anything", null)).as("%s", entries).isTrue();
    }
  }

  @Test
  void namesAreExactAndCaseSensitive() {
    assertThat(ROUTER.allows(List.of("gpt-4o"), "gpt-4o")).isTrue();
    assertThat(ROUTER.allows(List.of("gpt-4o"), "gpt-4o-mini")).isFalse();
    assertThat(ROUTER.allows(List.of("GPT-4o"), "gpt-4o")).isFalse();
  }

  @Test
  void patternsMatchTheNameOrProviderSlashName() {
    assertThat(ROUTER.allows(List.of("gpt-4o*"), "gpt-4o-mini")).isTrue();
    assertThat(ROUTER.allows(List.of("gpt-4o*"), "gpt-4o")).isTrue();
    assertThat(ROUTER.allows(List.of("openai/*"), "gpt-4o")).as("by its deployments' provider").isTrue();
    assertThat(ROUTER.allows(List.of("openai/*"), "openai/gpt-4.1")).as("by name").isTrue();
    assertThat(ROUTER.allows(List.of("openai/*"), "llama3.2")).isFalse();
    assertThat(ROUTER.allows(List.of("ollama/*"), "llama3.2")).isTrue();
    assertThat(ROUTER.allows(List.of("openai/gpt-4.*"), "openai/gpt-4x1")).as("'.' is a dot").isFalse();
    assertThat(ROUTER.allows(List.of("openai/*"), "gpt-9")).as("not served: by name only").isFalse();
  }

  @Test
  void refusalNamesWhatIsWrongAndAcceptsWhatAllowsSomething() {
    for (String fine : List.of("*", "all-proxy-models", "gpt-4o", "openai/*", "ollama/*", "*-mini", "llama*")) {
      assertThat(ModelAccess.refusal(fine, ROUTER)).as(fine).isNull();
    }
    assertThat(ModelAccess.refusal("gpt-9", ROUTER)).contains("'gpt-9' is not a model").contains("gpt-4o-mini, gpt-4o");
    assertThat(ModelAccess.refusal("anthropic/*", ROUTER)).contains("matches no model");
    // The team's models: refused for a key without a team by TeamAccess.requireValidTeam, where the key is known.
    assertThat(ModelAccess.refusal("all-team-models", ROUTER)).isNull();
    assertThat(ModelAccess.refusal("gpt-4o", new Router(List.of()))).contains("serves no models");
  }
}

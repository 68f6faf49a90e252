package aigw.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** What the bench says to a command line it cannot run: a usage error naming the option, before anything starts. */
class BenchUsageTest {
  @Test
  void anOptionGivenLastWithoutItsValueIsAUsageErrorNamingIt() {
    assertThatThrownBy(() -> Bench.main(new String[] {"--start-only", "--gateway-jvm-options"}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("option --gateway-jvm-options needs a value (see the usage in Bench's class comment)");
    assertThatThrownBy(() -> Bench.main(new String[] {"--requests"}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("option --requests needs a value");
  }

  @Test
  void anOptionFollowedByAnotherOptionInsteadOfItsValueIsAUsageErrorNamingIt() {
    assertThatThrownBy(() -> Bench.main(new String[] {"--jar", "--requests", "5"}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("option --jar needs a value, got the option --requests (see the usage in Bench's class comment)");
    assertThatThrownBy(() -> Bench.main(new String[] {"--requests", "--streams", "5"}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("option --requests needs a value, got the option --streams");
    assertThatThrownBy(() -> Bench.main(new String[] {"--start-only", "--gateway-jvm-options", "--no-peers"}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("option --gateway-jvm-options needs a value, got the option --no-peers");
  }

  @Test
  void jvmOptionsThatStartWithTwoDashesAreTheGatewaysNotTheBenchs() {
    assertThat(Bench.jvmOptionsValue(new String[] {"--gateway-jvm-options", "--enable-preview -Xmx1g"}, 0)).isEqualTo("--enable-preview -Xmx1g");
  }

  @Test
  void aCountThatIsNotAWholeNumberIsAUsageErrorNamingItsOption() {
    assertThatThrownBy(() -> Bench.main(new String[] {"--streams", "many"}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("option --streams needs a whole number from 0 up, got 'many'");
  }

  @Test
  void anUnknownOptionIsAUsageErrorNamingIt() {
    assertThatThrownBy(() -> Bench.main(new String[] {"--gateway-jvm-option", "-Xmx1g"}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("unknown option --gateway-jvm-option");
  }
}

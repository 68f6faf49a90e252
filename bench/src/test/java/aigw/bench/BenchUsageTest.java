package aigw.bench;

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

package aigw.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.errors.BadRequest;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** LiteLLM's duration strings, as /key/generate and /key/update take them. */
class DurationsTest {
  @ParameterizedTest
  @CsvSource({
    "30s, PT30S",
    "30m, PT30M",
    "30h, PT30H",
    "30d, PT720H",
    "2w, PT336H",
    "1mo, PT720H",
    "3mo, PT2160H",
    "1y, PT8760H",
    "' 7d ', PT168H",
  })
  void readsEveryLiteLlmUnit(String text, String expected) {
    assertThat(Durations.parse(text, "duration")).isEqualTo(Duration.parse(expected));
  }

  @org.junit.jupiter.api.Test
  void aZeroDurationIsRefusedRatherThanCreatingAnExpiredKey() {
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> Durations.parse("0s", "duration"))
        .isInstanceOf(aigw.core.errors.BadRequest.class)
        .hasMessageContaining("longer than 0");
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "30", "d", "30x", "1.5h", "-1d", "+1d", "30 d", "1D", "1MO", "1mon", "P30D", "30dd"})
  void refusesAnythingElseNamingTheParameter(String text) {
    assertThatThrownBy(() -> Durations.parse(text, "duration"))
        .isInstanceOfSatisfying(BadRequest.class, e -> assertThat(e.param()).isEqualTo("duration"))
        .hasMessageContaining("30d");
  }

  @ParameterizedTest
  @ValueSource(strings = {"99999999999999999999s", "9223372036854775807d", "9223372036854775807y"})
  void refusesNumbersTooLargeToBeADurationAsABadRequest(String text) {
    assertThatThrownBy(() -> Durations.parse(text, "duration"))
        .isInstanceOfSatisfying(BadRequest.class, e -> assertThat(e.param()).isEqualTo("duration"));
  }

  @Test
  void expiryIsNowPlusTheDurationInWholeSeconds() {
    Instant now = Instant.parse("2026-11-23T05:30:00.750Z");
    assertThat(Durations.expiry(now, "1h", "duration")).isEqualTo(Instant.parse("2026-11-23T06:30:00Z"));
    assertThat(Durations.expiry(Instant.parse("2026-11-23T05:30:00Z"), "2w", "duration"))
        .isEqualTo(Instant.parse("2026-12-07T05:30:00Z"));
  }

  @Test
  void expiryPastTheLastRepresentableInstantIsABadRequest() {
    assertThatThrownBy(() -> Durations.expiry(Instant.parse("2026-11-23T05:30:00Z"), "2000000000y", "duration"))
        .isInstanceOfSatisfying(BadRequest.class, e -> assertThat(e.param()).isEqualTo("duration"));
  }
}

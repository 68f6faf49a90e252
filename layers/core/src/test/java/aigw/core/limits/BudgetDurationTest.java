package aigw.core.limits;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.errors.BadRequest;
import aigw.core.json.Json;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class BudgetDurationTest {
  // LiteLLM's get_next_standardized_reset_time, in UTC; 2026-12-05 is a Saturday.
  @ParameterizedTest
  @CsvSource({
    "30s, 2026-12-05T10:17:45Z, 2026-12-05T10:18:00Z",
    "30s, 2026-12-05T10:17:29Z, 2026-12-05T10:17:30Z",
    "30m, 2026-12-05T10:17:45Z, 2026-12-05T10:30:00Z",
    "1h, 2026-12-05T10:17:45Z, 2026-12-05T11:00:00Z",
    "5h, 2026-12-05T22:00:00Z, 2026-12-06T01:00:00Z",
    "1d, 2026-12-05T10:17:45Z, 2026-12-06T00:00:00Z",
    "7d, 2026-12-05T10:17:45Z, 2026-12-07T00:00:00Z",
    "1w, 2026-12-07T00:00:00Z, 2026-12-14T00:00:00Z",
    "30d, 2026-12-05T10:17:45Z, 2027-01-01T00:00:00Z",
    "1mo, 2026-12-31T23:59:59Z, 2027-01-01T00:00:00Z",
    "2mo, 2026-12-05T10:17:45Z, 2027-02-01T00:00:00Z",
    "3d, 2026-12-05T10:17:45Z, 2026-12-08T00:00:00Z",
  })
  void periodsEndAtLiteLlmsStandardizedResetTimes(String duration, String now, String end) {
    assertThat(BudgetDuration.nextReset(BudgetDuration.parse(duration, "budget_duration"), Instant.parse(now))).isEqualTo(end);
  }

  @ParameterizedTest
  @CsvSource({"30", "0d", "1y", "-1d", "1.5d", "1 d", "d"})
  void anythingElseIsA400NamingTheField(String duration) {
    assertThatThrownBy(() -> BudgetDuration.parse(duration, "budget_duration"))
        .isInstanceOfSatisfying(BadRequest.class, e -> assertThat(e.param()).isEqualTo("budget_duration"));
  }

  @Test
  void limitFieldsReadLiteLlmsNamesKeepWhatIsAbsentAndNameTheFieldThatIsWrong() {
    var current = new Limits(10L, null, null, new java.math.BigDecimal("5"), null, "1d");
    var read = LimitFields.read(Json.readObject("{\"tpm_limit\": 1000, \"max_parallel_requests\": 2, \"max_budget\": 0.5, \"soft_budget\": null}".getBytes()), current);
    assertThat(read).isEqualTo(new Limits(10L, 1000L, 2, new java.math.BigDecimal("0.5"), null, "1d"));

    for (String bad : new String[] {
      "{\"rpm_limit\": -1}", "{\"rpm_limit\": 1.5}", "{\"rpm_limit\": \"10\"}", "{\"tpm_limit\": 1e30}",
      "{\"max_budget\": -0.01}", "{\"max_budget\": \"5\"}", "{\"budget_duration\": 30}", "{\"budget_duration\": \"forever\"}",
      "{\"max_parallel_requests\": 99999999999}"}) {
      var body = Json.readObject(bad.getBytes());
      String field = body.fieldNames().next();
      assertThatThrownBy(() -> LimitFields.read(body, Limits.NONE))
          .as(bad)
          .isInstanceOfSatisfying(BadRequest.class, e -> assertThat(e.param()).isEqualTo(field));
    }
  }
}

package aigw.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.limits.Demand;
import aigw.core.limits.LimitScope;
import aigw.core.testing.MutableClock;
import aigw.core.usage.TokenUsage;
import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** LiteLLM's limit fields on /key/generate, /key/update and /key/info. */
class KeyLimitsAdminTest {
  private final AdminApi api = new AdminApi(MutableClock.at("2026-12-05T10:00:00Z"));

  @AfterEach
  void stop() {
    api.close();
  }

  @Test
  void generateTakesTheLimitsAndInfoShowsThemWithTheBudgetsSpendAndReset() {
    JsonNode generated = api.generate(
        "{\"rpm_limit\": 20, \"tpm_limit\": 1000, \"max_parallel_requests\": 2, \"max_budget\": 10.5, \"soft_budget\": 8,"
            + " \"budget_duration\": \"1d\"}");
    assertThat(generated.path("rpm_limit").asLong()).isEqualTo(20);
    assertThat(generated.path("max_budget").decimalValue()).isEqualByComparingTo("10.5");
    assertThat(generated.path("budget_reset_at").asText()).as("as /key/info shows it right after").isEqualTo("2026-12-06T00:00:00Z");

    String key = generated.path("key").asText();
    JsonNode info = api.info(key);
    assertThat(info.path("rpm_limit").asLong()).isEqualTo(20);
    assertThat(info.path("tpm_limit").asLong()).isEqualTo(1000);
    assertThat(info.path("max_parallel_requests").asInt()).isEqualTo(2);
    assertThat(info.path("max_budget").decimalValue()).isEqualByComparingTo("10.5");
    assertThat(info.path("soft_budget").decimalValue()).isEqualByComparingTo("8");
    assertThat(info.path("budget_duration").asText()).isEqualTo("1d");
    assertThat(info.path("spend").decimalValue()).isZero();
    assertThat(info.path("budget_reset_at").asText()).isEqualTo("2026-12-06T00:00:00Z");

    // Spend of the period, as the proxy settles it.
    var stored = api.gateway.keyStore().findByHash(aigw.core.keys.ApiKeys.hash(key)).orElseThrow();
    var scope = LimitScope.ofKey(stored.keyId(), stored.keyName(), stored.limits());
    api.gateway.limits().admit(scope, new Demand(10, new BigDecimal("0.25"))).settle(new TokenUsage(5, 5, 10), new BigDecimal("0.25"));
    assertThat(api.info(key).path("spend").decimalValue()).isEqualByComparingTo("0.25");
    assertThat(listed(key).path("spend").decimalValue()).as("/key/list shows the spend /key/info shows").isEqualByComparingTo("0.25");
    assertThat(listed(key).path("budget_reset_at").asText()).isEqualTo("2026-12-06T00:00:00Z");

    api.clock.advance(Duration.ofDays(1)); // past budget_reset_at: the period's spend starts again
    assertThat(api.info(key).path("spend").decimalValue()).isZero();
    assertThat(api.info(key).path("budget_reset_at").asText()).isEqualTo("2026-12-07T00:00:00Z");
  }

  @Test
  void updateChangesTheLimitsItNamesAndKeepsTheOthers() {
    String key = api.generate("{\"rpm_limit\": 20, \"max_budget\": 5}").path("key").asText();
    var reply = api.post("/key/update", Map.of("key", key, "tpm_limit", 500, "max_budget", 7));
    assertThat(reply.status()).as("%s", reply).isEqualTo(200);
    JsonNode info = api.info(key);
    assertThat(info.path("rpm_limit").asLong()).isEqualTo(20);
    assertThat(info.path("tpm_limit").asLong()).isEqualTo(500);
    assertThat(info.path("max_budget").decimalValue()).isEqualByComparingTo("7");
    assertThat(info.path("budget_reset_at").isNull()).isTrue(); // no budget_duration: never resets

    api.post("/key/update", Map.of("key", key, "metadata", Map.of("a", 1)));
    assertThat(api.info(key).path("tpm_limit").asLong()).isEqualTo(500); // an update without limit fields keeps them
  }

  @ParameterizedTest
  @ValueSource(strings = {
    "{\"rpm_limit\": -1}", "{\"tpm_limit\": \"100\"}", "{\"max_parallel_requests\": 1.5}", "{\"max_budget\": -5}",
    "{\"soft_budget\": \"cheap\"}", "{\"budget_duration\": \"1y\"}",
    // amounts no DynamoDB number holds (finer than 1e-130, more than 38 digits) or finer than prices' 1e-18
    "{\"max_budget\": 1e-100}", "{\"max_budget\": 1e-131}", "{\"soft_budget\": 1e-320}", "{\"max_budget\": 0.0000000000000000001}",
    "{\"max_budget\": 1.0000000000000000000000000000000000000001}"})
  void aBadLimitIsA400NamingItsFieldAndStoresNothing(String body) {
    var reply = api.post("/key/generate", body);
    assertThat(reply.status()).as("%s", reply).isEqualTo(400);
    assertThat(reply.error().path("type").asText()).isEqualTo("invalid_request_error");
    assertThat(reply.error().path("param").asText()).isEqualTo(body.substring(2, body.indexOf('"', 2)));
    assertThat(api.storedItems()).isZero();
  }

  /**
   * LiteLLM's /key/update stores every field the request sets (prepare_key_update_data,
   * model_dump(exclude_unset=True)): a limit sent as null is removed, one left out is kept; and the
   * proxy's limit engine no longer holds the key to what was removed.
   */
  @Test
  void aLimitSentAsNullIsRemovedAndNoLongerHeldWhileOneLeftOutIsKept() {
    String key = api.generate(
        "{\"rpm_limit\": 1, \"tpm_limit\": 1000, \"max_parallel_requests\": 1, \"max_budget\": 0.1, \"soft_budget\": 0.05,"
            + " \"budget_duration\": \"1d\"}").path("key").asText();
    var cost = new BigDecimal("0.1");
    limitScope(key).map(scope -> api.gateway.limits().admit(scope, new Demand(10, cost))).orElseThrow()
        .settle(new TokenUsage(5, 5, 10), cost); // the one request a minute, and the whole budget
    assertThatThrownBy(() -> api.gateway.limits().admit(limitScope(key).orElseThrow(), new Demand(10, cost)))
        .as("held to its limits before the update").isInstanceOf(RuntimeException.class);

    var reply = api.post("/key/update",
        "{\"key\": \"" + key + "\", \"rpm_limit\": null, \"max_parallel_requests\": null, \"max_budget\": null,"
            + " \"soft_budget\": null, \"budget_duration\": null}");

    assertThat(reply.status()).as("%s", reply).isEqualTo(200);
    for (String removed : List.of("rpm_limit", "max_parallel_requests", "max_budget", "soft_budget", "budget_duration")) {
      assertThat(reply.body().path(removed).isNull()).as("%s in the answer", removed).isTrue();
      assertThat(api.info(key).path(removed).isNull()).as("%s in /key/info", removed).isTrue();
    }
    assertThat(api.info(key).path("tpm_limit").asLong()).as("left out: kept").isEqualTo(1000);
    // The engine holds the key to what it has now: three at once in the same minute, past the old budget.
    var scope = limitScope(key).orElseThrow();
    var first = api.gateway.limits().admit(scope, new Demand(10, cost));
    var second = api.gateway.limits().admit(scope, new Demand(10, cost));
    var third = api.gateway.limits().admit(scope, new Demand(10, cost));
    List.of(first, second, third).forEach(admission -> admission.settle(new TokenUsage(5, 5, 10), cost));

    api.post("/key/update", "{\"key\": \"" + key + "\", \"tpm_limit\": null, \"rpm_limit\": 0}");
    assertThat(api.info(key).path("tpm_limit").isNull()).isTrue();
    assertThat(api.info(key).path("rpm_limit").asLong()).as("0 is a limit, not a removal").isZero();
    assertThatThrownBy(() -> api.gateway.limits().admit(limitScope(key).orElseThrow(), new Demand(10, cost)))
        .isInstanceOf(aigw.core.errors.RateLimited.class);
  }

  @Test
  void generateTakesALimitSentAsNullAsNoLimit() {
    String key = api.generate("{\"rpm_limit\": null, \"max_budget\": null, \"budget_duration\": null}").path("key").asText();
    assertThat(api.info(key).path("rpm_limit").isNull()).isTrue();
    assertThat(limitScope(key).orElseThrow().limits().isEmpty()).isTrue();
  }

  /** The key as /key/list shows it in full. */
  private JsonNode listed(String key) {
    var reply = api.get("/key/list", AdminApi.query("return_full_object", "true"));
    assertThat(reply.status()).as("%s", reply).isEqualTo(200);
    String hash = aigw.core.keys.ApiKeys.hash(key);
    for (JsonNode shown : reply.body().path("keys")) {
      if (shown.path("token").asText().equals(hash)) {
        return shown;
      }
    }
    throw new AssertionError("not listed: " + reply);
  }

  /** The key's limit scope as the proxy builds it from the stored key. */
  private java.util.Optional<LimitScope> limitScope(String key) {
    return api.gateway.keyStore().findByHash(aigw.core.keys.ApiKeys.hash(key))
        .map(stored -> LimitScope.ofKey(stored.keyId(), stored.keyName(), stored.limits()));
  }
}

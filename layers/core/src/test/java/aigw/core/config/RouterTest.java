package aigw.core.config;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.testing.TestGateways;
import java.util.HashMap;
import java.util.List;
import org.junit.jupiter.api.Test;

class RouterTest {
  @Test
  void deploymentsOfOneModelNameTakeTurns() {
    var a = TestGateways.openAi("m", "a", "http://127.0.0.1:1");
    var b = TestGateways.openAi("m", "b", "http://127.0.0.1:2");
    var other = TestGateways.openAi("other", "o", "http://127.0.0.1:3");
    var router = new Router(List.of(a, other, b));
    var firstPicks = new HashMap<String, Integer>();
    for (int i = 0; i < 10; i++) {
      var rotation = router.rotation("m");
      assertThat(rotation).containsExactlyInAnyOrder(a, b); // the rest is there for fail-over
      firstPicks.merge(rotation.get(0).upstreamModel(), 1, Integer::sum);
    }
    assertThat(firstPicks).containsEntry("a", 5).containsEntry("b", 5);
    assertThat(router.rotation("nope")).isEmpty();
    assertThat(router.models().keySet()).containsExactly("m", "other");
  }

  @Test
  void aNewOrRestoredEnvironmentStartsItsTurnsWhereItsRandomSourceSays() {
    var a = TestGateways.openAi("m", "a", "http://127.0.0.1:1");
    var b = TestGateways.openAi("m", "b", "http://127.0.0.1:2");
    var c = TestGateways.openAi("m", "c", "http://127.0.0.1:3");
    var router = new Router(List.of(a, b, c));
    assertThat(router.rotation("m")).containsExactly(a, b, c); // without it: every container starts with the first
    router.startAtRandom(new java.util.random.RandomGenerator() {
      @Override
      public long nextLong() {
        return 0;
      }

      @Override
      public int nextInt(int bound) {
        return 2; // stands in for SecureRandom picking the third
      }
    });
    assertThat(router.rotation("m")).containsExactly(c, a, b);
    assertThat(router.rotation("m")).containsExactly(a, b, c);
  }
}

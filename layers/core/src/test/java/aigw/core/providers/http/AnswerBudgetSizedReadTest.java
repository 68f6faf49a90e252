package aigw.core.providers.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.errors.ServiceUnavailable;
import java.io.ByteArrayInputStream;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * A whole answer that declares its length is read into one array of that size, and counts against
 * the process's answer budget exactly as one read piece by piece: what came, within the limit.
 */
class AnswerBudgetSizedReadTest {
  private static byte[] bytes(int count) {
    byte[] body = new byte[count];
    Arrays.fill(body, (byte) 'a');
    return body;
  }

  @Test
  void aDeclaredAnswerIsReadWholeAndTakenFromTheBudgetUntilTheRequestEnds() throws Exception {
    var budget = new AnswerBudget(1_000);
    try (var scope = budget.open()) {
      byte[] body = AnswerBudget.read(new ByteArrayInputStream(bytes(300)), 300, 10_000, "the provider");
      assertThat(body).isEqualTo(bytes(300));
      assertThat(budget.held()).isEqualTo(300);
    }
    assertThat(budget.held()).isZero();
  }

  @Test
  void aDeclaredAnswerTheBudgetCannotTakeIs503() {
    var budget = new AnswerBudget(100);
    try (var scope = budget.open()) {
      assertThatThrownBy(() -> AnswerBudget.read(new ByteArrayInputStream(bytes(300)), 300, 10_000, "the provider of 'm'"))
          .isInstanceOfSatisfying(ServiceUnavailable.class, e -> assertThat(e.gatewayBusy()).isTrue())
          .hasMessageContaining("the provider of 'm'");
    }
    assertThat(budget.held()).isZero();
  }

  @Test
  void anAnswerLongerThanItDeclaredIsReadOnToTheLimitAndOneByteBeyond() throws Exception {
    assertThat(AnswerBudget.read(new ByteArrayInputStream(bytes(500)), 300, 1_000, "p")).hasSize(500);
    assertThat(AnswerBudget.read(new ByteArrayInputStream(bytes(5_000)), 300, 1_000, "p"))
        .as("one byte over the limit tells the caller it is too long").hasSize(1_001);
  }

  @Test
  void anAnswerShorterThanItDeclaredIsWhatCame() throws Exception {
    assertThat(AnswerBudget.read(new ByteArrayInputStream(bytes(120)), 300, 1_000, "p")).hasSize(120);
  }
}

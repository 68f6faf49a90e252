package aigw.core.providers.http;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.errors.ErrorEnvelope;
import aigw.core.errors.ServiceUnavailable;
import aigw.core.testing.Upstream;
import com.github.tomakehurst.wiremock.WireMockServer;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Whole provider answers held at once, bounded process-wide (issue 15: 64 workers x 64 MiB). */
class AnswerBudgetTest {
  private static WireMockServer provider;
  private final UpstreamHttp transport = new UpstreamHttp(UpstreamHttp.defaultHttpClient());

  @BeforeAll
  static void start() {
    provider = Upstream.start();
    provider.stubFor(post("/answer").willReturn(aResponse().withHeader("Content-Type", "application/json").withBody(new byte[300 * 1024])));
  }

  @AfterAll
  static void stop() {
    provider.stop();
  }

  private UpstreamCall call() {
    return new UpstreamCall("m", URI.create(provider.baseUrl() + "/answer"), Map.of(), "{}".getBytes(), Duration.ofSeconds(10), List.of());
  }

  @Test
  void answersAreHeldUntilTheirScopeClosesAndOneOverTheBoundIs503ThatIsNotSentAgain() {
    var budget = new AnswerBudget(700 * 1024);
    try (var request = budget.open()) {
      assertThat(transport.exchange(call()).body()).hasSize(300 * 1024);
      assertThat(transport.exchange(call()).body()).hasSize(300 * 1024);
      assertThat(budget.held()).isEqualTo(600 * 1024);
      assertThatThrownBy(() -> transport.exchange(call())).isInstanceOfSatisfying(ServiceUnavailable.class, e -> {
        assertThat(e.gatewayBusy()).as("the call ran: never sent to another deployment").isTrue();
        assertThat(ErrorEnvelope.response(e).status()).isEqualTo(503);
        assertThat(ErrorEnvelope.response(e).headers()).containsEntry("Retry-After", "1");
      });
    }
    assertThat(budget.held()).as("given back when the request is answered").isZero();
  }

  @Test
  void withoutAScopeOnlyTheOneAnswerBoundApplies() {
    new AnswerBudget(1); // a budget elsewhere does not bind this thread
    assertThat(transport.exchange(call()).body()).hasSize(300 * 1024);
  }
}

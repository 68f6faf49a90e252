package aigw.core.routing;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.errors.ServiceUnavailable;
import org.junit.jupiter.api.Test;

/** The gateway's own memory bound refusing an answer is final: the call ran, so no other deployment gets it, and none is blamed. */
class GatewayBusyFailureTest {
  @Test
  void aBusyGatewayIsFinalAndAProvidersOverloadIsNotSent() {
    assertThat(Failure.of(ServiceUnavailable.gatewayBusy("busy"))).isEqualTo(Failure.FINAL);
    assertThat(Failure.FINAL.countsAgainstDeployment).isFalse();
    assertThat(Failure.of(new ServiceUnavailable("overloaded", null, true))).isEqualTo(Failure.NOT_SENT);
  }
}

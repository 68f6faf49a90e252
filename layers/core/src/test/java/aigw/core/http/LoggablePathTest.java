package aigw.core.http;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Paths in logs: LiteLLM's /key/{key}/regenerate puts a key in the path, and a log must never hold one. */
class LoggablePathTest {
  @Test
  void aKeyInThePathIsMaskedAndRouteWordsAndHashesAreKept() {
    String key = "sk-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-xyz9";
    assertThat(GatewayApplication.loggablePath("/key/" + key + "/regenerate")).isEqualTo("/key/sk-...xyz9/regenerate");
    String hash = "a".repeat(64);
    assertThat(GatewayApplication.loggablePath("/key/" + hash + "/regenerate")).isEqualTo("/key/" + hash + "/regenerate");
    assertThat(GatewayApplication.loggablePath("/v1/chat/completions")).isEqualTo("/v1/chat/completions");
    // A custom key need not start with sk- here (it would be refused, but it is still someone's secret).
    assertThat(GatewayApplication.loggablePath("/key/My-Secret-Value-1234567890/regenerate")).doesNotContain("Secret");
  }
}

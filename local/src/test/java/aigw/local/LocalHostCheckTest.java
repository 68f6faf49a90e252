package aigw.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import aigw.core.http.CorsPolicy;
import aigw.core.http.GatewayApplication;
import aigw.core.http.GatewayResponse;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * DNS rebinding (issue 15, finding 5): a web page whose name was rebound to 127.0.0.1 calls the
 * gateway with its own name in Host, and is refused with 421 in the OpenAI envelope; the gateway's
 * own names and addresses are answered; the development master key is refused off loopback.
 */
class LocalHostCheckTest {
  private static final String MASTER = "sk-host-check-test-master-key-of-40-chars";
  private static LocalGateway gateway;

  @BeforeAll
  static void start() {
    gateway = LocalGateway.start(LocalOptions.inMemory(null, Map.of("AIGW_MASTER_KEY", MASTER)));
  }

  @AfterAll
  static void stop() {
    gateway.close();
  }

  private static LocalServerTest.Answer generateKeyWithHost(String hostLines) throws Exception {
    String body = "{}";
    return LocalServerTest.raw(gateway.port(), "POST /key/generate HTTP/1.1\r\n" + hostLines + "Authorization: Bearer " + MASTER
        + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length() + "\r\nConnection: close\r\n\r\n" + body);
  }

  @ParameterizedTest
  @ValueSource(strings = {"attacker.example", "attacker.example:3000", "127.0.0.1.nip.io", "localhost.attacker.example", "LOCALHOST.evil",
      // IP literals that name no address this loopback-bound server listens on (issue 15)
      "127.0.0.2", "10.0.0.1:3000", "0.0.0.0", "192.168.1.10", "[::2]", "[::ffff:10.0.0.1]", "2130706433"})
  void aReboundNameGets421AndNoKey(String host) throws Exception {
    var answer = generateKeyWithHost("Host: " + host + "\r\n");
    assertThat(answer.status()).isEqualTo(421);
    assertThat(answer.error().get("type").asText()).isEqualTo("invalid_request_error");
    assertThat(answer.error().get("code").asText()).isEqualTo("421");
    assertThat(answer.error().get("param").asText()).isEqualTo("Host");
    assertThat(answer.error().get("message").asText()).contains(host).contains("AIGW_ALLOWED_HOSTS");
    assertThat(new String(answer.body(), java.nio.charset.StandardCharsets.UTF_8)).doesNotContain("\"key\"");
  }

  @ParameterizedTest
  @ValueSource(strings = {"127.0.0.1", "127.0.0.1:3000", "localhost", "localhost:3000", "LocalHost.", "[::1]", "[::1]:3000", "app.localhost:5173"})
  void theGatewaysOwnNamesAndAddressesAreAnswered(String host) throws Exception {
    var answer = generateKeyWithHost("Host: " + host + "\r\n");
    assertThat(answer.status()).as(new String(answer.body(), java.nio.charset.StandardCharsets.UTF_8)).isEqualTo(200);
  }

  @Test
  void anHttp11RequestWithoutHostOrWithTwoGets400() throws Exception {
    var none = generateKeyWithHost("");
    assertThat(none.status()).isEqualTo(400);
    assertThat(none.error().get("message").asText()).contains("Host");
    var two = generateKeyWithHost("Host: 127.0.0.1\r\nHost: attacker.example\r\n");
    assertThat(two.status()).isEqualTo(400);
    var malformed = generateKeyWithHost("Host: evil.example/path\r\n");
    assertThat(malformed.status()).isEqualTo(400);
  }

  @Test
  void anHttp10RequestWithoutHostGets400AndWithItsHostIsAnswered() throws Exception {
    var none = LocalServerTest.raw(gateway.port(), "GET /health/liveliness HTTP/1.0\r\n\r\n");
    assertThat(none.status()).isEqualTo(400);
    assertThat(none.error().get("message").asText()).contains("Host");
    var named = LocalServerTest.raw(gateway.port(), "GET /health/liveliness HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    assertThat(named.status()).isEqualTo(200);
    var rebound = LocalServerTest.raw(gateway.port(), "GET /health/liveliness HTTP/1.0\r\nHost: attacker.example\r\n\r\n");
    assertThat(rebound.status()).isEqualTo(421);
  }

  @Test
  void onAWildcardBindTheMachinesOwnAddressesAreLiteralsItAnswers() throws Exception {
    var wildcard = AllowedHosts.of(null).boundTo(java.net.InetAddress.getByName("0.0.0.0"));
    assertThat(wildcard.allows("127.0.0.1:4000")).isTrue();
    assertThat(wildcard.allows("[::1]")).isTrue();
    for (var face : java.util.Collections.list(java.net.NetworkInterface.getNetworkInterfaces())) {
      for (var address : java.util.Collections.list(face.getInetAddresses())) {
        if (address instanceof java.net.Inet4Address) {
          assertThat(wildcard.allows(address.getHostAddress() + ":4000")).as(address.toString()).isTrue();
        }
      }
    }
    assertThat(wildcard.allows("203.0.113.7")).as("an address of no interface here (TEST-NET-3)").isFalse();
    var one = AllowedHosts.of(null).boundTo(java.net.InetAddress.getByName("192.0.2.5"));
    assertThat(one.allows("192.0.2.5:8080")).isTrue();
    assertThat(one.allows("127.0.0.1")).as("not loopback-bound: loopback is not this server's address").isFalse();
    assertThat(one.allows("localhost")).isTrue();
  }

  @Test
  void namesTheOperatorAllowsAreAnsweredAndStarAllowsAny() throws Exception {
    GatewayApplication ok = GatewayApplication.of(CorsPolicy.allowing(List.of()), request -> GatewayResponse.json(200, Map.of("ok", true)));
    var named = LocalServer.start("127.0.0.1", 0, ok, ServerLimits.DEFAULTS, AllowedHosts.of(" gw.internal , other.example "));
    try {
      assertThat(LocalServerTest.raw(named.port(), "GET / HTTP/1.1\r\nHost: GW.internal:8080\r\nConnection: close\r\n\r\n").status()).isEqualTo(200);
      assertThat(LocalServerTest.raw(named.port(), "GET / HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n").status()).isEqualTo(421);
    } finally {
      named.stop();
    }
    var any = LocalServer.start("127.0.0.1", 0, ok, ServerLimits.DEFAULTS, AllowedHosts.of("*"));
    try {
      assertThat(LocalServerTest.raw(any.port(), "GET / HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n").status()).isEqualTo(200);
    } finally {
      any.stop();
    }
  }

  @Test
  void theAllowedHostsOptionSetsTheVariable() {
    var options = LocalOptions.parse(new String[] {"--allowed-hosts", "gw.internal"}, Map.of());
    assertThat(options.env()).containsEntry("AIGW_ALLOWED_HOSTS", "gw.internal");
  }

  @Test
  void theDevelopmentMasterKeyIsRefusedOnANonLoopbackAddress() {
    var options = LocalOptions.parse(new String[] {"--in-memory", "--port", "0", "--host", "0.0.0.0"}, Map.of());
    assertThatThrownBy(() -> LocalGateway.start(options).close())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("0.0.0.0")
        .hasMessageContaining("sk-development-only")
        .hasMessageContaining("AIGW_MASTER_KEY");
  }

  /** sk-1234 is LiteLLM's documented example key: the first a guesser tries. Refused off loopback, accepted (with a warning) on it. */
  @Test
  void aShortMasterKeyIsRefusedOnANonLoopbackAddressAndAcceptedOnLoopback() {
    for (String weak : new String[] {"sk-1234", "sk-0123456789abcdef0123456789ab"}) { // 7 and 31 characters
      var options = LocalOptions.parse(new String[] {"--in-memory", "--port", "0", "--host", "0.0.0.0"}, Map.of("AIGW_MASTER_KEY", weak));
      assertThatThrownBy(() -> LocalGateway.start(options).close())
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("0.0.0.0")
          .hasMessageContaining(weak.length() + " characters")
          .hasMessageContaining("at least 32")
          .hasMessageNotContaining("0123456789ab"); // the key itself is never quoted
    }
    LocalGateway.start(LocalOptions.parse(new String[] {"--in-memory", "--port", "0"}, Map.of("AIGW_MASTER_KEY", "sk-1234"))).close();
    LocalGateway.start(LocalOptions.parse(new String[] {"--in-memory", "--port", "0", "--host", "0.0.0.0"},
        Map.of("AIGW_MASTER_KEY", "sk-7Qm2xR9vT4bN8kW3pL6yH1cJ5dF0g"))).close(); // 32 characters
  }

  /**
   * Length alone is not strength (issue 15): 40 times 'a' or a short pattern repeated is refused
   * off loopback and warned on it; random keys of the documented shapes pass.
   */
  @Test
  void aLongMasterKeyOfTooLittleVarietyIsRefusedOnANonLoopbackAddressAndWarnedOnLoopback() {
    String[] weak = {"a".repeat(40), "ab".repeat(20), "sk-" + "0".repeat(40), "sk-abcabcabcabcabcabcabcabcabcabcabc", "0123".repeat(16),
        "sk-" + "Xy7#".repeat(250), "sk-" + "0".repeat(20) + "1" + "0".repeat(20)};
    for (String key : weak) {
      var options = LocalOptions.parse(new String[] {"--in-memory", "--port", "0", "--host", "0.0.0.0"}, Map.of("AIGW_MASTER_KEY", key));
      assertThatThrownBy(() -> LocalGateway.start(options).close())
          .as(key)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("0.0.0.0")
          .hasMessageContaining("bits of strength, under 128")
          .hasMessageNotContaining(key.substring(0, 12)); // the key itself is never quoted
    }
    var warnings = new java.util.concurrent.CopyOnWriteArrayList<String>();
    var handler = new java.util.logging.Handler() {
      @Override
      public void publish(java.util.logging.LogRecord record) {
        if (record.getLevel().intValue() >= java.util.logging.Level.WARNING.intValue()) {
          warnings.add(record.getMessage());
        }
      }

      @Override
      public void flush() {}

      @Override
      public void close() {}
    };
    var log = java.util.logging.Logger.getLogger(LocalGateway.class.getName());
    log.addHandler(handler);
    try {
      LocalGateway.start(LocalOptions.parse(new String[] {"--in-memory", "--port", "0"}, Map.of("AIGW_MASTER_KEY", "a".repeat(40)))).close();
      assertThat(warnings).anySatisfy(line -> assertThat(line).contains("bits of strength").contains("on any other address it is refused"));
      warnings.clear();
      var random = new java.security.SecureRandom();
      for (int i = 0; i < 20; i++) { // the documented shapes of a random key pass, whatever the draw
        String hex16 = java.util.HexFormat.of().formatHex(random.generateSeed(16));
        String hex32 = java.util.HexFormat.of().formatHex(random.generateSeed(32));
        String base64 = java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(random.generateSeed(32));
        for (String key : new String[] {hex16, "sk-" + hex16, hex32, "sk-" + hex32, base64}) {
          assertThat(new LocalMasterKey(key, "AIGW_MASTER_KEY", null, null, null, false, "").weakness()).as(key).isNull();
        }
      }
      LocalGateway.start(LocalOptions.parse(new String[] {"--in-memory", "--port", "0", "--host", "0.0.0.0"},
          Map.of("AIGW_MASTER_KEY", "sk-" + java.util.HexFormat.of().formatHex(random.generateSeed(16))))).close();
      assertThat(warnings).noneSatisfy(line -> assertThat(line).contains("bits of strength"));
    } finally {
      log.removeHandler(handler);
    }
  }

  @Test
  void aMasterKeyOfOnesOwnMayListenOnANonLoopbackAddress() {
    var options = LocalOptions.parse(new String[] {"--in-memory", "--port", "0", "--host", "0.0.0.0"}, Map.of("AIGW_MASTER_KEY", MASTER));
    LocalGateway.start(options).close();
  }

  @Test
  void isLoopbackKnowsTheLoopbackNamesAndAddresses() {
    assertThat(LocalGateway.isLoopback("127.0.0.1")).isTrue();
    assertThat(LocalGateway.isLoopback("::1")).isTrue();
    assertThat(LocalGateway.isLoopback("localhost")).isTrue();
    assertThat(LocalGateway.isLoopback("0.0.0.0")).isFalse();
  }
}

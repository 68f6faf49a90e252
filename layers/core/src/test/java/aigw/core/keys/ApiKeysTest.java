package aigw.core.keys;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

class ApiKeysTest {
  @Test
  void generatedKeysAreSkPlus32RandomBytesUrlSafe() {
    String key = ApiKeys.generate();
    assertThat(key).startsWith("sk-").hasSize(3 + 43).matches("sk-[A-Za-z0-9_-]{43}");
    var seen = new HashSet<String>();
    for (int i = 0; i < 1000; i++) {
      assertThat(seen.add(ApiKeys.generate())).isTrue();
    }
  }

  @Test
  void hashIsLowerCaseHexSha256() {
    // SHA-256("abc") from FIPS 180-2
    assertThat(ApiKeys.hash("abc")).isEqualTo("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assertThat(ApiKeys.isHash(ApiKeys.hash("sk-anything"))).isTrue();
    assertThat(ApiKeys.isHash("sk-anything")).isFalse();
    assertThat(ApiKeys.isHash(HexFormat.of().withUpperCase().formatHex(new byte[32]).replace('0', 'A'))).isFalse();
  }

  @Test
  void maskShowsOnlyTheLastFourCharacters() {
    assertThat(ApiKeys.mask("sk-abcdefghijklmnop1234")).isEqualTo("sk-...1234");
    assertThat(ApiKeys.mask("sk-short")).isEqualTo("sk-...");
    assertThat(ApiKeys.mask(null)).isEqualTo("(none)");
  }

  @Test
  void generatedKeysArePresentable() {
    for (int i = 0; i < 200; i++) {
      assertThat(ApiKeys.unpresentable(ApiKeys.generate())).isNull();
    }
  }

  @Test
  void onlyToken68ValuesUpToTheMaximumArePresentable() {
    assertThat(ApiKeys.unpresentable("sk-AZaz09-._~+/==")).isNull();
    assertThat(ApiKeys.unpresentable("sk-" + "a".repeat(ApiKeys.MAX_KEY_CHARS - 3))).isNull();
    assertThat(ApiKeys.unpresentable("sk-" + "a".repeat(ApiKeys.MAX_KEY_CHARS - 2))).contains("the most is 256");
    assertThat(ApiKeys.unpresentable("sk-ключ")).contains("position 3");
    assertThat(ApiKeys.unpresentable("sk-a b")).contains("position 4");
    assertThat(ApiKeys.unpresentable("sk-a=b")).contains("'=' may appear only at the end");
    assertThat(ApiKeys.unpresentable("===")).contains("no character before");
    for (char c : "\"(),:;<>?@[\\]{}\t\u0000\u007f\u00e9".toCharArray()) {
      assertThat(ApiKeys.unpresentable("sk-abc" + c + "def")).as("0x%02x", (int) c).isNotNull();
    }
  }
}

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
}

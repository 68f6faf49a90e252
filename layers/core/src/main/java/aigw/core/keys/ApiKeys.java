package aigw.core.keys;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;

/** Key material: generation, the SHA-256 that is stored instead of the key, and the masked form for logs. */
public final class ApiKeys {
  public static final String PREFIX = "sk-";
  /** 32 random bytes: 256 bits, as the seeds and LiteLLM's token_urlsafe(32) ask. */
  static final int RANDOM_BYTES = 32;

  private static final Base64.Encoder URL_SAFE = Base64.getUrlEncoder().withoutPadding();
  private static final HexFormat HEX = HexFormat.of();

  private ApiKeys() {}

  /** A new key: {@code sk-} and 43 URL-safe characters of SecureRandom output. */
  public static String generate() {
    byte[] bytes = new byte[RANDOM_BYTES];
    // A new generator per key: no random state is ever captured in a SnapStart snapshot and shared
    // by the containers restored from it. Keys are created rarely; the cost does not matter.
    new SecureRandom().nextBytes(bytes);
    return PREFIX + URL_SAFE.encodeToString(bytes);
  }

  /** Lower-case hex SHA-256 of the key: the only form a key is stored or looked up in. */
  public static String hash(String key) {
    return HEX.formatHex(sha256(key));
  }

  public static byte[] sha256(String value) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(value.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }

  /** True when {@code value} looks like a stored hash rather than a key (64 lower-case hex characters). */
  public static boolean isHash(String value) {
    if (value == null || value.length() != 64) {
      return false;
    }
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (!(c >= '0' && c <= '9' || c >= 'a' && c <= 'f')) {
        return false;
      }
    }
    return true;
  }

  /**
   * The form safe for logs and listings: {@code sk-...abcd}. Keys shorter than 12 characters show no
   * characters at all, so a short secret is never half-revealed.
   */
  public static String mask(String key) {
    if (key == null || key.isEmpty()) {
      return "(none)";
    }
    if (key.length() < 12) {
      return "sk-...";
    }
    return PREFIX + "..." + key.substring(key.length() - 4);
  }
}

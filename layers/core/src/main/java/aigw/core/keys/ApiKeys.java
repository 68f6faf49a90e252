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
  /**
   * Longest key value aigw accepts, in characters (a generated key has 46). Far below what any hop
   * refuses (API Gateway REST takes 10,240 bytes of headers; the JDK server and SDKs more): a longer
   * value is a mistake, such as a pasted file.
   */
  public static final int MAX_KEY_CHARS = 256;
  /** What {@link #unpresentable(String)} asks of a key value, in words, for error messages. */
  public static final String PRESENTABLE_RULE =
      "only the characters A-Z a-z 0-9 - . _ ~ + / (and = at the end), at most " + MAX_KEY_CHARS + " in all";

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

  /**
   * Why a key value could not be presented as it is, or null if it can. A key travels in {@code
   * Authorization: Bearer <key>}, whose value must be an RFC 9110 token68 ({@code 1*(ALPHA / DIGIT /
   * "-" / "." / "_" / "~" / "+" / "/") *"="}, RFC 9110 section 11.2); {@code x-api-key} and {@code
   * api-key} take any visible ASCII, a superset. Anything else (a space, a non-ASCII letter, a
   * control character) is trimmed, re-encoded (the JDK server and many clients read header bytes as
   * ISO-8859-1, not UTF-8) or refused on the way, so the hash of what arrives never matches.
   *
   * @return a sentence fragment naming the broken rule and the first offending position (0-based),
   *     never the value itself
   */
  public static String unpresentable(String key) {
    if (key.length() > MAX_KEY_CHARS) {
      return "it has " + key.length() + " characters; the most is " + MAX_KEY_CHARS;
    }
    int end = key.length();
    while (end > 0 && key.charAt(end - 1) == '=') {
      end--; // token68's trailing padding
    }
    if (end == 0) {
      return "it has no character before its trailing '='";
    }
    for (int i = 0; i < end; i++) {
      if (!isToken68Char(key.charAt(i))) {
        return "the character at position " + i + " is not one of them"
            + (key.charAt(i) == '=' ? " ('=' may appear only at the end)" : "");
      }
    }
    return null;
  }

  private static boolean isToken68Char(char c) {
    return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
        || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
  }

  /** Lower-case hex SHA-256 of the key: the only form a key is stored or looked up in. */
  public static String hash(String key) {
    return HEX.formatHex(sha256(key));
  }

  /** {@link #hash} of a key whose SHA-256 ({@link #sha256}) is already at hand: one digest a request, not two. */
  public static String hashOfDigest(byte[] sha256) {
    return HEX.formatHex(sha256);
  }

  /**
   * Never updated, only cloned: every request hashes the key it presents, and a clone skips the
   * provider lookup of {@link MessageDigest#getInstance}. Stateless, so safe in a SnapStart snapshot.
   */
  private static final MessageDigest SHA_256 = newSha256();

  public static byte[] sha256(String value) {
    MessageDigest digest;
    try {
      digest = (MessageDigest) SHA_256.clone();
    } catch (CloneNotSupportedException notCloneable) {
      digest = newSha256(); // the JDK's SHA-256 is cloneable; another provider's may not be
    }
    return digest.digest(value.getBytes(StandardCharsets.UTF_8));
  }

  private static MessageDigest newSha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
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

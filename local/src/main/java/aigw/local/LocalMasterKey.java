package aigw.local;

import aigw.core.json.Json;
import aigw.core.keys.ApiKeys;
import aigw.core.secrets.StaticSecretSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Which master key the local gateway uses and where it comes from, decided once at start, in this
 * order:
 *
 * <ol>
 *   <li>{@code DATA-DIR/master-key}, when a local rotation wrote one ({@code invoke
 *       master-key-rotation} or {@code --master-key-rotation-seconds}): it replaced the key the
 *       gateway had before, as a rotation replaces AWSCURRENT on AWS, so it wins over
 *       {@code AIGW_MASTER_KEY}. Deleting it goes back.
 *   <li>{@code AIGW_MASTER_KEY}.
 *   <li>the development default {@code sk-development-only}, with a WARNING.
 * </ol>
 *
 * <p>A rotation also writes {@code DATA-DIR/master-key.previous}: the key it replaced, when
 * ({@code rotated_at}) and until when it works ({@code valid_until}, the end the rotation announced
 * with the {@code AIGW_MASTER_KEY_GRACE_SECONDS} of the process that rotated), so that the grace
 * period survives a restart as it survives a new Lambda container on AWS (there Secrets Manager
 * keeps AWSPREVIOUS and the version's creation date, and every function has the same setting). A
 * restart with another setting never extends that end; see {@link #previousKeyValidUntil}. Both
 * files are readable by their owner only.
 *
 * @param key the master key in force
 * @param origin where it comes from, for the start-up line
 * @param previousKey the key a local rotation replaced, or null
 * @param rotatedAt when that rotation happened (the grace period counts from it), or null
 * @param storedValidUntil the end of the previous key's grace period the rotation announced, or
 *     null (no previous key, or a file written before that end was stored: only {@code rotated_at})
 * @param developmentDefault whether {@code key} is the development default
 * @param shellReference how a shell command in the start-up banner refers to the key
 */
record LocalMasterKey(
    String key,
    String origin,
    String previousKey,
    Instant rotatedAt,
    Instant storedValidUntil,
    boolean developmentDefault,
    String shellReference) {
  static final String FILE = "master-key";
  static final String PREVIOUS_FILE = "master-key.previous";
  private static final Logger LOG = Logger.getLogger(LocalMasterKey.class.getName());

  /** Decides the key for a gateway on {@code dataDir} (null: in memory, no rotation files). */
  static LocalMasterKey resolve(Path dataDir, Map<String, String> env) {
    String configured = env.get("AIGW_MASTER_KEY");
    boolean fromEnv = configured != null && !configured.isBlank();
    Path file = dataDir == null ? null : dataDir.resolve(FILE);
    if (file != null && Files.isRegularFile(file)) {
      try {
        String key = Files.readString(file).strip();
        if (key.isEmpty()) {
          throw new IllegalStateException(file.toAbsolutePath() + " is empty: delete it to use "
              + (fromEnv ? "AIGW_MASTER_KEY" : "the development master key") + " again");
        }
        Path previousFile = dataDir.resolve(PREVIOUS_FILE);
        String previous = null;
        Instant rotatedAt = null;
        Instant storedValidUntil = null;
        if (Files.isRegularFile(previousFile)) {
          try {
            var node = Json.MAPPER.readTree(Files.readString(previousFile));
            previous = node.path("previous_key").asText(null);
            rotatedAt = Instant.parse(node.path("rotated_at").asText());
            String validUntil = node.path("valid_until").asText(null); // absent in files of earlier versions
            storedValidUntil = validUntil == null ? null : Instant.parse(validUntil);
          } catch (IOException | RuntimeException e) {
            // Not fatal: only the previous key's grace period is lost. Never quote the file: it holds a key.
            LOG.warning("Ignoring " + previousFile.toAbsolutePath() + ": it is not what a local rotation writes;"
                + " only the current master key is accepted.");
            previous = null;
            rotatedAt = null;
            storedValidUntil = null;
          }
        }
        String origin = file.toAbsolutePath().normalize() + ", written by a local master key rotation"
            + (rotatedAt == null ? "" : " at " + rotatedAt)
            + (fromEnv ? " (AIGW_MASTER_KEY is ignored while that file exists; delete it to go back to AIGW_MASTER_KEY)"
                : " (delete it to go back to the development master key)");
        return new LocalMasterKey(key, origin, previous, rotatedAt, storedValidUntil, StaticSecretSource.DEVELOPMENT_KEY.equals(key),
            "$(cat " + file + ")");
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read the master key in " + file.toAbsolutePath(), e);
      }
    }
    if (fromEnv) {
      return new LocalMasterKey(configured.trim(), "AIGW_MASTER_KEY", null, null, null,
          StaticSecretSource.DEVELOPMENT_KEY.equals(configured.trim()), "$AIGW_MASTER_KEY");
    }
    return new LocalMasterKey(StaticSecretSource.DEVELOPMENT_KEY,
        "the development default, as AIGW_MASTER_KEY is not set. Anyone who can reach this gateway can administer it;"
            + " for development only: set AIGW_MASTER_KEY to a random value (openssl rand -hex 32) anywhere else",
        null, null, null, true, StaticSecretSource.DEVELOPMENT_KEY);
  }

  /**
   * The fewest characters a master key needs to serve an address others can reach: the seeds ask
   * for a long random key (LiteLLM's own example {@code sk-1234} is what a guesser tries first), and
   * {@code openssl rand -hex 32} gives 64 characters. 32 characters, even of hex, are 128 bits.
   */
  static final int MIN_LENGTH_OFF_LOOPBACK = 32;

  /**
   * The fewest bits a master key's {@linkplain #estimatedBits estimated strength} needs to serve an
   * address others can reach: what {@code openssl rand -hex 16} gives, half of what the seeds' "at
   * least 32 bytes of randomness" asks of generated keys.
   */
  static final int MIN_BITS_OFF_LOOPBACK = 128;

  /**
   * Why this key is too weak to serve an address others can reach, in words for the operator, or
   * null when it is not: the development default (which everyone knows), shorter than {@link
   * #MIN_LENGTH_OFF_LOOPBACK} characters (LiteLLM's documented example {@code sk-1234} among them),
   * or long but of too little variety ({@link #estimatedBits} under {@link #MIN_BITS_OFF_LOOPBACK}:
   * 40 times {@code a}, {@code abab...}). The key itself is never quoted, except the public default.
   */
  String weakness() {
    if (developmentDefault) {
      return "the development master key " + StaticSecretSource.DEVELOPMENT_KEY + ", which anyone who can reach that address knows";
    }
    String from = " (" + origin.split("[,;( ]")[0] + ")";
    if (key.length() < MIN_LENGTH_OFF_LOOPBACK) {
      return "a master key of " + key.length() + " characters" + from + ", fewer than " + MIN_LENGTH_OFF_LOOPBACK
          + ": short keys, and examples such as LiteLLM's sk-1234, are the first a guesser tries";
    }
    int bits = estimatedBits(key);
    if (bits < MIN_BITS_OFF_LOOPBACK) {
      return "a master key of " + key.length() + " characters" + from + " but only about " + bits + " bits of strength, under "
          + MIN_BITS_OFF_LOOPBACK + ": too few different characters for its length, as a repeated pattern has";
    }
    return null;
  }

  /**
   * A master key's estimated strength in bits, rounded down: {@code length × log2(symbols)}, both
   * bounding what a guesser must try.
   *
   * <ul>
   *   <li>{@code symbols} is the smaller of the alphabet its characters come from (16 when the key
   *       is all hex digits of one case, else 10 for digits, 26 for each case of ASCII letters, 33
   *       for anything else, summed) and twice the number of different characters it holds: a key
   *       of two letters repeated is not worth log2(26) a character.
   *   <li>{@code length} is its length, or less when most of it repeats a pattern: when at least
   *       three quarters of the characters after the first {@code p} (p up to half the length)
   *       equal the one {@code p} before, the key is worth its first {@code p} characters and those
   *       that break the pattern ({@code sk-} and 40 zeros: 4; {@code 0123} written 16 times: 4).
   * </ul>
   *
   * <p>A random key is not penalised: 32 random hex digits show 8 or more different ones in all but
   * about 4 in 100 million draws (32 × log2(16) = 128 bits), and fall into a pattern far less
   * often; {@code sk-} and 32 random hex digits is about 170 bits. It is not a dictionary check: a
   * guessable phrase of varied characters passes, which is why the docs ask for {@code openssl rand
   * -hex 32}.
   */
  static int estimatedBits(String key) {
    boolean digits = false;
    boolean lower = false;
    boolean upper = false;
    boolean other = false;
    boolean lowerHexOnly = true;
    boolean upperHexOnly = true;
    var distinct = new java.util.HashSet<Integer>();
    for (int i = 0; i < key.length(); ) {
      int c = key.codePointAt(i);
      i += Character.charCount(c);
      distinct.add(c);
      if (c >= '0' && c <= '9') {
        digits = true;
      } else if (c >= 'a' && c <= 'z') {
        lower = true;
        upperHexOnly = false;
        lowerHexOnly &= c <= 'f';
      } else if (c >= 'A' && c <= 'Z') {
        upper = true;
        lowerHexOnly = false;
        upperHexOnly &= c <= 'F';
      } else {
        other = true;
        lowerHexOnly = false;
        upperHexOnly = false;
      }
    }
    int alphabet = lowerHexOnly || upperHexOnly ? 16 : (digits ? 10 : 0) + (lower ? 26 : 0) + (upper ? 26 : 0) + (other ? 33 : 0);
    int symbols = Math.min(alphabet, 2 * distinct.size());
    int length = lengthOutsidePatterns(key.codePoints().toArray());
    return symbols <= 1 ? 0 : (int) Math.floor(length * Math.log(symbols) / Math.log(2));
  }

  /**
   * The length of {@code text} counting a repeated pattern once: the least {@code p + breaks} over
   * every period {@code p} up to half the length (and 1,024) where the characters that differ from the one
   * {@code p} before ({@code breaks}) are at most a quarter of those compared; else the whole length.
   */
  private static int lengthOutsidePatterns(int[] text) {
    int length = text.length;
    for (int period = 1; period <= Math.min(text.length / 2, 1024); period++) { // bounded: the key is the operator's, but not its size
      int compared = text.length - period;
      int breaks = 0;
      for (int i = period; i < text.length && breaks * 4 <= compared; i++) {
        if (text[i] != text[i - period]) {
          breaks++;
        }
      }
      if (breaks * 4 <= compared) {
        length = Math.min(length, period + breaks);
      }
    }
    return length;
  }

  /**
   * The one start-up line saying which key is in force and where from: a WARNING for the
   * development default, INFO otherwise. The key itself only masked, except the public default.
   */
  void logInForce(Duration grace, Instant now) {
    String name = developmentDefault ? "'" + StaticSecretSource.DEVELOPMENT_KEY + "'" : ApiKeys.mask(key);
    String line = "Master key " + name + " from " + origin;
    Instant graceEnd = previousKeyValidUntil(grace);
    if (graceEnd != null) {
      line += "; the key it replaced (" + maskOrDefault(previousKey) + ")"
          + (now.isBefore(graceEnd) ? " works until " : " stopped working at ") + graceEnd;
    }
    LOG.log(developmentDefault ? Level.WARNING : Level.INFO, line + ".");
  }

  /**
   * The end of the previous key's grace period, or null when there is no previous key: the end the
   * rotation announced and stored, or {@code rotated_at + grace} when that is earlier. A restart
   * with a longer {@code AIGW_MASTER_KEY_GRACE_SECONDS} (or none, the default 3600) must not extend
   * a grace period, nor revive a key whose grace already ended; a shorter one may shorten it, as
   * lowering the setting on AWS shortens the grace of every container at once. A file with only
   * {@code rotated_at} (written before the end was stored) counts from it with {@code grace}.
   *
   * @param grace {@code AIGW_MASTER_KEY_GRACE_SECONDS} of the process now running
   */
  Instant previousKeyValidUntil(Duration grace) {
    if (previousKey == null || rotatedAt == null) {
      return null;
    }
    Instant byTheSettingNow = rotatedAt.plus(grace);
    return storedValidUntil != null && storedValidUntil.isBefore(byTheSettingNow) ? storedValidUntil : byTheSettingNow;
  }

  /**
   * After a rotation: the new key to {@code DATA-DIR/master-key} and the one it replaced, with the
   * rotation's instant and the end of its grace period as announced ({@code validUntil}), to
   * {@code DATA-DIR/master-key.previous}, each owner-only. The previous key goes first, so that a
   * crash in between leaves the old key current rather than a grace lost.
   */
  static Path write(Path dataDir, String key, String previousKey, Instant rotatedAt, Instant validUntil) throws IOException {
    Files.createDirectories(dataDir);
    if (previousKey != null) {
      var previous = new LinkedHashMap<String, String>();
      previous.put("previous_key", previousKey);
      previous.put("rotated_at", rotatedAt.toString());
      previous.put("valid_until", validUntil.toString());
      LocalSecrets.writeOwnerOnly(dataDir.resolve(PREVIOUS_FILE), Json.MAPPER.writeValueAsString(previous) + System.lineSeparator());
    }
    Path file = dataDir.resolve(FILE);
    LocalSecrets.writeOwnerOnly(file, key + System.lineSeparator());
    return file;
  }

  static String maskOrDefault(String key) {
    return StaticSecretSource.DEVELOPMENT_KEY.equals(key) ? StaticSecretSource.DEVELOPMENT_KEY : ApiKeys.mask(key);
  }
}

package aigw.core.keys;

import aigw.core.errors.BadRequest;
import aigw.core.secrets.MasterKey;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Optional;
import java.util.function.Function;

/**
 * The rules a virtual key's settings obey, whoever sets them (the admin API today): the values a
 * custom key may take, alias lengths, the rotation schedule, and what a regenerate may produce.
 * Each refusal is a {@link BadRequest} naming the field ({@code param}) that fixes it.
 */
public final class KeyRules {
  /** A custom key must be at least this long after {@code sk-}: guessable keys are refused. */
  public static final int MIN_CUSTOM_KEY_CHARS = 16;
  /** Longest rotation interval or grace period: longer ones are mistakes, and overflow a date. */
  public static final Duration LONGEST_SETTING = Duration.ofDays(3650);
  /**
   * Most characters in a key alias. An alias is part of a DynamoDB key (its guard item {@code
   * alias#<alias>}), and DynamoDB refuses a partition key over 2,048 bytes: 256 characters are at
   * most 1,024 bytes of UTF-8, far from it, and longer than any name a person gives a key.
   */
  public static final int MAX_ALIAS_LENGTH = 256;

  private KeyRules() {}

  /**
   * A key value the caller chose ({@code key} of /key/generate, {@code new_key} of /key/regenerate):
   * LiteLLM's rules plus the ones that keep it presentable and safe.
   *
   * @param param the request field that holds it, named by the refusal
   * @return {@code key}, accepted
   * @throws BadRequest when it is short, lacks {@code sk-}, cannot be sent in a header, or is the master key
   */
  public static String customKey(String key, String param, MasterKey masterKey) {
    if (!key.startsWith(ApiKeys.PREFIX) || key.length() < ApiKeys.PREFIX.length() + MIN_CUSTOM_KEY_CHARS) {
      throw new BadRequest(
          "A custom '" + param + "' must start with 'sk-' and have at least " + MIN_CUSTOM_KEY_CHARS + " characters after it.", param);
    }
    if (!key.strip().equals(key)) {
      // Callers' keys are trimmed before lookup: this key could never be presented.
      throw new BadRequest("A custom '" + param + "' must not start or end with whitespace.", param);
    }
    String unpresentable = ApiKeys.unpresentable(key);
    if (unpresentable != null) {
      // It would be stored, and then get 401 on every route: no client can send it as it is.
      throw new BadRequest(
          "A custom '" + param + "' must be sendable as 'Authorization: Bearer <key>' (RFC 9110 token68): "
              + ApiKeys.PRESENTABLE_RULE + "; " + unpresentable + ".",
          param);
    }
    if (masterKey.matches(key)) {
      // Model routes look virtual keys up first: this would let the master key call models.
      throw new BadRequest("A custom '" + param + "' must not be the master key.", param);
    }
    return key;
  }

  /** A blank alias names nothing and would make a guard item "alias#" that every blank alias shares. */
  public static Optional<String> keyAlias(Optional<String> alias) {
    if (alias.isPresent() && alias.get().isBlank()) {
      throw new BadRequest("'key_alias' must not be empty; leave it out for a key without an alias.", "key_alias");
    }
    return alias.map(name -> aliasLength(alias(name, "key_alias"), "key_alias"));
  }

  /**
   * An alias ({@code key_alias}, {@code team_alias}, and the aliases that look them up) as it is
   * stored and compared: in Unicode normalisation form C, so that {@code café} typed precomposed or
   * with a combining accent is one alias. Aliases are compared exactly after that, case and spaces
   * included, as LiteLLM's {@code _enforce_unique_key_alias} compares them.
   *
   * @return {@code alias} in NFC
   * @throws BadRequest (naming {@code field}) for a control character (NUL, ESC, line breaks), a
   *     format character (zero-width space and joiner, bidirectional controls: an alias that looks
   *     like another), or an unpaired surrogate (not text: it cannot be written as UTF-8); its
   *     length is the caller's to bound
   */
  public static String alias(String alias, String field) {
    for (int at = 0; at < alias.length(); ) {
      int point = alias.codePointAt(at);
      String what = Character.isSurrogate((char) point) && Character.charCount(point) == 1 ? "an unpaired surrogate"
          : switch (Character.getType(point)) {
            case Character.CONTROL -> "a control character";
            case Character.FORMAT -> "an invisible format character";
            default -> null;
          };
      if (what != null) {
        throw new BadRequest(String.format("'%s' must not contain %s (U+%04X at index %d).", field, what, point, at), field);
      }
      at += Character.charCount(point);
    }
    return java.text.Normalizer.normalize(alias, java.text.Normalizer.Form.NFC);
  }

  /** @throws BadRequest when {@code alias} is longer than {@link #MAX_ALIAS_LENGTH} */
  public static String aliasLength(String alias, String field) {
    if (alias.length() > MAX_ALIAS_LENGTH) {
      throw new BadRequest("'" + field + "' must be at most " + MAX_ALIAS_LENGTH + " characters; got " + alias.length() + ".", field);
    }
    return alias;
  }

  /** @throws BadRequest when a grace period is longer than {@link #LONGEST_SETTING} */
  public static Duration gracePeriod(Duration grace) {
    if (grace.compareTo(LONGEST_SETTING) > 0) {
      throw new BadRequest("'grace_period' must be at most 10 years (3650d).", "grace_period");
    }
    return grace;
  }

  /**
   * The rotation settings after a request, from what it sets and the key's current settings; empty
   * when it sets none of them. Keeps the due time unless the schedule itself changed (a new
   * schedule starts at {@code now}); the rotation history is not part of the result.
   *
   * @param refuseSecretTarget why a secret target cannot be written (null when it can): asked only
   *     for a target the key does not have yet
   */
  public static Optional<KeyRotation> rotation(
      RotationSettings requested, KeyRotation current, Instant now, Function<String, String> refuseSecretTarget) {
    if (requested.isEmpty()) {
      return Optional.empty();
    }
    boolean autoRotate = requested.autoRotate().orElse(current.autoRotate());
    Duration interval = requested.interval().orElse(current.interval());
    Duration grace = requested.gracePeriod().orElse(current.gracePeriod());
    String secret = requested.secretTarget().orElse(current.secretTarget());
    if (secret != null && secret.isEmpty()) {
      secret = null; // "" removes the secret target
    }
    if (interval != null && interval.compareTo(LONGEST_SETTING) > 0) {
      throw new BadRequest("'rotation_interval' must be at most 10 years (3650d).", "rotation_interval");
    }
    if (grace != null) {
      gracePeriod(grace);
    }
    if (autoRotate && grace != null && grace.isZero()) {
      // Scheduled rotations are unattended: the application needs time to read the new key.
      throw new BadRequest("'grace_period' must be longer than 0 when 'auto_rotate' is true.", "grace_period");
    }
    if (autoRotate && interval == null) {
      throw new BadRequest("'rotation_interval' (such as 30d) is required when 'auto_rotate' is true.", "rotation_interval");
    }
    if (autoRotate && interval.compareTo(KeyRotation.DEFAULT_GRACE_PERIOD) < 0 && grace == null) {
      throw new BadRequest(
          "A 'rotation_interval' shorter than the default grace period (24h) needs a 'grace_period' no longer than it.",
          "grace_period");
    }
    if (autoRotate && grace != null && grace.compareTo(interval) > 0) {
      // Otherwise values would pile up, each still working when the next rotation comes.
      throw new BadRequest("'grace_period' must not be longer than 'rotation_interval'.", "grace_period");
    }
    if (secret != null && !secret.equals(current.secretTarget())) {
      String refusal = refuseSecretTarget.apply(secret);
      if (refusal != null) {
        throw new BadRequest("'rotation_secret' cannot be used: " + refusal + ".", "rotation_secret");
      }
    }
    Instant next = null;
    if (autoRotate) {
      boolean sameSchedule = current.autoRotate() && interval.equals(current.interval()) && current.nextRotationAt() != null;
      next = sameSchedule ? current.nextRotationAt() : now.plus(interval).truncatedTo(ChronoUnit.SECONDS);
    }
    // Settings only: the rotation history stays the key's (KeyChanges.applyTo keeps it).
    return Optional.of(new KeyRotation(autoRotate, interval, grace, secret, next, null, 0, null));
  }

  /**
   * A regenerate answers with a value that works, or changes nothing: LiteLLM keeps every setting
   * of the key through a regenerate (only {@code duration} and the fields sent change it), so an
   * expired or blocked key would get a new value that fails at its first use. The caller learns it
   * now, with the field that fixes it.
   *
   * @throws BadRequest ({@code duration} or {@code blocked}) when the key after {@code changes} is expired or blocked
   */
  public static void regeneratedKeyUsable(VirtualKey current, KeyChanges changes, Instant now) {
    VirtualKey after = changes.applyTo(current, now);
    if (after.isExpired(now)) {
      throw new BadRequest(
          "Key " + current.keyName() + " expired at " + current.expiresAt() + ", and its new value would be expired too;"
              + " nothing was changed. Send a 'duration' (such as 30d) to give the new value a lifetime.",
          "duration");
    }
    if (after.blocked()) {
      throw new BadRequest(
          changes.blocked().orElse(false)
              ? "'blocked': true would block the new value at once; nothing was changed. Regenerate without it, or block the"
                  + " key with /key/block."
              : "Key " + current.keyName() + " is blocked, and its new value would be blocked too; nothing was changed. Send"
                  + " 'blocked': false to unblock the key with its new value (without a grace_period the old value stops at"
                  + " once), or /key/unblock it first.",
          "blocked");
    }
  }
}

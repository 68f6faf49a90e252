package aigw.admin;

import aigw.core.Gateway;
import aigw.core.auth.Caller;
import aigw.core.config.ModelAccess;
import aigw.core.errors.BadRequest;
import aigw.core.errors.Conflict;
import aigw.core.errors.MethodNotAllowed;
import aigw.core.errors.NotFound;
import aigw.core.errors.PayloadTooLarge;
import aigw.core.errors.PermissionDenied;
import aigw.core.errors.ServiceUnavailable;
import aigw.core.http.GatewayRequest;
import aigw.core.http.GatewayResponse;
import aigw.core.http.PathSegments;
import aigw.core.json.Json;
import aigw.core.keys.ApiKeys;
import aigw.core.keys.KeyChanges;
import aigw.core.keys.KeyRotation;
import aigw.core.keys.KeyStore;
import aigw.core.keys.VirtualKey;
import aigw.core.keys.dynamodb.DynamoDbKeyStore;
import aigw.core.rotation.LoggedRotationEvents;
import aigw.core.rotation.VirtualKeyRotator;
import aigw.core.secrets.SecretSource;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.function.Function;
import java.util.logging.Logger;
import java.util.regex.Pattern;

/**
 * LiteLLM's key management API, master key only:
 *
 * <ul>
 *   <li>{@code POST /key/generate}, {@code POST /key/update}, {@code POST /key/delete}
 *   <li>{@code POST /key/block}, {@code POST /key/unblock}
 *   <li>{@code GET /key/info?key=}, {@code GET /key/list}
 *   <li>{@code POST /key/regenerate}, {@code POST /key/{key}/regenerate}: a new value for the key
 *   <li>{@code POST /key/retrieve}: the value a scheduled rotation made, for a key without a secret
 *       target; once
 *   <li>{@code GET /health/liveliness}, {@code GET /health/readiness} (no key needed)
 * </ul>
 *
 * Every change is stored before it is acknowledged, and drops the key from this container's cache.
 */
public final class AdminService {
  private static final Logger LOG = Logger.getLogger(AdminService.class.getName());
  private static final int MAX_ADMIN_BODY_BYTES = 64 * 1024;
  private static final int MAX_PAGE_SIZE = 100;
  /** A custom key must be at least this long after {@code sk-}: guessable keys are refused. */
  static final int MIN_CUSTOM_KEY_CHARS = 16;
  /** Longest rotation interval or grace period: longer ones are mistakes, and overflow a date. */
  static final Duration LONGEST_SETTING = Duration.ofDays(3650);

  private static final Set<String> GENERATE_FIELDS =
      Set.of("key", "key_alias", "duration", "models", "team_id", "user_id", "metadata", "blocked",
          "auto_rotate", "rotation_interval", "grace_period", "rotation_secret");
  private static final Set<String> UPDATE_FIELDS = GENERATE_FIELDS;
  /** LiteLLM's RegenerateKeyRequest fields that aigw takes. */
  private static final Set<String> REGENERATE_FIELDS =
      Set.of("key", "new_key", "grace_period", "duration", "metadata", "blocked", "new_master_key");
  private static final Pattern REGENERATE_PATH = Pattern.compile("/key/(.+)/regenerate");
  private static final Set<String> KEY_ONLY = Set.of("key");
  private static final Set<String> DELETE_FIELDS = Set.of("keys", "key_aliases");
  private static final Set<String> LIST_PARAMS =
      Set.of("page", "size", "user_id", "team_id", "key_alias", "key_hash", "return_full_object", "sort_by", "sort_order");
  private static final Set<String> LIST_NOT_YET = Set.of("organization_id", "include_team_keys", "project_id");

  private final Gateway gateway;
  private final VirtualKeyRotator rotator;

  /** Without secret targets: keys rotate, but cannot name a secret to receive their new value. */
  public AdminService(Gateway gateway) {
    this(gateway, new VirtualKeyRotator(gateway.keyStore(), gateway.keyCache(), null, VirtualKeyRotator.DEFAULT_SECRET_PREFIX,
        new LoggedRotationEvents(), gateway.clock()));
  }

  public AdminService(Gateway gateway, VirtualKeyRotator rotator) {
    this.gateway = gateway;
    this.rotator = rotator;
  }

  public GatewayResponse handle(GatewayRequest request) {
    String path = request.path().replaceAll("/+$", "");
    switch (path) {
      case "/health/liveliness", "/health/liveness" -> {
        requireGet(request);
        return GatewayResponse.json(200, "I'm alive!");
      }
      case "/health/readiness" -> {
        requireGet(request);
        return readiness();
      }
      default -> {}
    }
    return switch (path) {
      case "/key/generate" -> post(request, this::generate);
      case "/key/update" -> post(request, this::update);
      case "/key/delete" -> post(request, this::delete);
      case "/key/block" -> post(request, body -> setBlocked(body, true));
      case "/key/unblock" -> post(request, body -> setBlocked(body, false));
      case "/key/info" -> get(request, this::info);
      case "/key/list" -> get(request, this::list);
      case "/key/regenerate" -> post(request, body -> regenerate(body, null));
      case "/key/retrieve" -> post(request, this::retrieve);
      case "/spend/logs", "/global/spend/keys", "/global/spend/teams" -> new SpendEndpoints(gateway).handle(request);
      case "/audit" -> new AuditEndpoints(gateway).handle(request);
      default -> {
        var inPath = REGENERATE_PATH.matcher(path);
        if (inPath.matches()) {
          yield post(request, body -> regenerate(body, keyInPath(inPath.group(1))));
        }
        throw new NotFound("Unknown route " + request.method() + " " + request.path() + ".", null);
      }
    };
  }

  /** The key (or hash) in {@code /key/{key}/regenerate}, %-escapes decoded as LiteLLM's path parameter is. */
  private static String keyInPath(String raw) {
    try {
      return PathSegments.decode(raw);
    } catch (IllegalArgumentException e) {
      throw new BadRequest("The key in the path has a malformed %-escape.", "key");
    }
  }

  private interface BodyCall {
    GatewayResponse apply(ObjectNode body);
  }

  private interface QueryCall {
    GatewayResponse apply(GatewayRequest request);
  }

  private GatewayResponse post(GatewayRequest request, BodyCall call) {
    if (!request.method().equals("POST")) {
      throw new MethodNotAllowed(request.method(), request.path(), "POST");
    }
    requireMaster(request);
    if (request.body().length > MAX_ADMIN_BODY_BYTES) {
      throw new PayloadTooLarge(request.body().length, MAX_ADMIN_BODY_BYTES);
    }
    if (request.body().length == 0) {
      throw new BadRequest("The request body is empty; send a JSON object.");
    }
    try {
      return call.apply(Json.readObject(request.body()));
    } catch (Json.NotAJsonObject e) {
      throw new BadRequest("Invalid JSON in the request body: " + e.getMessage());
    }
  }

  private GatewayResponse get(GatewayRequest request, QueryCall call) {
    requireGet(request);
    requireMaster(request);
    return call.apply(request);
  }

  private static void requireGet(GatewayRequest request) {
    if (!request.method().equals("GET")) {
      throw new MethodNotAllowed(request.method(), request.path(), "GET");
    }
  }

  private void requireMaster(GatewayRequest request) {
    Caller caller = gateway.authenticator().forAdminRoute(request, now());
    if (!(caller instanceof Caller.Master)) {
      throw new PermissionDenied("Admin-only endpoint. Not allowed to access this. Use the master key.");
    }
  }

  // POST /key/generate
  private GatewayResponse generate(ObjectNode body) {
    var fields = new Fields(body, GENERATE_FIELDS);
    Instant now = now();
    String key = fields.text("key").map(k -> checkedCustomKey(k, "key")).orElseGet(ApiKeys::generate);
    Instant expires = fields.text("duration").map(d -> Durations.expiry(now, d, "duration")).orElse(null);
    var virtualKey =
        new VirtualKey(
            ApiKeys.hash(key),
            UUID.randomUUID().toString(),
            ApiKeys.mask(key),
            keyAlias(fields).orElse(null),
            fields.strings("models").map(this::checkedModels).orElse(List.of()),
            fields.text("team_id").orElse(null),
            fields.text("user_id").orElse(null),
            fields.object("metadata").orElse(Map.of()),
            now,
            now,
            expires,
            fields.bool("blocked").orElse(false),
            null,
            rotationSettings(fields, KeyRotation.NONE, now).orElse(KeyRotation.NONE),
            null);
    try {
      gateway.keyStore().create(virtualKey);
    } catch (KeyStore.KeyAlreadyExists e) {
      throw new BadRequest(e.getMessage() + ".", virtualKey.keyAlias() != null && e.getMessage().contains("key_alias") ? "key_alias" : "key");
    }
    LOG.info("Created key " + virtualKey.keyName() + " (key_id " + virtualKey.keyId() + ")");
    var response = new LinkedHashMap<String, Object>();
    response.put("key", key); // the only time the key is ever shown
    response.putAll(KeyViews.info(virtualKey));
    response.put("token", virtualKey.tokenHash());
    response.put("token_id", virtualKey.tokenHash());
    if (virtualKey.rotation().secretTarget() != null) {
      response.put("rotation_secret_written", rotator.deliverFirstValue(virtualKey, key));
    }
    return GatewayResponse.json(200, response);
  }

  // POST /key/update
  private GatewayResponse update(ObjectNode body) {
    var fields = new Fields(body, UPDATE_FIELDS);
    String reference = fields.requiredText("key");
    Instant now = now();
    VirtualKey updated =
        change(
            reference,
            current ->
                new KeyChanges(
                    keyAlias(fields),
                    fields.strings("models").map(this::checkedModels),
                    fields.text("team_id"),
                    fields.text("user_id"),
                    fields.object("metadata"),
                    fields.text("duration").map(d -> Durations.expiry(now, d, "duration")),
                    fields.bool("blocked"),
                    rotationSettings(fields, current.rotation(), now)),
            now);
    var response = new LinkedHashMap<String, Object>();
    response.put("key", reference);
    response.putAll(KeyViews.info(updated));
    return GatewayResponse.json(200, response);
  }

  // POST /key/block and /key/unblock
  private GatewayResponse setBlocked(ObjectNode body, boolean blocked) {
    var fields = new Fields(body, KEY_ONLY);
    String reference = fields.requiredText("key");
    VirtualKey updated = change(reference, current -> KeyChanges.blocked(blocked), now());
    var response = new LinkedHashMap<String, Object>();
    response.put("key", reference);
    response.putAll(KeyViews.info(updated));
    return GatewayResponse.json(200, response);
  }

  /**
   * Applies the changes to the key {@code reference} names (a rotated-out value names the key it was
   * rotated to). A key changed or rotated by a concurrent call is read again and changed once more.
   */
  private VirtualKey change(String reference, Function<VirtualKey, KeyChanges> changesFor, Instant now) {
    for (int attempt = 1; ; attempt++) {
      VirtualKey current = resolve(reference);
      try {
        VirtualKey updated = gateway.keyStore().update(current.tokenHash(), changesFor.apply(current), now);
        // Every value of the key, including ones in their grace period: the change holds for all.
        gateway.keyCache().evictKey(current.keyId());
        return updated;
      } catch (KeyStore.KeyNotFound e) {
        throw keyNotFound(reference);
      } catch (KeyStore.KeyAlreadyExists e) {
        throw new BadRequest(e.getMessage() + ".", "key_alias");
      } catch (KeyStore.KeyChangedConcurrently e) {
        // Field changes apply to the key as it is now: read it again and apply them once more.
        if (attempt == 3) {
          throw new Conflict(e.getMessage(), "key");
        }
      }
    }
  }

  /** The key a reference (value, hash, or a value rotated out of it) names, as stored now. */
  private VirtualKey resolve(String reference) {
    return gateway.keyStore().findByHash(hashOf(reference)).orElseThrow(() -> keyNotFound(reference));
  }

  /**
   * The rotation settings after this request, from the fields and the key's current settings; empty
   * when the request sets none of them.
   */
  private Optional<KeyRotation> rotationSettings(Fields fields, KeyRotation current, Instant now) {
    if (!fields.has("auto_rotate") && !fields.has("rotation_interval") && !fields.has("grace_period") && !fields.has("rotation_secret")) {
      return Optional.empty();
    }
    boolean autoRotate = fields.bool("auto_rotate").orElse(current.autoRotate());
    Duration interval =
        fields.text("rotation_interval").map(t -> Durations.parse(t, "rotation_interval")).orElse(current.interval());
    Duration grace =
        fields.text("grace_period").map(t -> Durations.parseAllowingZero(t, "grace_period")).orElse(current.gracePeriod());
    String secret = fields.text("rotation_secret").map(String::trim).orElse(current.secretTarget());
    if (secret != null && secret.isEmpty()) {
      secret = null; // "" removes the secret target
    }
    if (interval != null && interval.compareTo(LONGEST_SETTING) > 0) {
      throw new BadRequest("'rotation_interval' must be at most 10 years (3650d).", "rotation_interval");
    }
    if (grace != null && grace.compareTo(LONGEST_SETTING) > 0) {
      throw new BadRequest("'grace_period' must be at most 10 years (3650d).", "grace_period");
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
      String refusal = rotator.refuseSecretTarget(secret);
      if (refusal != null) {
        throw new BadRequest("'rotation_secret' cannot be used: " + refusal + ".", "rotation_secret");
      }
    }
    // Keep the due time unless the schedule itself changed; a new schedule starts now.
    Instant next = null;
    if (autoRotate) {
      boolean sameSchedule = current.autoRotate() && interval.equals(current.interval()) && current.nextRotationAt() != null;
      next = sameSchedule ? current.nextRotationAt() : now.plus(interval).truncatedTo(ChronoUnit.SECONDS);
    }
    // Settings only: the rotation history stays the key's (KeyChanges.applyTo keeps it).
    return Optional.of(new KeyRotation(autoRotate, interval, grace, secret, next, null, 0, null));
  }

  // POST /key/regenerate and /key/{key}/regenerate
  private GatewayResponse regenerate(ObjectNode body, String keyInPath) {
    var fields = new Fields(body, REGENERATE_FIELDS);
    if (fields.has("new_master_key")) {
      throw new BadRequest(
          "The master key is rotated by Secrets Manager, not by this call: aws secretsmanager rotate-secret --secret-id "
              + "<MasterKeySecretArn> (docs/operations.md).",
          "new_master_key");
    }
    String reference = keyInPath != null ? keyInPath : fields.requiredText("key");
    if (keyInPath != null && fields.text("key").filter(k -> !k.equals(keyInPath)).isPresent()) {
      throw new BadRequest("'key' in the body names another key than the path.", "key");
    }
    String newKey = fields.text("new_key").map(k -> checkedCustomKey(k, "new_key")).orElse(null);
    Instant now = now();
    Optional<Duration> grace = fields.text("grace_period").map(t -> Durations.parseAllowingZero(t, "grace_period"));
    if (grace.isPresent() && grace.get().compareTo(LONGEST_SETTING) > 0) {
      throw new BadRequest("'grace_period' must be at most 10 years (3650d).", "grace_period");
    }
    var changes =
        new KeyChanges(
            Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(),
            fields.object("metadata"),
            fields.text("duration").map(d -> Durations.expiry(now, d, "duration")),
            fields.bool("blocked"));
    VirtualKey current = resolve(reference);
    if (current.graceEndsAt() != null) {
      // The caller named a value that was already replaced: regenerating would replace a value it
      // may never have seen (say, one a scheduled rotation left for /key/retrieve).
      throw new Conflict(
          "This value of key " + current.keyName() + " was already replaced by a rotation; regenerate the key by its current"
              + " value or its hash (" + current.tokenHash() + ") with \"grace_period\": \"0s\": that also stops this value at"
              + " once (after a leak).",
          "key");
    }
    refuseUnusableResult(current, changes, now);
    if (newKey != null && ApiKeys.hash(newKey).equals(current.tokenHash())) {
      throw new BadRequest("'new_key' is the key's current value; a new value must differ.", "new_key");
    }
    // LiteLLM: no grace_period means the old key stops at once; a key's own grace_period setting
    // (for its scheduled rotations) applies when the call names none.
    Duration gracePeriod = grace.orElse(
        current.rotation().gracePeriod() == null ? Duration.ZERO : current.rotation().gracePeriod());
    try {
      var rotation = rotator.rotate(current, newKey, gracePeriod, changes, VirtualKeyRotator.MANUAL);
      var response = new LinkedHashMap<String, Object>();
      response.put("key", rotation.key()); // the only time the new key is ever shown
      response.putAll(KeyViews.info(rotation.rotated()));
      response.put("token", rotation.rotated().tokenHash());
      response.put("token_id", rotation.rotated().tokenHash());
      if (rotation.rotated().rotation().secretTarget() != null) {
        response.put("rotation_secret_written", !rotation.deliveryFailed());
      }
      return GatewayResponse.json(200, response);
    } catch (KeyStore.KeyNotFound e) {
      throw keyNotFound(reference);
    } catch (KeyStore.KeyAlreadyExists e) {
      throw new BadRequest("'new_key' is already used by a key.", "new_key");
    } catch (KeyStore.KeyChangedConcurrently e) {
      // Not retried: the caller asked to replace the value it named, and another call has just
      // replaced or changed it (or was writing it: DynamoDB cancels a transaction that meets
      // another). Rotating again could replace a value this caller never saw; it may retry.
      throw new Conflict(
          "Key " + current.keyName() + " was rotated or changed by another call at the same time; nothing was changed."
              + " Read it with /key/info and retry if it still needs a new value.",
          "key");
    }
  }

  /**
   * A regenerate answers with a value that works, or changes nothing: LiteLLM keeps every setting
   * of the key through a regenerate (only {@code duration} and the fields sent change it), so an
   * expired or blocked key would get a new value that fails at its first use. The caller learns it
   * now, with the field that fixes it.
   */
  private static void refuseUnusableResult(VirtualKey current, KeyChanges changes, Instant now) {
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

  // POST /key/retrieve
  private GatewayResponse retrieve(ObjectNode body) {
    var fields = new Fields(body, KEY_ONLY);
    String reference = fields.requiredText("key");
    VirtualKey key = resolve(reference);
    String value =
        rotator.retrieveOnce(key)
            .orElseThrow(
                () ->
                    new NotFound(
                        "No new value of key " + key.keyName() + " is waiting: only a scheduled rotation of a key without a"
                            + " rotation_secret leaves one, and it can be retrieved once.",
                        "key"));
    Optional<VirtualKey> opens = gateway.keyStore().findByHash(ApiKeys.hash(value)); // read after the secret: no race
    if (opens.isEmpty() || opens.get().graceEndsAt() != null || !opens.get().keyId().equals(key.keyId())) {
      // The key was regenerated after the scheduled rotation: the held value is already outdated.
      throw new NotFound("The value a scheduled rotation left for key " + key.keyName() + " was replaced by a later rotation;"
          + " it has been discarded. Regenerate the key to get a value.", "key");
    }
    var response = new LinkedHashMap<String, Object>();
    response.put("key", value); // shown this once; the secret that held it is deleted
    response.putAll(KeyViews.info(opens.get().withUsage(gateway.keyStore().usageOf(key.keyId()))));
    return GatewayResponse.json(200, response);
  }

  /**
   * A key's {@code models}, each entry checked to allow at least one model this gateway serves: an
   * entry that matches nothing (a typo such as {@code gpt-9}, a pattern for a provider that is not
   * configured) would leave the key with an empty {@code /v1/models} and a 401 on every call.
   */
  private List<String> checkedModels(List<String> entries) {
    for (String entry : entries) {
      String refusal = ModelAccess.refusal(entry, gateway.router());
      if (refusal != null) {
        throw new BadRequest("The 'models' entry '" + entry + "' allows no model: " + refusal + ".", "models");
      }
    }
    return entries;
  }

  /** A key value the caller chose: LiteLLM's rules plus the ones that keep it presentable and safe. */
  private String checkedCustomKey(String key, String param) {
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
    if (gateway.masterKey().matches(key)) {
      // Model routes look virtual keys up first: this would let the master key call models.
      throw new BadRequest("A custom '" + param + "' must not be the master key.", param);
    }
    return key;
  }

  // POST /key/delete
  private GatewayResponse delete(ObjectNode body) {
    var fields = new Fields(body, DELETE_FIELDS);
    List<String> keys = fields.strings("keys").orElse(List.of());
    List<String> aliases = fields.strings("key_aliases").orElse(List.of());
    aliases.forEach(alias -> requireAliasLength(alias, "key_aliases"));
    if (keys.isEmpty() && aliases.isEmpty()) {
      throw new BadRequest("Send 'keys' or 'key_aliases' (at least one key).", "keys");
    }
    var hashes = new LinkedHashSet<String>();
    var named = new LinkedHashMap<String, String>(); // hash -> how the caller named it
    var found = new LinkedHashMap<String, VirtualKey>(); // hash -> the key, as read before the delete
    for (String key : keys) {
      // A value rotated out of a key names that key; an unknown one is reported below, by its own hash.
      Optional<VirtualKey> current = gateway.keyStore().findByHash(hashOf(key));
      String hash = current.map(VirtualKey::tokenHash).orElse(hashOf(key));
      current.ifPresent(k -> found.put(hash, k));
      hashes.add(hash);
      named.putIfAbsent(hash, key);
    }
    var missingAliases = new ArrayList<String>();
    for (String alias : aliases) {
      List<String> aliased = gateway.keyStore().hashesForAlias(alias);
      if (aliased.isEmpty()) {
        missingAliases.add(alias);
      }
      for (String hash : aliased) {
        hashes.add(hash);
        named.putIfAbsent(hash, alias);
      }
    }
    if (!missingAliases.isEmpty()) {
      throw new NotFound("No key has the alias " + String.join(", ", missingAliases) + "; nothing was deleted.", "key_aliases");
    }
    if (hashes.size() > DynamoDbKeyStore.MAX_DELETE_BATCH) {
      throw new BadRequest("At most " + DynamoDbKeyStore.MAX_DELETE_BATCH + " keys can be deleted per call (one transaction).", "keys");
    }
    for (String hash : hashes) {
      if (!found.containsKey(hash)) { // named by alias
        gateway.keyStore().findByHash(hash).ifPresent(k -> found.put(hash, k));
      }
    }
    try {
      gateway.keyStore().deleteAll(hashes);
    } catch (KeyStore.KeyNotFound e) {
      var missing = e.missing().stream().map(h -> ApiKeys.isHash(named.get(h)) ? h : ApiKeys.mask(named.get(h))).toList();
      throw new NotFound("No such key: " + String.join(", ", missing) + "; nothing was deleted.", "keys");
    } catch (KeyStore.KeyChangedConcurrently e) {
      throw new Conflict(e.getMessage() + " Nothing was deleted.", "keys");
    }
    hashes.forEach(gateway.keyCache()::invalidate);
    found.values().forEach(k -> gateway.keyCache().evictKey(k.keyId())); // and the values rotated out of them
    found.values().forEach(k -> rotator.discardHeldValue(k.keyId(), k.rotation().count())); // must not outlive the key
    LOG.info("Deleted " + hashes.size() + " key(s)");
    var deleted = new ArrayList<String>(keys);
    deleted.addAll(aliases);
    return GatewayResponse.json(200, Map.of("deleted_keys", deleted));
  }

  // GET /key/info?key=
  private GatewayResponse info(GatewayRequest request) {
    rejectUnknownParams(request, Set.of("key"), Set.of());
    String reference = request.queryParam("key");
    if (reference == null || reference.isBlank()) {
      throw new BadRequest("Query parameter 'key' is required: the key or its hash.", "key");
    }
    VirtualKey found = resolve(reference);
    VirtualKey key = found.withUsage(gateway.keyStore().usageOf(found.keyId()));
    var response = new LinkedHashMap<String, Object>();
    response.put("key", reference);
    response.put("info", KeyViews.info(key));
    return GatewayResponse.json(200, response);
  }

  // GET /key/list
  private GatewayResponse list(GatewayRequest request) {
    rejectUnknownParams(request, LIST_PARAMS, LIST_NOT_YET);
    int page = positiveInt(request, "page", 1, Integer.MAX_VALUE);
    int size = positiveInt(request, "size", 10, MAX_PAGE_SIZE);
    boolean full = Boolean.parseBoolean(request.queryParam("return_full_object"));
    String sortBy = Optional.ofNullable(request.queryParam("sort_by")).orElse("created_at");
    String sortOrder = Optional.ofNullable(request.queryParam("sort_order")).orElse("desc");
    Comparator<VirtualKey> order =
        switch (sortBy) {
          case "created_at" -> Comparator.comparing(VirtualKey::createdAt);
          case "updated_at" -> Comparator.comparing(VirtualKey::updatedAt);
          case "key_alias" -> Comparator.comparing(k -> k.keyAlias() == null ? "" : k.keyAlias());
          default -> throw new BadRequest("'sort_by' must be created_at, updated_at or key_alias.", "sort_by");
        };
    order =
        switch (sortOrder) {
          case "asc" -> order;
          case "desc" -> order.reversed();
          default -> throw new BadRequest("'sort_order' must be asc or desc.", "sort_order");
        };
    var matching =
        gateway.keyStore().listAll().stream()
            .filter(k -> matches(request.queryParam("user_id"), k.userId()))
            .filter(k -> matches(request.queryParam("team_id"), k.teamId()))
            .filter(k -> matches(request.queryParam("key_alias"), k.keyAlias()))
            .filter(k -> matches(request.queryParam("key_hash"), k.tokenHash()))
            .sorted(order)
            .toList();
    int total = matching.size();
    int totalPages = total == 0 ? 0 : (total + size - 1) / size;
    int from = (int) Math.min((long) (page - 1) * size, total);
    var pageKeys = matching.subList(from, Math.min(from + size, total));
    List<Object> keys =
        pageKeys.stream()
            .map(k -> full ? (Object) KeyViews.full(k) : (Object) k.tokenHash())
            .toList();
    var response = new LinkedHashMap<String, Object>();
    response.put("keys", keys);
    response.put("total_count", total);
    response.put("current_page", page);
    response.put("total_pages", totalPages);
    return GatewayResponse.json(200, response);
  }

  private GatewayResponse readiness() {
    var status = new LinkedHashMap<String, Object>();
    boolean healthy = true;
    try {
      gateway.keyStore().findByHash("0".repeat(64)); // one real GetItem on the keys table
      status.put("db", "connected");
    } catch (ServiceUnavailable e) {
      healthy = false;
      status.put("db", "unreachable");
      LOG.warning("Readiness: " + e.getMessage());
    }
    try {
      gateway.masterKey().check();
      status.put("master_key", "readable");
    } catch (SecretSource.SecretUnavailable e) {
      healthy = false;
      status.put("master_key", "unreadable");
      LOG.warning("Readiness: " + e.getMessage());
    }
    status.put("models", gateway.router().size());
    var response = new LinkedHashMap<String, Object>();
    response.put("status", healthy ? "healthy" : "unhealthy");
    response.putAll(status);
    return GatewayResponse.json(healthy ? 200 : 503, response);
  }

  /**
   * Most characters in a key alias. An alias is part of a DynamoDB key (its guard item {@code
   * alias#<alias>}), and DynamoDB refuses a partition key over 2,048 bytes: 256 characters are at
   * most 1,024 bytes of UTF-8, far from it, and longer than any name a person gives a key.
   */
  static final int MAX_ALIAS_LENGTH = 256;

  /** A blank alias names nothing and would make a guard item "alias#" that every blank alias shares. */
  private static Optional<String> keyAlias(Fields fields) {
    Optional<String> alias = fields.text("key_alias");
    if (alias.isPresent() && alias.get().isBlank()) {
      throw new BadRequest("'key_alias' must not be empty; leave it out for a key without an alias.", "key_alias");
    }
    alias.ifPresent(name -> requireAliasLength(name, "key_alias"));
    return alias;
  }

  private static void requireAliasLength(String alias, String field) {
    if (alias.length() > MAX_ALIAS_LENGTH) {
      throw new BadRequest("'" + field + "' must be at most " + MAX_ALIAS_LENGTH + " characters; got " + alias.length() + ".", field);
    }
  }

  private static void rejectUnknownParams(GatewayRequest request, Set<String> accepted, Set<String> notYet) {
    for (String name : request.query().keySet()) {
      if (notYet.contains(name)) {
        throw new BadRequest("Query parameter '" + name + "' is not supported by aigw yet.", name);
      }
      if (!accepted.contains(name)) {
        throw new BadRequest(
            "Unknown query parameter '" + name + "'. Accepted: " + String.join(", ", accepted.stream().sorted().toList()) + ".",
            name);
      }
    }
  }

  private static int positiveInt(GatewayRequest request, String name, int fallback, int max) {
    String value = request.queryParam(name);
    if (value == null || value.isBlank()) {
      return fallback;
    }
    try {
      int parsed = Integer.parseInt(value.trim());
      if (parsed < 1 || parsed > max) {
        throw new NumberFormatException();
      }
      return parsed;
    } catch (NumberFormatException e) {
      throw new BadRequest("'" + name + "' must be a whole number from 1 to " + max + ".", name);
    }
  }

  private static boolean matches(String wanted, String actual) {
    return wanted == null || wanted.equals(actual);
  }

  /** A key is named by its value or by its stored hash (as /key/list returns them). */
  private static String hashOf(String reference) {
    return ApiKeys.isHash(reference) ? reference : ApiKeys.hash(reference);
  }

  private static NotFound keyNotFound(String reference) {
    String shown = ApiKeys.isHash(reference) ? reference : ApiKeys.mask(reference);
    return new NotFound("Key not found: " + shown + ".", "key");
  }

  private Instant now() {
    return gateway.clock().instant();
  }
}

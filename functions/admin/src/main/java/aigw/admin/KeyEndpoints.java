package aigw.admin;

import aigw.admin.AdminRoutes.Route;
import aigw.core.Gateway;
import aigw.core.audit.AuditLog;
import aigw.core.config.ModelAccess;
import aigw.core.errors.BadRequest;
import aigw.core.errors.Conflict;
import aigw.core.errors.NotFound;
import aigw.core.http.GatewayResponse;
import aigw.core.http.PathSegments;
import aigw.core.keys.ApiKeys;
import aigw.core.keys.KeyAdmin;
import aigw.core.keys.KeyChanges;
import aigw.core.keys.KeyRotation;
import aigw.core.keys.KeyRules;
import aigw.core.keys.KeyStore;
import aigw.core.keys.VirtualKey;
import aigw.core.keys.dynamodb.DynamoDbKeyStore;
import aigw.core.limits.LimitScope;
import aigw.core.teams.TeamAccess;
import aigw.core.limits.Limits;
import aigw.core.rotation.VirtualKeyRotator;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.logging.Logger;

/**
 * LiteLLM's key management API, master key only. Every change is stored, and recorded in the audit
 * log, before it is acknowledged, and drops the key from this container's cache.
 */
final class KeyEndpoints {
  static final List<Route<KeyEndpoints>> ROUTES =
      List.of(
          Route.post("/key/generate", KeyEndpoints::generate),
          Route.post("/key/update", KeyEndpoints::update),
          Route.post("/key/delete", KeyEndpoints::delete),
          Route.post("/key/block", (e, r) -> e.setBlocked(r, true)),
          Route.post("/key/unblock", (e, r) -> e.setBlocked(r, false)),
          Route.get("/key/info", KeyEndpoints::info), // ?key=
          Route.get("/key/list", KeyEndpoints::list),
          Route.post("/key/regenerate", KeyEndpoints::regenerate), // a new value for the key
          Route.post("/key/{key}/regenerate", KeyEndpoints::regenerate),
          // The value a scheduled rotation made, for a key without a secret target; once.
          Route.post("/key/retrieve", KeyEndpoints::retrieve));

  private static final Logger LOG = Logger.getLogger(KeyEndpoints.class.getName());
  private static final String KEY = "key"; // the audit log's object type

  private final Gateway gateway;
  private final VirtualKeyRotator rotator;
  private final AuditLog auditLog;
  private final KeyAdmin keys;

  KeyEndpoints(AdminRoutes.Wiring wiring) {
    this.gateway = wiring.gateway();
    this.rotator = wiring.rotator();
    this.auditLog = wiring.auditLog();
    this.keys = new KeyAdmin(gateway.keyStore(), gateway.keyCache(), DynamoDbKeyStore.MAX_DELETE_BATCH);
  }

  // POST /key/generate
  private GatewayResponse generate(AdminRequest request) {
    var generate = GenerateKeyRequest.from(request.body());
    KeySettings settings = generate.settings();
    Instant now = request.now();
    String key = generate.key().map(k -> KeyRules.customKey(k, "key", gateway.masterKey())).orElseGet(ApiKeys::generate);
    var virtualKey =
        new VirtualKey(
            ApiKeys.hash(key),
            UUID.randomUUID().toString(),
            ApiKeys.mask(key),
            KeyRules.keyAlias(settings.keyAlias()).orElse(null),
            settings.models().map(this::checkedModels).orElse(List.of()),
            settings.teamId().orElse(null),
            settings.userId().orElse(null),
            settings.metadata().orElse(Map.of()),
            now,
            now,
            settings.duration().map(d -> d.expiresAt(now)).orElse(null),
            settings.blocked().orElse(false),
            null,
            KeyRules.rotation(settings.rotation(), KeyRotation.NONE, now, rotator::refuseSecretTarget).orElse(KeyRotation.NONE),
            null,
            settings.limits().map(limits -> limits.apply(Limits.NONE)).orElse(Limits.NONE));
    TeamAccess.requireValidTeam(virtualKey, gateway.teamStore()); // its team exists (400 like LiteLLM)
    keys.create(virtualKey);
    LOG.info("Created key " + virtualKey.keyName() + " (key_id " + virtualKey.keyId() + ")");
    var response = new LinkedHashMap<String, Object>();
    response.put("key", key); // the only time the key is ever shown
    response.putAll(KeyViews.info(virtualKey));
    response.put("token", virtualKey.tokenHash());
    response.put("token_id", virtualKey.tokenHash());
    // A key with a budget shows its period as /key/info does right after (spend 0, budget_reset_at).
    SpendViews.showPeriod(response, LimitScope.ofKey(virtualKey.keyId(), virtualKey.keyName(), virtualKey.limits()), gateway.limits());
    if (virtualKey.rotation().secretTarget() != null) {
      response.put("rotation_secret_written", rotator.deliverFirstValue(virtualKey, key));
    }
    audit(request, "key.generate", virtualKey, generate.fieldsSet());
    return GatewayResponse.json(200, response);
  }

  // POST /key/update
  private GatewayResponse update(AdminRequest request) {
    var update = UpdateKeyRequest.from(request.body());
    KeySettings settings = update.settings();
    Instant now = request.now();
    Optional<String> alias = KeyRules.keyAlias(settings.keyAlias());
    Optional<List<String>> models = settings.models().map(this::checkedModels);
    Optional<Instant> expires = settings.duration().map(d -> d.expiresAt(now));
    VirtualKey updated =
        keys.change(
            update.key(),
            current -> TeamAccess.requireValidTeam(current,
                new KeyChanges(
                    alias,
                    models,
                    settings.teamId(),
                    settings.userId(),
                    settings.metadata(),
                    expires,
                    settings.blocked(),
                    KeyRules.rotation(settings.rotation(), current.rotation(), now, rotator::refuseSecretTarget),
                    settings.limits().map(limits -> limits.apply(current.limits()))),
                gateway.teamStore(), now),
            now);
    audit(request, "key.update", updated, update.fieldsSet());
    var response = new LinkedHashMap<String, Object>();
    response.put("key", update.key());
    response.putAll(KeyViews.info(updated));
    return GatewayResponse.json(200, response);
  }

  // POST /key/block and /key/unblock
  private GatewayResponse setBlocked(AdminRequest request, boolean blocked) {
    String reference = KeyReference.from(request.body()).key();
    VirtualKey updated = keys.change(reference, current -> KeyChanges.blocked(blocked), request.now());
    audit(request, blocked ? "key.block" : "key.unblock", updated, List.of("blocked"));
    var response = new LinkedHashMap<String, Object>();
    response.put("key", reference);
    response.putAll(KeyViews.info(updated));
    return GatewayResponse.json(200, response);
  }

  // POST /key/regenerate and /key/{key}/regenerate
  private GatewayResponse regenerate(AdminRequest request) {
    String keyInPath = request.pathParameters().isEmpty() ? null : keyInPath(request.pathParameters().get(0));
    var regenerate = RegenerateKeyRequest.from(request.body(), keyInPath);
    String newKey = regenerate.newKey().map(k -> KeyRules.customKey(k, "new_key", gateway.masterKey())).orElse(null);
    Instant now = request.now();
    Optional<Duration> grace = regenerate.gracePeriod().map(KeyRules::gracePeriod);
    var changes =
        new KeyChanges(
            Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(),
            regenerate.metadata(),
            regenerate.duration().map(d -> d.expiresAt(now)),
            regenerate.blocked());
    VirtualKey current = keys.resolve(regenerate.key());
    if (current.graceEndsAt() != null) {
      // The caller named a value that was already replaced: regenerating would replace a value it
      // may never have seen (say, one a scheduled rotation left for /key/retrieve).
      throw new Conflict(
          "This value of key " + current.keyName() + " was already replaced by a rotation; regenerate the key by its current"
              + " value or its hash (" + current.tokenHash() + ") with \"grace_period\": \"0s\": that also stops this value at"
              + " once (after a leak).",
          "key");
    }
    KeyRules.regeneratedKeyUsable(current, changes, now);
    if (newKey != null && ApiKeys.hash(newKey).equals(current.tokenHash())) {
      throw new BadRequest("'new_key' is the key's current value; a new value must differ.", "new_key");
    }
    // LiteLLM: no grace_period means the old key stops at once; a key's own grace_period setting
    // (for its scheduled rotations) applies when the call names none.
    Duration gracePeriod = grace.orElse(
        current.rotation().gracePeriod() == null ? Duration.ZERO : current.rotation().gracePeriod());
    VirtualKeyRotator.Rotation rotation;
    try {
      rotation = rotator.rotate(current, newKey, gracePeriod, changes, VirtualKeyRotator.MANUAL);
    } catch (KeyStore.KeyNotFound e) {
      throw KeyAdmin.keyNotFound(regenerate.key());
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
    audit(request, "key.regenerate", rotation.rotated(), regenerate.fieldsSet());
    var response = new LinkedHashMap<String, Object>();
    response.put("key", rotation.key()); // the only time the new key is ever shown
    response.putAll(KeyViews.info(rotation.rotated()));
    response.put("token", rotation.rotated().tokenHash());
    response.put("token_id", rotation.rotated().tokenHash());
    if (rotation.rotated().rotation().secretTarget() != null) {
      response.put("rotation_secret_written", !rotation.deliveryFailed());
    }
    return GatewayResponse.json(200, response);
  }

  /** The key (or hash) in {@code /key/{key}/regenerate}, %-escapes decoded as LiteLLM's path parameter is. */
  private static String keyInPath(String raw) {
    try {
      return PathSegments.decode(raw);
    } catch (IllegalArgumentException e) {
      throw new BadRequest("The key in the path has a malformed %-escape.", "key");
    }
  }

  // POST /key/retrieve
  private GatewayResponse retrieve(AdminRequest request) {
    String reference = KeyReference.from(request.body()).key();
    VirtualKey key = keys.resolve(reference);
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
    // The held value's secret is deleted: who took the key's value, and from where, is on record.
    audit(request, "key.retrieve", key, List.of());
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

  // POST /key/delete
  private GatewayResponse delete(AdminRequest request) {
    var delete = DeleteKeysRequest.from(request.body());
    // Looked up as stored: in NFC (KeyRules#alias).
    List<String> aliases = delete.keyAliases().stream().map(alias -> KeyRules.aliasLength(KeyRules.alias(alias, "key_aliases"), "key_aliases")).toList();
    if (delete.keys().isEmpty() && aliases.isEmpty()) {
      throw new BadRequest("Send 'keys' or 'key_aliases' (at least one key).", "keys");
    }
    List<VirtualKey> deleted = keys.delete(delete.keys(), aliases);
    deleted.forEach(k -> rotator.discardHeldValue(k.keyId(), k.rotation().count())); // must not outlive the key
    LOG.info("Deleted " + deleted.size() + " key(s)");
    deleted.forEach(k -> audit(request, "key.delete", k, List.of()));
    var named = new ArrayList<String>(delete.keys());
    named.addAll(aliases);
    return GatewayResponse.json(200, Map.of("deleted_keys", named));
  }

  // GET /key/info?key=
  private GatewayResponse info(AdminRequest request) {
    String reference = new QueryParams(request.http(), Set.of("key"), Set.of()).text("key");
    if (reference == null || reference.isBlank()) {
      throw new BadRequest("Query parameter 'key' is required: the key or its hash.", "key");
    }
    VirtualKey found = keys.resolve(reference);
    VirtualKey key = found.withUsage(gateway.keyStore().usageOf(found.keyId()));
    var info = KeyViews.info(key);
    // LiteLLM's key spend is the current budget period's: it resets to 0 at budget_reset_at.
    SpendViews.showPeriod(info, LimitScope.ofKey(key.keyId(), key.keyName(), key.limits()), gateway.limits());
    var response = new LinkedHashMap<String, Object>();
    response.put("key", reference);
    response.put("info", info);
    return GatewayResponse.json(200, response);
  }

  // GET /key/list
  private GatewayResponse list(AdminRequest request) {
    var query = KeyListQuery.from(request.http());
    var matching = gateway.keyStore().listAll().stream().filter(query::matches).sorted(query.order()).toList();
    int total = matching.size();
    int totalPages = total == 0 ? 0 : (total + query.size() - 1) / query.size();
    int from = (int) Math.min((long) (query.page() - 1) * query.size(), total);
    var pageKeys = matching.subList(from, Math.min(from + query.size(), total));
    // Full objects show spend as /key/info does (SpendViews): one read per key with a budget on the page.
    List<Object> shown =
        pageKeys.stream().map(k -> query.fullObjects() ? (Object) SpendViews.key(k, gateway.limits()) : (Object) k.tokenHash()).toList();
    var response = new LinkedHashMap<String, Object>();
    response.put("keys", shown);
    response.put("total_count", total);
    response.put("current_page", query.page());
    response.put("total_pages", totalPages);
    return GatewayResponse.json(200, response);
  }

  /**
   * Records the action in the audit log, after it is stored and before it is answered: the key by
   * its stable {@code key_id}, the fields the request set by name ({@code key}, the reference or a
   * chosen value, is left out).
   */
  private void audit(AdminRequest request, String action, VirtualKey key, List<String> fieldsSet) {
    var changed = fieldsSet.stream().filter(name -> !name.equals("key")).toList();
    auditLog.record(request.auditEvent(action, KEY, key.keyId(), changed));
  }
}

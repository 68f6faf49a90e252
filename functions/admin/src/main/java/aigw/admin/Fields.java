package aigw.admin;

import aigw.core.errors.BadRequest;
import aigw.core.limits.LimitFields;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Reads admin request fields with LiteLLM's names. A field aigw accepts works; a LiteLLM field it
 * does not implement yet, or an unknown one, is a 400 that names it, never silently ignored.
 */
final class Fields {
  /** LiteLLM key fields that aigw does not implement yet (REFERENCE.md). */
  static final Set<String> LITELLM_NOT_YET =
      Set.of(
          "spend", "agent_id", "budget_limits", "allowed_cache_controls", "config", "permissions",
          "model_max_budget", "budget_fallbacks", "model_rpm_limit", "model_tpm_limit", "guardrails",
          "policies", "prompts", "aliases", "object_permission", "budget_id", "tags", "enforced_params",
          "allowed_routes", "allowed_passthrough_routes", "allowed_vector_store_indexes", "rpm_limit_type",
          "tpm_limit_type", "router_settings", "access_group_ids", "send_invite_email",
          "key_type", "organization_id", "project_id",
          "temp_budget_increase", "temp_budget_expiry");

  private final ObjectNode body;

  Fields(ObjectNode body, Set<String> accepted) {
    this.body = body;
    var names = new ArrayList<String>();
    body.fieldNames().forEachRemaining(names::add);
    for (String name : names) {
      if (accepted.contains(name)) {
        continue;
      }
      if (LITELLM_NOT_YET.contains(name)) {
        throw new BadRequest("'" + name + "' is not supported by aigw yet; remove it from the request.", name);
      }
      throw new BadRequest("Unknown field '" + name + "'. Accepted fields: " + String.join(", ", sorted(accepted)) + ".", name);
    }
  }

  /**
   * The names of the fields the request sets, in request order: a field sent as null sets nothing,
   * except a limit ({@link LimitFields#NAMES}), which null removes.
   */
  List<String> namesSet() {
    var names = new ArrayList<String>();
    body.fields().forEachRemaining(field -> {
      if (!field.getValue().isNull() || LimitFields.NAMES.contains(field.getKey())) {
        names.add(field.getKey());
      }
    });
    return List.copyOf(names);
  }

  /** The request's JSON object, for readers in the core ({@link aigw.core.limits.LimitFields}). */
  ObjectNode body() {
    return body;
  }

  /** Whether the request names the field, with a value or null. */
  boolean names(String name) {
    return body.has(name);
  }

  boolean has(String name) {
    JsonNode value = body.get(name);
    return value != null && !value.isNull();
  }

  Optional<String> text(String name) {
    JsonNode value = body.get(name);
    if (value == null || value.isNull()) {
      return Optional.empty();
    }
    if (!value.isTextual()) {
      throw new BadRequest("'" + name + "' must be a string.", name);
    }
    return Optional.of(value.asText());
  }

  String requiredText(String name) {
    return text(name).filter(s -> !s.isBlank()).orElseThrow(() -> new BadRequest("'" + name + "' is required.", name));
  }

  Optional<Boolean> bool(String name) {
    JsonNode value = body.get(name);
    if (value == null || value.isNull()) {
      return Optional.empty();
    }
    if (!value.isBoolean()) {
      throw new BadRequest("'" + name + "' must be true or false.", name);
    }
    return Optional.of(value.booleanValue());
  }

  Optional<List<String>> strings(String name) {
    JsonNode value = body.get(name);
    if (value == null || value.isNull()) {
      return Optional.empty();
    }
    if (!value.isArray()) {
      throw new BadRequest("'" + name + "' must be an array of strings.", name);
    }
    var list = new ArrayList<String>();
    for (JsonNode item : value) {
      if (!item.isTextual() || item.asText().isBlank()) {
        throw new BadRequest("'" + name + "' must be an array of non-empty strings.", name);
      }
      list.add(item.asText());
    }
    return Optional.of(List.copyOf(list));
  }

  @SuppressWarnings("unchecked")
  Optional<Map<String, Object>> object(String name) {
    JsonNode value = body.get(name);
    if (value == null || value.isNull()) {
      return Optional.empty();
    }
    if (!value.isObject()) {
      throw new BadRequest("'" + name + "' must be a JSON object.", name);
    }
    return Optional.of(aigw.core.json.Json.MAPPER.convertValue(value, LinkedHashMap.class));
  }

  private static List<String> sorted(Set<String> names) {
    return names.stream().sorted().toList();
  }
}

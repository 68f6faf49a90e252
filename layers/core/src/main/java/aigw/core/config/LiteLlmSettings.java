package aigw.core.config;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.logging.Logger;

/**
 * The parts of a LiteLLM config file aigw does not honour, each named in one warning at start with
 * what to do instead, so that a setting copied from LiteLLM is never ignored in silence. Values are
 * never logged: {@code general_settings.master_key} and {@code environment_variables} hold secrets.
 *
 * <p>LiteLLM's sections: https://docs.litellm.ai/docs/proxy/configs and
 * https://docs.litellm.ai/docs/proxy/config_settings. aigw reads {@code model_list} and the router
 * settings of {@link RouterSettings#HONOURED}; everything else here is a warning.
 */
final class LiteLlmSettings {
  private static final String ALIASES =
      "aigw has no model aliases: add a model_list entry whose model_name is the alias, with the same"
          + " litellm_params as the model it stands for (entries sharing a model_name are balanced)";
  private static final String SETTINGS_ARE_ENVIRONMENT =
      "aigw's settings are environment variables (AIGW_*, docs/configuration.md) and template parameters on AWS";
  /** What to do instead, for the settings LiteLLM users set most; others get the section's advice. */
  private static final Map<String, String> INSTEAD =
      Map.ofEntries(
          Map.entry("general_settings.master_key",
              "the master key is AIGW_MASTER_KEY locally and the stack's MasterKeySecret in Secrets Manager on AWS;"
                  + " the value in this file is not used"),
          Map.entry("general_settings.database_url", "virtual keys live in DynamoDB (AIGW_KEYS_TABLE)"),
          Map.entry("router_settings.model_group_alias", ALIASES),
          Map.entry("litellm_settings.model_alias_map", ALIASES),
          Map.entry("litellm_settings.model_group_alias", ALIASES),
          Map.entry("litellm_settings.request_timeout", "set router_settings.timeout or litellm_params.timeout (seconds)"),
          Map.entry("litellm_settings.default_fallbacks", "name each group's fallbacks in router_settings.fallbacks"),
          Map.entry("router_settings.default_fallbacks", "name each group's fallbacks in router_settings.fallbacks"),
          Map.entry("router_settings.content_policy_fallbacks",
              "aigw does not recognise content policy refusals; list the groups in router_settings.fallbacks"),
          Map.entry("litellm_settings.content_policy_fallbacks",
              "aigw does not recognise content policy refusals; list the groups in router_settings.fallbacks"),
          Map.entry("router_settings.allowed_fails_policy", "set one router_settings.allowed_fails for every kind of failure"),
          Map.entry("router_settings.retry_policy", "set one router_settings.num_retries for every kind of failure"));
  private static final Map<String, String> TOP_LEVEL_INSTEAD =
      Map.of(
          "model_group_alias", ALIASES,
          "model_alias_map", ALIASES,
          "environment_variables",
          "os.environ/NAME reads the process environment (on AWS, the provider credentials secret), not this"
              + " section; set each variable there");

  private LiteLlmSettings() {}

  /** Logs one warning per setting of {@code root} (the whole file) that aigw ignores. */
  static void warnAboutIgnored(JsonNode root, String origin, Logger log) {
    root.fields().forEachRemaining(section -> {
      String name = section.getKey();
      JsonNode value = section.getValue();
      switch (name) {
        case "model_list" -> warnAboutModelInfo(value, origin, log);
        case "router_settings", "litellm_settings", "general_settings" -> {
          for (String setting : names(value)) {
            String path = name + "." + setting;
            if (!RouterSettings.HONOURED.contains(path)) {
              log.warning(origin + ": " + path + " is ignored: " + INSTEAD.getOrDefault(path, generalAdvice(name)) + ".");
            }
          }
        }
        default -> {
          String instead = TOP_LEVEL_INSTEAD.get(name);
          String variables = name.equals("environment_variables") && !names(value).isEmpty() ? " (" + String.join(", ", names(value)) + ")" : "";
          log.warning(origin + ": " + name + variables + " is ignored: "
              + (instead != null ? instead : "aigw reads model_list, router_settings and litellm_settings' retry and fallback settings only") + ".");
        }
      }
    });
  }

  private static String generalAdvice(String section) {
    return switch (section) {
      case "router_settings" -> "aigw balances entries sharing a model_name round robin and reads only " + String.join(", ",
          RouterSettings.HONOURED.stream().filter(s -> s.startsWith("router_settings.")).map(s -> s.substring(16)).sorted().toList());
      case "litellm_settings" -> "aigw has none of the LiteLLM library's settings (callbacks, caching, parameter dropping)";
      default -> SETTINGS_ARE_ENVIRONMENT;
    };
  }

  /** model_info (LiteLLM's costs, mode, ids) is common and unused here: one line for the file. */
  private static void warnAboutModelInfo(JsonNode list, String origin, Logger log) {
    if (!list.isArray()) {
      return;
    }
    var names = new ArrayList<String>();
    for (JsonNode entry : list) {
      if (entry.has("model_info")) {
        names.add(entry.path("model_name").asText("?"));
      }
      for (String key : names(entry)) {
        if (!key.equals("model_name") && !key.equals("litellm_params") && !key.equals("model_info")) {
          log.warning(origin + ": model_list entry " + entry.path("model_name").asText("?") + ": " + key
              + " is ignored: an entry has model_name, litellm_params and (unused) model_info.");
        }
      }
    }
    if (!names.isEmpty()) {
      log.warning(origin + ": model_info (on " + String.join(", ", names) + ") is ignored: aigw keeps no costs or model"
          + " metadata; /v1/models lists each model_name.");
    }
  }

  private static List<String> names(JsonNode node) {
    var names = new ArrayList<String>();
    if (node != null && node.isObject()) {
      node.fieldNames().forEachRemaining(names::add);
    }
    return names;
  }
}

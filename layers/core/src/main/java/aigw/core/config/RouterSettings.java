package aigw.core.config;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * LiteLLM's router settings that aigw honours, read from {@code router_settings} (LiteLLM's proxy
 * config; https://docs.litellm.ai/docs/proxy/reliability and https://docs.litellm.ai/docs/routing),
 * with {@code litellm_settings} accepted for {@code num_retries}, {@code fallbacks} and {@code
 * context_window_fallbacks} as LiteLLM accepts them there too ({@code router_settings} wins).
 *
 * @param numRetries {@code num_retries}: how many times a call the provider answered with a
 *     retryable error (408, 429, 5xx, its refusal of the gateway's credential on another
 *     deployment) or that could not connect is tried again, on the next deployment of the group when
 *     there is one, else on the same after a backoff. Default 0 (LiteLLM's is 2: see docs/configuration.md)
 * @param fallbacks {@code fallbacks}: model group to the groups tried, in order, once its own
 *     deployments and retries are exhausted
 * @param contextWindowFallbacks {@code context_window_fallbacks}: the same for a request the
 *     provider refused as longer than the model's context window
 * @param allowedFails {@code allowed_fails}: failures of one deployment tolerated within {@link
 *     #FAILURE_WINDOW}; the next one cools it down. Default 3 (LiteLLM's)
 * @param cooldownTime {@code cooldown_time}: how long a cooled-down deployment is skipped. Default 5 s (LiteLLM's)
 * @param retryAfter {@code retry_after}: the least wait before a retry of the same deployment. Default 0
 * @param disableCooldowns {@code disable_cooldowns}: no deployment is ever cooled down
 * @param maxFallbacks {@code max_fallbacks}: the most fallback groups one call tries. Default 5 (LiteLLM's)
 */
public record RouterSettings(
    int numRetries,
    Map<String, List<String>> fallbacks,
    Map<String, List<String>> contextWindowFallbacks,
    int allowedFails,
    Duration cooldownTime,
    Duration retryAfter,
    boolean disableCooldowns,
    int maxFallbacks) {

  /** The window {@code allowed_fails} counts failures in: a minute, as LiteLLM documents it ("per minute"). */
  public static final Duration FAILURE_WINDOW = Duration.ofMinutes(1);

  /** The settings read here; {@code timeout} is read by {@link ModelList} as each deployment's default. */
  static final Set<String> HONOURED =
      Set.of(
          "router_settings.num_retries",
          "router_settings.timeout",
          "router_settings.fallbacks",
          "router_settings.context_window_fallbacks",
          "router_settings.allowed_fails",
          "router_settings.cooldown_time",
          "router_settings.retry_after",
          "router_settings.disable_cooldowns",
          "router_settings.max_fallbacks",
          "litellm_settings.num_retries",
          "litellm_settings.fallbacks",
          "litellm_settings.context_window_fallbacks");

  public RouterSettings {
    fallbacks = Map.copyOf(fallbacks);
    contextWindowFallbacks = Map.copyOf(contextWindowFallbacks);
  }

  /** No retries, no fallbacks, LiteLLM's cooldown defaults. */
  public static RouterSettings defaults() {
    return new RouterSettings(0, Map.of(), Map.of(), 3, Duration.ofSeconds(5), Duration.ZERO, false, 5);
  }

  /** The same settings with {@code num_retries} set (tests). */
  public RouterSettings withNumRetries(int retries) {
    return new RouterSettings(retries, fallbacks, contextWindowFallbacks, allowedFails, cooldownTime, retryAfter, disableCooldowns, maxFallbacks);
  }

  /**
   * Reads the settings of a whole config file and checks that every group a fallback names is a
   * {@code model_name} of {@code deployments}.
   *
   * @throws InvalidConfig a value of the wrong kind, or a fallback to a group that does not exist
   */
  static RouterSettings read(JsonNode root, List<Deployment> deployments, String origin) {
    JsonNode router = root.path("router_settings");
    JsonNode library = root.path("litellm_settings");
    var defaults = defaults();
    int numRetries = count(pick(router, library, "num_retries"), defaults.numRetries(), origin, "num_retries");
    var fallbacks = groups(pick(router, library, "fallbacks"), origin, "fallbacks");
    var contextWindow = groups(pick(router, library, "context_window_fallbacks"), origin, "context_window_fallbacks");
    var names = new java.util.HashSet<String>();
    deployments.forEach(d -> names.add(d.modelName()));
    check(fallbacks, names, origin, "fallbacks");
    check(contextWindow, names, origin, "context_window_fallbacks");
    return new RouterSettings(
        numRetries,
        fallbacks,
        contextWindow,
        count(router.path("allowed_fails"), defaults.allowedFails(), origin, "router_settings.allowed_fails"),
        seconds(router.path("cooldown_time"), defaults.cooldownTime(), origin, "router_settings.cooldown_time"),
        seconds(router.path("retry_after"), defaults.retryAfter(), origin, "router_settings.retry_after"),
        router.path("disable_cooldowns").asBoolean(false),
        count(router.path("max_fallbacks"), defaults.maxFallbacks(), origin, "router_settings.max_fallbacks"));
  }

  private static JsonNode pick(JsonNode router, JsonNode library, String name) {
    JsonNode value = router.path(name);
    return value.isMissingNode() || value.isNull() ? library.path(name) : value;
  }

  private static int count(JsonNode node, int fallback, String origin, String name) {
    if (node.isMissingNode() || node.isNull()) {
      return fallback;
    }
    if (!node.canConvertToInt() || !node.isIntegralNumber() || node.intValue() < 0) {
      throw new InvalidConfig(origin + ": " + name + " must be a whole number, 0 or more");
    }
    return node.intValue();
  }

  private static Duration seconds(JsonNode node, Duration fallback, String origin, String name) {
    if (node.isMissingNode() || node.isNull()) {
      return fallback;
    }
    if (!node.isNumber() || node.asDouble() < 0) {
      throw new InvalidConfig(origin + ": " + name + " must be a number of seconds, 0 or more");
    }
    return Duration.ofMillis(Math.round(node.asDouble() * 1000));
  }

  /**
   * LiteLLM's shape: a list of one-entry mappings, {@code [{"gpt-4o": ["gpt-4o-mini", "claude"]}]};
   * a single mapping of several groups is taken too.
   */
  private static Map<String, List<String>> groups(JsonNode node, String origin, String name) {
    var groups = new LinkedHashMap<String, List<String>>();
    if (node.isMissingNode() || node.isNull()) {
      return groups;
    }
    List<JsonNode> entries = new ArrayList<>();
    if (node.isArray()) {
      node.forEach(entries::add);
    } else {
      entries.add(node);
    }
    for (JsonNode entry : entries) {
      if (!entry.isObject()) {
        throw new InvalidConfig(origin + ": " + name + " must be a list of mappings such as {gpt-4o: [gpt-4o-mini]}");
      }
      entry.fields().forEachRemaining(field -> {
        JsonNode targets = field.getValue();
        var list = new ArrayList<String>();
        if (targets.isTextual()) {
          list.add(targets.asText());
        } else if (targets.isArray()) {
          targets.forEach(t -> {
            if (!t.isTextual()) {
              throw new InvalidConfig(origin + ": " + name + "." + field.getKey() + " must list model names");
            }
            list.add(t.asText());
          });
        } else {
          throw new InvalidConfig(origin + ": " + name + "." + field.getKey() + " must list model names");
        }
        groups.put(field.getKey(), List.copyOf(list));
      });
    }
    return groups;
  }

  private static void check(Map<String, List<String>> groups, Set<String> names, String origin, String name) {
    groups.forEach((group, targets) -> {
      if (!names.contains(group)) {
        throw new InvalidConfig(origin + ": " + name + " names '" + group + "', which is no model_name of model_list");
      }
      for (String target : targets) {
        if (!names.contains(target)) {
          throw new InvalidConfig(origin + ": " + name + "." + group + " names '" + target + "', which is no model_name of model_list");
        }
      }
    });
  }
}

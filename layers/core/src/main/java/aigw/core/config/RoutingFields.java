package aigw.core.config;

import aigw.core.errors.BadRequest;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The body fields by which a provider runs another model, route or price tier than the one the
 * gateway routed to, and which of them the operator allows. A key's model restriction (and the
 * gateway's model list) would mean nothing if a body could name other models: {@code
 * {"model":"cheap","models":["openai/o1-pro"],"route":"fallback"}} makes OpenRouter fall back to
 * o1-pro, billed at o1-pro. So a request carrying one of these fields, with a value that is not
 * harmless, gets 400 naming the field, before any provider is called, unless the operator allows
 * that field for that provider in {@code AIGW_ALLOWED_ROUTING_FIELDS}.
 *
 * <p>Refused rather than dropped: a client that sends {@code models} expects fallbacks, and a
 * silent drop would answer something else than it asked for. Refused with 400 rather than 401
 * {@code key_model_access_denied}: these fields hold the provider's model names, not the gateway's,
 * so the gateway cannot tell whether a key "may use" them; asking for more key access would not help.
 *
 * <p>The rule table, keyed by {@code litellm_params.model} prefix (sources checked 2026-12):
 *
 * <ul>
 *   <li>openrouter: {@code models} and {@code route} (model fallbacks, openrouter.ai/docs/guides/routing/model-fallbacks:
 *       "priced using the model that was ultimately used"), {@code provider} (provider routing: order, only,
 *       sort, max_price; openrouter.ai/docs/features/provider-routing), {@code plugins} (web search and file
 *       parsing, billed per use), {@code preset} (a saved preset sets models and provider), {@code service_tier}
 *       (flex/priority, "billed according to that actual tier", openrouter.ai/docs/guides/features/service-tiers).
 *   <li>openai, azure (the same v1 schema): {@code service_tier} "priority", "flex", "scale" change the price
 *       (platform.openai.com/docs/api-reference/chat/create#service_tier); "auto" and "default" run at the
 *       project's own tier and pass.
 *   <li>groq: {@code service_tier} "performance" is an enterprise tier; "auto", "on_demand" and "flex" (the
 *       on-demand price, console.groq.com/docs/flex-processing) pass (console.groq.com/docs/service-tiers).
 *   <li>anthropic: {@code speed} "fast" (fast mode, with the {@code anthropic-beta: fast-mode-2026-02-01}
 *       header: "premium pricing", $30/$150 per million tokens on Opus 4.6 against $5/$25,
 *       platform.claude.com/docs/en/build-with-claude/fast-mode); "standard" is the default and passes.
 *       {@code /v1/messages} sends the client's body to Anthropic as it came, so the field would reach it
 *       while the gateway costs the call at the standard price. The chat-completions translator drops it;
 *       it is refused there too, as a client asking for fast mode would otherwise not get it silently.
 *       Anthropic's {@code service_tier} ("auto"/"standard_only") chooses no dearer tier.
 *   <li>openrouter also: {@code speed} "fast" (OpenRouter serves Anthropic's fast mode on {@code speed} or
 *       {@code service_tier} "fast", billed at the fast tier).
 *   <li>gemini: nothing to check. Its translator builds Gemini's request from the fields it knows and
 *       sends no routing field on (Gemini's "standard" would be the harmless {@code service_tier}).
 *   <li>mistral, deepseek, together_ai, fireworks_ai, xai, ollama, ollama_chat, hosted_vllm: no such field
 *       found in their chat API references.
 * </ul>
 *
 * <p>A model whose rotation holds several deployments is checked against each: a field is refused
 * when any deployment's provider would act on it and the operator has not allowed it there.
 */
public final class RoutingFields {
  /** A field and the values that leave the model and price unchanged (JSON null always does). */
  private record Rule(String field, Set<String> harmlessValues) {}

  private static final Rule SERVICE_TIER_OPENAI = new Rule("service_tier", Set.of("auto", "default"));

  /** Anthropic's fast mode (also through OpenRouter): the same model at a premium price. */
  private static final Rule SPEED = new Rule("speed", Set.of("standard"));

  private static final Map<String, List<Rule>> RULES =
      Map.of(
          "openrouter",
          List.of(
              new Rule("models", Set.of()),
              new Rule("route", Set.of()),
              new Rule("provider", Set.of()),
              new Rule("plugins", Set.of()),
              new Rule("preset", Set.of()),
              SERVICE_TIER_OPENAI,
              SPEED),
          "anthropic", List.of(SPEED),
          "openai", List.of(SERVICE_TIER_OPENAI),
          "azure", List.of(SERVICE_TIER_OPENAI),
          "groq", List.of(new Rule("service_tier", Set.of("auto", "on_demand", "flex"))));

  /** The environment variable that allows fields per provider. */
  public static final String ENV = "AIGW_ALLOWED_ROUTING_FIELDS";

  private static final RoutingFields NONE_ALLOWED = new RoutingFields(Map.of());

  /** Provider prefix to the fields the operator allows there. */
  private final Map<String, Set<String>> allowed;

  private RoutingFields(Map<String, Set<String>> allowed) {
    this.allowed = allowed;
  }

  /** Every routing field refused: the default. */
  public static RoutingFields noneAllowed() {
    return NONE_ALLOWED;
  }

  /**
   * Parses {@code AIGW_ALLOWED_ROUTING_FIELDS}: {@code <prefix>:<field>,<field>;<prefix>:<field>},
   * e.g. {@code openrouter:provider,plugins;openai:service_tier}. Blank or null: none allowed.
   *
   * @throws IllegalArgumentException naming the entry when a prefix or field is not in the rule table
   */
  public static RoutingFields parse(String spec) {
    if (spec == null || spec.isBlank()) {
      return NONE_ALLOWED;
    }
    var allowed = new LinkedHashMap<String, Set<String>>();
    for (String entry : spec.split(";")) {
      if (entry.isBlank()) {
        continue;
      }
      int colon = entry.indexOf(':');
      String prefix = (colon < 0 ? entry : entry.substring(0, colon)).trim();
      List<Rule> rules = RULES.get(prefix);
      if (colon < 0 || rules == null) {
        throw new IllegalArgumentException(
            ENV + ": '" + entry.trim() + "' must be <provider>:<field>,... with a provider among " + String.join(", ", RULES.keySet()));
      }
      for (String field : entry.substring(colon + 1).split(",")) {
        String name = field.trim();
        if (rules.stream().noneMatch(rule -> rule.field().equals(name))) {
          throw new IllegalArgumentException(
              ENV + ": '" + name + "' is not a routing field of " + prefix + "; its fields are "
                  + String.join(", ", rules.stream().map(Rule::field).toList()));
        }
        allowed.computeIfAbsent(prefix, p -> new LinkedHashSet<>()).add(name);
      }
    }
    return new RoutingFields(Map.copyOf(allowed));
  }

  /**
   * Refuses a body that would make a deployment of {@code rotation} run another model, route or
   * price tier, reading the tree the proxy already parsed (top-level members only: the providers
   * read these fields there).
   *
   * @throws BadRequest (400, {@code param} the field) naming the field, the provider and the way out
   */
  public void check(ObjectNode body, String model, List<Deployment> rotation) {
    for (Deployment deployment : rotation) {
      String prefix = deployment.provider().prefix();
      for (Rule rule : RULES.getOrDefault(prefix, List.of())) {
        JsonNode value = body.get(rule.field());
        if (value == null || value.isNull() || (value.isTextual() && rule.harmlessValues().contains(value.asText()))) {
          continue;
        }
        if (allowed.getOrDefault(prefix, Set.of()).contains(rule.field())) {
          continue;
        }
        String harmless = rule.harmlessValues().isEmpty() ? "" : " other than " + String.join(", ", rule.harmlessValues().stream().sorted().toList());
        throw new BadRequest(
            "'" + rule.field() + "'" + harmless + " is not accepted for model '" + model + "': at " + prefix
                + " it chooses another model, route or price tier than the one this gateway routes to. Remove it, or"
                + " ask the operator to allow it (" + ENV + "=" + prefix + ":" + rule.field() + ").",
            rule.field());
      }
    }
  }

  @Override
  public String toString() {
    return "RoutingFields" + allowed;
  }
}

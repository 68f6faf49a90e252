package aigw.core.config;

import java.util.List;

/**
 * LiteLLM's rules for a key's {@code models} list ({@code _can_object_call_model} and {@code
 * _model_matches_any_wildcard_pattern_in_list} in LiteLLM's {@code proxy/auth/auth_checks.py}),
 * applied alike to model calls, {@code GET /v1/models} and {@code GET /v1/models/{id}}:
 *
 * <ul>
 *   <li>an empty list, {@code *} or {@code all-proxy-models} allows every model;
 *   <li>an entry with {@code *} is a pattern: {@code *} stands for any run of characters (none
 *       included) and every other character for itself, over the whole model name ({@code gpt-4*},
 *       {@code *-mini}) or over {@code <provider>/<model name>} with the provider of the model's
 *       deployments ({@code openai/*} allows every model served by OpenAI);
 *   <li>any other entry allows the model of exactly that name.
 * </ul>
 *
 * Where aigw differs: LiteLLM turns a pattern into a regular expression without escaping it, so a
 * {@code .} in {@code gpt-4.1*} also matches any character; here it matches only a dot.
 * {@code all-team-models} stands for the model list of the key's team ({@code aigw.core.teams.TeamAccess}
 * resolves it); a key without a team may not be given it (the admin API refuses it there).
 */
public final class ModelAccess {
  /** LiteLLM's SpecialModelNames.all_proxy_models: every model of the gateway. */
  public static final String ALL_PROXY_MODELS = "all-proxy-models";
  /** LiteLLM's SpecialModelNames.all_team_models: the models of the key's team. */
  public static final String ALL_TEAM_MODELS = "all-team-models";
  public static final String EVERY_MODEL = "*";

  private ModelAccess() {}

  /**
   * Whether a key with these {@code entries} may use {@code model}.
   *
   * @param provider the provider prefix of the model's deployments ({@code openai}), or null for a
   *     model the gateway does not serve (then only its name is matched)
   */
  public static boolean allows(List<String> entries, String model, String provider) {
    if (allowsEveryModel(entries)) {
      return true;
    }
    for (String entry : entries) {
      if (entry.equals(model)) {
        return true;
      }
      if (isPattern(entry) && (globMatches(entry, model) || provider != null && globMatches(entry, provider + "/" + model))) {
        return true;
      }
    }
    return false;
  }

  /** An empty list, or one naming {@code *} or {@code all-proxy-models}. */
  public static boolean allowsEveryModel(List<String> entries) {
    return entries.isEmpty() || entries.contains(EVERY_MODEL) || entries.contains(ALL_PROXY_MODELS);
  }

  public static boolean isPattern(String entry) {
    return entry.indexOf('*') >= 0;
  }

  /**
   * Why {@code entry} would give a key nothing on a gateway that serves {@code router}'s models, or
   * null if it allows at least one of them (or all, as {@code *} does).
   */
  public static String refusal(String entry, Router router) {
    if (entry.equals(EVERY_MODEL) || entry.equals(ALL_PROXY_MODELS)) {
      return null;
    }
    if (entry.equals(ALL_TEAM_MODELS)) {
      return null; // the team's models: whether the key has a team is checked where the key is known
    }
    var models = router.models();
    for (var model : models.entrySet()) {
      if (allows(List.of(entry), model.getKey(), model.getValue().prefix())) {
        return null;
      }
    }
    String known = models.isEmpty() ? "this gateway serves no models" : "the models are " + shortList(models.keySet().stream().toList());
    return isPattern(entry)
        ? "the pattern '" + entry + "' matches no model of this gateway (by name, or as provider/name); " + known
        : "'" + entry + "' is not a model of this gateway; " + known
            + " (or a pattern such as 'openai/*' or 'gpt-4o*', or '*' for all)";
  }

  private static String shortList(List<String> names) {
    int shown = Math.min(names.size(), 20);
    String list = String.join(", ", names.subList(0, shown));
    return names.size() > shown ? list + " and " + (names.size() - shown) + " more" : list;
  }

  /**
   * Whether {@code text} as a whole matches {@code pattern}, where {@code *} matches any run of
   * characters. Greedy with one backtrack point, linear in practice: no regular expression, so a
   * pattern with many {@code *} cannot make a request slow.
   */
  static boolean globMatches(String pattern, String text) {
    int p = 0;
    int t = 0;
    int star = -1; // position of the last '*' seen in the pattern
    int resume = 0; // where in the text that '*' currently stops
    while (t < text.length()) {
      if (p < pattern.length() && pattern.charAt(p) == '*') {
        star = p++;
        resume = t;
      } else if (p < pattern.length() && pattern.charAt(p) == text.charAt(t)) {
        p++;
        t++;
      } else if (star >= 0) {
        p = star + 1;
        t = ++resume; // let the last '*' take one more character
      } else {
        return false;
      }
    }
    while (p < pattern.length() && pattern.charAt(p) == '*') {
      p++;
    }
    return p == pattern.length();
  }
}

package aigw.core.errors;

import java.util.List;

/**
 * Thrown when a key asks for a model outside its {@code models} list, or outside its team's (HTTP
 * 401, as LiteLLM answers, with its type {@code key_model_access_denied} or {@code
 * team_model_access_denied} and its message from {@code _can_object_call_model}).
 */
public final class ModelNotAllowed extends GatewayException {
  /** Whose list refused the model: {@code key} or {@code team}, the first word of LiteLLM's type. */
  private final String deniedBy;

  public ModelNotAllowed(String model, List<String> allowed) {
    this("key", model, allowed);
  }

  private ModelNotAllowed(String deniedBy, String model, List<String> allowed) {
    super(
        deniedBy + " not allowed to access model. This " + deniedBy + " can only access models="
            + allowed
            + ". Tried to access "
            + model,
        "model");
    this.deniedBy = deniedBy;
  }

  /** The key's team does not allow the model. */
  public static ModelNotAllowed byTeam(String model, List<String> teamModels) {
    return new ModelNotAllowed("team", model, teamModels);
  }

  /** LiteLLM's error type: {@code key_model_access_denied} or {@code team_model_access_denied}. */
  public String type() {
    return deniedBy + "_model_access_denied";
  }
}
